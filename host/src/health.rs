//! What `/readyz` and `/healthz` answer.
//!
//! Ready means this replica can do its work: its embedded components are loaded and the
//! watches have listed every object (the caches are synced), and it is not stopping. A replica
//! that is not the leader is ready too once that holds: it watches and loads like the leader and
//! takes over as soon as it acquires the lease, so a rollout may count it as available.
//!
//! Live means the process is not wedged: every ExternalSecret worker stuck in one reconcile with
//! none finished for [`WEDGED_AFTER`] fails it, and the kubelet restarts the container. An outage
//! of a backend is not a wedge (reconciles fail and finish), so it never restarts the operator.
//! A watch that keeps failing (apiserver unreachable, RBAC revoked) for longer than the watch
//! limit (`--healthz-watch-limit`, [`WATCH_BROKEN_AFTER`] by default) fails it too: a restart
//! starts from a fresh client and a full list, and the kubelet's backoff paces the restarts. The
//! watch recovering on its own (an event, or no error for [`WATCH_QUIET`]) makes it live again.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long every worker may be inside a reconcile, with none finishing, before the process
/// counts as wedged. Every backend call has a deadline (the sandbox's, 10 s by default) and the
/// Kubernetes client its own timeouts, so a healthy reconcile never comes near it.
pub const WEDGED_AFTER: Duration = Duration::from_secs(300);

/// How long a watch may keep failing before `/healthz` fails (the default of
/// `--healthz-watch-limit`). A kube-apiserver restart takes well under a minute.
pub const WATCH_BROKEN_AFTER: Duration = Duration::from_secs(120);

/// A watch that reported no error for this long works again. A watch resumed from its last
/// resourceVersion delivers nothing until an object changes, so success is seen as the errors
/// stopping: kube's default watch backoff retries at least every 30 s while it fails.
pub const WATCH_QUIET: Duration = Duration::from_secs(45);

/// The process's readiness and liveness inputs.
#[derive(Debug)]
pub struct Health {
    started: Instant,
    components_loaded: AtomicBool,
    caches_synced: AtomicBool,
    stopping: AtomicBool,
    workers: AtomicUsize,
    busy: AtomicUsize,
    /// Milliseconds after `started` when a reconcile last finished (or the workers started).
    last_done_ms: AtomicU64,
    /// Watches failing: kind → the failures in a row.
    broken: Mutex<BTreeMap<String, Failing>>,
    /// Milliseconds a watch may stay broken (see [`WATCH_BROKEN_AFTER`]).
    watch_limit_ms: AtomicU64,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            components_loaded: AtomicBool::new(false),
            caches_synced: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            workers: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            last_done_ms: AtomicU64::new(0),
            broken: Mutex::default(),
            watch_limit_ms: AtomicU64::new(millis(WATCH_BROKEN_AFTER)),
        }
    }
}

/// Failures of one watch in a row (no gap longer than [`WATCH_QUIET`] between them), in
/// milliseconds after the process started.
#[derive(Debug)]
struct Failing {
    since_ms: u64,
    last_ms: u64,
    last_error: String,
}

/// A reconcile in progress; dropping it marks it finished.
pub struct Busy<'a>(&'a Health);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
        self.0.last_done_ms.store(self.0.now_ms(), Ordering::SeqCst);
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Health {
    fn now_ms(&self) -> u64 {
        millis(self.started.elapsed())
    }

    /// Sets how long a watch may stay broken before the process counts as not live.
    pub fn set_watch_limit(&self, limit: Duration) {
        self.watch_limit_ms.store(millis(limit), Ordering::SeqCst);
    }

    /// What a watch of `kind` just delivered: an event (`None`: it works) or an error.
    pub fn watch_result(&self, kind: &str, error: Option<&dyn std::fmt::Display>) {
        let mut broken = self.broken.lock().unwrap_or_else(|e| e.into_inner());
        match error {
            None => {
                if broken.remove(kind).is_some() {
                    tracing::info!(kind, "watch recovered");
                }
            }
            Some(e) => {
                let now = self.now_ms();
                let last_error: String = e.to_string().chars().take(300).collect();
                let quiet = millis(WATCH_QUIET);
                match broken.get_mut(kind) {
                    Some(f) if now.saturating_sub(f.last_ms) <= quiet => {
                        f.last_ms = now;
                        f.last_error = last_error;
                    }
                    _ => {
                        broken.insert(
                            kind.to_owned(),
                            Failing {
                                since_ms: now,
                                last_ms: now,
                                last_error,
                            },
                        );
                    }
                }
            }
        }
    }

    /// The kinds whose watch is failing now (its latest result was an error), sorted.
    pub fn failing_watches(&self) -> Vec<String> {
        let broken = self.broken.lock().unwrap_or_else(|e| e.into_inner());
        broken.keys().cloned().collect()
    }

    /// The embedded components are loaded (compiled or read from the module cache).
    pub fn set_components_loaded(&self) {
        self.components_loaded.store(true, Ordering::SeqCst);
    }

    /// Every watch has listed its objects once.
    pub fn set_caches_synced(&self) {
        self.caches_synced.store(true, Ordering::SeqCst);
    }

    /// A stop signal arrived: not ready any more, so no new traffic is counted on this replica.
    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// `count` ExternalSecret workers are running.
    pub fn workers_started(&self, count: usize) {
        self.last_done_ms.store(self.now_ms(), Ordering::SeqCst);
        self.workers.fetch_add(count, Ordering::SeqCst);
    }

    /// A worker starts a reconcile; it ends when the guard is dropped.
    pub fn reconcile(&self) -> Busy<'_> {
        self.busy.fetch_add(1, Ordering::SeqCst);
        Busy(self)
    }

    /// `Ok` when ready, else why not.
    pub fn readiness(&self) -> Result<(), &'static str> {
        if self.stopping.load(Ordering::SeqCst) {
            Err("stopping")
        } else if !self.components_loaded.load(Ordering::SeqCst) {
            Err("the embedded components are not loaded yet")
        } else if !self.caches_synced.load(Ordering::SeqCst) {
            Err("the watches have not listed every object yet")
        } else {
            Ok(())
        }
    }

    /// `Ok` unless wedged (see the module documentation).
    pub fn liveness(&self) -> Result<(), String> {
        self.liveness_at(self.now_ms())
    }

    fn liveness_at(&self, now_ms: u64) -> Result<(), String> {
        let watch_limit = self.watch_limit_ms.load(Ordering::SeqCst);
        let broken = self.broken.lock().unwrap_or_else(|e| e.into_inner());
        let quiet = millis(WATCH_QUIET);
        if let Some((kind, f)) = broken.iter().find(|(_, f)| {
            now_ms.saturating_sub(f.last_ms) <= quiet
                && now_ms.saturating_sub(f.since_ms) > watch_limit
        }) {
            return Err(format!(
                "the {kind} watch has failed for {} s: {}",
                now_ms.saturating_sub(f.since_ms) / 1000,
                f.last_error
            ));
        }
        drop(broken);
        let workers = self.workers.load(Ordering::SeqCst);
        let busy = self.busy.load(Ordering::SeqCst);
        let idle_ms = now_ms.saturating_sub(self.last_done_ms.load(Ordering::SeqCst));
        let limit = millis(WEDGED_AFTER);
        if workers > 0 && busy >= workers && idle_ms > limit {
            Err(format!(
                "wedged: all {workers} ExternalSecret workers have been inside a reconcile for {} s and none finished",
                idle_ms / 1000
            ))
        } else {
            Ok(())
        }
    }
}

