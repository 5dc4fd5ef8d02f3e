//! ESO's refresh decision (`shouldRefresh`, docs/eso-behaviour.md#refresh-decision) and the time of
//! the next refresh.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::context::Synced;
use super::hash;
use super::sync_window;
use crate::crd::ExternalSecret;
use crate::crd::external_secret::RefreshPolicy;

/// A Go duration as a std one; `None` for a negative duration (std has none).
pub fn to_std(d: kube::core::Duration) -> Option<Duration> {
    (!d.is_negative()).then(|| d.into())
}

/// The ExternalSecret's `refreshInterval` (zero means sync once).
pub fn interval(es: &ExternalSecret) -> Duration {
    es.spec
        .refresh_interval()
        .ok()
        .and_then(to_std)
        .unwrap_or_default()
}

/// What the last successful sync recorded: the status, or this process's own newer memory of it
/// (the watch cache may not have delivered the status it just wrote).
pub fn last_sync(es: &ExternalSecret, memory: &Synced) -> (Option<Timestamp>, Option<String>) {
    let status = es.status.as_ref();
    let from_status = status.and_then(|s| s.refresh_time.as_ref()).map(|t| t.0);
    let from_memory = memory.refresh_time.as_ref().map(|t| t.0);
    let refresh_time = from_status.max(from_memory);
    let rv = if from_memory.is_some() && from_memory >= from_status {
        memory.synced_resource_version.clone()
    } else {
        status.and_then(|s| s.synced_resource_version.clone())
    };
    (refresh_time, rv.filter(|v| !v.is_empty()))
}

/// `syncedResourceVersion` of the object as it is now.
pub fn current_version(es: &ExternalSecret) -> String {
    hash::resource_version(
        es.metadata.generation.unwrap_or_default(),
        Some(es.annotations()),
        Some(es.labels()),
    )
}

/// Why a refresh is due, or that it is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// No successful sync is recorded (no refresh time or no `syncedResourceVersion`).
    NeverSynced,
    /// The spec, labels or annotations changed since the last sync.
    Changed,
    /// The last sync is recorded later than now (a clock set back): sync again.
    SyncedInTheFuture,
    /// The refresh interval has passed since the last sync, and nothing else asks for one.
    IntervalPassed,
    /// The refresh interval has passed, but `spec.syncWindows` blocks periodic refreshes now
    /// (docs/eso-behaviour.md#sync-windows): not due until the windows allow it.
    OutsideSyncWindow,
    /// Not due: `CreatedOnce`, interval 0, `OnChange` without a change, or the interval has not
    /// passed.
    NotDue,
}

/// The refresh decision for one reconcile, made once from the object and what this process
/// remembers of its last sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Whether the provider must be asked again now.
    pub due: bool,
    pub reason: Reason,
    /// How long until the next periodic refresh is due, from the last sync (`None`: never).
    pub next: Option<Duration>,
    /// `syncedResourceVersion` of the object as it is now.
    pub version: String,
    /// The refresh interval when refreshes are periodic (`None`: no periodic refresh).
    every: Option<Duration>,
    /// The refresh time the object's status shows.
    status_refresh_time: Option<Timestamp>,
}

impl Plan {
    /// Whether a refresh is due only because the refresh interval has passed: the object was
    /// synced in its current version and nothing else asks for a sync. Such a refresh waits
    /// behind new and changed objects.
    pub fn only_periodic(&self) -> bool {
        self.reason == Reason::IntervalPassed
    }

    /// How long until the next periodic refresh once a sync at `at` is recorded (`None`:
    /// never).
    pub fn next_after_sync(&self, at: Timestamp) -> Option<Duration> {
        let last = self.status_refresh_time.map_or(at, |t| t.max(at));
        self.every.map(|every| until(next_due(last, every), at))
    }
}

/// ESO's refresh decision for `es` at `now`, with `memory`, this process's record of its last
/// sync.
pub fn plan(es: &ExternalSecret, memory: &Synced, now: Timestamp) -> Plan {
    let (refresh_time, synced) = last_sync(es, memory);
    let version = current_version(es);
    let policy = es.spec.refresh_policy.unwrap_or_default();
    let every = Some(interval(es)).filter(|e| policy == RefreshPolicy::Periodic && !e.is_zero());
    let reason = match (refresh_time, &synced) {
        (None, _) | (_, None) => Reason::NeverSynced,
        (Some(refresh_time), Some(synced)) => match policy {
            RefreshPolicy::CreatedOnce => Reason::NotDue,
            RefreshPolicy::OnChange if *synced != version => Reason::Changed,
            RefreshPolicy::OnChange => Reason::NotDue,
            RefreshPolicy::Periodic => match every {
                None => Reason::NotDue,
                Some(_) if *synced != version => Reason::Changed,
                Some(_) if refresh_time > now => Reason::SyncedInTheFuture,
                Some(every) if next_due(refresh_time, every) <= now => {
                    if sync_window::allows(es.spec.sync_windows.as_ref(), now) {
                        Reason::IntervalPassed
                    } else {
                        Reason::OutsideSyncWindow
                    }
                }
                Some(_) => Reason::NotDue,
            },
        },
    };
    let next = every.map(|every| match (reason, es.spec.sync_windows.as_ref()) {
        // Blocked: look again when the windows may change their answer, or after one more
        // interval, whichever comes first (a clock change is noticed within an interval).
        (Reason::OutsideSyncWindow, Some(sw)) => sync_window::next_change(sw, now)
            .map_or(every, |t| until(t, now).min(every))
            .max(Duration::from_secs(1)),
        _ => until(next_due(refresh_time.unwrap_or(now), every), now),
    });
    Plan {
        due: !matches!(reason, Reason::NotDue | Reason::OutsideSyncWindow),
        reason,
        next,
        version,
        every,
        status_refresh_time: es
            .status
            .as_ref()
            .and_then(|s| s.refresh_time.as_ref())
            .map(|t| t.0),
    }
}

