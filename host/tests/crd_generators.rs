//! The generator CRDs against ESO v2.9's documented examples (`tests/fixtures/eso-crds/
//! examples.json`, made by its `make.py` from ESO's repository; host/tests/crd_parity.rs compares
//! the schemas field by field): they decode into the typed API without losing a field, pass the
//! CRDs' CEL rules, and are accepted by the ground's apiserver (server-side dry run) with nothing
//! pruned.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use ampoule::crd::ExternalSecret;
use ampoule::crd::generators::{self, GeneratorKind};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/eso-crds")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `outer` holds everything `inner` holds (extra keys in `outer` are defaults; an empty list or
/// map in `inner` may be absent from `outer`, as the typed API leaves empty ones out).
fn contains(outer: &Value, inner: &Value) -> bool {
    let empty = |v: &Value| {
        v.as_array().is_some_and(Vec::is_empty) || v.as_object().is_some_and(|o| o.is_empty())
    };
    match (outer, inner) {
        (Value::Object(o), Value::Object(i)) => i.iter().all(|(k, v)| match o.get(k) {
            Some(ov) => contains(ov, v),
            None => empty(v),
        }),
        (Value::Array(o), Value::Array(i)) => {
            o.len() == i.len() && o.iter().zip(i).all(|(a, b)| contains(a, b))
        }
        _ => outer == inner,
    }
}

fn round_trip<T: DeserializeOwned + Serialize>(manifest: &Value) -> Result<Value, String> {
    let typed: T = serde_json::from_value(manifest.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(&typed).map_err(|e| e.to_string())
}

/// Decodes a manifest into its typed kind and serializes it back.
fn try_typed(manifest: &Value) -> Result<Value, String> {
    let kind = manifest["kind"].as_str().unwrap_or_default();
    if kind == "ExternalSecret" {
        return round_trip::<ExternalSecret>(manifest);
    }
    let kind: GeneratorKind = kind.parse().map_err(|e| format!("{e}"))?;
    match kind {
        GeneratorKind::AcrAccessToken => round_trip::<generators::AcrAccessToken>(manifest),
        GeneratorKind::BeyondtrustWorkloadCredentialsDynamicSecret => {
            round_trip::<generators::BeyondtrustWorkloadCredentialsDynamicSecret>(manifest)
        }
        GeneratorKind::ClusterGenerator => round_trip::<generators::ClusterGenerator>(manifest),
        GeneratorKind::CloudsmithAccessToken => {
            round_trip::<generators::CloudsmithAccessToken>(manifest)
        }
        GeneratorKind::EcrAuthorizationToken => {
            round_trip::<generators::EcrAuthorizationToken>(manifest)
        }
        GeneratorKind::Fake => round_trip::<generators::Fake>(manifest),
        GeneratorKind::GcrAccessToken => round_trip::<generators::GcrAccessToken>(manifest),
        GeneratorKind::GithubAccessToken => round_trip::<generators::GithubAccessToken>(manifest),
        GeneratorKind::GitlabDeployToken => round_trip::<generators::GitlabDeployToken>(manifest),
        GeneratorKind::QuayAccessToken => round_trip::<generators::QuayAccessToken>(manifest),
        GeneratorKind::Password => round_trip::<generators::Password>(manifest),
        GeneratorKind::SshKey => round_trip::<generators::SshKey>(manifest),
        GeneratorKind::StsSessionToken => round_trip::<generators::StsSessionToken>(manifest),
        GeneratorKind::Uuid => round_trip::<generators::Uuid>(manifest),
        GeneratorKind::VaultDynamicSecret => round_trip::<generators::VaultDynamicSecret>(manifest),
        GeneratorKind::Webhook => round_trip::<generators::Webhook>(manifest),
        GeneratorKind::Grafana => round_trip::<generators::Grafana>(manifest),
        GeneratorKind::Mfa => round_trip::<generators::Mfa>(manifest),
    }
}

/// [`try_typed`], failing the test when the manifest does not decode.
fn typed(source: &str, manifest: &Value) -> Value {
    try_typed(manifest).unwrap_or_else(|e| panic!("{source}: does not decode: {e}"))
}

/// One of ESO's documented examples.
struct Example {
    source: String,
    manifest: Value,
    /// What ESO's own CRD refuses in it (`<path>: <rule>`); ours must refuse it too.
    rejects: Vec<String>,
    /// Fields ESO's CRD does not declare: ours must not either.
    undeclared: Vec<String>,
}

impl Example {
    /// The manifest without its undeclared fields (what ESO keeps of it).
    fn declared(&self) -> Value {
        let mut manifest = self.manifest.clone();
        for path in &self.undeclared {
            let steps: Vec<&str> = path.split('.').collect();
            let (last, parents) = steps.split_last().unwrap();
            let mut node = &mut manifest;
            for step in parents {
                node = &mut node[*step];
            }
            node.as_object_mut().unwrap().remove(*last);
        }
        manifest
    }
}

fn examples() -> Vec<Example> {
    let file: Value = serde_json::from_str(&fixture("examples.json")).unwrap();
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|f| f.as_str().unwrap().to_owned())
            .collect()
    };
    file["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| Example {
            source: e["source"].as_str().unwrap().to_owned(),
            manifest: e["manifest"].clone(),
            rejects: strings(&e["esoRejects"]),
            undeclared: strings(&e["esoUndeclared"]),
        })
        .collect()
}