/// The process-wide health state.
pub fn global() -> &'static Health {
    static HEALTH: OnceLock<Health> = OnceLock::new();
    HEALTH.get_or_init(Health::default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_once_components_and_caches_are_there_and_not_while_stopping() {
        let h = Health::default();
        assert_eq!(
            h.readiness(),
            Err("the embedded components are not loaded yet")
        );
        h.set_caches_synced();
        assert!(h.readiness().is_err());
        h.set_components_loaded();
        assert_eq!(h.readiness(), Ok(()));
        h.set_stopping();
        assert_eq!(h.readiness(), Err("stopping"));
    }

    #[test]
    fn a_watch_broken_past_the_limit_fails_liveness_until_it_delivers_again() {
        let h = Health::default();
        h.set_watch_limit(Duration::from_secs(10));
        let err: &dyn std::fmt::Display = &"connection refused";
        h.watch_result("ExternalSecret", Some(err));
        let t0 = h.now_ms();
        assert!(h.liveness_at(t0 + 9_000).is_ok(), "within the limit");
        h.watch_result("ExternalSecret", Some(&"403 forbidden"));
        let e = h.liveness_at(t0 + 11_000).unwrap_err();
        assert!(
            e.contains("ExternalSecret watch has failed for 11 s: 403 forbidden"),
            "the first failure counts, the last error is shown: {e}"
        );
        h.watch_result("Secret", None);
        assert!(h.liveness_at(t0 + 11_000).is_err(), "another kind's event");
        assert_eq!(h.failing_watches(), vec!["ExternalSecret"]);
        let quiet = millis(WATCH_QUIET);
        assert!(
            h.liveness_at(h.now_ms() + quiet + 1_000).is_ok(),
            "no error for {WATCH_QUIET:?}: the resumed watch works"
        );
        h.watch_result("ExternalSecret", None);
        assert!(h.liveness_at(t0 + 60_000).is_ok(), "recovered");
        h.watch_result("ExternalSecret", Some(err));
        assert!(
            h.liveness_at(h.now_ms() + 1_000).is_ok(),
            "a new failure starts a new streak"
        );
    }

    #[test]
    fn wedged_only_when_every_worker_is_stuck_past_the_limit() {
        let h = Health::default();
        let limit = u64::try_from(WEDGED_AFTER.as_millis()).unwrap_or(u64::MAX);
        // No workers yet (a replica waiting for the lease): never wedged.
        assert!(h.liveness_at(limit * 10).is_ok());
        h.workers_started(2);
        let one = h.reconcile();
        assert!(h.liveness_at(limit * 10).is_ok(), "one of two busy");
        let two = h.reconcile();
        assert!(h.liveness_at(limit / 2).is_ok(), "both busy, not for long");
        let err = h.liveness_at(limit + 1_000).unwrap_err();
        assert!(err.contains("all 2 ExternalSecret workers"), "{err}");
        drop(two);
        assert!(
            h.liveness_at(h.now_ms() + limit / 2).is_ok(),
            "one finished"
        );
        drop(one);
        assert!(
            h.liveness_at(h.now_ms() + limit * 10).is_ok(),
            "idle workers"
        );
    }
}
