//! The reconcile's decisions as plain functions of the typed objects: no cluster, no provider.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::SignedDuration;

use super::*;
use crate::controller::context::Synced;

/// ExternalSecret `app` refreshed every `interval`; `synced`: its status records a sync that many
/// seconds ago, in its current version (`true`) or an older one.
fn es(interval: &str, synced: Option<(i64, bool)>) -> ExternalSecret {
    let mut es: ExternalSecret = serde_json::from_value(json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": "app", "namespace": "ns", "generation": 1},
        "spec": {
            "refreshInterval": interval,
            "secretStoreRef": {"name": "backend"},
            "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]
        }
    }))
    .unwrap();
    if let Some((ago, current)) = synced {
        let at = Timestamp::now()
            .checked_sub(SignedDuration::from_secs(ago))
            .unwrap();
        es.status = Some(ExternalSecretStatus {
            refresh_time: Some(Time(at)),
            synced_resource_version: Some(if current {
                refresh::current_version(&es)
            } else {
                "0-old".into()
            }),
            ..Default::default()
        });
    }
    es
}

fn step(es: &ExternalSecret, lane: Priority, failing: bool) -> Step {
    let plan = refresh::plan(es, &Synced::default(), Timestamp::now());
    first_step(&plan, lane, failing)
}

const CHECK: Step = Step::CheckTarget { hand_off: false };
const HAND_OFF: Step = Step::CheckTarget { hand_off: true };

#[test]
fn a_new_or_changed_object_syncs_in_either_lane() {
    for lane in [Priority::Urgent, Priority::Normal] {
        assert_eq!(
            step(&es("1h", None), lane, false),
            Step::Sync,
            "never synced"
        );
        assert_eq!(
            step(&es("1h", Some((60, false))), lane, false),
            Step::Sync,
            "changed since its last sync"
        );
        assert_eq!(
            step(&es("1h", Some((7200, false))), lane, false),
            Step::Sync,
            "changed, and its interval passed too: not a periodic refresh"
        );
    }
}

#[test]
fn an_up_to_date_object_only_checks_its_target() {
    for lane in [Priority::Urgent, Priority::Normal] {
        for failing in [false, true] {
            assert_eq!(step(&es("1h", Some((60, true))), lane, failing), CHECK);
            assert_eq!(
                step(&es("0s", Some((7200, false))), lane, failing),
                CHECK,
                "interval 0 syncs once"
            );
        }
    }
}

#[test]
fn a_due_periodic_refresh_is_handed_from_the_urgent_lane_unless_failing() {
    let due = es("1h", Some((7200, true)));
    assert_eq!(step(&due, Priority::Urgent, false), HAND_OFF);
    assert_eq!(
        step(&due, Priority::Urgent, true),
        Step::Sync,
        "a failing object is retried in place, keeping its backoff"
    );
    assert_eq!(step(&due, Priority::Normal, false), Step::Sync);
    assert_eq!(step(&due, Priority::Normal, true), Step::Sync);
}

fn with_policies(deletion: DeletionPolicy, creation: CreationPolicy) -> ExternalSecret {
    let mut e = es("1h", None);
    e.spec.target.deletion_policy = deletion;
    e.spec.target.creation_policy = creation;
    e
}

#[test]
fn fetched_data_is_applied_and_no_data_follows_the_deletion_policy() {
    use CreationPolicy as C;
    use DeletionPolicy as D;
    for d in [D::Delete, D::Merge, D::Retain] {
        for c in [C::Owner, C::Orphan, C::Merge, C::None] {
            let e = with_policies(d, c);
            assert!(
                matches!(what_to_write(&e, false), Ok(Write::Apply)),
                "{d:?} {c:?}"
            );
            let empty = what_to_write(&e, true);
            match (d, c) {
                (D::Merge, _) => assert!(matches!(empty, Ok(Write::Apply)), "{c:?}"),
                (D::Retain, _) => assert!(matches!(empty, Ok(Write::Retain)), "{c:?}"),
                (D::Delete, C::Owner) => assert!(matches!(empty, Ok(Write::Delete))),
                (D::Delete, _) => {
                    assert!(matches!(empty, Err(Error::DeleteWithoutOwner)), "{c:?}");
                }
            }
        }
    }
}

#[test]
fn a_spec_ampoule_cannot_serve_is_refused() {
    assert!(check_spec(&es("1h", None)).is_ok());
    let mut bad = es("1h", None);
    bad.spec.refresh_interval = Some("soon".into());
    assert!(
        matches!(check_spec(&bad), Err(Error::InvalidSpec(m)) if m.contains("\"soon\"")),
        "a refreshInterval that is not a duration"
    );
    let mut manifest: ExternalSecret = serde_json::from_value(json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": "app", "namespace": "ns"},
        "spec": {"target": {"manifest": {"apiVersion": "v1", "kind": "ConfigMap"}}}
    }))
    .unwrap();
    assert!(matches!(check_spec(&manifest), Err(Error::Unsupported(_))));
    manifest.spec.target.manifest = None;
    assert!(check_spec(&manifest).is_ok());
}

#[test]
fn a_successful_sync_records_ready_time_version_and_target() {
    let mut e = es("1h", Some((7200, false)));
    if let Some(s) = e.status.as_mut() {
        s.conditions = status::set_condition(
            &s.conditions,
            ExternalSecretConditionType::Ready,
            ConditionStatus::False,
            reason::SECRET_SYNCED_ERROR,
            "boom",
        );
    }
    let now = Timestamp::now();
    let status = synced_status(
        &e,
        now,
        (reason::SECRET_SYNCED, message::SECRET_RETAINED),
        "1-abc",
        "target".into(),
    );
    assert_eq!(status.refresh_time, Some(Time(now)));
    assert_eq!(status.synced_resource_version.as_deref(), Some("1-abc"));
    assert_eq!(status.binding.map(|b| b.name).as_deref(), Some("target"));
    let [ready] = status.conditions.as_slice() else {
        panic!("one condition: {:?}", status.conditions);
    };
    assert_eq!(ready.type_, ExternalSecretConditionType::Ready);
    assert_eq!(ready.status, ConditionStatus::True);
    assert_eq!(ready.reason.as_deref(), Some(reason::SECRET_SYNCED));
    assert_eq!(ready.message.as_deref(), Some(message::SECRET_RETAINED));
}

#[test]
fn the_next_refresh_is_one_interval_after_the_sync_plus_jitter() {
    let e = es("1h", Some((7200, true)));
    let now = Timestamp::now();
    let plan = refresh::plan(&e, &Synced::default(), now);
    assert_eq!(plan.next, Some(Duration::ZERO), "overdue");
    let Some((after, Priority::Normal)) = requeue_at(plan.next_after_sync(now)) else {
        panic!("a periodic object is requeued in the normal lane");
    };
    let hour = Duration::from_secs(3600);
    assert!(
        after >= hour && after <= hour + Duration::from_secs(30),
        "{after:?}"
    );
    let once = refresh::plan(&es("0s", None), &Synced::default(), now);
    assert_eq!(requeue_at(once.next_after_sync(now)), None);
}
