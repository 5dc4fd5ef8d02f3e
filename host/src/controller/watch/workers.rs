//! The workers that drain the queues: ExternalSecret workers (some only for urgent keys) and
//! store workers.

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::reflector::ObjectRef;
use tokio::task::JoinSet;

use crate::controller::context::Context;
use crate::controller::queue::Priority;
use crate::controller::shared::NotBefore;
use crate::controller::{cluster_external_secret, external_secret, refresh, secret_store};
use crate::crd::ExternalSecret;
use crate::metrics::runtime::Controller;

/// Workers validating stores (SecretStores and ClusterSecretStores share them).
const STORE_WORKERS: usize = 2;

/// The oldest shared fetch a periodic refresh of this ExternalSecret accepts: one made after
/// half its refresh interval had passed since its last sync. That is never its own previous
/// fetch, and a value at most about half an interval old when the refresh is due.
fn refresh_not_before(
    ctx: &Context,
    key: &ObjectRef<ExternalSecret>,
) -> Option<tokio::time::Instant> {
    let es = ctx.external_secrets.get(key)?;
    let half = refresh::interval(&es) / 2;
    if half.is_zero() {
        return None;
    }
    let (at, _) = refresh::last_sync(&es, &ctx.synced(key));
    let age = Duration::try_from(ctx.settings.clock.now().duration_since(at?)).ok()?;
    let now = tokio::time::Instant::now();
    Some(now.checked_sub(age).map_or(now, |synced| synced + half))
}

/// Runs the workers until they are aborted: `--concurrent` for ExternalSecrets (a quarter of
/// them only for new or changed objects), two for stores, and the ClusterExternalSecret
/// and PushSecret workers when those controllers are enabled.
pub async fn workers(ctx: Arc<Context>) {
    // Every cache complete first: the flood gate needs the stores' readiness, and the
    // ExternalSecret cache must be complete before store events fan out.
    let mut listed = ctx.caches_listed.clone();
    let _ = listed.wait_for(|l| *l).await;
    let mut set = JoinSet::new();
    // A quarter of the workers take only new or changed objects, so those never wait for a
    // refresh to finish; the rest take both lanes, urgent first.
    let total = ctx.settings.concurrent.max(1);
    let urgent_only = total / 4;
    crate::health::global().workers_started(total);
    let runtime = &ctx.metrics.runtime;
    runtime.controller_started(Controller::ExternalSecret, total);
    runtime.controller_started(Controller::SecretStore, STORE_WORKERS);
    if ctx.settings.cluster_stores {
        runtime.controller_started(Controller::ClusterSecretStore, STORE_WORKERS);
    }
    for i in 0..total {
        let ctx = ctx.clone();
        let only_urgent = i < urgent_only;
        set.spawn(async move {
            loop {
                work_once(&ctx, only_urgent).await;
            }
        });
    }
    for _ in 0..STORE_WORKERS {
        let ctx = ctx.clone();
        set.spawn(async move {
            loop {
                let key = ctx.store_queue.next().await;
                let active = ctx
                    .metrics
                    .runtime
                    .active(secret_store::controller_of(&key));
                let next = secret_store::reconcile(&ctx, &key).await;
                drop(active);
                ctx.store_queue.done(&key);
                if let Some((delay, priority)) = next {
                    ctx.store_queue.add(key, delay, priority);
                }
            }
        });
    }
    if ctx.settings.cluster_external_secrets {
        set.spawn(cluster_external_secret::workers(ctx.clone()));
    }
    if ctx.settings.push_secrets {
        set.spawn(crate::controller::push_secret::workers(ctx.clone()));
    }
    if ctx.settings.cluster_push_secrets {
        set.spawn(crate::controller::cluster_push_secret::workers(ctx.clone()));
    }
    set.spawn(crate::controller::generators::gc(ctx.clone()));
    while set.join_next().await.is_some() {}
}

/// One turn of an ExternalSecret worker: waits for a due key (an urgent key only, when
/// `only_urgent`), records how long it waited in `ampoule_workqueue_wait_seconds{lane}`,
/// reconciles it and queues it again as the reconcile asks — a periodic refresh that the urgent
/// lane hands off comes back here in the normal lane.
///
/// What a fetch may share ([`NotBefore`], passed to the reconcile): a periodic refresh takes a value fetched in
/// the second half of its window; a new or changed object, or a failing one, only a value whose
/// fetch started after the key was last queued: after the event, or after the failure (so a
/// thousand new ExternalSecrets reading fifty keys make about fifty backend requests, and a
/// force-sync reads anew even when its first attempt fails).
pub(super) async fn work_once(ctx: &Context, only_urgent: bool) {
    let taken = ctx.queue.take(only_urgent).await;
    let (key, lane) = (taken.key, taken.lane);
    ctx.metrics
        .queue_wait
        .get_or_create(&crate::metrics::LaneLabel {
            lane: match lane {
                Priority::Urgent => "urgent",
                Priority::Normal => "normal",
            },
        })
        .observe(taken.waited.as_secs_f64());
    let not_before = NotBefore(match lane {
        Priority::Normal if !ctx.is_failing(&key) => refresh_not_before(ctx, &key),
        _ => Some(taken.requested),
    });
    let busy = crate::health::global().reconcile();
    let active = ctx.metrics.runtime.active(Controller::ExternalSecret);
    let next = external_secret::reconcile(ctx, &key, lane, not_before).await;
    drop((busy, active));
    ctx.queue.done(&key);
    if let Some((delay, priority)) = next {
        ctx.queue.add(key, delay, priority);
    }
}
