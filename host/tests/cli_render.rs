//! `ampoule render`: the binary, no cluster. The fake component serves the data and the template
//! component renders, as in the operator.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn render(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ampoule"))
        .arg("render")
        .args(args)
        .current_dir(dir)
        // The test's own compiled-code cache; no cluster configuration is read.
        .env(
            "AMPOULE_CACHE_DIR",
            std::env::temp_dir().join("ampoule-render-test"),
        )
        .env("KUBECONFIG", "/nonexistent")
        .output()
        .unwrap()
}

fn secret_data(out: &Output) -> (Value, Vec<(String, String)>) {
    assert!(
        out.status.success(),
        "render failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_norway::from_slice(&out.stdout).unwrap();
    let data = v["data"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, b64)| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.as_str().unwrap())
                .unwrap();
            (k.clone(), String::from_utf8(bytes).unwrap())
        })
        .collect();
    (v, data)
}

#[test]
fn renders_the_seed_connection_string_from_a_data_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("data.json"),
        r#"{"database/postgresql": {"username": "app", "password": "pw", "host": "db", "port": "5432", "database": "orders"}}"#,
    )
    .unwrap();
    let es = repo().join("tests/fixtures/seed/09-externalsecret-connection-string.yaml");
    let out = render(
        &["-f", es.to_str().unwrap(), "--data", "data.json"],
        dir.path(),
    );
    let (v, data) = secret_data(&out);
    assert_eq!(
        data.clone(),
        vec![(
            "connection-string".to_string(),
            "postgresql://app:pw@db:5432/orders?sslmode=require\n".to_string()
        )]
    );
    assert_eq!(v["kind"], "Secret");
    assert_eq!(v["metadata"]["name"], "database-connection");
    assert_eq!(v["metadata"]["namespace"], "production");
    assert_eq!(v["type"], "Opaque");
    assert_eq!(
        v["metadata"]["labels"]["reconcile.external-secrets.io/managed"],
        "true"
    );
    let expected: std::collections::BTreeMap<String, String> = data.into_iter().collect();
    assert_eq!(
        v["metadata"]["annotations"]["reconcile.external-secrets.io/data-hash"],
        ampoule::controller::hash::data_hash(expected.iter()),
        "the data-hash the controller would write"
    );
}

#[test]
fn renders_template_from_objects_in_the_same_file_and_a_fake_store() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("all.yaml"),
        r#"
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {name: fake}
spec:
  provider:
    fake:
      data:
      - {key: app, value: '{"user":"svc","token":"dG9r"}'}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: tpl}
data:
  config.ini: "user={{ .user }}"
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: app, namespace: team}
spec:
  secretStoreRef: {name: fake}
  target:
    template:
      type: kubernetes.io/basic-auth
      metadata:
        labels: {owner: "{{ .user }}"}
      templateFrom:
      - configMap: {name: tpl, items: [{key: config.ini}]}
      data:
        username: "{{ .user }}"
        password: "{{ .token | b64dec }}"
  dataFrom:
  - extract: {key: app}
"#,
    )
    .unwrap();
    let (v, data) = secret_data(&render(&["-f", "all.yaml"], dir.path()));
    assert_eq!(
        data,
        vec![
            ("config.ini".to_string(), "user=svc".to_string()),
            ("password".to_string(), "tok".to_string()),
            ("username".to_string(), "svc".to_string()),
        ]
    );
    assert_eq!(v["type"], "kubernetes.io/basic-auth");
    assert_eq!(v["metadata"]["labels"]["owner"], "svc");
}

#[test]
fn template_errors_and_non_fake_stores_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.json"), r#"{"k": "v"}"#).unwrap();
    std::fs::write(
        dir.path().join("es.yaml"),
        r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: broken}
spec:
  secretStoreRef: {name: any}
  target:
    template:
      data: {out: "{{ .missing }}"}
  data:
  - {secretKey: k, remoteRef: {key: k}}
"#,
    )
    .unwrap();
    let out = render(&["-f", "es.yaml", "--data", "data.json"], dir.path());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(r#"map has no entry for key "missing""#),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "nothing printed on failure");

    let seed_store = repo().join("tests/fixtures/seed/01-secretstore-vault-backend.yaml");
    let out = render(
        &["-f", "es.yaml", "--store", seed_store.to_str().unwrap()],
        dir.path(),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("spec.provider.fake"), "{err}");
}
