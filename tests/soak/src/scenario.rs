//! The scenarios: each runs against the real ground and returns a [`Row`] of the table
//! tests/soak/run prints (docs/reliability.md).

use std::fmt;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use rand::Rng as _;

use crate::bed::{Bed, Provider};
use crate::relay::Fault;
use crate::writes::Writes;

/// One line of the table.
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub scenario: String,
    pub provider: String,
    pub n: usize,
    pub fault: String,
    /// Targets holding the right value at the end.
    pub right: usize,
    /// Targets holding another value at the end.
    pub wrong: usize,
    /// Targets whose resourceVersion changed while the fault was on (must be 0).
    pub changed: usize,
    /// Target deletions seen by the watch (must be 0).
    pub deleted: usize,
    /// From the fault's start (first sync) or its end (outages) until every target is right
    /// and, for outages, every ExternalSecret Ready again.
    pub converge: Option<Duration>,
    /// Writes per target over the scenario: most, mean.
    pub writes_max: usize,
    pub writes_mean: f64,
    /// Requests the backend was sent while the fault was on.
    pub calls: Option<usize>,
    pub notes: String,
}

impl Row {
    /// The table's header (markdown).
    pub fn header() -> &'static str {
        "| scenario | provider | N | what was done | right | wrong | changed during the fault | deleted | converged in | writes per Secret (max / mean) | backend requests during the fault | notes |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|"
    }

    /// Nothing lost, nothing corrupted: every target right, none changed or deleted by the fault.
    pub fn lossless(&self) -> bool {
        self.right == self.n && self.wrong == 0 && self.changed == 0 && self.deleted == 0
    }
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let converge = self
            .converge
            .map_or("**did not converge**".to_owned(), |d| {
                format!("{:.1} s", d.as_secs_f64())
            });
        let calls = self.calls.map_or("–".to_owned(), |c| c.to_string());
        write!(
            f,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {:.2} | {} | {} |",
            self.scenario,
            self.provider,
            self.n,
            self.fault,
            self.right,
            self.wrong,
            self.changed,
            self.deleted,
            converge,
            self.writes_max,
            self.writes_mean,
            calls,
            self.notes
        )
    }
}

fn write_stats(writes: &Writes) -> (usize, f64) {
    let snap = writes.snapshot();
    let counts: Vec<usize> = snap.values().map(|s| s.versions.len()).collect();
    let max = counts.iter().copied().max().unwrap_or(0);
    let mean = if counts.is_empty() {
        0.0
    } else {
        counts.iter().sum::<usize>() as f64 / counts.len() as f64
    };
    (max, mean)
}

/// How long the first sync of `n` may take on a busy 2-core machine before a scenario reports
/// that it did not converge.
fn first_sync_limit(n: usize) -> Duration {
    Duration::from_secs(120 + (n as u64) / 5)
}

/// Secret values must never leave the backend and the target: checks the logs, events and
/// status the scenario produced for every value it wrote.
async fn leaks(bed: &Bed, logs: &[&std::path::Path]) -> usize {
    let text = bed.visible_text(logs).await;
    bed.expected
        .values()
        .filter(|v| text.contains(v.as_str()))
        .count()
}

