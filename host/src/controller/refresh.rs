//! ESO's refresh decision (`shouldRefresh`, eso-api.md §2.2) and the time of the next refresh.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::context::Synced;
use super::hash;
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

/// Whether the provider must be asked again now.
pub fn should_refresh(es: &ExternalSecret, memory: &Synced, now: Timestamp) -> bool {
    let (refresh_time, synced) = last_sync(es, memory);
    let Some(synced) = synced else { return true };
    let Some(refresh_time) = refresh_time else {
        return true;
    };
    match es.spec.refresh_policy.unwrap_or_default() {
        RefreshPolicy::CreatedOnce => false,
        RefreshPolicy::OnChange => synced != current_version(es),
        RefreshPolicy::Periodic => {
            let every = interval(es);
            if every.is_zero() {
                return false;
            }
            if synced != current_version(es) || refresh_time > now {
                return true;
            }
            next_due(refresh_time, every) <= now
        }
    }
}

/// Whether a refresh is due only because the refresh interval has passed: the object was synced
/// in its current version and nothing else asks for a sync. Such a refresh waits behind new and
/// changed objects.
pub fn only_periodic_due(es: &ExternalSecret, memory: &Synced, now: Timestamp) -> bool {
    let (refresh_time, synced) = last_sync(es, memory);
    let (Some(refresh_time), Some(synced)) = (refresh_time, synced) else {
        return false;
    };
    es.spec.refresh_policy.unwrap_or_default() == RefreshPolicy::Periodic
        && synced == current_version(es)
        && refresh_time <= now
        && should_refresh(es, memory, now)
}

fn next_due(refresh_time: Timestamp, every: Duration) -> Timestamp {
    let every = k8s_openapi::jiff::SignedDuration::try_from(every)
        .unwrap_or(k8s_openapi::jiff::SignedDuration::MAX);
    refresh_time.checked_add(every).unwrap_or(Timestamp::MAX)
}

/// How long until the next periodic refresh is due (`None`: never).
pub fn until_next(es: &ExternalSecret, memory: &Synced, now: Timestamp) -> Option<Duration> {
    if es.spec.refresh_policy.unwrap_or_default() != RefreshPolicy::Periodic {
        return None;
    }
    let every = interval(es);
    if every.is_zero() {
        return None;
    }
    let (refresh_time, _) = last_sync(es, memory);
    let due = next_due(refresh_time.unwrap_or(now), every);
    Some(Duration::try_from(due.duration_since(now)).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;
    use crate::crd::{ExternalSecretSpec, ExternalSecretStatus};

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
        let periodic = |e: &ExternalSecret| only_periodic_due(e, &m, now);
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
        let left = until_next(&stale, &memory, now).unwrap();
        assert!(
            left > Duration::from_secs(3590) && left <= Duration::from_secs(3600),
            "{left:?}"
        );
    }
}
