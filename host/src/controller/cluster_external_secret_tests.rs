//! The ClusterExternalSecret decisions that need no cluster: selection, the plan of applies,
//! deletions and conflicts, the applied object, the status, and which objects an event queues.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};

use super::plan::{self, NamespaceView};
use crate::crd::{ClusterExternalSecret, ConditionStatus, ExternalSecret};

const UID: &str = "ces-uid";

fn ces(name: &str, spec: Value) -> ClusterExternalSecret {
    let mut spec = spec;
    spec["externalSecretSpec"] = json!({"secretStoreRef": {"name": "s"},
        "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]});
    serde_json::from_value(json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ClusterExternalSecret",
        "metadata": {"name": name, "uid": format!("{name}-{UID}"), "generation": 1},
        "spec": spec,
    }))
    .unwrap()
}

fn ns(name: &str, labels: &[(&str, &str)]) -> NamespaceView {
    NamespaceView {
        name: name.into(),
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        deleting: false,
    }
}

/// ExternalSecret `name` in `namespace`, controlled by ClusterExternalSecret `owner` when given.
fn es(namespace: &str, name: &str, owner: Option<&str>) -> ExternalSecret {
    let owners: Vec<Value> = owner
        .map(|o| {
            json!({"apiVersion": "external-secrets.io/v1", "kind": "ClusterExternalSecret",
                "name": o, "uid": format!("{o}-{UID}"), "controller": true})
        })
        .into_iter()
        .collect();
    serde_json::from_value(json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": name, "namespace": namespace, "ownerReferences": owners},
        "spec": {"secretStoreRef": {"name": "s"}, "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]},
    }))
    .unwrap()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[test]
fn the_name_and_refresh_time_default_as_esos() {
    let plain = ces("fan", json!({}));
    assert_eq!(plan::external_secret_name(&plain), "fan");
    assert_eq!(
        plan::external_secret_name(&ces("fan", json!({"externalSecretName": ""}))),
        "fan",
        "an empty name is no name"
    );
    assert_eq!(
        plan::external_secret_name(&ces("fan", json!({"externalSecretName": "fanned"}))),
        "fanned"
    );
    let refresh = |t: &str| plan::refresh_interval(&ces("fan", json!({"refreshTime": t})));
    assert_eq!(plan::refresh_interval(&plain), plan::DEFAULT_REFRESH);
    assert_eq!(refresh("1m"), Duration::from_secs(60));
    assert_eq!(refresh("1h30m"), Duration::from_secs(5400));
    assert_eq!(refresh("0s"), plan::DEFAULT_REFRESH, "zero is the default");
    assert_eq!(refresh("soon"), plan::DEFAULT_REFRESH, "not a duration");
}

#[test]
fn namespaces_are_selected_by_name_or_any_selector_and_never_while_deleted() {
    let c = ces(
        "fan",
        json!({"namespaces": ["by-name"],
            "namespaceSelector": {"matchLabels": {"old": "yes"}},
            "namespaceSelectors": [{"matchLabels": {"team": "a"}},
                {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["db"]}]}]}),
    );
    let mut gone = ns("team-a-gone", &[("team", "a")]);
    gone.deleting = true;
    let all = [
        ns("by-name", &[]),
        ns("old", &[("old", "yes")]),
        ns("team-a", &[("team", "a")]),
        ns("db", &[("tier", "db")]),
        ns("team-b", &[("team", "b")]),
        ns("plain", &[]),
        gone,
    ];
    assert_eq!(
        plan::select_namespaces(&c, &all, None),
        set(&["by-name", "db", "old", "team-a"])
    );
    assert_eq!(
        plan::select_namespaces(&c, &all, Some("team-a")),
        set(&["team-a"]),
        "--namespace: only the watched namespace"
    );
    assert!(plan::select_namespaces(&c, &all, Some("team-b")).is_empty());
    assert!(
        plan::select_namespaces(&ces("none", json!({})), &all, None).is_empty(),
        "no selector selects nothing"
    );
}

