#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `/readyz` and `/healthz` of `ampoule run` mean something: served from the start, `/readyz`
//! answers 503 with the reason while the embedded components load (an empty module cache, as a
//! new Pod has) and the watches list their objects, then 200; `/healthz` is 200 throughout; after
//! SIGTERM `/readyz` says `stopping` until the process exits.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ground::ground;

async fn probe(http: &reqwest::Client, port: u16, path: &str) -> Option<(u16, String)> {
    let resp = http
        .get(format!("http://127.0.0.1:{port}{path}"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    Some((
        resp.status().as_u16(),
        resp.text().await.unwrap_or_default(),
    ))
}

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
        match probe(&http, port, "/readyz").await {
            Some((200, body)) => {
                assert_eq!(body, "ok\n");
                break;
            }
            Some((503, body)) => {
                let (live, _) = probe(&http, port, "/healthz").await.unwrap();
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
    assert_eq!(probe(&http, port, "/healthz").await.unwrap().0, 200);

    ground::run(Command::new("kill").args(["-TERM", &child.id().to_string()]));
    let mut stopping = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        if let Some((503, body)) = probe(&http, port, "/readyz").await {
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