#[test]
fn esos_examples_decode_and_pass_the_cel_rules() {
    use kube::core::cel::{Validator, compile_schema};
    let crds = ampoule::crd::all();
    let validator = Validator::new();
    let examples = examples();
    let mut kinds = BTreeSet::new();
    let mut refused = 0;
    for example in &examples {
        let source = &example.source;
        let manifest = &example.declared();
        let kind = manifest["kind"].as_str().unwrap_or_default();
        kinds.insert(kind.to_owned());
        if !example.rejects.is_empty() {
            // ESO's CRD refuses it (the apiserver test checks ours does too); a missing
            // required field fails the typed API as well.
            let missing = example
                .rejects
                .iter()
                .find_map(|r| r.strip_suffix(": required"));
            if let Some(field) = missing {
                let last = field.rsplit('.').next().unwrap_or_default();
                let error = try_typed(manifest).expect_err(source);
                assert!(
                    error.contains(&format!("missing field `{last}`")),
                    "{source}: {error}"
                );
            }
            refused += 1;
            continue;
        }
        let back = typed(source, manifest);
        // Undeclared fields are dropped, as ESO's apiserver would.
        assert_eq!(typed(source, &example.manifest), back, "{source}");
        for part in ["metadata", "spec"] {
            assert!(
                contains(&back[part], &manifest[part]),
                "{source}: {kind} {part} lost data:\n{back:#}"
            );
        }
        let (group, version) = manifest["apiVersion"]
            .as_str()
            .and_then(|v| v.split_once('/'))
            .unwrap_or_else(|| panic!("{source}: apiVersion"));
        let crd = crds
            .iter()
            .find(|c| c.spec.group == group && c.spec.names.kind == kind)
            .unwrap_or_else(|| panic!("{source}: no CRD for {kind}"));
        let schema = crd
            .spec
            .versions
            .iter()
            .find(|v| v.name == version && v.served)
            .and_then(|v| v.schema.as_ref())
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .unwrap_or_else(|| panic!("{source}: {version} not served"));
        let compiled = compile_schema(&serde_json::to_value(schema).unwrap());
        if let Err(errors) = validator.validate_compiled(&compiled, manifest, None) {
            panic!("{source}: {errors:?}");
        }
    }
    // Every kind has at least one documented example (ExternalSecrets using them too).
    for kind in GeneratorKind::ALL {
        assert!(kinds.contains(kind.as_str()), "no example of {kind}");
    }
    assert!(kinds.contains("ExternalSecret"));
    assert_eq!(refused, 2, "ESO's examples its CRDs refuse");
}

