//! ESO's admission rules, evaluated client-side with kube's CEL validator (no apiserver): each
//! manifest is accepted, or rejected with ESO's message.

use std::collections::BTreeMap;

use kube::core::cel::{CompiledSchema, Validator, compile_schema};

use super::{CES, CSS, ES, SS};

/// `(CRD, manifest, expected)`: `None` = accepted, `Some(text)` = rejected with a message
/// containing `text`.
type Case = (&'static str, String, Option<&'static str>);

fn check(cases: &[Case]) {
    let validator = Validator::new();
    let schemas: BTreeMap<&str, CompiledSchema> = super::all()
        .iter()
        .filter_map(|crd| {
            let schema = crd.spec.versions[0]
                .schema
                .as_ref()?
                .open_api_v3_schema
                .as_ref()?;
            let json = serde_json::to_value(schema).ok()?;
            Some((crd.metadata.name.as_deref()?, compile_schema(&json)))
        })
        .collect();
    for (crd, manifest, expected) in cases {
        let object: serde_json::Value = serde_norway::from_str(manifest)
            .unwrap_or_else(|e| panic!("bad test manifest {manifest}: {e}"));
        let schema = schemas.get(*crd).unwrap_or_else(|| panic!("no CRD {crd}"));
        let result = validator.validate_compiled(schema, &object, None);
        match (expected, result) {
            (None, Ok(())) => {}
            (None, Err(errors)) => panic!("rejected:\n{manifest}\n{errors:?}"),
            (Some(want), Ok(())) => panic!("accepted, wanted {want:?}:\n{manifest}"),
            (Some(want), Err(errors)) => assert!(
                errors.iter().any(|e| e.message.contains(want)),
                "wanted {want:?}, got {errors:?}:\n{manifest}"
            ),
        }
    }
}

const DATA: &str = "data: [{secretKey: a, remoteRef: {key: k}}]";

#[test]
fn external_secret_rules() {
    let es = |spec: &str| format!("spec: {{{spec}}}");
    let cases: Vec<Case> = vec![
        (ES, es(DATA), None),
        (
            ES,
            es("secretStoreRef: {name: s}"),
            Some("either data or dataFrom should be specified"),
        ),
        (
            ES,
            es("data: []"),
            Some("either data or dataFrom should be specified"),
        ),
        (
            ES,
            es(&format!(
                "target: {{creationPolicy: Merge, deletionPolicy: Delete}}, {DATA}"
            )),
            Some(
                "deletionPolicy=Delete must not be used when the controller doesn't own the secret. Please set creationPolicy=Owner",
            ),
        ),
        (
            ES,
            es(&format!(
                "target: {{creationPolicy: CreateOrMerge, deletionPolicy: Delete}}, {DATA}"
            )),
            Some("Please set creationPolicy=Owner"),
        ),
        (
            ES,
            es(&format!(
                "target: {{creationPolicy: Owner, deletionPolicy: Delete}}, {DATA}"
            )),
            None,
        ),
        (
            ES,
            es(&format!(
                "target: {{creationPolicy: None, deletionPolicy: Merge}}, {DATA}"
            )),
            Some(
                "deletionPolicy=Merge must not be used with creationPolicy=None. There is no Secret to merge with",
            ),
        ),
        (
            ES,
            es("data: [{secretKey: a, remoteRef: {key: k}}, {secretKey: a, remoteRef: {key: j}}]"),
            Some("duplicate secretKey found"),
        ),
        (
            ES,
            es(
                "target: {deletionPolicy: Delete}, data: [{secretKey: a, remoteRef: {key: k}}, {secretKey: a, remoteRef: {key: j}}]",
            ),
            None,
        ),
        (
            ES,
            es("dataFrom: [{extract: {key: k}, find: {name: {regexp: x}}}]"),
            Some("extract, find, or generatorRef cannot be set at the same time"),
        ),
        (
            ES,
            es(
                "dataFrom: [{find: {tags: {a: b}}, sourceRef: {generatorRef: {kind: Password, name: p}}}]",
            ),
            Some("extract, find, or generatorRef cannot be set at the same time"),
        ),
        (
            ES,
            es("dataFrom: [{rewrite: [{regexp: {source: a, target: b}}]}]"),
            Some("either extract, find, or sourceRef must be set to dataFrom"),
        ),
        (
            ES,
            es("dataFrom: [{sourceRef: {generatorRef: {kind: Password, name: p}}}]"),
            None,
        ),
        (
            ES,
            es("dataFrom: [{extract: {key: k}, sourceRef: {storeRef: {name: other}}}]"),
            None,
        ),
    ];
    check(&cases);
}

