#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The reliability scenarios at CI size, against the ground `./run-tests` starts (tests/soak/run
//! runs the same scenarios at N=1,000 and prints the table). Each asserts what the table shows:
//! every target right, none deleted, none changed while a fault was on, none written twice for
//! one change, the operator alive, no secret value in logs, events or status.
//!
//! The scenarios restart the ground's kube-apiserver and pause its etcd: they run one at a time
//! (one test function), and cargo runs this binary alone.

use std::time::Duration;

use ampoule_soak::bed::Provider;
use ampoule_soak::scenario::{self, ControlPlane, Row};

fn check(row: &Row) {
    println!("{}\n{row}", Row::header());
    assert!(row.lossless(), "not lossless: {row}");
    assert!(row.converge.is_some(), "did not converge: {row}");
}

#[tokio::test]
async fn faults_lose_nothing() {
    // Ten SIGKILLs during the first sync; each target written once, nothing after convergence
    // but the real changes.
    let row = scenario::sigkill(200, 10).await;
    check(&row);
    assert_eq!(row.writes_max, 1, "a target was written twice: {row}");

    let row = scenario::control_plane(200, ControlPlane::ApiserverRestart(5)).await;
    check(&row);
    assert_eq!(row.writes_max, 1, "{row}");

    let row = scenario::control_plane(200, ControlPlane::EtcdPause(20)).await;
    check(&row);
    assert_eq!(row.writes_max, 1, "{row}");

    let row = scenario::leader_kill(200).await;
    check(&row);
    assert_eq!(row.writes_max, 1, "{row}");

    for provider in [Provider::Vault, Provider::Aws, Provider::Gcp] {
        let rows = scenario::outages(provider, 20, Duration::from_secs(20), 30).await;
        for row in &rows {
            check(row);
            assert_eq!(row.writes_max, 1, "{row}");
        }
        // Throttled with Retry-After 30 s for 20 s: each ExternalSecret tries at most twice
        // (its refresh, and one retry if its backoff from the fault before ran out), fewer
        // than under HTTP 500 where backoff alone paces the retries.
        let (server_error, throttled) = (rows[1].calls.unwrap(), rows[2].calls.unwrap());
        assert!(
            throttled <= 2 * 20 && throttled < server_error,
            "{}: {throttled} requests while throttled, {server_error} under HTTP 500",
            provider.name()
        );
    }
}