/// Server-side dry-run apply of `manifest` in `namespace` (cluster-scoped kinds ignore it).
async fn dry_run(
    client: &kube::Client,
    namespace: &str,
    manifest: &Value,
) -> Result<DynamicObject, kube::Error> {
    let api_version = manifest["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let kind = manifest["kind"].as_str().unwrap_or_default();
    let gvk = kube::core::GroupVersionKind::gvk(group, version, kind);
    let (resource, caps) = kube::discovery::pinned_kind(client, &gvk).await?;
    let mut object = manifest.clone();
    let api: Api<DynamicObject> = if caps.scope == kube::discovery::Scope::Namespaced {
        object["metadata"]["namespace"] = Value::from(namespace);
        Api::namespaced_with(client.clone(), namespace, &resource)
    } else {
        Api::all_with(client.clone(), &resource)
    };
    let name = manifest["metadata"]["name"].as_str().unwrap_or_default();
    let mut params = PatchParams::apply("ampoule-crd-generators").force();
    params.dry_run = true;
    api.patch(name, &params, &Patch::Apply(&object)).await
}

#[tokio::test]
async fn esos_examples_are_accepted_by_the_apiserver_without_pruning() {
    let ground = ground::ground();
    let client = ground.client().await;
    common::crds(&client).await;
    let namespace = ground.namespace("crd-generators").await;
    let mut accepted = 0;
    for example in examples() {
        let source = example.source.clone();
        if !example.undeclared.is_empty() {
            // Server-side apply refuses fields the schema does not declare, ESO's and ours.
            let error = dry_run(&client, &namespace, &example.manifest)
                .await
                .expect_err(&source)
                .to_string();
            for field in &example.undeclared {
                assert!(
                    error.contains(&format!(".{field}: field not declared in schema")),
                    "{source}: {error}"
                );
            }
        }
        let manifest = example.declared();
        let result = dry_run(&client, &namespace, &manifest).await;
        if !example.rejects.is_empty() {
            // ESO's apiserver refuses it for a missing required field; so does ours.
            let error = result.expect_err(&source).to_string();
            for reject in &example.rejects {
                let (field, rule) = reject.split_once(": ").unwrap();
                let expected = match rule {
                    "required" => format!("{field}: Required value"),
                    "minLength" => format!("{field} in body should be at least"),
                    _ => field.to_owned(),
                };
                assert!(error.contains(&expected), "{source}: {reject}: {error}");
            }
            continue;
        }
        let stored = result.unwrap_or_else(|e| panic!("{source}: rejected: {e}"));
        let stored = serde_json::to_value(&stored).unwrap();
        assert!(
            contains(&stored["spec"], &manifest["spec"]),
            "{source}: the apiserver pruned or changed fields:\n{:#}\nsent:\n{:#}",
            stored["spec"],
            manifest["spec"]
        );
        // What the apiserver stores decodes into the typed API (defaults filled in).
        typed(&source, &stored);
        accepted += 1;
    }
    assert!(accepted > 40, "{accepted} examples");

    // The apiserver applies ESO's defaults and rules: an empty Password gets ESO's settings, a
    // UUID needs no spec, a deploy token needs exactly one of project and group.
    let password = serde_json::json!({
        "apiVersion": generators::API_VERSION, "kind": "Password",
        "metadata": {"name": "empty"}, "spec": {},
    });
    let stored = dry_run(&client, &namespace, &password).await.unwrap();
    let spec: generators::PasswordSpec =
        serde_json::from_value(stored.data["spec"].clone()).unwrap();
    assert_eq!(spec, generators::PasswordSpec::default());
    assert_eq!(
        stored.data["spec"],
        serde_json::json!({"length": 24, "noUpper": false, "allowRepeat": false, "encoding": "raw"})
    );
    let uuid = serde_json::json!({
        "apiVersion": generators::API_VERSION, "kind": "UUID", "metadata": {"name": "bare"},
    });
    dry_run(&client, &namespace, &uuid).await.unwrap();
    let gitlab = |extra: Value| {
        let mut spec = serde_json::json!({
            "name": "t", "scopes": ["read_registry"],
            "auth": {"token": {"secretRef": {"name": "s", "key": "k"}}},
        });
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::json!({
            "apiVersion": generators::API_VERSION, "kind": "GitlabDeployToken",
            "metadata": {"name": "t"}, "spec": spec,
        })
    };
    for (extra, ok) in [
        (serde_json::json!({"projectID": "g/p"}), true),
        (serde_json::json!({"groupID": "g"}), true),
        (serde_json::json!({}), false),
        (
            serde_json::json!({"projectID": "g/p", "groupID": "g"}),
            false,
        ),
    ] {
        let result = dry_run(&client, &namespace, &gitlab(extra.clone())).await;
        match (ok, result) {
            (true, Ok(_)) => {}
            (false, Err(e)) => assert!(
                e.to_string()
                    .contains("exactly one of projectID or groupID must be set"),
                "{extra}: {e}"
            ),
            (ok, result) => panic!("{extra}: wanted accepted={ok}, got {result:?}"),
        }
    }
    // A ClusterGenerator holds exactly one spec, and its kind cannot be ClusterGenerator.
    for spec in [
        serde_json::json!({"kind": "Fake", "generator": {}}),
        serde_json::json!({"kind": "Fake", "generator": {"fakeSpec": {}, "uuidSpec": {}}}),
        serde_json::json!({"kind": "ClusterGenerator", "generator": {"uuidSpec": {}}}),
    ] {
        let cluster = serde_json::json!({
            "apiVersion": generators::API_VERSION, "kind": "ClusterGenerator",
            "metadata": {"name": "broken"}, "spec": spec,
        });
        assert!(
            dry_run(&client, &namespace, &cluster).await.is_err(),
            "{spec} accepted"
        );
    }
    ground.drop_namespace(&namespace).await;
}