#[test]
fn the_plan_applies_where_free_deletes_what_is_no_longer_wanted_and_reports_conflicts() {
    let c = ces("fan", json!({"externalSecretName": "fanned"}));
    let wanted = set(&["a", "b", "c"]);
    let existing = [
        es("a", "fanned", Some("fan")),   // ours, still wanted: applied again
        es("b", "fanned", None),          // someone else's: a conflict
        es("d", "fanned", Some("fan")),   // ours, namespace deselected: deleted
        es("a", "old-name", Some("fan")), // ours under an old name: deleted
        es("c", "fanned", Some("other")), // another ClusterExternalSecret's: a conflict
        es("e", "fanned", None),          // not selected and not ours: left alone
        es("c", "unrelated", Some("other")), // left alone
    ];
    let p = plan::plan(&c, "fanned", &wanted, &existing);
    assert_eq!(p.apply, vec!["a".to_owned()]);
    assert_eq!(
        p.delete,
        vec![
            ("a".to_owned(), "old-name".to_owned()),
            ("d".to_owned(), "fanned".to_owned())
        ]
    );
    let conflicts: Vec<(&str, Option<&str>)> = p
        .conflicts
        .iter()
        .map(|f| (f.namespace.as_str(), f.reason.as_deref()))
        .collect();
    assert_eq!(
        conflicts,
        vec![("b", Some(plan::CONFLICT)), ("c", Some(plan::CONFLICT))]
    );

    let fresh = plan::plan(&c, "fanned", &wanted, &[]);
    assert_eq!(fresh.apply, vec!["a", "b", "c"], "nothing there yet");
    assert!(fresh.delete.is_empty() && fresh.conflicts.is_empty());
}

#[test]
fn the_applied_object_carries_metadata_force_sync_and_a_blocking_controller_reference() {
    let mut c = ces(
        "fan",
        json!({"externalSecretMetadata": {"labels": {"from": "ces"}, "annotations": {"note": "x"}}}),
    );
    c.metadata.annotations = Some(BTreeMap::from([
        (super::FORCE_SYNC.to_owned(), "1".to_owned()),
        ("not-propagated".to_owned(), "y".to_owned()),
    ]));
    let obj = plan::desired(&c, "fanned", "team-a");
    assert_eq!(obj["metadata"]["name"], "fanned");
    assert_eq!(obj["metadata"]["namespace"], "team-a");
    assert_eq!(obj["metadata"]["labels"], json!({"from": "ces"}));
    assert_eq!(
        obj["metadata"]["annotations"],
        json!({"note": "x", super::FORCE_SYNC: "1"}),
        "force-sync is copied, other annotations of the ClusterExternalSecret are not"
    );
    let owner = &obj["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "ClusterExternalSecret");
    assert_eq!(owner["name"], "fan");
    assert_eq!(owner["uid"], format!("fan-{UID}"));
    assert_eq!(owner["controller"], true);
    assert_eq!(owner["blockOwnerDeletion"], true);
    assert_eq!(obj["spec"]["secretStoreRef"]["name"], "s");
    let applied: ExternalSecret = serde_json::from_value(obj).unwrap();
    assert!(plan::owned_by(&applied, &c), "what is applied is owned");
    assert_eq!(plan::controller_of(&applied), Some("fan"));
}

#[test]
fn the_status_is_sorted_and_ready_only_without_failures() {
    let ok = plan::status("fanned", vec!["b".into(), "a".into()], vec![]);
    assert_eq!(ok.external_secret_name.as_deref(), Some("fanned"));
    assert_eq!(ok.provisioned_namespaces, vec!["a", "b"]);
    assert_eq!(ok.conditions.len(), 1);
    assert_eq!(ok.conditions[0].type_, "Ready");
    assert_eq!(ok.conditions[0].status, ConditionStatus::True);
    assert_eq!(ok.conditions[0].message, None);
    assert_eq!(
        ok,
        plan::status("fanned", vec!["a".into(), "b".into()], vec![]),
        "the same outcome is the same status (no patch)"
    );

    let c = ces("fan", json!({}));
    let p = plan::plan(&c, "fan", &set(&["x"]), &[es("x", "fan", None)]);
    let failed = plan::status("fan", vec![], p.conflicts);
    assert_eq!(failed.conditions[0].status, ConditionStatus::False);
    assert_eq!(
        failed.conditions[0].message.as_deref(),
        Some(plan::NOT_READY)
    );
    assert_eq!(failed.failed_namespaces[0].namespace, "x");
}

#[test]
fn a_namespace_change_queues_only_the_cluster_external_secrets_selecting_it_before_or_after() {
    let team_a = ces(
        "team-a",
        json!({"namespaceSelectors": [{"matchLabels": {"team": "a"}}]}),
    );
    let team_b = ces(
        "team-b",
        json!({"namespaceSelectors": [{"matchLabels": {"team": "b"}}]}),
    );
    let named = ces("named", json!({"namespaces": ["n"]}));
    let everything = ces("everything", json!({"namespaceSelectors": [{}]}));
    let all = [&team_a, &team_b, &named, &everything];
    let affected = |before: Option<NamespaceView>, after: Option<NamespaceView>| {
        let mut v = plan::affected_by_namespace(all, before.as_ref(), after.as_ref());
        v.sort();
        v
    };
    assert_eq!(
        affected(None, Some(ns("x", &[("team", "a")]))),
        vec!["everything", "team-a"],
        "a new namespace"
    );
    assert_eq!(
        affected(
            Some(ns("x", &[("team", "a")])),
            Some(ns("x", &[("team", "b")]))
        ),
        vec!["everything", "team-a", "team-b"],
        "moved from one team to the other: both"
    );
    assert_eq!(
        affected(Some(ns("x", &[("team", "a")])), None),
        vec!["everything", "team-a"],
        "deleted: those that selected it"
    );
    assert_eq!(
        affected(Some(ns("n", &[])), Some(ns("n", &[("other", "1")]))),
        vec!["everything", "named"]
    );
}

#[test]
fn an_external_secret_change_queues_its_controller_and_those_it_blocks() {
    let owner = ces("owner", json!({}));
    let mut blocked = ces("blocked", json!({"externalSecretName": "fanned"}));
    blocked.status = Some(plan::status(
        "fanned",
        vec![],
        vec![
            crate::crd::cluster_external_secret::ClusterExternalSecretNamespaceFailure {
                namespace: "b".into(),
                reason: Some(plan::CONFLICT.into()),
            },
        ],
    ));
    let bystander = ces("bystander", json!({}));
    let all = [&owner, &blocked, &bystander];
    assert_eq!(
        plan::affected_by_external_secret(all, &es("a", "x", Some("owner"))),
        set(&["owner"])
    );
    assert_eq!(
        plan::affected_by_external_secret(all, &es("b", "fanned", None)),
        set(&["blocked"]),
        "the ExternalSecret in the way of `blocked` in b"
    );
    assert!(plan::affected_by_external_secret(all, &es("c", "fanned", None)).is_empty());
    let mut not_ces = es("a", "x", None);
    not_ces.metadata.owner_references = Some(vec![
        k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: "owner".into(),
            uid: "d".into(),
            controller: Some(true),
            ..Default::default()
        },
    ]);
    assert!(
        plan::affected_by_external_secret(all, &not_ces).is_empty(),
        "only a ClusterExternalSecret controller counts"
    );
}