/// SIGKILL of the operator at `kills` random moments (0.3–2 s apart) during the first sync of
/// `n` ExternalSecrets, restarted at once each time. Then, once converged: a clean restart and a
/// refresh window with nothing changed (no write expected), and a real change of every tenth
/// value (one write each, expected).
pub async fn sigkill(n: usize, kills: usize) -> Row {
    let refresh = Duration::from_secs(20);
    let mut bed = Bed::new(Provider::Vault, n, "20s").await;
    let writes = Writes::watch(&bed.client, &bed.ns, "es-");
    bed.create().await;
    let mut op = bed.operator("sigkill", &[]);
    let t0 = Instant::now();
    op.start();
    for _ in 0..kills {
        let ms = rand::rng().random_range(300..2000);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        op.kill9();
        op.start();
    }
    let converge = bed
        .converge(first_sync_limit(n))
        .await
        .map(|_| t0.elapsed());
    let (first_max, first_mean) = write_stats(&writes);

    // Converged: a clean restart and a full refresh window with nothing changed.
    let settled = writes.snapshot();
    op.kill9();
    op.start();
    op.wait_ready(Duration::from_secs(120)).await;
    tokio::time::sleep(refresh + Duration::from_secs(5)).await;
    let idle: usize = writes.since(&settled).values().sum();

    // A real change of every tenth value: one write for each of those, none for the rest.
    let before = writes.snapshot();
    let changed: Vec<(usize, String)> = (0..n).step_by(10).map(|i| (i, bed.value(i, 2))).collect();
    bed.put_all(&changed).await;
    let change_converge = bed.converge(refresh * 4 + first_sync_limit(n / 10)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = writes.since(&before);
    let changed_names: std::collections::BTreeSet<String> =
        changed.iter().map(|(i, _)| format!("es-{i}")).collect();
    let extra: usize = after
        .iter()
        .map(|(name, w)| {
            if changed_names.contains(name) {
                w.saturating_sub(1)
            } else {
                *w
            }
        })
        .sum();
    let missed = changed_names
        .iter()
        .filter(|n| after.get(*n).copied().unwrap_or(0) == 0)
        .count();
    let (right, wrong) = bed.right_and_wrong().await;
    let leaked = leaks(&bed, &[&op.log]).await;
    let row = Row {
        scenario: "operator SIGKILL during first sync".into(),
        provider: "vault".into(),
        n,
        fault: format!("{kills} × kill -9 at random, restarted at once"),
        right,
        wrong,
        changed: 0,
        deleted: writes.deleted(),
        converge,
        writes_max: first_max,
        writes_mean: first_mean,
        calls: None,
        notes: format!(
            "after convergence: {idle} writes in a refresh window with a restart and nothing changed; \
             {} values changed → {} converged in {}, {extra} writes beyond one per change, {missed} changes not written; {leaked} values leaked",
            changed.len(),
            changed.len() - missed,
            change_converge.map_or("–".into(), |d| format!("{:.1} s", d.as_secs_f64())),
        ),
    };
    let idle_ok = idle == 0 && extra == 0 && missed == 0 && leaked == 0;
    let mut row = row;
    if !idle_ok {
        row.notes.push_str(" **(not as expected)**");
        row.wrong += extra + missed + leaked + idle;
    }
    bed.drop().await;
    row
}

/// Runs `tests/ground/restart NAME DOWN` (blocking) against the ground.
async fn restart(name: &str, down: u64) {
    let g = ground::ground();
    let script = g.repo.join("tests/ground/restart");
    let dir = g.dir.clone();
    let name = name.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(script)
            .args([name.as_str(), &down.to_string()])
            .env("GROUND_DIR", dir)
            .output()
    })
    .await;
    match out {
        Ok(Ok(o)) if o.status.success() => {}
        other => panic!("tests/ground/restart failed: {other:?}"),
    }
}

fn signal(pid: &str, sig: &str) {
    ground::run(std::process::Command::new("kill").args([sig, pid]));
}