fn next_due(refresh_time: Timestamp, every: Duration) -> Timestamp {
    let every = k8s_openapi::jiff::SignedDuration::try_from(every)
        .unwrap_or(k8s_openapi::jiff::SignedDuration::MAX);
    refresh_time.checked_add(every).unwrap_or(Timestamp::MAX)
}

/// How long from `now` until `due` (zero when past).
fn until(due: Timestamp, now: Timestamp) -> Duration {
    Duration::try_from(due.duration_since(now)).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;
    use crate::crd::{ExternalSecretSpec, ExternalSecretStatus};

    fn should_refresh(es: &ExternalSecret, memory: &Synced, now: Timestamp) -> bool {
        plan(es, memory, now).due
    }

    fn es(
        policy: Option<RefreshPolicy>,
        interval: &str,
        synced: Option<(i64, &str)>,
    ) -> ExternalSecret {
        let mut spec: ExternalSecretSpec =
            serde_json::from_value(serde_json::json!({"refreshInterval": interval})).unwrap();
        spec.refresh_policy = policy;
        let mut es = ExternalSecret::new("a", spec);
        es.metadata.generation = Some(1);
        es.metadata.annotations = Some(BTreeMap::new());
        if let Some((ago, rv)) = synced {
            let t = Timestamp::now()
                .checked_sub(k8s_openapi::jiff::SignedDuration::from_secs(ago))
                .unwrap();
            es.status = Some(ExternalSecretStatus {
                refresh_time: Some(Time(t)),
                synced_resource_version: Some(if rv == "current" {
                    current_version(&es)
                } else {
                    rv.into()
                }),
                ..Default::default()
            });
        }
        es
    }

    #[test]
    fn decides_like_eso() {
        let now = Timestamp::now();
        let m = Synced::default();
        assert!(
            should_refresh(&es(None, "1h", None), &m, now),
            "never synced"
        );
        assert!(
            !should_refresh(&es(None, "1h", Some((60, "current"))), &m, now),
            "synced a minute ago"
        );
        assert!(
            should_refresh(&es(None, "1h", Some((3601, "current"))), &m, now),
            "interval passed"
        );
        assert!(
            should_refresh(&es(None, "1h", Some((60, "1-old"))), &m, now),
            "spec or metadata changed"
        );
        assert!(
            !should_refresh(&es(None, "0s", Some((60, "1-old"))), &m, now),
            "interval 0 syncs once, even on change"
        );
        assert!(!should_refresh(
            &es(
                Some(RefreshPolicy::CreatedOnce),
                "1m",
                Some((3600, "1-old"))
            ),
            &m,
            now
        ));
        assert!(should_refresh(
            &es(Some(RefreshPolicy::OnChange), "1m", Some((1, "1-old"))),
            &m,
            now
        ));
        assert!(!should_refresh(
            &es(Some(RefreshPolicy::OnChange), "1m", Some((3600, "current"))),
            &m,
            now
        ));
    }

    #[test]
    fn only_an_elapsed_interval_is_a_periodic_refresh() {
        let now = Timestamp::now();
        let m = Synced::default();
        let periodic = |e: &ExternalSecret| plan(e, &m, now).only_periodic();
        assert!(periodic(&es(None, "1h", Some((3601, "current")))));
        assert!(!periodic(&es(None, "1h", None)), "never synced");
        assert!(
            !periodic(&es(None, "1h", Some((3601, "1-old")))),
            "changed since"
        );
        assert!(!periodic(&es(None, "1h", Some((60, "current")))), "not due");
        assert!(!periodic(&es(
            Some(RefreshPolicy::OnChange),
            "1m",
            Some((1, "1-old"))
        )));
    }

    #[test]
    fn memory_newer_than_the_cache_wins() {
        let now = Timestamp::now();
        let stale = es(None, "1h", Some((7200, "current")));
        let memory = Synced {
            refresh_time: Some(Time(now)),
            synced_resource_version: Some(current_version(&stale)),
            ..Default::default()
        };
        assert!(!should_refresh(&stale, &memory, now));
        let left = plan(&stale, &memory, now).next.unwrap();
        assert!(
            left > Duration::from_secs(3590) && left <= Duration::from_secs(3600),
            "{left:?}"
        );
    }

    #[test]
    fn the_plan_names_its_reason() {
        let now = Timestamp::now();
        let m = Synced::default();
        let reason = |e: &ExternalSecret| plan(e, &m, now).reason;
        assert_eq!(reason(&es(None, "1h", None)), Reason::NeverSynced);
        assert_eq!(
            reason(&es(None, "1h", Some((60, "1-old")))),
            Reason::Changed
        );
        assert_eq!(
            reason(&es(None, "1h", Some((-60, "current")))),
            Reason::SyncedInTheFuture
        );
        assert_eq!(
            reason(&es(None, "1h", Some((3601, "current")))),
            Reason::IntervalPassed
        );
        assert_eq!(
            reason(&es(None, "1h", Some((60, "current")))),
            Reason::NotDue
        );
        assert_eq!(
            reason(&es(Some(RefreshPolicy::OnChange), "1m", Some((1, "1-old")))),
            Reason::Changed
        );
    }

    #[test]
    fn after_a_sync_the_next_refresh_counts_from_it() {
        let now = Timestamp::now();
        let m = Synced::default();
        let hour = Duration::from_secs(3600);
        let overdue = plan(&es(None, "1h", Some((7200, "current"))), &m, now);
        assert_eq!(overdue.next, Some(Duration::ZERO));
        assert_eq!(overdue.next_after_sync(now), Some(hour));
        // A status refresh time later than the sync (a clock set back) still counts.
        let ahead = plan(&es(None, "1h", Some((-600, "current"))), &m, now);
        let left = ahead.next_after_sync(now).unwrap();
        assert!(
            left >= Duration::from_secs(4200) && left < Duration::from_secs(4210),
            "{left:?}"
        );
        let on_change = plan(&es(Some(RefreshPolicy::OnChange), "1h", None), &m, now);
        assert_eq!(
            (on_change.next, on_change.next_after_sync(now)),
            (None, None)
        );
    }

    #[test]
    fn sync_windows_block_only_the_periodic_refresh() {
        use crate::crd::external_secret::SyncWindowKind;
        use crate::crd::external_secret::{ExternalSecretSyncWindow, ExternalSecretSyncWindows};
        // A 30-minute window opening daily at 22:00 UTC, opened 10 minutes ago.
        let now: Timestamp = "2026-06-01T22:10:00Z".parse().unwrap();
        let m = Synced::default();
        let windowed = |kind, synced| {
            let mut e = es(None, "1h", synced);
            e.spec.sync_windows = Some(ExternalSecretSyncWindows {
                kind,
                windows: vec![ExternalSecretSyncWindow {
                    schedule: "0 22 * * *".into(),
                    duration: "30m".into(),
                }],
            });
            if let Some(st) = e.status.as_mut() {
                // `es` dates the sync from the real clock; date it from `now` instead.
                let ago = Timestamp::now().duration_since(st.refresh_time.as_ref().unwrap().0);
                st.refresh_time = Some(Time(now.checked_sub(ago).unwrap()));
            }
            e
        };
        let deny_overdue = plan(
            &windowed(SyncWindowKind::Deny, Some((7200, "current"))),
            &m,
            now,
        );
        assert_eq!(deny_overdue.reason, Reason::OutsideSyncWindow);
        assert!(!deny_overdue.due);
        // Looked at again when the window closes (22:30:01), not a full interval later.
        assert_eq!(deny_overdue.next, Some(Duration::from_secs(20 * 60 + 1)));
        let allow_overdue = plan(
            &windowed(SyncWindowKind::Allow, Some((7200, "current"))),
            &m,
            now,
        );
        assert_eq!(
            allow_overdue.reason,
            Reason::IntervalPassed,
            "inside an allow window"
        );
        // A change, a first sync or a clock set back are not periodic: windows do not apply.
        for synced in [Some((60, "1-old")), None, Some((-60, "current"))] {
            let p = plan(&windowed(SyncWindowKind::Deny, synced), &m, now);
            assert!(p.due, "{synced:?}: {:?}", p.reason);
        }
        // Not due anyway: the windows change nothing.
        let fresh = plan(
            &windowed(SyncWindowKind::Deny, Some((60, "current"))),
            &m,
            now,
        );
        assert_eq!(fresh.reason, Reason::NotDue);
        // Outside an allow window, the next check is the next opening or an interval, whichever
        // is first: here an interval (the window reopens in almost a day).
        let later: Timestamp = "2026-06-01T23:00:00Z".parse().unwrap();
        let blocked = plan(
            &windowed(SyncWindowKind::Allow, Some((7200, "current"))),
            &m,
            later,
        );
        assert_eq!(blocked.reason, Reason::OutsideSyncWindow);
        assert_eq!(blocked.next, Some(Duration::from_secs(3600)));
    }
}
