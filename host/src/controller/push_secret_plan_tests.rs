use super::*;
use crate::crd::push_secret::{PushSecretSpec, PushSecretStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

fn ps(spec: serde_json::Value) -> PushSecret {
    let spec: PushSecretSpec = serde_json::from_value(spec).unwrap();
    let mut ps = PushSecret::new("p", spec);
    ps.metadata.namespace = Some("ns".into());
    ps.metadata.generation = Some(1);
    ps
}

fn base() -> serde_json::Value {
    serde_json::json!({
        "secretStoreRefs": [{"name": "vault"}],
        "selector": {"secret": {"name": "src"}},
    })
}

fn data(pairs: &[(&str, &str)]) -> Data {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), SecretValue::new(v.as_bytes().to_vec())))
        .collect()
}

fn target() -> Target {
    Target {
        kind: StoreKind::SecretStore,
        name: "vault".into(),
        labels: BTreeMap::from([("team".to_string(), "a".to_string())]),
    }
}

struct Upper;
impl Rename for Upper {
    async fn rename(&self, _: &str, keys: Vec<String>) -> Result<Vec<String>, String> {
        Ok(keys.into_iter().map(|k| k.to_uppercase()).collect())
    }
}

#[test]
fn a_changed_or_new_push_secret_is_due_at_once_then_after_its_interval() {
    let mut p = ps(base());
    let now = Timestamp::now();
    let hour = Duration::from_secs(3600);
    assert_eq!(due(&p, hour, now), Due::Now, "never pushed");
    p.status = Some(PushSecretStatus {
        synced_resource_version: Some(current_version(&p)),
        refresh_time: Some(Time(now - std::time::Duration::from_secs(600))),
        ..Default::default()
    });
    match due(&p, hour, now) {
        Due::In(d) => assert_eq!(d, Duration::from_secs(3000 + 5)),
        other => panic!("{other:?}"),
    }
    assert_eq!(due(&p, Duration::from_secs(300), now), Due::Now);
    assert_eq!(due(&p, Duration::ZERO, now), Due::Never, "0s pushes once");
    p.metadata.generation = Some(2);
    assert_eq!(
        due(&p, hour, now),
        Due::Now,
        "a new generation pushes again"
    );
    p.metadata.generation = Some(1);
    p.metadata.labels = Some(BTreeMap::from([("x".into(), "y".into())]));
    assert_eq!(due(&p, hour, now), Due::Now, "so does a label change");
}

#[test]
fn reverse_unicode_undoes_the_external_secret_conversion() {
    let s = PushSecretConversionStrategy::ReverseUnicode;
    assert_eq!(reverse_key(s, "a_U002f_b"), "a/b");
    assert_eq!(reverse_key(s, "_U0040_x_U1F600_"), "@x\u{1F600}");
    assert_eq!(reverse_key(s, "plain_U00zz_"), "plain_U00zz_");
    assert_eq!(
        reverse_key(PushSecretConversionStrategy::None, "a_U002f_b"),
        "a_U002f_b"
    );
    let clash = data(&[("a/b", "1"), ("a_U002f_b", "2")]);
    assert!(reverse_keys(s, &clash).unwrap_err().contains("collision"));
}