/// A fault of the apiserver or etcd while `n` ExternalSecrets have their first sync: the
/// operator must keep running (no exit, no crash loop), reconnect and converge.
pub async fn control_plane(n: usize, what: ControlPlane) -> Row {
    let bed = Bed::new(Provider::Vault, n, "1h").await;
    let writes = Writes::watch(&bed.client, &bed.ns, "es-");
    bed.create().await;
    let mut op = bed.operator(what.tag(), &[]);
    let t0 = Instant::now();
    op.start();
    // Mid-sync: a third of the targets written (or 60 s, whichever comes first).
    let mid = Instant::now();
    while bed.right_and_wrong().await.0 < n / 3 && mid.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let synced_before = bed.right_and_wrong().await.0;
    let fault = match what {
        ControlPlane::ApiserverRestart(down) => {
            restart("kube-apiserver", down).await;
            format!(
                "kube-apiserver stopped (SIGTERM) for {down} s and restarted, with {synced_before} of {n} synced"
            )
        }
        ControlPlane::EtcdPause(secs) => {
            let pid = std::fs::read_to_string(ground::ground().dir.join("pids/etcd.pid"))
                .unwrap_or_default()
                .trim()
                .to_owned();
            signal(&pid, "-STOP");
            tokio::time::sleep(Duration::from_secs(secs)).await;
            signal(&pid, "-CONT");
            format!("etcd paused (SIGSTOP) for {secs} s, with {synced_before} of {n} synced")
        }
    };
    let converge = bed
        .converge(first_sync_limit(n))
        .await
        .map(|_| t0.elapsed());
    let alive = op.alive();
    let metrics = op.metrics().await;
    let _ = std::fs::write(op.log.with_extension("metrics"), &metrics);
    let errors = crate::operator::sum(&metrics, "externalsecret_sync_calls_error", &[]);
    let reconcile_errors = crate::operator::sum(
        &metrics,
        "controller_runtime_reconcile_total",
        &[("result", "error")],
    );
    let (max, mean) = write_stats(&writes);
    let (right, wrong) = bed.right_and_wrong().await;
    let leaked = leaks(&bed, &[&op.log]).await;
    let mut row = Row {
        scenario: what.name().into(),
        provider: "vault".into(),
        n,
        fault,
        right,
        wrong,
        changed: 0,
        deleted: writes.deleted(),
        converge,
        writes_max: max,
        writes_mean: mean,
        calls: None,
        notes: format!(
            "operator {} (started once); sync errors in metrics: {errors}, reconcile errors: {reconcile_errors}; {leaked} values leaked",
            if alive { "kept running" } else { "**exited**" }
        ),
    };
    if !alive || leaked > 0 {
        row.wrong += 1;
    }
    bed.drop().await;
    row
}

/// What [`control_plane`] does to the ground.
#[derive(Debug, Clone, Copy)]
pub enum ControlPlane {
    /// Stop kube-apiserver, wait this many seconds, start it with the same flags and data.
    ApiserverRestart(u64),
    /// SIGSTOP etcd for this many seconds, then SIGCONT.
    EtcdPause(u64),
}

impl ControlPlane {
    fn name(self) -> &'static str {
        match self {
            ControlPlane::ApiserverRestart(_) => "kube-apiserver restart mid-sync",
            ControlPlane::EtcdPause(_) => "etcd paused mid-sync",
        }
    }
    fn tag(self) -> &'static str {
        match self {
            ControlPlane::ApiserverRestart(_) => "apiserver",
            ControlPlane::EtcdPause(_) => "etcd",
        }
    }
}

/// Backend outages for `provider` after `n` ExternalSecrets (refreshing every 10 s) have
/// synced: the backend stopped, answering 500, throttling with `Retry-After`, stalling
/// mid-response, each for `window`. During each: targets untouched (same resourceVersion),
/// Ready=False with a reason; after each: Ready again. One row per fault.
pub async fn outages(provider: Provider, n: usize, window: Duration, retry_after: u32) -> Vec<Row> {
    let bed = Bed::new(provider, n, "10s").await;
    let writes = Writes::watch(&bed.client, &bed.ns, "es-");
    bed.create().await;
    let mut op = bed.operator("outage", &[]);
    op.start();
    let first = bed.converge(first_sync_limit(n)).await;
    assert!(
        first.is_some(),
        "{}: the first sync of {n} did not finish:\n{}",
        provider.name(),
        op.tail()
    );
    bed.all_ready(Duration::from_secs(60)).await;
    let mut rows = Vec::new();
    for fault in [
        Fault::Down,
        Fault::server_error(),
        Fault::throttled(provider.name(), retry_after),
        Fault::Stall,
    ] {
        let label = fault.label();
        let versions = bed.versions().await;
        let deleted_before = writes.deleted();
        let calls_before = bed.relay.requests();
        bed.relay.set(fault);
        let started = Instant::now();
        let reason = bed.some_not_ready(window).await;
        if let Some(rest) = window.checked_sub(started.elapsed()) {
            tokio::time::sleep(rest).await;
        }
        let calls = bed.relay.requests() - calls_before;
        let now = bed.versions().await;
        let changed = versions
            .iter()
            .filter(|(name, rv)| now.get(*name) != Some(*rv))
            .count();
        bed.relay.set(Fault::Pass);
        let recovered = Instant::now();
        let ready = bed.all_ready(Duration::from_secs(600)).await;
        let right = bed.converge(Duration::from_secs(60)).await;
        let converge = ready.and(right).map(|_| recovered.elapsed());
        let (right, wrong) = bed.right_and_wrong().await;
        let (max, mean) = write_stats(&writes);
        let notes = match &reason {
            Some((r, m)) => format!("Ready=False {r}: \"{m}\""),
            None => "**no ExternalSecret reported Ready=False**".into(),
        };
        let mut row = Row {
            scenario: "backend outage".into(),
            provider: provider.name().into(),
            n,
            fault: format!("{label} for {} s", window.as_secs()),
            right,
            wrong,
            changed,
            deleted: writes.deleted() - deleted_before,
            converge,
            writes_max: max,
            writes_mean: mean,
            calls: Some(calls),
            notes,
        };
        if reason.is_none() {
            row.wrong += 1;
        }
        rows.push(row);
    }
    let leaked = leaks(&bed, &[&op.log]).await;
    if leaked > 0 {
        for r in &mut rows {
            r.notes.push_str(&format!("; **{leaked} values leaked**"));
            r.wrong += leaked;
        }
    }
    assert!(op.alive(), "the operator exited:\n{}", op.tail());
    bed.drop().await;
    rows
}

