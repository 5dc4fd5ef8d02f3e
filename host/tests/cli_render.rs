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

#[test]
fn renders_what_a_push_secret_would_push_where() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ps.yaml"),
        r#"
apiVersion: v1
kind: Secret
metadata: {name: db, labels: {app: shop}}
stringData: {user: admin, pass: "p@ss"}
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {name: vault, labels: {tier: prod}}
spec: {provider: {fake: {data: []}}}
---
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: push}
spec:
  updatePolicy: IfNotExists
  secretStoreRefs: [{labelSelector: {matchLabels: {tier: prod}}}]
  selector: {secret: {name: db}}
  template:
    data:
      dsn: "{{ .user }}:{{ .pass }}@db"
  data:
    - match: {secretKey: dsn, remoteRef: {remoteKey: shop/db, property: dsn}}
      metadata: {apiVersion: kubernetes.external-secrets.io/v1alpha1, kind: PushSecretMetadata}
    - match: {remoteRef: {remoteKey: shop/all}}
"#,
    )
    .unwrap();
    let out = render(&["-f", "ps.yaml"], dir.path());
    assert!(
        out.status.success(),
        "render failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_norway::from_slice(&out.stdout).unwrap();
    assert_eq!(v["updatePolicy"], "IfNotExists");
    let pushes = v["pushes"].as_array().unwrap();
    assert_eq!(pushes.len(), 2, "{v}");
    assert_eq!(pushes[0]["store"], "SecretStore/vault");
    assert_eq!(pushes[0]["remoteKey"], "shop/db");
    assert_eq!(pushes[0]["property"], "dsn");
    assert_eq!(pushes[0]["value"], "admin:p@ss@db");
    assert_eq!(pushes[0]["metadata"]["kind"], "PushSecretMetadata");
    assert_eq!(
        pushes[1]["value"], r#"{"dsn":"admin:p@ss@db","pass":"p@ss","user":"admin"}"#,
        "the whole Secret, template keys included, as one JSON object"
    );

    std::fs::write(
        dir.path().join("missing.yaml"),
        "apiVersion: external-secrets.io/v1alpha1\nkind: PushSecret\nmetadata: {name: p}\nspec:\n  secretStoreRefs: [{name: s}]\n  selector: {secret: {name: gone}}\n",
    )
    .unwrap();
    let out = render(&["-f", "missing.yaml"], dir.path());
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(r#"the source Secret "gone" is not in"#),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn renders_generated_values_offline_and_refuses_cloud_generators() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gen.yaml"),
        r#"
apiVersion: generators.external-secrets.io/v1alpha1
kind: Password
metadata: {name: pw}
spec: {length: 16, digits: 4, symbols: 0, noUpper: true}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: app}
spec:
  refreshInterval: 1h
  target: {name: app}
  dataFrom:
    - sourceRef:
        generatorRef: {apiVersion: generators.external-secrets.io/v1alpha1, kind: Password, name: pw}
"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("data.json"), "{}").unwrap();
    let out = render(&["-f", "gen.yaml", "--data", "data.json"], dir.path());
    let (_, data) = secret_data(&out);
    let password = &data.iter().find(|(k, _)| k == "password").unwrap().1;
    assert_eq!(password.len(), 16);
    assert_eq!(password.chars().filter(char::is_ascii_digit).count(), 4);
    assert!(!password.chars().any(|c| c.is_ascii_uppercase()));

    std::fs::write(
        dir.path().join("sts.yaml"),
        r#"
apiVersion: generators.external-secrets.io/v1alpha1
kind: STSSessionToken
metadata: {name: sts}
spec: {region: eu-west-1}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: app}
spec:
  target: {name: app}
  dataFrom:
    - sourceRef:
        generatorRef: {apiVersion: generators.external-secrets.io/v1alpha1, kind: STSSessionToken, name: sts}
"#,
    )
    .unwrap();
    let out = render(&["-f", "sts.yaml", "--data", "data.json"], dir.path());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("generator kind STSSessionToken is not supported by Ampoule yet")
            || err.contains("needs its backend"),
        "{err}"
    );
}