#[test]
fn a_key_pushes_its_bytes_and_no_key_pushes_the_whole_secret_as_go_json() {
    let d = data(&[("b", "<2>"), ("a", "1")]);
    let key = |k: Option<&str>| Entry {
        data: PushSecretData {
            match_: PushSecretMatch {
                secret_key: k.map(String::from),
                remote_ref: PushSecretRemoteRef {
                    remote_key: "r".into(),
                    property: Some("p".into()),
                },
            },
            metadata: Some(serde_json::json!({"kind": "PushSecretMetadata"})),
            conversion_strategy: PushSecretConversionStrategy::None,
        },
        bundle: None,
    };
    let one = push_data(&key(Some("a")), &d).unwrap();
    assert_eq!(one.value.expose(), b"1");
    assert_eq!(one.remote.property.as_deref(), Some("p"));
    assert_eq!(
        one.metadata.as_deref(),
        Some(r#"{"kind":"PushSecretMetadata"}"#)
    );
    let all = push_data(&key(None), &d).unwrap();
    assert_eq!(
        all.value.expose(),
        br#"{"a":"1","b":"<2>"}"#,
        "sorted, no HTML escaping"
    );
    let missing = push_data(&key(Some("nope")), &d).unwrap_err();
    assert_eq!(missing, "secret key nope does not exist");
}

#[tokio::test]
async fn data_to_expands_per_key_or_into_a_bundle_and_explicit_data_wins() {
    let mut spec = base();
    spec["dataTo"] = serde_json::json!([
        {"storeRef": {"name": "vault"}, "match": {"regexp": "^db_"},
         "rewrite": [{"regexp": {"source": "^db_", "target": "app/"}}]},
        {"storeRef": {"labelSelector": {"matchLabels": {"team": "a"}}}, "remoteKey": "bundle",
         "match": {"regexp": "^api"}},
        {"storeRef": {"name": "other"}},
    ]);
    spec["secretStoreRefs"] = serde_json::json!([{"name": "vault"}, {"name": "other"}]);
    spec["data"] = serde_json::json!([
        {"match": {"secretKey": "db_pass", "remoteRef": {"remoteKey": "explicit"}}}
    ]);
    let p = ps(spec);
    let d = data(&[
        ("db_user", "u"),
        ("db_pass", "p"),
        ("api_key", "k"),
        ("x", "y"),
    ]);
    let got = entries(&p, &target(), &d, &Upper).await.unwrap();
    let summary: Vec<(Option<String>, String, bool)> = got
        .iter()
        .map(|e| {
            (
                e.data.match_.secret_key.clone(),
                e.data.match_.remote_ref.remote_key.clone(),
                e.bundle.is_some(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (Some("db_user".into()), "app/user".into(), false),
            (None, "bundle".into(), true),
            (Some("db_pass".into()), "explicit".into(), false),
        ],
        "db_pass from dataTo gave way to the explicit entry; the `other` rule is not this store's"
    );
    let bundle = push_data(&got[1], &d).unwrap();
    assert_eq!(bundle.value.expose(), br#"{"api_key":"k"}"#);
}

#[tokio::test]
async fn two_entries_for_one_destination_are_refused() {
    let mut spec = base();
    spec["data"] = serde_json::json!([
        {"match": {"secretKey": "a", "remoteRef": {"remoteKey": "r", "property": "p"}}},
        {"match": {"secretKey": "b", "remoteRef": {"remoteKey": "r", "property": "p"}}},
    ]);
    let err = entries(
        &ps(spec),
        &target(),
        &data(&[("a", "1"), ("b", "2")]),
        &Upper,
    )
    .await
    .unwrap_err();
    assert!(
        err.contains(r#"duplicate remote key "r" with property "p""#),
        "{err}"
    );
}

#[tokio::test]
async fn a_transform_rewrite_goes_through_the_renamer() {
    let mut spec = base();
    spec["dataTo"] = serde_json::json!([
        {"storeRef": {"name": "vault"}, "rewrite": [{"transform": {"template": "{{ .value | upper }}"}}]}
    ]);
    let got = entries(&ps(spec), &target(), &data(&[("k", "v")]), &Upper)
        .await
        .unwrap();
    assert_eq!(got[0].data.match_.remote_ref.remote_key, "K");
    assert_eq!(got[0].data.match_.secret_key.as_deref(), Some("k"));
}

#[test]
fn data_to_store_refs_are_checked_as_eso_does() {
    let mut spec = base();
    spec["dataTo"] = serde_json::json!([{"storeRef": {"name": "elsewhere"}}]);
    assert_eq!(
        check_data_to_refs(&ps(spec)).unwrap_err(),
        r#"dataTo[0]: storeRef "elsewhere" not found in secretStoreRefs"#
    );
    let mut spec = base();
    spec["dataTo"] =
        serde_json::json!([{"storeRef": {"labelSelector": {"matchLabels": {"team": "b"}}}}]);
    let p = ps(spec);
    assert!(check_data_to_refs(&p).is_ok());
    assert_eq!(
        check_data_to_matches(&p, &[target()]).unwrap_err(),
        "dataTo[0]: labelSelector does not match any store in secretStoreRefs"
    );
}

#[test]
fn stale_entries_are_the_old_ones_no_longer_pushed() {
    let entry = |k: &str| PushSecretData {
        match_: PushSecretMatch {
            secret_key: Some(k.into()),
            remote_ref: PushSecretRemoteRef {
                remote_key: k.into(),
                property: None,
            },
        },
        ..Default::default()
    };
    let map = |pairs: &[(&str, &[&str])]| -> SyncedPushSecrets {
        pairs
            .iter()
            .map(|(s, ks)| {
                (
                    s.to_string(),
                    ks.iter().map(|k| (k.to_string(), entry(k))).collect(),
                )
            })
            .collect()
    };
    let old = map(&[
        ("SecretStore/a", &["x", "y"]),
        ("ClusterSecretStore/b", &["z"]),
    ]);
    let new = map(&[("SecretStore/a", &["x"])]);
    let gone: Vec<(String, String)> = stale(&new, &old)
        .into_iter()
        .map(|(s, k, _)| (s, k))
        .collect();
    assert_eq!(
        gone,
        [
            ("ClusterSecretStore/b".to_string(), "z".to_string()),
            ("SecretStore/a".to_string(), "y".to_string()),
        ]
    );
    assert_eq!(merge_state(&new, &old), old);
    assert_eq!(
        parse_store_key("ClusterSecretStore/b"),
        Some((StoreKind::ClusterSecretStore, "b"))
    );
    assert_eq!(parse_store_key("Nope/b"), None);
}
