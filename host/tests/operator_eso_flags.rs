#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! ESO's controller arguments run `ampoule run` unchanged against the ground: the mapped ones
//! act (the Lease has ESO's lease duration flag, /healthz and /readyz answer on `--live-addr`),
//! each flag with no effect is named in exactly one warning, and `--client-qps`/`--client-burst`
//! pace the requests the Kubernetes client sends the real apiserver.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ampoule::rate_limit::{Rate, kube_client};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use kube::config::{KubeConfigOptions, Kubeconfig};

#[tokio::test]
async fn eso_arguments_run_and_the_no_effect_ones_are_warned_once() {
    let g = ground::ground();
    common::crds(&g.client().await).await;
    let ns = g.namespace("eso-flags").await;
    let (metrics, live) = (common::free_port(), common::free_port());
    let log = std::env::temp_dir().join(format!("{ns}.log"));
    let lease = format!("{ns}-lease");
    let _process = common::Killed(
        Command::new(env!("CARGO_BIN_EXE_ampoule"))
            .arg("run")
            // As ESO's chart renders them (host/src/cli.rs has the whole list).
            .args([
                "--enable-leader-election=true",
                &format!("--leader-election-id={lease}"),
                "--leader-election-lease-duration=30s",
                "--leader-election-renew-deadline=20s",
                "--leader-election-retry-period=5s",
                &format!("--namespace={ns}"),
                "--enable-cluster-store-reconciler=false",
                "--enable-cluster-external-secret-reconciler=false",
                "--enable-cluster-push-secret-reconciler=false",
                "--enable-secret-store-reconciler=false",
                "--concurrent=4",
                "--client-qps=20",
                "--client-burst=40",
                "--enable-secrets-caching",
                "--enable-vault-token-cache=true",
                &format!("--metrics-addr=127.0.0.1:{metrics}"),
                "--loglevel=info",
                "--zap-time-encoding=epoch",
                &format!("--live-addr=127.0.0.1:{live}"),
            ])
            .env("KUBECONFIG", g.kubeconfig())
            .env("POD_NAMESPACE", &ns)
            .env(
                "AMPOULE_CACHE_DIR",
                std::env::temp_dir().join("ampoule-test-cache"),
            )
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let text = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(180);
    while common::http_probe(&reqwest::Client::new(), live, "/readyz")
        .await
        .map(|(code, _)| code)
        != Some(200)
    {
        assert!(
            Instant::now() < deadline,
            "not ready on --live-addr:\n{}",
            text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        common::http_probe(&reqwest::Client::new(), live, "/healthz")
            .await
            .unwrap()
            .0,
        200
    );
    // The probe address serves the probes only; metrics stay on --metrics-addr.
    assert_eq!(
        common::http_probe(&reqwest::Client::new(), live, "/metrics")
            .await
            .unwrap()
            .0,
        404
    );
    assert_eq!(
        common::http_probe(&reqwest::Client::new(), metrics, "/metrics")
            .await
            .unwrap()
            .0,
        200
    );

    let leases: Api<Lease> = Api::namespaced(g.client().await, &ns);
    let held = ground::eventually(common::WAIT, "the leader Lease", || async {
        leases.get_opt(&lease).await.unwrap()
    })
    .await;
    assert_eq!(held.spec.unwrap().lease_duration_seconds, Some(30));

    let mut warned: Vec<String> = text()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| {
            line["fields"]["message"] == "ESO flag accepted; it has no effect in Ampoule"
        })
        .map(|line| {
            assert_eq!(line["level"], "WARN");
            assert!(!line["fields"]["reason"].as_str().unwrap().is_empty());
            line["fields"]["flag"].as_str().unwrap().to_string()
        })
        .collect();
    warned.sort();
    assert_eq!(
        warned,
        [
            "--enable-secret-store-reconciler",
            "--enable-secrets-caching",
            "--enable-vault-token-cache",
            "--zap-time-encoding",
        ],
        "{}",
        text()
    );
    assert!(
        text().contains(r#""qps":20.0,"burst":40"#),
        "the rate limit is not logged:\n{}",
        text()
    );
}

/// A client of the ground's apiserver limited to `rate`.
async fn limited(rate: Option<Rate>) -> kube::Client {
    let kubeconfig = Kubeconfig::read_from(ground::ground().kubeconfig()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    kube_client(config, rate).unwrap()
}

/// `n` GETs of the `default` Namespace, all at once; how long they took.
async fn gets(client: &kube::Client, n: usize) -> Duration {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let start = Instant::now();
    let all = (0..n).map(|_| namespaces.get("default"));
    for result in futures::future::join_all(all).await {
        result.unwrap();
    }
    start.elapsed()
}

#[tokio::test]
async fn client_qps_and_burst_pace_the_requests_to_the_apiserver() {
    let rate = Rate {
        qps: 10.0,
        burst: 5,
    };
    // 5 go at once with the burst, the other 20 at 10 a second: at least 2 s.
    let paced = gets(&limited(Some(rate)).await, 25).await;
    assert!(paced >= Duration::from_secs(2), "{paced:?}");
    // With no limit the same requests take a fraction of that.
    let free = gets(&limited(None).await, 25).await;
    assert!(free < Duration::from_secs(1), "{free:?}");
    // A client given its burst only never waits.
    let burst = gets(&limited(Some(rate)).await, 5).await;
    assert!(burst < Duration::from_secs(1), "{burst:?}");
    eprintln!(
        "25 GETs at 10/s burst 5: {paced:?}; unlimited: {free:?}; 5 within the burst: {burst:?}"
    );
}
