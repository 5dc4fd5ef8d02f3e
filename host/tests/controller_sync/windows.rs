//! `spec.syncWindows` on the ground, with the controller's clock moved by the test (no waiting
//! for real windows): a deny window stops periodic refreshes and an allow window starts them,
//! while a first sync, a changed object (force-sync, spec) and a broken target still sync inside
//! a deny window, as in ESO v2.9 (docs/eso-behaviour.md#sync-windows).

use std::sync::atomic::Ordering;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use super::*;

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// `read_k` with a one-second refresh and a window from 22:00 to 23:00 UTC.
fn windowed(name: &str, kind: &str) -> Value {
    read_k(
        name,
        json!({"refreshInterval": "1s", "target": {"name": name},
               "syncWindows": {"kind": kind, "windows": [{"schedule": "0 22 * * *", "duration": "1h"}]}}),
    )
}

async fn value(run: &Running, name: &str) -> Option<String> {
    run.secret(name).await.map(|s| data(&s)["k"].clone())
}

/// Waits for the Secret to hold `want`.
async fn holds(run: &Running, name: &str, want: &str) {
    run.secret_where(name, &format!("{name} holds {want}"), |s| {
        data(s).get("k").map(String::as_str) == Some(want)
    })
    .await;
}

#[tokio::test]
async fn windows_gate_periodic_refreshes_only() {
    let (run, backend) = with_backend("es-windows", &[("k", "v1")]).await;
    let clock = run.clock();
    // Outside the window: deny refreshes, allow does not.
    clock.set(at("2026-06-01T21:00:00Z"));
    run.apply(windowed("deny", "deny")).await;
    run.apply(windowed("allow", "allow")).await;
    // The first sync happens whatever the windows say.
    holds(&run, "deny", "v1").await;
    holds(&run, "allow", "v1").await;
    backend.set("k", "v2");
    holds(&run, "deny", "v2").await;
    let calls = backend.calls.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        value(&run, "allow").await.as_deref(),
        Some("v1"),
        "outside its allow window"
    );
    let refreshed = backend.calls.load(Ordering::SeqCst) - calls;
    // Four seconds of one-second refreshes for `deny` alone (a few, shared or not), none for
    // `allow`.
    assert!(
        refreshed >= 2,
        "deny refreshes outside its window: {refreshed} calls"
    );

    // Inside the window: allow refreshes, deny does not, and asks the backend nothing.
    clock.set(at("2026-06-01T22:10:00Z"));
    holds(&run, "allow", "v2").await;
    backend.set("k", "v3");
    holds(&run, "allow", "v3").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        value(&run, "deny").await.as_deref(),
        Some("v2"),
        "inside its deny window"
    );
    let ready = run.es_ready("deny", "True", "SecretSynced").await;
    assert!(ready.status.unwrap().refresh_time.is_some());

    // A force-sync (an annotation change) syncs inside the deny window; so does a changed spec.
    annotate(&run, "deny", "force-sync", "1").await;
    holds(&run, "deny", "v3").await;
    backend.set("k", "v4");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        value(&run, "deny").await.as_deref(),
        Some("v3"),
        "only the change synced"
    );
    let api = run.api::<ampoule::crd::ExternalSecret>();
    let patch = json!({"spec": {"refreshInterval": "2s"}});
    api.patch("deny", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    holds(&run, "deny", "v4").await;

    // A deleted target is restored inside the deny window (ESO: an invalid Secret is refreshed).
    backend.set("k", "v5");
    run.api::<Secret>()
        .delete("deny", &DeleteParams::default())
        .await
        .unwrap();
    holds(&run, "deny", "v5").await;

    // The window closes: deny refreshes again, within an interval of the clock passing it;
    // allow stops.
    backend.set("k", "v6");
    clock.set(at("2026-06-01T23:00:05Z"));
    holds(&run, "deny", "v6").await;
    backend.set("k", "v7");
    holds(&run, "deny", "v7").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_ne!(
        value(&run, "allow").await.as_deref(),
        Some("v7"),
        "allow stopped at the close"
    );
}
