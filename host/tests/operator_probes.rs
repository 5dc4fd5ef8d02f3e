#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `/readyz` and `/healthz` of `ampoule run` mean something: served from the start, `/readyz`
//! answers 503 with the reason while the embedded components load (an empty module cache, as a
//! new Pod has) and the watches list their objects, then 200; `/healthz` is 200 throughout; after
//! SIGTERM `/readyz` says `stopping` until the process exits. A watch that stays broken past
//! `--healthz-watch-limit` (the apiserver unreachable) fails `/healthz`, and it recovers on its own.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ground::ground;

#[tokio::test]
async fn readyz_is_503_with_a_reason_until_loaded_and_synced() {
    let g = ground();
    common::crds(&g.client().await).await;
    let ns = g.namespace("probes").await;
    let port = common::free_port();
    let cache = std::env::temp_dir().join(format!("{ns}-cache"));
    let log = std::env::temp_dir().join(format!("{ns}.log"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_ampoule"))
        .args([
            "run",
            "--metrics-addr",
            &format!("127.0.0.1:{port}"),
            "--namespace",
            &ns,
        ])
        .env("KUBECONFIG", g.kubeconfig())
        .env("AMPOULE_CACHE_DIR", &cache)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let mut not_ready = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(
            Instant::now() < deadline,
            "not ready after 120 s: {not_ready:?}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        match common::http_probe(&http, port, "/readyz").await {
            Some((200, body)) => {
                assert_eq!(body, "ok\n");
                break;
            }
            Some((503, body)) => {
                let (live, _) = common::http_probe(&http, port, "/healthz").await.unwrap();
                assert_eq!(live, 200, "liveness fails while starting");
                not_ready.push(body);
            }
            Some(other) => panic!("/readyz answered {other:?}"),
            None => {}
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        not_ready
            .iter()
            .any(|b| b.contains("the embedded components are not loaded yet")),
        "/readyz was never 503 while the components were compiled from an empty cache: {not_ready:?}"
    );
    let output = std::fs::read_to_string(&log).unwrap();
    assert!(output.contains("caches synced"), "{output}");
    assert_eq!(
        common::http_probe(&http, port, "/healthz").await.unwrap().0,
        200
    );

    ground::run(Command::new("kill").args(["-TERM", &child.id().to_string()]));
    let mut stopping = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        if let Some((503, body)) = common::http_probe(&http, port, "/readyz").await {
            stopping |= body == "stopping\n";
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let status = child.try_wait().unwrap();
    if status.is_none() {
        let _ = child.kill();
    }
    assert!(status.is_some_and(|s| s.success()), "no clean exit");
    println!(
        "/readyz answered 503 {} times before 200; 'stopping' seen after SIGTERM: {stopping}",
        not_ready.len()
    );
    let _ = std::fs::remove_dir_all(&cache);
    let _ = std::fs::remove_file(&log);
    g.drop_namespace(&ns).await;
}

/// A TCP relay to the ground's apiserver that can be cut (new connections closed at once, open
/// ones dropped) and restored.
struct Cuttable {
    port: u16,
    up: tokio::sync::watch::Sender<bool>,
}

impl Cuttable {
    async fn start(upstream: u16) -> Cuttable {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (up, watch) = tokio::sync::watch::channel(true);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut watch = watch.clone();
                if !*watch.borrow() {
                    continue; // dropped: the client sees the connection closed
                }
                tokio::spawn(async move {
                    let Ok(mut out) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut out) => {}
                        _ = watch.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Cuttable { port, up }
    }

    /// The apiserver is unreachable: open watches break, new connections are closed.
    fn cut(&mut self) {
        self.up.send_replace(false);
    }

    async fn restore(&mut self) {
        self.up.send_replace(true);
    }
}

#[tokio::test]
async fn healthz_fails_while_the_watches_stay_broken_and_recovers_with_them() {
    let g = ground();
    common::crds(&g.client().await).await;
    let ns = g.namespace("watch-health").await;
    let api_port: u16 = g
        .var("KUBE_APISERVER")
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let mut relay = Cuttable::start(api_port).await;
    // The ground's kubeconfig, through the relay (the serving certificate names 127.0.0.1).
    let kubeconfig = std::env::temp_dir().join(format!("{ns}.kubeconfig"));
    let text = std::fs::read_to_string(g.kubeconfig()).unwrap().replace(
        &format!("127.0.0.1:{api_port}"),
        &format!("127.0.0.1:{}", relay.port),
    );
    std::fs::write(&kubeconfig, text).unwrap();
    let port = common::free_port();
    let log = std::env::temp_dir().join(format!("{ns}.log"));
    let _child = common::Killed(
        Command::new(env!("CARGO_BIN_EXE_ampoule"))
            .args(["run", "--metrics-addr", &format!("127.0.0.1:{port}")])
            .args(["--namespace", &ns, "--healthz-watch-limit", "3s"])
            .env("KUBECONFIG", &kubeconfig)
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
    let http = reqwest::Client::new();
    let output = || std::fs::read_to_string(&log).unwrap_or_default();
    ground::eventually(Duration::from_secs(180), "ready", || async {
        (common::http_probe(&http, port, "/readyz").await?.0 == 200).then_some(())
    })
    .await;
    assert_eq!(
        common::http_probe(&http, port, "/healthz").await.unwrap().0,
        200
    );

    relay.cut();
    let cut = Instant::now();
    let (code, body) = ground::eventually(
        Duration::from_secs(60),
        "/healthz failing with the apiserver unreachable",
        || async {
            let (code, body) = common::http_probe(&http, port, "/healthz").await?;
            (code == 503).then_some((code, body))
        },
    )
    .await;
    let failed_after = cut.elapsed();
    assert_eq!(code, 503);
    assert!(
        body.contains("watch has failed for"),
        "{body}\n{}",
        output()
    );
    assert!(
        failed_after >= Duration::from_secs(3),
        "failed before the limit: {failed_after:?}"
    );

    relay.restore().await;
    let restored = Instant::now();
    ground::eventually(
        Duration::from_secs(120),
        "/healthz 200 again once the apiserver is reachable",
        || async { (common::http_probe(&http, port, "/healthz").await?.0 == 200).then_some(()) },
    )
    .await;
    println!(
        "/healthz: 503 {:.1} s after the apiserver became unreachable (limit 3 s): {}; 200 again {:.1} s after it returned",
        failed_after.as_secs_f64(),
        body.trim(),
        restored.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_file(&kubeconfig);
    g.drop_namespace(&ns).await;
}
