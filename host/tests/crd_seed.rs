//! The seed's manifests (`tests/fixtures/seed/`, copied unchanged from the ESO + Flux guide) parse
//! into the typed API, round-trip without losing anything, get ESO's defaults, and pass the CRDs'
//! CEL rules.

// Helpers outside `#[test]` functions fail the test with a message, like assertions do.
#![allow(clippy::panic)]

use std::path::{Path, PathBuf};

use ampoule::crd::{
    ClusterSecretStore, CreationPolicy, DeletionPolicy, ExternalSecret, SecretStore, StoreKind,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn fixtures() -> Vec<PathBuf> {
    let dir = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default())
        .join("../tests/fixtures/seed");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `outer` holds everything `inner` holds (extra keys in `outer` are defaults).
fn contains(outer: &Value, inner: &Value) -> bool {
    match (outer, inner) {
        (Value::Object(o), Value::Object(i)) => i
            .iter()
            .all(|(k, v)| o.get(k).is_some_and(|ov| contains(ov, v))),
        (Value::Array(o), Value::Array(i)) => {
            o.len() == i.len() && o.iter().zip(i).all(|(a, b)| contains(a, b))
        }
        _ => outer == inner,
    }
}

/// Parses `manifest` as `T` and checks that serializing it loses nothing.
fn round_trip<T: DeserializeOwned + Serialize>(name: &str, manifest: &Value) -> T {
    let typed: T =
        serde_json::from_value(manifest.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let back = serde_json::to_value(&typed).unwrap_or_else(|e| panic!("{name}: {e}"));
    for part in ["metadata", "spec"] {
        assert!(
            contains(&back[part], &manifest[part]),
            "{name}: {part} lost data:\n{back:#}"
        );
    }
    typed
}

#[test]
fn seed_manifests_parse_and_round_trip() {
    let files = fixtures();
    assert_eq!(
        files.len(),
        12,
        "every SecretStore/ClusterSecretStore/ExternalSecret of the seed"
    );
    let (mut stores, mut cluster_stores, mut external_secrets) = (0, 0, 0);
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let manifest = load(&path);
        assert_eq!(
            manifest["apiVersion"], "external-secrets.io/v1beta1",
            "{name}"
        );
        match manifest["kind"].as_str() {
            Some("SecretStore") => {
                stores += 1;
                let store: SecretStore = round_trip(&name, &manifest);
                let (provider, block) = store
                    .spec
                    .provider
                    .key()
                    .unwrap_or_else(|| panic!("{name}"));
                assert_eq!(
                    Some(provider),
                    manifest["spec"]["provider"]
                        .as_object()
                        .and_then(|o| o.keys().next())
                        .map(String::as_str)
                );
                assert!(
                    contains(&block, &manifest["spec"]["provider"][provider]),
                    "{name}"
                );
            }
            Some("ClusterSecretStore") => {
                cluster_stores += 1;
                let store: ClusterSecretStore = round_trip(&name, &manifest);
                assert_eq!(store.spec.provider.name(), Some("vault"), "{name}");
            }
            Some("ExternalSecret") => {
                external_secrets += 1;
                let es: ExternalSecret = round_trip(&name, &manifest);
                // ESO's defaults, as the apiserver would fill them in.
                assert_eq!(
                    es.spec.target.creation_policy,
                    CreationPolicy::Owner,
                    "{name}"
                );
                assert_eq!(
                    es.spec.target.deletion_policy,
                    DeletionPolicy::Retain,
                    "{name}"
                );
                assert!(es.spec.refresh_interval().is_ok(), "{name}");
                let store = es
                    .spec
                    .secret_store_ref
                    .as_ref()
                    .unwrap_or_else(|| panic!("{name}"));
                let expected_kind = manifest["spec"]["secretStoreRef"]["kind"].as_str();
                assert_eq!(
                    Some(store.effective_kind().as_str()),
                    expected_kind,
                    "{name}"
                );
            }
            other => panic!("{name}: unexpected kind {other:?}"),
        }
    }
    assert_eq!((stores, cluster_stores, external_secrets), (3, 1, 8));
}

fn fixture(name: &str) -> Value {
    load(
        &std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default())
            .join("../tests/fixtures/seed")
            .join(name),
    )
}