#[test]
fn template_rules() {
    let template = |t: &str| format!("spec: {{target: {{template: {t}}}, {DATA}}}");
    let cases: Vec<Case> = vec![
        (ES, template("{type: Opaque, data: {a: '{{ .a }}'}}"), None),
        (
            ES,
            template("{type: kubernetes.io/service-account-token, metadata: {annotations: {kubernetes.io/service-account.name: x}}}"),
            Some(r#"template.type="kubernetes.io/service-account-token" with annotation "kubernetes.io/service-account.name" is not allowed"#),
        ),
        (
            ES,
            template("{type: kubernetes.io/service-account-token, metadata: {annotations: {other: x}}}"),
            None,
        ),
        (
            ES,
            template("{type: kubernetes.io/service-account-token, templateFrom: [{literal: x, target: annotations}]}"),
            Some(r#"with templateFrom target="Annotations" is not allowed"#),
        ),
        (
            ES,
            template("{type: bootstrap.kubernetes.io/token}"),
            Some(r#"template.type="bootstrap.kubernetes.io/token" is not allowed"#),
        ),
        (
            ES,
            template("{templateFrom: [{literal: x, target: Labels}, {literal: y, target: ''}, {literal: z, target: data}]}"),
            None,
        ),
        (
            ES,
            template("{templateFrom: [{literal: x, target: type}]}"),
            Some("is not allowed when targeting a Secret"),
        ),
        (
            ES,
            "spec: {target: {manifest: {apiVersion: v1, kind: ConfigMap}, template: {templateFrom: [{literal: x, target: spec.a}]}}, data: [{secretKey: a, remoteRef: {key: k}}]}".to_owned(),
            None,
        ),
        (
            ES,
            "spec: {target: {manifest: {apiVersion: v1, kind: Secret}, template: {templateFrom: [{literal: x, target: immutable}]}}, data: [{secretKey: a, remoteRef: {key: k}}]}".to_owned(),
            Some("is not allowed when targeting a Secret"),
        ),
    ];
    check(&cases);
}

#[test]
fn cluster_external_secret_embeds_the_rules() {
    check(&[
        (CES, "spec: {externalSecretSpec: {secretStoreRef: {name: s}}}".to_owned(), Some("either data or dataFrom should be specified")),
        (CES, "spec: {namespaces: [a], externalSecretSpec: {data: [{secretKey: a, remoteRef: {key: k}}]}}".to_owned(), None),
    ]);
}

#[test]
fn store_rules() {
    let store = |provider: &str| format!("spec: {{provider: {provider}}}");
    let cases: Vec<Case> = vec![
        (
            SS,
            store(
                "{vault: {server: 'https://v:8200', auth: {tokenSecretRef: {name: t, key: token}}}}",
            ),
            None,
        ),
        (CSS, store("{openBao: {server: x}}"), None),
        (
            SS,
            store("{vault: {server: s, auth: {appRole: {secretRef: {name: a, key: b}}}}}"),
            Some("invalid Auth.AppRole: neither `roleId` nor `roleRef` was supplied"),
        ),
        (
            SS,
            store(
                "{vault: {server: s, auth: {appRole: {roleId: r, secretRef: {name: a, key: b}}}}}",
            ),
            None,
        ),
        (
            SS,
            store("{vault: {server: s, auth: {jwt: {role: r}}}}"),
            Some(
                "neither `secretRef` nor `kubernetesServiceAccountToken` was supplied as token source for jwt authentication",
            ),
        ),
        (
            SS,
            store("{vault: {server: s, tls: {keySecretRef: {name: k}}}}"),
            Some(
                "when provided, both ClientTLS.ClientCert and ClientTLS.SecretRef should be provided",
            ),
        ),
        (
            SS,
            store("{vault: {server: s, version: v1, checkAndSet: {required: true}}}"),
            Some("checkAndSet is not supported with Vault KV version v1"),
        ),
        (
            SS,
            store(
                "{aws: {service: SecretsManager, region: eu-west-1, customSessionTags: {esoStoreName: x}}}",
            ),
            Some("customSessionTags cannot contain automatically injected reserved keys"),
        ),
        (
            SS,
            store(
                "{aws: {service: SecretsManager, region: eu-west-1, secretsManager: {recoveryWindowInDays: 3}}}",
            ),
            Some("RecoveryWindowInDays must be between 7 and 30 days"),
        ),
        (
            SS,
            store(
                "{aws: {service: SecretsManager, region: eu-west-1, secretsManager: {recoveryWindowInDays: 7, forceDeleteWithoutRecovery: true}}}",
            ),
            Some("ForceDeleteWithoutRecovery conflicts with RecoveryWindowInDays"),
        ),
        (
            SS,
            store("{fake: {data: [{key: '', value: v}]}}"),
            Some("key must be set in data"),
        ),
        (
            SS,
            store("{fake: {data: [{key: k}]}}"),
            Some("at least one value must be set in data"),
        ),
        (
            SS,
            store("{fake: {data: [{key: k, valueMap: {a: b}}]}}"),
            None,
        ),
        // Not here: `refreshInterval` (uses `type()`, which kube-cel lacks) and namespace regexes
        // (relies on an evaluation error); both were checked with the apiserver's own validator.
    ];
    check(&cases);
}

/// `limits.memory` and `limits.responseBytes` take exactly the quantities the sandbox reads, on
/// a class's ceiling and on a store's `spec.sandbox` alike.
#[test]
fn sandbox_quantity_rules() {
    const PC: &str = "providerclasses.ampoule.dev";
    let class =
        |limits: &str| format!("spec: {{provider: acme, sandbox: {{limits: {{{limits}}}}}}}");
    let store = |limits: &str| {
        format!("spec: {{provider: {{fake: {{data: []}}}}, sandbox: {{limits: {{{limits}}}}}}}")
    };
    let refused = Some("must be a whole number of bytes");
    let mut cases: Vec<Case> = Vec::new();
    for (limits, expected) in [
        ("memory: 64Mi", None),
        ("memory: 1048576", None),
        ("memory: '4M', responseBytes: 2Ki", None),
        ("responseBytes: 1G", None),
        ("memory: 64MiB", refused),
        ("memory: 1.5Gi", refused),
        ("memory: -1", refused),
        ("responseBytes: 4mi", refused),
    ] {
        cases.push((PC, class(limits), expected));
        cases.push((SS, store(limits), expected));
    }
    check(&cases);
}
