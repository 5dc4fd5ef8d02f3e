//! The PushSecret controller on the ground's apiserver, with the test-only provider as the
//! store's backend: what is pushed where, status and events as ESO writes them, updatePolicy,
//! deletionPolicy with its finalizer, a deleted source, and the label selector confined to the
//! PushSecret's namespace (ESO's GHSA-fcxq-v2r3-cc8h).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use ampoule::crd::PushSecret;
use common::{Running, WAIT, start};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams};
use serde_json::{Value, json};

fn secret(name: &str, labels: Value, data: &[(&str, &str)]) -> Value {
    let data: serde_json::Map<String, Value> = data
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "labels": labels}, "stringData": data})
}

fn push_secret(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "external-secrets.io/v1alpha1", "kind": "PushSecret", "metadata": {"name": name}, "spec": spec})
}

async fn ps_ready(c: &Running, name: &str, status: &str, reason: &str) -> PushSecret {
    ground::eventually(
        WAIT,
        &format!("PushSecret {name} Ready={status} {reason}"),
        || async {
            let p = c.api::<PushSecret>().get_opt(name).await.ok()??;
            let cond = p.status.as_ref()?.ready()?.clone();
            let s = serde_json::to_value(cond.status).ok()?;
            (s == json!(status) && cond.reason.as_deref() == Some(reason)).then_some(p)
        },
    )
    .await
}