#[test]
fn representative_manifests_get_esos_defaults() {
    let vault: SecretStore = round_trip("vault", &fixture("01-secretstore-vault-backend.yaml"));
    let (provider, block) = vault
        .spec
        .provider
        .key()
        .unwrap_or_else(|| panic!("no provider"));
    assert_eq!(provider, "vault");
    assert_eq!(
        block,
        json!({
            "server": "https://vault.company.com:8200", "path": "secret", "version": "v2",
            "auth": {"kubernetes": {"mountPath": "kubernetes", "role": "external-secrets",
                                    "serviceAccountRef": {"name": "external-secrets-sa"}}}
        })
    );

    let aws: SecretStore = round_trip("aws", &fixture("03-secretstore-aws-secrets.yaml"));
    let block = aws.spec.provider.key().map(|(_, b)| b).unwrap_or_default();
    assert_eq!(block["sessionTagsPolicy"], "None");

    let gcp: SecretStore = round_trip("gcp", &fixture("05-secretstore-gcpsm-backend.yaml"));
    let block = gcp.spec.provider.key().map(|(_, b)| b).unwrap_or_default();
    assert_eq!(block["secretVersionSelectionPolicy"], "LatestOrFail");
    assert_eq!(
        block["auth"]["workloadIdentity"]["clusterName"],
        "production-cluster"
    );

    let css: ClusterSecretStore = round_trip(
        "css",
        &fixture("07-clustersecretstore-vault-cluster-backend.yaml"),
    );
    let sa = css
        .spec
        .provider
        .vault
        .as_ref()
        .and_then(|v| v.auth.as_ref())
        .and_then(|a| a.kubernetes.as_ref());
    assert_eq!(
        sa.and_then(|k| k.service_account_ref.as_ref())
            .and_then(|s| s.namespace.as_deref()),
        Some("flux-system")
    );

    let templated: ExternalSecret = round_trip(
        "template",
        &fixture("09-externalsecret-connection-string.yaml"),
    );
    let template = templated
        .spec
        .target
        .template
        .as_ref()
        .unwrap_or_else(|| panic!("no template"));
    assert_eq!(template.type_.as_deref(), Some("Opaque"));
    assert_eq!(
        serde_json::to_value(template.engine_version).unwrap_or_default(),
        "v2"
    );
    assert_eq!(
        serde_json::to_value(template.merge_policy).unwrap_or_default(),
        "Replace"
    );
    assert!(template.data["connection-string"].contains("{{ .username }}"));
    assert_eq!(templated.spec.data_from.len(), 1);

    let shared: ExternalSecret =
        round_trip("shared", &fixture("08-externalsecret-shared-secrets.yaml"));
    let store = shared.spec.secret_store_ref.unwrap_or_default();
    assert_eq!(
        (store.name.as_str(), store.effective_kind()),
        ("vault-cluster-backend", StoreKind::ClusterSecretStore)
    );

    let rotated: ExternalSecret = round_trip(
        "rotated",
        &fixture("11-externalsecret-rotated-credentials.yaml"),
    );
    let interval = rotated
        .spec
        .refresh_interval()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(interval, std::time::Duration::from_secs(15 * 60));
}

#[test]
fn seed_manifests_pass_the_cel_rules() {
    use kube::core::cel::{Validator, compile_schema};
    let crds = ampoule::crd::all();
    let validator = Validator::new();
    for path in fixtures() {
        let manifest = load(&path);
        let (group, version) = manifest["apiVersion"]
            .as_str()
            .and_then(|v| v.split_once('/'))
            .unwrap_or_else(|| panic!("{}: apiVersion", path.display()));
        let crd = crds
            .iter()
            .find(|c| {
                c.spec.group == group
                    && Some(c.spec.names.kind.as_str()) == manifest["kind"].as_str()
            })
            .unwrap_or_else(|| panic!("{}: no CRD", path.display()));
        let served = crd
            .spec
            .versions
            .iter()
            .find(|v| v.name == version && v.served);
        let schema = served
            .and_then(|v| v.schema.as_ref())
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .unwrap_or_else(|| panic!("{}: version {version} not served", path.display()));
        let compiled = compile_schema(&serde_json::to_value(schema).unwrap_or_default());
        if let Err(errors) = validator.validate_compiled(&compiled, &manifest, None) {
            panic!("{}: {errors:?}", path.display());
        }
    }
}
