//! [`Runner`]: guest calls under the store's deadline, traps mapped to [`SandboxError`]s.

use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use wasmtime::Store;

use crate::SandboxError;
use crate::runtime::host::HostState;
use crate::runtime::sandbox::TICK;

/// Runs export calls with the deadline (epoch callback + outer tokio timeout) and turns traps
/// into clear errors.
pub(crate) struct Runner<'a> {
    pub(crate) store: &'a mut Store<HostState>,
    pub(crate) timeout: Duration,
    pub(crate) metrics: &'a crate::metrics::SandboxMetrics,
}

pub(crate) type CallFuture<'s, R> = BoxFuture<'s, wasmtime::Result<R>>;

impl Runner<'_> {
    pub(crate) async fn run<R>(
        &mut self,
        f: impl for<'s> FnOnce(&'s mut Store<HostState>) -> CallFuture<'s, R>,
    ) -> Result<R, SandboxError> {
        use crate::metrics::SandboxMetrics as M;
        M::inc(&self.metrics.calls);
        let state = self.store.data_mut();
        state.deadline = Instant::now() + self.timeout;
        state.deadline_hit = false;
        let outcome = tokio::time::timeout(self.timeout + TICK * 2, f(&mut *self.store)).await;
        self.store.data_mut().flush_stdio();
        let state = self.store.data();
        let err = match outcome {
            Ok(Ok(value)) => return Ok(value),
            Err(_) => SandboxError::Deadline(self.timeout),
            Ok(Err(_)) if state.limiter.hit => SandboxError::MemoryLimit(state.limiter.cap as u64),
            Ok(Err(_)) if state.deadline_hit => SandboxError::Deadline(self.timeout),
            Ok(Err(e)) => SandboxError::Trap(format!("{e:#}")),
        };
        M::inc(&self.metrics.call_errors);
        M::inc(match err {
            SandboxError::Deadline(_) => &self.metrics.deadline_exceeded,
            SandboxError::MemoryLimit(_) => &self.metrics.memory_limit,
            _ => &self.metrics.traps,
        });
        tracing::warn!(store = %state.scope.store, digest = %state.scope.digest, "plugin call failed: {err}");
        Err(err)
    }
}