#[tokio::test]
async fn pushes_keys_and_whole_secrets_and_records_them_as_eso() {
    let c = start("push", |_| {}).await;
    let backend = c.store("vault").await;
    c.apply(secret(
        "src",
        json!({}),
        &[("user", "admin"), ("pass", "s3cr3t")],
    ))
    .await;
    c.apply(push_secret(
        "p",
        json!({
            "refreshInterval": "1h",
            "secretStoreRefs": [{"name": "vault", "kind": "SecretStore"}],
            "selector": {"secret": {"name": "src"}},
            "data": [
                {"match": {"secretKey": "pass", "remoteRef": {"remoteKey": "app/db", "property": "password"}}},
                {"match": {"remoteRef": {"remoteKey": "app/all"}}},
            ],
        }),
    ))
    .await;
    let p = ps_ready(&c, "p", "True", "Synced").await;
    assert_eq!(
        backend.value("app/db").as_deref(),
        Some(r#"{"password":"s3cr3t"}"#)
    );
    assert_eq!(
        backend.value("app/all").as_deref(),
        Some(r#"{"pass":"s3cr3t","user":"admin"}"#),
        "no secretKey pushes the whole Secret as one JSON object"
    );
    let status = p.status.unwrap();
    let synced = &status.synced_push_secrets["SecretStore/vault"];
    assert_eq!(
        synced.keys().cloned().collect::<Vec<_>>(),
        ["app/all", "app/db/password"]
    );
    assert!(status.refresh_time.is_some());
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(
        ready.message.as_deref(),
        Some("PushSecret synced successfully")
    );
    let (kind, _, note) = c.wait_event("p", "Synced").await;
    assert_eq!(
        (kind.as_str(), note.as_str()),
        ("Normal", "PushSecret synced successfully")
    );
    let rendered = c.metrics.encode();
    assert!(
        rendered.contains(&format!(
            r#"pushsecret_status_condition{{name="p",namespace="{}",condition="Ready",status="True"}} 1"#,
            c.namespace
        )),
        "{rendered}"
    );
    let status_text = serde_json::to_string(&status).unwrap();
    for text in [status_text, note] {
        assert!(
            !text.contains("s3cr3t"),
            "no secret value in status or events: {text}"
        );
    }

    // A missing key fails with ESO's message, and the earlier pushes stay recorded.
    c.apply(push_secret(
        "p",
        json!({
            "secretStoreRefs": [{"name": "vault"}],
            "selector": {"secret": {"name": "src"}},
            "data": [{"match": {"secretKey": "nope", "remoteRef": {"remoteKey": "x"}}}],
        }),
    ))
    .await;
    let p = ps_ready(&c, "p", "False", "Errored").await;
    let ready = p.status.as_ref().unwrap().ready().unwrap();
    assert_eq!(
        ready.message.as_deref(),
        Some("set secret failed: secret key nope does not exist")
    );
    let (kind, _, _) = c.wait_event("p", "Errored").await;
    assert_eq!(kind, "Warning");
    assert!(backend.value("x").is_none());
}

#[tokio::test]
async fn if_not_exists_leaves_an_existing_remote_secret_alone() {
    let c = start("push-ine", |_| {}).await;
    let backend = c.store("vault").await;
    backend.set("taken", "theirs");
    c.apply(secret("src", json!({}), &[("k", "ours")])).await;
    c.apply(push_secret(
        "p",
        json!({
            "updatePolicy": "IfNotExists",
            "secretStoreRefs": [{"name": "vault"}],
            "selector": {"secret": {"name": "src"}},
            "data": [
                {"match": {"secretKey": "k", "remoteRef": {"remoteKey": "taken"}}},
                {"match": {"secretKey": "k", "remoteRef": {"remoteKey": "free"}}},
            ],
        }),
    ))
    .await;
    let p = ps_ready(&c, "p", "True", "Synced").await;
    assert_eq!(backend.value("taken").as_deref(), Some("theirs"));
    assert_eq!(backend.value("free").as_deref(), Some("ours"));
    let ready = p.status.as_ref().unwrap().ready().unwrap();
    assert_eq!(
        ready.message.as_deref(),
        Some("PushSecret synced successfully. Existing secrets in providers unchanged.")
    );
    assert_eq!(
        p.status.unwrap().synced_push_secrets["SecretStore/vault"].len(),
        2,
        "an existing secret is recorded too, as ESO does"
    );
}

#[tokio::test]
async fn delete_policy_removes_what_is_no_longer_pushed_and_what_was_pushed_on_deletion() {
    let c = start("push-del", |_| {}).await;
    let backend = c.store("vault").await;
    c.apply(secret("src", json!({}), &[("a", "1"), ("b", "2")]))
        .await;
    let spec = |keys: &[&str]| {
        let data: Vec<Value> = keys
            .iter()
            .map(|k| json!({"match": {"secretKey": k, "remoteRef": {"remoteKey": format!("r/{k}")}}}))
            .collect();
        json!({
            "deletionPolicy": "Delete",
            "secretStoreRefs": [{"name": "vault"}],
            "selector": {"secret": {"name": "src"}},
            "data": data,
        })
    };
    c.apply(push_secret("p", spec(&["a", "b"]))).await;
    let p = ps_ready(&c, "p", "True", "Synced").await;
    assert!(
        p.metadata
            .finalizers
            .unwrap_or_default()
            .contains(&"pushsecret.externalsecrets.io/finalizer".to_string())
    );
    assert_eq!(backend.keys(), ["r/a", "r/b"]);

    c.apply(push_secret("p", spec(&["a"]))).await;
    ground::eventually(WAIT, "r/b deleted from the store", || async {
        (backend.keys() == ["r/a"]).then_some(())
    })
    .await;

    c.api::<PushSecret>()
        .delete("p", &DeleteParams::default())
        .await
        .unwrap();
    ground::eventually(WAIT, "the PushSecret gone and r/a deleted", || async {
        let gone = c.api::<PushSecret>().get_opt("p").await.unwrap().is_none();
        (gone && backend.keys().is_empty()).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_deleted_source_deletes_what_was_pushed() {
    let c = start("push-src", |_| {}).await;
    let backend = c.store("vault").await;
    c.apply(secret("src", json!({}), &[("a", "1")])).await;
    c.apply(push_secret(
        "p",
        json!({
            "refreshInterval": "2s",
            "deletionPolicy": "Delete",
            "secretStoreRefs": [{"name": "vault"}],
            "selector": {"secret": {"name": "src"}},
            "data": [{"match": {"secretKey": "a", "remoteRef": {"remoteKey": "r/a"}}}],
        }),
    ))
    .await;
    ps_ready(&c, "p", "True", "Synced").await;
    assert_eq!(backend.keys(), ["r/a"]);
    c.api::<Secret>()
        .delete("src", &DeleteParams::default())
        .await
        .unwrap();
    let p = ps_ready(&c, "p", "False", "SourceDeleted").await;
    assert!(backend.keys().is_empty());
    assert!(p.status.unwrap().synced_push_secrets.is_empty());
    let (kind, _, note) = c.wait_event("p", "SourceDeleted").await;
    assert_eq!(
        (kind.as_str(), note.as_str()),
        (
            "Normal",
            "source secret deleted; provider secrets cleaned up"
        )
    );
}

/// ESO's GHSA-fcxq-v2r3-cc8h: a label selector listed Secrets in every namespace. The controller
/// here watches every namespace, and a Secret with the same label in another namespace must not
/// be pushed.
#[tokio::test]
async fn a_label_selector_reads_only_the_push_secrets_namespace() {
    let c = start("push-sel", |s| s.namespace = None).await;
    let backend = c.store("vault").await;
    let g = ground::ground();
    let other = g.namespace("push-sel-other").await;
    let label = json!({"push": "me"});
    common::apply(
        &c.client,
        Some(&other),
        secret("theirs", label.clone(), &[("other-tenant", "not yours")]),
    )
    .await
    .unwrap();
    c.apply(secret("mine", label.clone(), &[("own", "yes")]))
        .await;
    c.apply(push_secret(
        "p",
        json!({
            "secretStoreRefs": [{"name": "vault"}],
            "selector": {"secret": {"selector": {"matchLabels": label}}},
            "dataTo": [{"storeRef": {"name": "vault"}}],
        }),
    ))
    .await;
    ps_ready(&c, "p", "True", "Synced").await;
    assert_eq!(
        backend.keys(),
        ["own"],
        "only the Secret of the PushSecret's own namespace was pushed"
    );
    g.drop_namespace(&other).await;
}

#[tokio::test]
async fn nothing_changed_means_no_new_push_until_the_interval() {
    let c = start("push-idle", |_| {}).await;
    let backend = c.store("vault").await;
    c.apply(secret("src", json!({}), &[("a", "1")])).await;
    c.apply(push_secret(
        "p",
        json!({
            "refreshInterval": "1h",
            "secretStoreRefs": [{"name": "vault"}],
            "selector": {"secret": {"name": "src"}},
            "data": [{"match": {"secretKey": "a", "remoteRef": {"remoteKey": "r/a"}}}],
        }),
    ))
    .await;
    ps_ready(&c, "p", "True", "Synced").await;
    let writes = backend.writes();
    assert_eq!(writes, 1);
    // Status writes and metadata-only changes (a finalizer of someone else) queue nothing.
    let api: Api<PushSecret> = c.api();
    api.patch(
        "p",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&json!({"metadata": {"finalizers": ["example.com/keep"]}})),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(backend.writes(), writes, "no push before refreshInterval");
    api.patch(
        "p",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_cluster_push_secret_stamps_a_push_secret_into_selected_namespaces() {
    let c = start("cps", |s| s.cluster_push_secrets = true).await;
    let backend = c.store("vault").await;
    c.apply(secret("src", json!({}), &[("a", "1")])).await;
    let label = common::unique("cps");
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(c.client.clone());
    namespaces
        .patch(
            &c.namespace,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&json!({"metadata": {"labels": {"cps": label}}})),
        )
        .await
        .unwrap();
    let name = common::unique("cps");
    common::apply(
        &c.client,
        None,
        json!({
            "apiVersion": "external-secrets.io/v1alpha1", "kind": "ClusterPushSecret",
            "metadata": {"name": name},
            "spec": {
                "pushSecretName": "stamped",
                "pushSecretMetadata": {"labels": {"from": "cps"}},
                "namespaceSelectors": [{"matchLabels": {"cps": label}}],
                "pushSecretSpec": {
                    "secretStoreRefs": [{"name": "vault"}],
                    "selector": {"secret": {"name": "src"}},
                    "data": [{"match": {"secretKey": "a", "remoteRef": {"remoteKey": "from-cps"}}}],
                },
            },
        }),
    )
    .await
    .unwrap();
    let p = ps_ready(&c, "stamped", "True", "Synced").await;
    assert_eq!(p.labels().get("from").map(String::as_str), Some("cps"));
    assert_eq!(
        ampoule::controller::cluster_push_secret::controller_of(&p),
        Some(name.as_str())
    );
    assert_eq!(backend.value("from-cps").as_deref(), Some("1"));
    let cps: Api<ampoule::crd::ClusterPushSecret> = Api::all(c.client.clone());
    let status = ground::eventually(WAIT, "ClusterPushSecret status", || async {
        let s = cps.get(&name).await.ok()?.status?;
        (!s.provisioned_namespaces.is_empty()).then_some(s)
    })
    .await;
    assert_eq!(
        status.provisioned_namespaces,
        std::slice::from_ref(&c.namespace)
    );
    assert_eq!(status.push_secret_name.as_deref(), Some("stamped"));
    assert!(status.failed_namespaces.is_empty());

    // The namespace no longer selected: its PushSecret goes.
    namespaces
        .patch(
            &c.namespace,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&json!({"metadata": {"labels": {"cps": null}}})),
        )
        .await
        .unwrap();
    ground::eventually(WAIT, "the stamped PushSecret deleted", || async {
        c.api::<PushSecret>()
            .get_opt("stamped")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    cps.delete(&name, &DeleteParams::default()).await.unwrap();
}
