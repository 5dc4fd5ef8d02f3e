//! What the schemas say about fields: ESO's defaults, the provider's shape, Ampoule's status
//! extension, ESO's admission rules (as CEL, with ESO's messages) and the bounds they need.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use serde_json::json;

use super::{CES, ES, PC, SS, node, root};

#[test]
fn defaults_match_eso() {
    let es = root(ES);
    let spec = ["spec"];
    let target = ["spec", "target"];
    let template = ["spec", "target", "template"];
    let template_from = ["spec", "target", "template", "templateFrom", "[]"];
    let merge = ["spec", "dataFrom", "[]", "rewrite", "[]", "merge"];
    let cases: Vec<(Vec<&str>, serde_json::Value)> = vec![
        ([&spec[..], &["refreshInterval"]].concat(), json!("1h0m0s")),
        (
            target.to_vec(),
            json!({"creationPolicy": "Owner", "deletionPolicy": "Retain"}),
        ),
        ([&target[..], &["creationPolicy"]].concat(), json!("Owner")),
        ([&target[..], &["deletionPolicy"]].concat(), json!("Retain")),
        ([&template[..], &["engineVersion"]].concat(), json!("v2")),
        ([&template[..], &["mergePolicy"]].concat(), json!("Replace")),
        ([&template_from[..], &["target"]].concat(), json!("Data")),
        (
            [
                &template_from[..],
                &["configMap", "items", "[]", "templateAs"],
            ]
            .concat(),
            json!("Values"),
        ),
        ([&merge[..], &["into"]].concat(), json!("")),
        ([&merge[..], &["priorityPolicy"]].concat(), json!("Strict")),
        ([&merge[..], &["conflictPolicy"]].concat(), json!("Error")),
        ([&merge[..], &["strategy"]].concat(), json!("Extract")),
        (
            vec![
                "spec",
                "dataFrom",
                "[]",
                "sourceRef",
                "generatorRef",
                "apiVersion",
            ],
            json!("generators.external-secrets.io/v1alpha1"),
        ),
        (vec!["status", "binding", "name"], json!("")),
    ];
    for (path, want) in cases {
        let got = node(&es, &path).default.as_ref().map(|d| d.0.clone());
        assert_eq!(got, Some(want), "ExternalSecret {path:?}");
    }
    // ESO 2.9 removed the strategy defaults: none may be materialised.
    for field in [
        "conversionStrategy",
        "decodingStrategy",
        "metadataPolicy",
        "nullBytePolicy",
    ] {
        for path in [
            vec!["spec", "data", "[]", "remoteRef", field],
            vec!["spec", "dataFrom", "[]", "extract", field],
        ] {
            assert_eq!(node(&es, &path).default, None, "{path:?}");
        }
    }
    let ces = root(CES);
    let nested = node(&ces, &["spec", "externalSecretSpec", "refreshInterval"]);
    assert_eq!(
        nested.default.as_ref().map(|d| &d.0),
        Some(&json!("1h0m0s"))
    );

    let ss = root(SS);
    let vault = ["spec", "provider", "vault"];
    let store_cases: Vec<(Vec<&str>, serde_json::Value)> = vec![
        ([&vault[..], &["version"]].concat(), json!("v2")),
        (
            [&vault[..], &["auth", "appRole", "path"]].concat(),
            json!("approle"),
        ),
        (
            [&vault[..], &["auth", "kubernetes", "mountPath"]].concat(),
            json!("kubernetes"),
        ),
        (
            [&vault[..], &["auth", "ldap", "path"]].concat(),
            json!("ldap"),
        ),
        (
            [&vault[..], &["auth", "userPass", "path"]].concat(),
            json!("userpass"),
        ),
        (
            [&vault[..], &["auth", "jwt", "path"]].concat(),
            json!("jwt"),
        ),
        (
            [&vault[..], &["auth", "cert", "path"]].concat(),
            json!("cert"),
        ),
        (
            [&vault[..], &["auth", "gcp", "path"]].concat(),
            json!("gcp"),
        ),
        (
            vec!["spec", "provider", "aws", "sessionTagsPolicy"],
            json!("None"),
        ),
        (
            vec!["spec", "provider", "gcpsm", "secretVersionSelectionPolicy"],
            json!("LatestOrFail"),
        ),
    ];
    for (path, want) in store_cases {
        let got = node(&ss, &path).default.as_ref().map(|d| d.0.clone());
        assert_eq!(got, Some(want), "SecretStore {path:?}");
    }
    // A store's sandbox narrows: an omitted privateNetworks inherits, so no default there …
    let store_private = ["spec", "sandbox", "egress", "privateNetworks"];
    assert_eq!(node(&ss, &store_private).default, None);
    // … while the ProviderClass ceiling denies private networks unless told otherwise.
    let pc = root(PC);
    assert_eq!(
        node(&pc, &store_private).default.as_ref().map(|d| &d.0),
        Some(&json!("Deny"))
    );
}

#[test]
fn provider_accepts_exactly_one_key_typed_or_not() {
    let ss = root(SS);
    let provider = node(&ss, &["spec", "provider"]);
    assert_eq!(provider.min_properties, Some(1));
    assert_eq!(provider.max_properties, Some(1));
    assert_eq!(provider.x_kubernetes_preserve_unknown_fields, Some(true));
    let typed: Vec<_> = provider
        .properties
        .iter()
        .flatten()
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(typed, ["aws", "fake", "gcpsm", "vault"]);
    // Auth methods OpenBao lacks are still part of the schema.
    let auth = node(&ss, &["spec", "provider", "vault", "auth"]);
    let methods: Vec<_> = auth
        .properties
        .iter()
        .flatten()
        .map(|(k, _)| k.as_str())
        .collect();
    for method in [
        "tokenSecretRef",
        "appRole",
        "kubernetes",
        "ldap",
        "userPass",
        "jwt",
        "cert",
        "iam",
        "gcp",
    ] {
        assert!(methods.contains(&method), "vault auth {method}");
    }
}

