#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A clean stop of `ampoule run`: SIGTERM (what Kubernetes sends) ends it with status 0 and
//! releases the leader lease, so a new replica takes over at once instead of after it expires.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ground::{eventually, ground};
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;

fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[tokio::test]
async fn sigterm_stops_cleanly_and_releases_the_leader_lease() {
    let g = ground();
    let ns = g.namespace("shutdown").await;
    let log = std::env::temp_dir().join(format!("{ns}.log"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_ampoule"))
        .args(["run", "--metrics-addr", "127.0.0.1:0", "--namespace", &ns])
        .args([
            "--enable-leader-election",
            "--leader-election-namespace",
            &ns,
        ])
        .args(["--leader-election-id", "ampoule-shutdown-test"])
        .env("KUBECONFIG", g.kubeconfig())
        .env("POD_NAME", "replica-a")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let leases: Api<Lease> = Api::namespaced(g.client().await, &ns);
    eventually(Duration::from_secs(60), "replica-a holds the lease", || {
        let leases = leases.clone();
        async move {
            let lease = leases.get_opt("ampoule-shutdown-test").await.ok()??;
            let holder = lease.spec?.holder_identity?;
            (holder == "replica-a").then_some(())
        }
    })
    .await;

    let pid = child.id().to_string();
    ground::run(Command::new("kill").args(["-TERM", &pid]));
    let status = wait_exit(&mut child, Duration::from_secs(20));
    if status.is_none() {
        let _ = child.kill();
    }
    let output = std::fs::read_to_string(&log).unwrap();
    let status = status.unwrap_or_else(|| panic!("still running 20 s after SIGTERM:\n{output}"));
    assert!(status.success(), "exit {status} after SIGTERM:\n{output}");
    assert!(output.contains("\"signal\":\"SIGTERM\""), "{output}");
    assert!(output.contains("released the leader lease"), "{output}");

    let spec = leases
        .get("ampoule-shutdown-test")
        .await
        .unwrap()
        .spec
        .unwrap();
    assert_eq!(spec.holder_identity, None, "the lease is free");
    assert_eq!(spec.lease_duration_seconds, Some(1));
    let _ = std::fs::remove_file(&log);
    g.drop_namespace(&ns).await;
}
