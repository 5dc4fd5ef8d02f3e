//! Issue 7 end to end: `spec.target.template` and `rewrite.transform` rendered by the real
//! template component (embedded in the binary, run in the sandbox), with the controller against
//! the ground's apiserver and a test-only provider whose backend each test controls.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use base64::Engine;
use common::{data, start};
use kube::ResourceExt;
use serde_json::json;

fn es(name: &str, spec: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": name}, "spec": spec})
}

#[tokio::test]
async fn seed_connection_string_template_renders_only_its_keys() {
    let run = start("tpl-seed", |_| {}).await;
    let backend = run.store("vault-backend").await;
    backend.set(
        "database/postgresql",
        r#"{"username":"app","password":"p@ss w0rd","host":"db.internal","port":"5432","database":"orders"}"#,
    );
    // The seed guide's manifest (v1beta1) unchanged but for the namespace.
    let text = std::fs::read_to_string(
        ground::ground()
            .repo
            .join("tests/fixtures/seed/09-externalsecret-connection-string.yaml"),
    )
    .unwrap()
    .replace(
        "namespace: production",
        &format!("namespace: {}", run.namespace),
    );
    let obj: serde_json::Value = serde_norway::from_str(&text).unwrap();
    run.apply(obj).await;
    run.es_ready("connection-string", "True", "SecretSynced")
        .await;
    let s = run.secret("database-connection").await.unwrap();
    assert_eq!(
        data(&s),
        BTreeMap::from([(
            "connection-string".to_string(),
            "postgresql://app:p@ss w0rd@db.internal:5432/orders?sslmode=require\n".to_string()
        )]),
        "mergePolicy Replace: only the rendered key"
    );
    assert_eq!(s.type_.as_deref(), Some("Opaque"));
}

#[tokio::test]
async fn dockerconfigjson_labels_annotations_and_merge_policy() {
    let run = start("tpl-docker", |_| {}).await;
    let backend = run.store("backend").await;
    backend.set("registry", r#"{"user":"robot","token":"t0k3n"}"#);
    let mut obj = es(
        "pull",
        json!({
            "secretStoreRef": {"name": "backend"},
            "target": {"name": "pull-secret", "template": {
                "type": "kubernetes.io/dockerconfigjson",
                "metadata": {
                    "labels": {"registry-user": "{{ .user }}", "static": "yes"},
                    "annotations": {"rendered-at": "{{ now | date \"2006\" | len }}"}
                },
                "data": {".dockerconfigjson": "{\"auths\":{\"registry.example.com\":{\"auth\":\"{{ printf \"%s:%s\" .user .token | b64enc }}\"}}}"}
            }},
            "dataFrom": [{"extract": {"key": "registry"}}]
        }),
    );
    obj["metadata"]["labels"] = json!({"not-copied": "with-a-template"});
    run.apply(obj).await;
    run.es_ready("pull", "True", "SecretSynced").await;
    let s = run.secret("pull-secret").await.unwrap();
    assert_eq!(s.type_.as_deref(), Some("kubernetes.io/dockerconfigjson"));
    let auth = base64::engine::general_purpose::STANDARD.encode("robot:t0k3n");
    assert_eq!(
        data(&s),
        BTreeMap::from([(
            ".dockerconfigjson".to_string(),
            format!(r#"{{"auths":{{"registry.example.com":{{"auth":"{auth}"}}}}}}"#)
        )])
    );
    assert_eq!(s.labels()["registry-user"], "robot");
    assert_eq!(s.labels()["static"], "yes");
    assert_eq!(s.labels()["reconcile.external-secrets.io/managed"], "true");
    assert!(
        !s.labels().contains_key("not-copied"),
        "with a template, the ExternalSecret's labels are not copied (ESO)"
    );
    assert_eq!(s.annotations()["rendered-at"], "4");

    // mergePolicy Merge keeps the fetched keys next to the rendered ones.
    run.apply(es(
        "merged",
        json!({
            "secretStoreRef": {"name": "backend"},
            "target": {"template": {"mergePolicy": "Merge", "data": {"login": "{{ .user }}@registry"}}},
            "dataFrom": [{"extract": {"key": "registry"}}]
        }),
    ))
    .await;
    let m = run
        .secret_where("merged", "the merged Secret", |_| true)
        .await;
    assert_eq!(
        data(&m),
        BTreeMap::from([
            ("login".to_string(), "robot@registry".to_string()),
            ("token".to_string(), "t0k3n".to_string()),
            ("user".to_string(), "robot".to_string()),
        ])
    );
}

#[tokio::test]
async fn template_from_configmap_secret_and_literal() {
    let run = start("tpl-from", |_| {}).await;
    let backend = run.store("backend").await;
    backend.set("app", r#"{"user":"svc","password":"pw","region":"eu"}"#);
    run.apply(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "templates"},
        "data": {
            "app.properties": "user={{ .user }}\npassword={{ .password }}\n",
            "labels.yaml": "region: \"{{ .region }}\"\ntier: backend\n"
        }}),
    )
    .await;
    run.apply(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "secret-templates"},
        "stringData": {"dsn": "{{ .user }}:{{ .password }}@tcp(db)/app"}}),
    )
    .await;
    run.apply(es(
        "from",
        json!({
            "secretStoreRef": {"name": "backend"},
            "target": {"template": {
                "templateFrom": [
                    {"configMap": {"name": "templates", "items": [{"key": "app.properties"}]}},
                    {"target": "Labels", "configMap": {"name": "templates", "items": [{"key": "labels.yaml", "templateAs": "KeysAndValues"}]}},
                    {"secret": {"name": "secret-templates", "items": [{"key": "dsn"}]}},
                    {"literal": "greeting: hello {{ .user }}"}
                ],
                "data": {"dsn": "{{ .user }}@override"}
            }},
            "dataFrom": [{"extract": {"key": "app"}}]
        }),
    ))
    .await;
    run.es_ready("from", "True", "SecretSynced").await;
    let s = run.secret("from").await.unwrap();
    assert_eq!(
        data(&s),
        BTreeMap::from([
            (
                "app.properties".to_string(),
                "user=svc\npassword=pw\n".to_string()
            ),
            ("dsn".to_string(), "svc@override".to_string()),
            ("greeting".to_string(), "hello svc".to_string()),
        ]),
        "template.data wins over templateFrom"
    );
    assert_eq!(s.labels()["region"], "eu");
    assert_eq!(s.labels()["tier"], "backend");

    // A templateFrom key that is not in the ConfigMap: ESO's error, nothing written.
    run.apply(es(
        "from-missing",
        json!({
            "secretStoreRef": {"name": "backend"},
            "target": {"template": {"templateFrom": [{"configMap": {"name": "templates", "items": [{"key": "nope"}]}}]}},
            "dataFrom": [{"extract": {"key": "app"}}]
        }),
    ))
    .await;
    let failed = run
        .es_ready("from-missing", "False", "SecretSyncedError")
        .await;
    assert_eq!(
        ready_message(&failed),
        "could not apply template: error fetching templateFrom data: error in configmap templates: missing key nope"
    );
    assert!(run.secret("from-missing").await.is_none());
}

