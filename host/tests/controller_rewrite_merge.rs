//! Issue 7 end to end: `dataFrom[].rewrite[].merge` through the real controller against the
//! ground's apiserver, with a test-only provider whose backend each test controls.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use common::{data, start};
use serde_json::json;

fn es(name: &str, spec: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": name}, "spec": spec})
}

fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn extract_merges_json_values_into_one_key_per_property() {
    let run = start("merge-extract", |_| {}).await;
    let backend = run.store("backend").await;
    backend.set(
        "creds/mongo",
        r#"{"username":"foz","password":"baz","host":"mongo.example.com"}"#,
    );
    backend.set(
        "creds/redis",
        r#"{"host":"redis.example.com","port":6379,"tls":{"enabled":true}}"#,
    );
    backend.set("unrelated", "not JSON at all");
    run.apply(es(
        "extract",
        json!({
            "secretStoreRef": {"name": "backend"},
            "dataFrom": [{
                "find": {"name": {"regexp": "^creds/"}},
                "rewrite": [
                    {"regexp": {"source": "creds/(.*)", "target": "$1"}},
                    {"merge": {"conflictPolicy": "Ignore", "priority": ["mongo"]}}
                ]
            }]
        }),
    ))
    .await;
    run.es_ready("extract", "True", "SecretSynced").await;
    assert_eq!(
        data(&run.secret("extract").await.unwrap()),
        expect(&[
            ("host", "mongo.example.com"),
            ("password", "baz"),
            ("port", "6379"),
            ("tls", r#"{"enabled":true}"#),
            ("username", "foz"),
        ]),
        "mongo is listed in priority, so it is merged last and wins `host`"
    );
}

#[tokio::test]
async fn json_strategy_keeps_the_values_and_adds_the_merged_object() {
    let run = start("merge-json", |_| {}).await;
    let backend = run.store("backend").await;
    backend.set(
        "app",
        r#"{"db":{"user":"app","pass":"p<&>w"},"cache":{"host":"cache.internal","port":"6379"}}"#,
    );
    run.apply(es(
        "json",
        json!({
            "secretStoreRef": {"name": "backend"},
            "target": {"name": "app-config"},
            "dataFrom": [{
                "extract": {"key": "app"},
                "rewrite": [{"merge": {"strategy": "JSON", "into": "config"}}]
            }]
        }),
    ))
    .await;
    run.es_ready("json", "True", "SecretSynced").await;
    assert_eq!(
        data(&run.secret("app-config").await.unwrap()),
        expect(&[
            ("cache", r#"{"host":"cache.internal","port":"6379"}"#),
            (
                "config",
                r#"{"host":"cache.internal","pass":"p<&>w","port":"6379","user":"app"}"#
            ),
            ("db", r#"{"pass":"p<&>w","user":"app"}"#),
        ])
    );

    // JSON without `into`: ESO's error, no Secret.
    run.apply(es(
        "no-into",
        json!({
            "secretStoreRef": {"name": "backend"},
            "dataFrom": [{"extract": {"key": "app"}, "rewrite": [{"merge": {"strategy": "JSON"}}]}]
        }),
    ))
    .await;
    run.es_ready("no-into", "False", "SecretSyncedError").await;
    let (_, _, note) = run.wait_event("no-into", "UpdateFailed").await;
    assert_eq!(
        note,
        "invalid spec: spec.dataFrom[0].rewrite[0].merge: merge failed with missing 'into' field"
    );
    assert!(run.secret("no-into").await.is_none());
}

#[tokio::test]
async fn a_conflict_fails_the_sync_and_leaves_the_secret_untouched() {
    let run = start("merge-conflict", |_| {}).await;
    let backend = run.store("backend").await;
    backend.set("a", r#"{"user":"alice","token":"hunter2-token"}"#);
    backend.set("b", r#"{"user":"bob","password":"hunter2-password"}"#);
    let spec = |conflict_policy: &str| {
        json!({
            "secretStoreRef": {"name": "backend"},
            "dataFrom": [{
                "find": {"name": {"regexp": "^[ab]$"}},
                "rewrite": [
                    {"regexp": {"source": "^", "target": "src-"}},
                    {"merge": {"conflictPolicy": conflict_policy}}
                ]
            }]
        })
    };
    run.apply(es("conflict", spec("Ignore"))).await;
    run.es_ready("conflict", "True", "SecretSynced").await;
    let before = run.secret("conflict").await.unwrap();
    assert_eq!(
        data(&before),
        expect(&[
            ("password", "hunter2-password"),
            ("token", "hunter2-token"),
            ("user", "bob"),
        ]),
        "Ignore: the later key (sorted) wins"
    );

    // conflictPolicy Error: both values set `user`.
    run.apply(es("conflict", spec("Error"))).await;
    let failed = run.es_ready("conflict", "False", "SecretSyncedError").await;
    assert_eq!(
        failed.status.unwrap().ready().unwrap().message.as_deref(),
        Some("could not get secret data from provider"),
        "ESO's fixed condition message; the detail is in the event"
    );
    let (kind, _, note) = run.wait_event("conflict", "UpdateFailed").await;
    assert_eq!(kind, "Warning");
    assert_eq!(
        note,
        "invalid spec: spec.dataFrom[0].rewrite[1].merge: merge failed with conflicts: user"
    );
    for (_, _, note) in run.events("conflict").await {
        assert!(!note.contains("hunter2"), "a value leaked: {note}");
    }
    let after = run.secret("conflict").await.unwrap();
    assert_eq!(
        after.metadata.resource_version, before.metadata.resource_version,
        "the Secret is not written"
    );
    assert_eq!(after.data, before.data);

    // The conflict goes away at the provider: the next sync succeeds.
    backend.set("b", r#"{"password":"hunter2-password"}"#);
    common::force_sync(&run.client, &run.namespace, "conflict", "1").await;
    run.secret_where("conflict", "the Secret without b's user", |s| {
        data(s).get("user").map(String::as_str) == Some("alice")
    })
    .await;
    run.es_ready("conflict", "True", "SecretSynced").await;
}
