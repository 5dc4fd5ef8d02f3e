//! What `/readyz` and `/healthz` answer.
//!
//! Ready means this replica can do its work: its embedded components are loaded and the
//! watches have listed every object (the caches are synced), and it is not stopping. A replica
//! that is not the leader is ready too once that holds: it watches and loads like the leader and
//! takes over as soon as it acquires the lease, so a rollout may count it as available.
//!
//! Live means the process is not wedged: every ExternalSecret worker stuck in one reconcile with
//! none finished for [`WEDGED_AFTER`] fails it, and the kubelet restarts the container. An outage
//! of the apiserver or of a backend is not a wedge (reconciles fail and finish), so it never
//! restarts the operator.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long every worker may be inside a reconcile, with none finishing, before the process
/// counts as wedged. Every backend call has a deadline (the sandbox's, 10 s by default) and the
/// Kubernetes client its own timeouts, so a healthy reconcile never comes near it.
pub const WEDGED_AFTER: Duration = Duration::from_secs(300);

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
        }
    }
}

/// A reconcile in progress; dropping it marks it finished.
pub struct Busy<'a>(&'a Health);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
        self.0.last_done_ms.store(self.0.now_ms(), Ordering::SeqCst);
    }
}

impl Health {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
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
        let workers = self.workers.load(Ordering::SeqCst);
        let busy = self.busy.load(Ordering::SeqCst);
        let idle_ms = now_ms.saturating_sub(self.last_done_ms.load(Ordering::SeqCst));
        let limit = u64::try_from(WEDGED_AFTER.as_millis()).unwrap_or(u64::MAX);
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