/// The Ready condition's message.
fn ready_message(es: &ampoule::crd::ExternalSecret) -> String {
    es.status
        .as_ref()
        .and_then(|s| s.ready())
        .and_then(|c| c.message.clone())
        .unwrap_or_default()
}

/// An ExternalSecret spec rendering `url` from the `db` secret's keys.
fn url_template(template: &str) -> serde_json::Value {
    json!({
        "secretStoreRef": {"name": "backend"},
        "target": {"template": {"data": {"url": template}}},
        "dataFrom": [{"extract": {"key": "db"}}]
    })
}

#[tokio::test]
async fn missing_key_fails_without_touching_the_secret_and_never_quotes_values() {
    let run = start("tpl-missing", |_| {}).await;
    let backend = run.store("backend").await;
    backend.set("db", r#"{"user":"app","password":"hunter2-secret"}"#);
    // Never synced: a template error leaves no Secret.
    run.apply(es("broken", url_template("{{ .user }}:{{ .pasword }}")))
        .await;
    let failed = run.es_ready("broken", "False", "SecretSyncedError").await;
    let msg = ready_message(&failed);
    assert!(
        msg.contains(r#"map has no entry for key "pasword""#),
        "the condition quotes the template error: {msg}"
    );
    let (kind, _, note) = run.wait_event("broken", "UpdateFailed").await;
    assert_eq!(kind, "Warning");
    assert!(
        note.contains("unable to execute template at key url"),
        "{note}"
    );
    assert!(run.secret("broken").await.is_none(), "no Secret written");

    // Synced once, then the template breaks: the Secret keeps its last good data.
    run.apply(es("good", url_template("{{ .user }}:{{ .password }}")))
        .await;
    run.es_ready("good", "True", "SecretSynced").await;
    // `fail` quotes a value on purpose: the status and event must not.
    run.apply(es("good", url_template("{{ fail .password }}")))
        .await;
    let failed = run.es_ready("good", "False", "SecretSyncedError").await;
    let msg = ready_message(&failed);
    assert!(msg.contains("<redacted>"), "{msg}");
    for (_, _, note) in run.events("good").await {
        assert!(!note.contains("hunter2-secret"), "a value leaked: {note}");
    }
    assert!(!msg.contains("hunter2-secret"));
    assert_eq!(
        data(&run.secret("good").await.unwrap())["url"],
        "app:hunter2-secret",
        "the existing Secret is untouched"
    );
}

#[tokio::test]
async fn rewrite_transform_regexp_and_decoding_strategy() {
    let run = start("tpl-rewrite", |_| {}).await;
    let backend = run.store("backend").await;
    backend.set(
        "svc",
        r#"{"db-user":"YXBw","db-pass":"czNjcjN0","api/key":"a2V5"}"#,
    );
    run.apply(es(
        "rw",
        json!({
            "secretStoreRef": {"name": "backend"},
            "dataFrom": [{
                "extract": {"key": "svc", "decodingStrategy": "Base64"},
                "rewrite": [
                    {"regexp": {"source": "/", "target": "-"}},
                    {"transform": {"template": "{{ .value | upper | replace \"-\" \"_\" }}"}}
                ]
            }]
        }),
    ))
    .await;
    run.es_ready("rw", "True", "SecretSynced").await;
    assert_eq!(
        data(&run.secret("rw").await.unwrap()),
        BTreeMap::from([
            ("API_KEY".to_string(), "key".to_string()),
            ("DB_PASS".to_string(), "s3cr3t".to_string()),
            ("DB_USER".to_string(), "app".to_string()),
        ])
    );
}