#[test]
fn store_status_carries_the_plugin_extension() {
    let ss = root(SS);
    let plugin = node(&ss, &["status", "plugin"]);
    let fields: Vec<_> = plugin
        .properties
        .iter()
        .flatten()
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(fields, ["digest", "grantedEgress"]);
    // Same shape as the ProviderClass ceiling, minus the ceiling's defaults and its description.
    let mut ceiling = node(&root(PC), &["spec", "sandbox"]).clone();
    crate::crd::schema::walk(&mut ceiling, &mut Vec::new(), &mut |_, p| p.default = None);
    let mut narrowing = node(&ss, &["spec", "sandbox"]).clone();
    narrowing.description = ceiling.description.clone();
    assert_eq!(narrowing, ceiling);
}

/// The messages of the rules attached at `path`.
fn messages(root: &JSONSchemaProps, path: &[&str]) -> Vec<String> {
    node(root, path)
        .x_kubernetes_validations
        .iter()
        .flatten()
        .filter_map(|r| r.message.clone())
        .collect()
}

#[test]
fn eso_admission_rules_are_cel_rules_with_esos_messages() {
    let es = root(ES);
    let cases: [(&[&str], &str); 11] = [
        (&["spec"], "either data or dataFrom should be specified"),
        (&["spec"], "duplicate secretKey found"),
        (
            &["spec", "target"],
            "deletionPolicy=Delete must not be used when the controller doesn't own the secret. Please set creationPolicy=Owner",
        ),
        (
            &["spec", "target"],
            "deletionPolicy=Merge must not be used with creationPolicy=None. There is no Secret to merge with",
        ),
        (
            &["spec", "target"],
            r#"templateFrom target is not allowed when targeting a Secret, must be one of "Data", "Annotations" or "Labels""#,
        ),
        (
            &["spec", "target", "template"],
            r#"template.type="kubernetes.io/service-account-token" with annotation "kubernetes.io/service-account.name" is not allowed"#,
        ),
        (
            &["spec", "target", "template"],
            r#"template.type="kubernetes.io/service-account-token" with templateFrom target="Annotations" is not allowed"#,
        ),
        (
            &["spec", "target", "template"],
            r#"template.type="bootstrap.kubernetes.io/token" is not allowed"#,
        ),
        (
            &["spec", "dataFrom", "[]"],
            "extract, find, or generatorRef cannot be set at the same time",
        ),
        (
            &["spec", "dataFrom", "[]"],
            "either extract, find, or sourceRef must be set to dataFrom",
        ),
        (
            &["spec", "dataFrom", "[]", "sourceRef"],
            "generatorRef or storeRef must be set when using sourceRef in dataFrom",
        ),
    ];
    for (path, message) in cases {
        assert!(
            messages(&es, path).iter().any(|m| m == message),
            "{path:?}: {message}"
        );
    }
    let secret_key = node(&es, &["spec", "data", "[]", "secretKey"]);
    assert_eq!(secret_key.pattern.as_deref(), Some("^[-._a-zA-Z0-9]+$"));
    assert_eq!(secret_key.max_length, Some(253));
    // The CES embeds the same spec, rules included.
    let ces = root(CES);
    assert_eq!(
        messages(&ces, &["spec", "externalSecretSpec"]),
        messages(&es, &["spec"])
    );

    let ss = root(SS);
    let store_cases: [(&[&str], &str); 5] = [
        (
            &["spec", "provider", "vault"],
            "checkAndSet is not supported with Vault KV version v1",
        ),
        (
            &["spec", "provider", "vault", "auth", "appRole"],
            "invalid Auth.AppRole: neither `roleId` nor `roleRef` was supplied",
        ),
        (
            &["spec", "provider", "vault", "tls"],
            "when provided, both ClientTLS.ClientCert and ClientTLS.SecretRef should be provided",
        ),
        (
            &["spec", "provider", "aws", "customSessionTags"],
            "customSessionTags cannot contain automatically injected reserved keys: esoNamespace, esoStoreName, esoStoreKind",
        ),
        (
            &["spec", "provider", "aws", "secretsManager"],
            "invalid DeleteSecretInput: RecoveryWindowInDays must be between 7 and 30 days",
        ),
    ];
    for (path, message) in store_cases {
        assert!(
            messages(&ss, path).iter().any(|m| m == message),
            "{path:?}: {message}"
        );
    }
}

#[test]
fn lists_under_rules_are_bounded() {
    // The apiserver's cost estimator needs these bounds to accept the rules (checked against a
    // real estimator when the limits were chosen: the duplicate-key rule is quadratic).
    let es = root(ES);
    assert_eq!(node(&es, &["spec", "data"]).max_items, Some(250));
    assert_eq!(node(&es, &["spec", "dataFrom"]).max_items, Some(1000));
    assert_eq!(
        node(&es, &["spec", "target", "template", "templateFrom"]).max_items,
        Some(64)
    );
    let ss = root(SS);
    assert_eq!(node(&ss, &["spec", "conditions"]).max_items, Some(64));
    let regexes = node(&ss, &["spec", "conditions", "[]", "namespaceRegexes"]);
    assert_eq!(regexes.max_items, Some(64));
    assert_eq!(node(regexes, &["[]"]).max_length, Some(512));
}
