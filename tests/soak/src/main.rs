//! `tests/soak/run`'s table: the reliability scenarios at a large N against the running ground.
//!
//!   ampoule-soak [--n N] [--kills K] [--window SECONDS] [--only NAME[,NAME]]
//!   NAME: sigkill, apiserver, etcd, leader, outage-vault, outage-aws, outage-gcp
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use ampoule_soak::bed::Provider;
use ampoule_soak::scenario::{self, ControlPlane, Row};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = arg(&args, "--n").map_or(1000, |v| v.parse().expect("--n N"));
    let kills: usize = arg(&args, "--kills").map_or(10, |v| v.parse().expect("--kills K"));
    let window = Duration::from_secs(
        arg(&args, "--window").map_or(40, |v| v.parse().expect("--window SECONDS")),
    );
    let only = arg(&args, "--only");
    let wanted = |name: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|x| x == name))
    };
    let mut rows: Vec<Row> = Vec::new();
    let mut show = |new: Vec<Row>| {
        for r in &new {
            eprintln!("{r}");
        }
        rows.extend(new);
    };
    if wanted("sigkill") {
        show(vec![scenario::sigkill(n, kills).await]);
    }
    if wanted("apiserver") {
        show(vec![
            scenario::control_plane(n, ControlPlane::ApiserverRestart(5)).await,
        ]);
    }
    if wanted("etcd") {
        show(vec![
            scenario::control_plane(n, ControlPlane::EtcdPause(20)).await,
        ]);
    }
    if wanted("leader") {
        show(vec![scenario::leader_kill(n).await]);
    }
    for (name, p) in [
        ("outage-vault", Provider::Vault),
        ("outage-aws", Provider::Aws),
        ("outage-gcp", Provider::Gcp),
    ] {
        if wanted(name) {
            show(scenario::outages(p, n, window, 30).await);
        }
    }
    println!("{}", Row::header());
    for r in &rows {
        println!("{r}");
    }
    let lost = rows.iter().filter(|r| !r.lossless()).count();
    println!(
        "\n{} rows, {lost} with a Secret lost, corrupted, changed during a fault or not as expected",
        rows.len()
    );
    if lost > 0 {
        std::process::exit(1);
    }
}