/// Two replicas with leader election; the leader is killed with SIGKILL (its lease not released)
/// once a quarter of `n` first syncs are written. The standby must lead within the lease
/// duration (15 s) and no target may be written twice.
pub async fn leader_kill(n: usize) -> Row {
    let bed = Bed::new(Provider::Vault, n, "1h").await;
    let writes = Writes::watch(&bed.client, &bed.ns, "es-");
    let id = "ampoule-soak";
    let extra = [
        "--enable-leader-election",
        "--leader-election-namespace",
        bed.ns.as_str(),
        "--leader-election-id",
        id,
    ];
    let mut a = bed
        .operator("leader-a", &extra)
        .env("POD_NAME", "replica-a");
    let mut b = bed
        .operator("leader-b", &extra)
        .env("POD_NAME", "replica-b");
    let leases: Api<Lease> = Api::namespaced(bed.client.clone(), &bed.ns);
    let holder = || {
        let leases = leases.clone();
        async move {
            leases
                .get_opt(id)
                .await
                .ok()
                .flatten()
                .and_then(|l| l.spec?.holder_identity)
        }
    };
    a.start();
    ground::eventually(Duration::from_secs(120), "replica-a leads", || async {
        (holder().await.as_deref() == Some("replica-a")).then_some(())
    })
    .await;
    b.start();
    let t0 = Instant::now();
    // The leader is killed while the ExternalSecrets are still being created and synced.
    let kill = async {
        while bed.right_and_wrong().await.0 < n / 4 && t0.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let synced = bed.right_and_wrong().await.0;
        a.kill9();
        (synced, Instant::now())
    };
    let ((), (synced, killed)) = tokio::join!(bed.create(), kill);
    let mut takeover = None;
    while killed.elapsed() < Duration::from_secs(60) {
        if holder().await.as_deref() == Some("replica-b") {
            takeover = Some(killed.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let converge = bed
        .converge(first_sync_limit(n))
        .await
        .map(|_| t0.elapsed());
    let (max, mean) = write_stats(&writes);
    let (right, wrong) = bed.right_and_wrong().await;
    let leaked = leaks(&bed, &[&a.log, &b.log]).await;
    let mut row = Row {
        scenario: "leader SIGKILL mid-sync, standby takes over".into(),
        provider: "vault".into(),
        n,
        fault: format!("kill -9 of the leader with {synced} of {n} synced"),
        right,
        wrong,
        changed: 0,
        deleted: writes.deleted(),
        converge,
        writes_max: max,
        writes_mean: mean,
        calls: None,
        notes: format!(
            "standby led after {} (lease 15 s); {leaked} values leaked",
            takeover.map_or("**never**".into(), |d| format!("{:.1} s", d.as_secs_f64()))
        ),
    };
    if takeover.is_none() || leaked > 0 || max > 1 {
        row.wrong += 1;
    }
    bed.drop().await;
    row
}
