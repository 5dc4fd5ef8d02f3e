//! The ExternalSecret queue's metrics against the ground's real apiserver: a sync of a new object
//! goes through the urgent lane and times its phases (fetch, write, status);
//! its periodic refreshes go through the normal lane. The controller runs in this process, so
//! the test reads the metrics it records (what `/metrics` exposes) directly.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::Ordering;

use ampoule::metrics::Metrics;
use common::{WAIT, start};
use serde_json::json;

/// The value of one series (0 while it has no sample).
fn sample(metrics: &Metrics, series: &str) -> f64 {
    metrics
        .encode()
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

fn waits(metrics: &Metrics, lane: &str) -> f64 {
    sample(
        metrics,
        &format!("ampoule_workqueue_wait_seconds_count{{lane=\"{lane}\"}}"),
    )
}

fn phases(metrics: &Metrics, phase: &str) -> f64 {
    sample(
        metrics,
        &format!("ampoule_reconcile_phase_seconds_count{{phase=\"{phase}\"}}"),
    )
}

/// Waits until `read` exceeds `before`.
async fn grows(what: &str, before: f64, read: impl Fn() -> f64) {
    ground::eventually(WAIT, what, || async { (read() > before).then_some(()) }).await;
}

#[tokio::test]
async fn a_sync_times_its_phases_and_each_lane_records_its_waits() {
    let run = start("lanes", |_| {}).await;
    let backend = run.store("backend").await;
    backend.set("k", "v1");
    let urgent = waits(&run.metrics, "urgent");
    let normal = waits(&run.metrics, "normal");
    let timed: Vec<(&str, f64)> = ["fetch", "write", "status"]
        .into_iter()
        .map(|p| (p, phases(&run.metrics, p)))
        .collect();

    run.apply(json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "app"},
        "spec": {"refreshInterval": "1s", "secretStoreRef": {"name": "backend"},
                 "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]}}))
    .await;
    run.es_ready("app", "True", "SecretSynced").await;
    grows("a wait in the urgent lane (a new object)", urgent, || {
        waits(&run.metrics, "urgent")
    })
    .await;
    for (phase, before) in timed {
        grows(&format!("a sample of phase {phase}"), before, || {
            phases(&run.metrics, phase)
        })
        .await;
    }

    // Periodic refreshes: fetched again, through the normal lane.
    let fetched = backend.calls.load(Ordering::SeqCst);
    grows("a refresh", fetched as f64, || {
        backend.calls.load(Ordering::SeqCst) as f64
    })
    .await;
    grows("a wait in the normal lane (a refresh)", normal, || {
        waits(&run.metrics, "normal")
    })
    .await;
}