#[test]
fn a_status_only_update_is_not_a_change() {
    let c = ces("fan", json!({}));
    let mut with_status = c.clone();
    with_status.status = Some(plan::status("fan", vec!["a".into()], vec![]));
    assert_eq!(plan::fingerprint(&c), plan::fingerprint(&with_status));
    let mut forced = c.clone();
    forced.metadata.annotations = Some(BTreeMap::from([(
        super::FORCE_SYNC.to_owned(),
        "2".to_owned(),
    )]));
    assert_ne!(plan::fingerprint(&c), plan::fingerprint(&forced));
    let mut respecced = c.clone();
    respecced.metadata.generation = Some(2);
    assert_ne!(plan::fingerprint(&c), plan::fingerprint(&respecced));
    let mut recreated = c.clone();
    recreated.metadata.uid = Some("new".into());
    assert_ne!(plan::fingerprint(&c), plan::fingerprint(&recreated));
}

#[test]
fn a_malformed_cluster_external_secret_is_skipped_by_the_watch() {
    let good: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ClusterExternalSecret",
        "metadata": {"name": "ok"},
        "spec": {"externalSecretSpec": {"secretStoreRef": {"name": "s"}}, "refreshTime": "1m"}
    }))
    .unwrap();
    let decoded = crate::controller::watch::decode::<ClusterExternalSecret>(good).unwrap();
    assert_eq!(decoded.spec.refresh_time.as_deref(), Some("1m"));
    let bad: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ClusterExternalSecret",
        "metadata": {"name": "bad"},
        "spec": {"externalSecretSpec": {"data": [{"secretKey": 42}]}, "namespaces": "not-a-list"}
    }))
    .unwrap();
    assert!(crate::controller::watch::decode::<ClusterExternalSecret>(bad).is_none());
}
