//! The ExternalSecret controller against the ground's real apiserver (kube-controller-manager
//! runs for garbage collection), with a test-only provider whose backend each test controls.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "controller_sync/policies.rs"]
mod policies;
#[path = "controller_sync/windows.rs"]
mod windows;

use std::collections::BTreeMap;
use std::sync::Arc;

use ampoule::controller::hash;
use ampoule::provider::ProviderError;

use common::{Backend, Running, WAIT, data, start};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

fn es(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": name}, "spec": spec})
}

/// A controller for a fresh namespace (`prefix-<random>`) and its store `backend` holding these
/// keys and values.
async fn with_backend(prefix: &str, values: &[(&str, &str)]) -> (Running, Arc<Backend>) {
    let run = start(prefix, |_| {}).await;
    let backend = run.store("backend").await;
    for (k, v) in values {
        backend.set(k, v);
    }
    (run, backend)
}

/// An ExternalSecret reading key `k` of store `backend` into `k`, with `extra` in its spec.
fn read_k(name: &str, extra: Value) -> Value {
    let mut spec = json!({"secretStoreRef": {"name": "backend"}, "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]});
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    es(name, spec)
}

/// Applies [`read_k`] and waits for the ExternalSecret to sync.
async fn synced(run: &Running, name: &str, extra: Value) {
    run.apply(read_k(name, extra)).await;
    run.es_ready(name, "True", "SecretSynced").await;
}

/// The data-hash the controller writes for this Secret's data.
fn data_hash(s: &Secret) -> String {
    hash::data_hash(s.data.iter().flatten().map(|(k, v)| (k, &v.0)))
}

async fn annotate(run: &Running, name: &str, key: &str, value: &str) {
    let api = run.api::<ampoule::crd::ExternalSecret>();
    let patch = json!({"metadata": {"annotations": {key: value}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

#[tokio::test]
async fn owner_target_carries_eso_labels_annotations_owner_and_status() {
    let (run, _) = with_backend(
        "es-owner",
        &[
            ("db", r#"{"user":"app","password":"s3cr3t"}"#),
            ("plain", "v1"),
        ],
    )
    .await;
    let mut obj = es(
        "app",
        json!({
            "refreshInterval": "1h",
            "secretStoreRef": {"name": "backend", "kind": "SecretStore"},
            "target": {"name": "app-secret"},
            "data": [
                {"secretKey": "password", "remoteRef": {"key": "db", "property": "password"}},
                {"secretKey": "plain", "remoteRef": {"key": "plain"}}
            ]
        }),
    );
    obj["metadata"]["labels"] = json!({"team": "payments"});
    obj["metadata"]["annotations"] = json!({"note": "copied"});
    run.apply(obj).await;

    let es = run.es_ready("app", "True", "SecretSynced").await;
    let secret = run.secret("app-secret").await.expect("target created");
    let d = data(&secret);
    assert_eq!(
        d,
        BTreeMap::from([
            ("password".into(), "s3cr3t".into()),
            ("plain".into(), "v1".into())
        ])
    );
    let labels = secret.labels();
    assert_eq!(labels["reconcile.external-secrets.io/managed"], "true");
    assert_eq!(
        labels["reconcile.external-secrets.io/created-by"],
        hash::created_by(&run.namespace, "app")
    );
    assert_eq!(labels["team"], "payments", "ES labels are copied");
    assert_eq!(
        secret.annotations()["note"],
        "copied",
        "ES annotations are copied"
    );
    assert_eq!(
        secret.annotations()["reconcile.external-secrets.io/data-hash"],
        data_hash(&secret)
    );
    let owner = &secret.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("ExternalSecret", "app", Some(true))
    );
    assert_eq!(owner.block_owner_deletion, Some(true));
    let managers: Vec<_> = secret
        .managed_fields()
        .iter()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert!(
        managers.contains(&"externalsecrets.external-secrets.io/app".to_string()),
        "{managers:?}"
    );

    let status = es.status.unwrap();
    let ready = status.ready().unwrap();
    assert_eq!(ready.message.as_deref(), Some("secret synced"));
    assert_eq!(status.binding.unwrap().name, "app-secret");
    assert!(status.refresh_time.is_some());
    let rv = status.synced_resource_version.unwrap();
    assert_eq!(
        rv,
        hash::resource_version(
            1,
            Some(es.metadata.annotations.as_ref().unwrap()),
            Some(es.metadata.labels.as_ref().unwrap())
        )
    );
    let created = run.wait_event("app", "Created").await;
    assert_eq!(
        (created.0.as_str(), created.2.as_str()),
        ("Normal", "secret created")
    );
}

#[tokio::test]
async fn drift_is_repaired_at_once_and_deleted_targets_come_back() {
    let (run, _) = with_backend("es-drift", &[("k", "good")]).await;
    synced(&run, "drift", json!({})).await;
    let secrets = run.api::<Secret>();
    // An edit by someone else (refreshInterval is 1h: only the Secret watch can notice).
    secrets
        .patch(
            "drift",
            &PatchParams::default(),
            &Patch::Merge(&json!({"data": {"k": "YmFk", "extra": "eA=="}})),
        )
        .await
        .unwrap();
    run.secret_where(
        "drift",
        "the edited value to be restored and the foreign key removed",
        |s| data(s) == BTreeMap::from([("k".to_string(), "good".to_string())]),
    )
    .await;
    secrets
        .delete("drift", &DeleteParams::default())
        .await
        .unwrap();
    run.secret_where("drift", "the deleted target to be recreated", |s| {
        data(s)["k"] == "good"
    })
    .await;
}

#[tokio::test]
async fn a_failed_fetch_leaves_the_secret_byte_identical() {
    let (run, backend) = with_backend("es-fail", &[("k", "v1")]).await;
    synced(&run, "keep", json!({})).await;
    let before = run.secret("keep").await.unwrap();

    backend.set("k", "v2");
    backend.fail_with(Some(ProviderError::Unavailable(
        "backend is down (connection refused)".into(),
    )));
    annotate(&run, "keep", "force-sync", "1").await;
    let es = run.es_ready("keep", "False", "SecretSyncedError").await;
    assert_eq!(
        es.status.unwrap().ready().unwrap().message.as_deref(),
        Some("could not get secret data from provider")
    );
    let event = run.wait_event("keep", "UpdateFailed").await;
    assert_eq!(event.0, "Warning");
    assert!(event.2.contains("backend is down"), "{event:?}");
    assert!(
        !event.2.contains("v1") && !event.2.contains("v2"),
        "no secret value in events: {event:?}"
    );
    // The retries repeat the same event: the recorder grows its series (a merge patch of
    // `series`) instead of creating an Event object per retry.
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(run.client.clone(), &run.namespace);
    let series = ground::eventually(WAIT, "an UpdateFailed series of two or more", || async {
        let list = events.list(&Default::default()).await.ok()?;
        list.items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("keep"))
            .filter(|e| e.reason.as_deref() == Some("UpdateFailed"))
            .find_map(|e| e.series.filter(|s| s.count >= 2))
    })
    .await;
    assert!(series.count >= 2, "{series:?}");
    let after = run.secret("keep").await.unwrap();
    assert_eq!(
        after.metadata.resource_version, before.metadata.resource_version,
        "not written at all"
    );
    assert_eq!(after.data, before.data);

    // Recovery: the backend comes back, the Secret follows.
    backend.fail_with(None);
    run.secret_where(
        "keep",
        "the Secret to follow once the backend is back",
        |s| data(s)["k"] == "v2",
    )
    .await;
    run.es_ready("keep", "True", "SecretSynced").await;
}

#[tokio::test]
async fn force_sync_picks_up_rotation_and_interval_zero_or_created_once_do_not() {
    let run = start("es-refresh", |_| {}).await;
    let periodic = run.store("periodic").await;
    let once = run.store("once").await;
    periodic.set("k", "a");
    once.set("k", "a");
    run.apply(es("periodic", json!({"secretStoreRef": {"name": "periodic"}, "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]}))).await;
    run.apply(es("zero", json!({"refreshInterval": "0s", "secretStoreRef": {"name": "once"}, "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]}))).await;
    run.apply(es("created-once", json!({"refreshPolicy": "CreatedOnce", "refreshInterval": "1s", "secretStoreRef": {"name": "once"}, "target": {"name": "co"}, "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]}))).await;
    for name in ["periodic", "zero", "created-once"] {
        run.es_ready(name, "True", "SecretSynced").await;
    }
    let calls = once.calls.load(std::sync::atomic::Ordering::SeqCst);
    periodic.set("k", "b");
    once.set("k", "b");
    for name in ["zero", "created-once", "periodic"] {
        annotate(&run, name, "force-sync", "1").await;
    }
    run.secret_where("periodic", "force-sync to pick up the rotated value", |s| {
        data(s)["k"] == "b"
    })
    .await;
    run.wait_event("periodic", "Updated").await;
    // The other two saw the same annotation change (and CreatedOnce has a 1 s interval) but do
    // not ask the provider again.
    let witness = run.es("zero").await;
    assert!(witness.annotations().contains_key("force-sync"));
    assert_eq!(data(&run.secret("zero").await.unwrap())["k"], "a");
    assert_eq!(data(&run.secret("co").await.unwrap())["k"], "a");
    assert_eq!(
        once.calls.load(std::sync::atomic::Ordering::SeqCst),
        calls,
        "no provider call for interval 0 / CreatedOnce"
    );
}

#[tokio::test]
async fn v1beta1_objects_work_like_v1() {
    let (run, _) = with_backend("es-beta", &[("k", "beta")]).await;
    run.apply(json!({
        "apiVersion": "external-secrets.io/v1beta1", "kind": "ExternalSecret", "metadata": {"name": "beta"},
        "spec": {"secretStoreRef": {"name": "backend", "kind": "SecretStore"}, "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]}
    }))
    .await;
    run.es_ready("beta", "True", "SecretSynced").await;
    assert_eq!(data(&run.secret("beta").await.unwrap())["k"], "beta");
}

#[tokio::test]
async fn a_bad_object_is_reported_and_others_keep_syncing() {
    let (run, _) = with_backend("es-bad", &[("k", "v")]).await;
    run.apply(read_k("bad", json!({"refreshInterval": "banana"})))
        .await;
    synced(&run, "good", json!({})).await;
    run.es_ready("bad", "False", "SecretSyncedError").await;
    let event = run.wait_event("bad", "UpdateFailed").await;
    assert!(event.2.contains("refreshInterval"), "{event:?}");
}

#[tokio::test]
async fn store_readiness_gates_its_externalsecrets() {
    let run = start("es-flood", |_| {}).await;
    let backend = run.provider.backend(&format!("{}/broken", run.namespace));
    backend.fail_with(Some(ProviderError::Unauthorized(
        "permission denied".into(),
    )));
    run.apply(json!({
        "apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "broken"},
        "spec": {"controller": run.class, "provider": {"test": {"backend": format!("{}/broken", run.namespace)}}}
    }))
    .await;
    let client = run.client.clone();
    let ns = run.namespace.clone();
    let store = ground::eventually(WAIT, "the store to be Ready=False", || {
        let (client, ns) = (client.clone(), ns.clone());
        async move {
            let s = common::get(&client, Some(&ns), "secretstores", "broken").await?;
            (common::ready(&s)? == "False").then_some(s)
        }
    })
    .await;
    let cond = store.data["status"]["conditions"][0].clone();
    assert_eq!(cond["reason"], "InvalidProviderConfig");
    assert_eq!(cond["message"], "unable to validate store");
    run.wait_event("broken", "InvalidProviderConfig").await;

    run.apply(es("gated", json!({"secretStoreRef": {"name": "broken"}, "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]}))).await;
    run.es_ready("gated", "False", "SecretSyncedError").await;
    let ev = ground::eventually(WAIT, "the flood-gate event", || async {
        run.events("gated")
            .await
            .into_iter()
            .find(|e| e.2.contains("SecretStore \"broken\" is not ready"))
    })
    .await;
    assert_eq!(ev.0, "Warning");

    // The store recovers: its ExternalSecrets follow without being touched.
    backend.set("k", "v");
    backend.fail_with(None);
    run.apply(json!({
        "apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "broken"},
        "spec": {"controller": run.class, "refreshInterval": 1, "provider": {"test": {"backend": format!("{}/broken", run.namespace)}}}
    }))
    .await;
    run.es_ready("gated", "True", "SecretSynced").await;
}

/// `spec.retrySettings`: a backend that is unavailable twice is retried within the sync (one
/// sync, no failure shown) when the store asks for two retries; without retrySettings the same
/// outage fails the sync first and the reconcile's backoff recovers it.
#[tokio::test]
async fn retry_settings_retry_the_call_within_one_sync() {
    let run = start("es-retry", |_| {}).await;
    let ns = run.namespace.clone();
    for (store, retry) in [
        (
            "patient",
            json!({"maxRetries": 2, "retryInterval": "200ms"}),
        ),
        ("plain", Value::Null),
    ] {
        let mut spec = json!({"controller": run.class, "provider": {"test": {"backend": format!("{ns}/{store}")}}});
        if !retry.is_null() {
            spec["retrySettings"] = retry;
        }
        run.apply(
            json!({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
                          "metadata": {"name": store}, "spec": spec}),
        )
        .await;
        run.wait_store_ready("SecretStore", store).await;
    }
    let patient = run.provider.backend(&format!("{ns}/patient"));
    let plain = run.provider.backend(&format!("{ns}/plain"));
    for (backend, store) in [(&patient, "patient"), (&plain, "plain")] {
        backend.set("k", "v1");
        backend.fail_times(2, ProviderError::Unavailable("503 from the backend".into()));
        let before = backend.calls.load(std::sync::atomic::Ordering::SeqCst);
        run.apply(es(
            store,
            json!({"secretStoreRef": {"name": store}, "refreshInterval": "1h",
                   "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]}),
        ))
        .await;
        run.es_ready(store, "True", "SecretSynced").await;
        let calls = backend.calls.load(std::sync::atomic::Ordering::SeqCst) - before;
        assert_eq!(
            calls, 3,
            "{store}: two failed calls and the one that worked"
        );
    }
    let warnings = |events: Vec<(String, String, String)>| {
        events
            .into_iter()
            .filter(|(kind, _, _)| kind == "Warning")
            .count()
    };
    ground::eventually(common::WAIT, "a Warning event on plain", || async {
        (warnings(run.events("plain").await) >= 1).then_some(())
    })
    .await;
    assert_eq!(
        warnings(run.events("patient").await),
        0,
        "retried inside the sync: no failure shown"
    );
}
