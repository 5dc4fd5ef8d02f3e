//! A store's `spec.sandbox` narrows its ProviderClass ceiling and never widens it (crd/sandbox.rs:
//! egress hosts, `privateNetworks`, memory, deadline). The hostile test component, pushed to the
//! ground's registry and pinned by digest by two ProviderClasses of this test's own provider
//! keys, tries to go past the ceiling with stores that ask for more.

use std::time::Instant;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::common::operator::Operated;
use super::common::{WAIT, apply, data};
use super::{assert_never_visible, es, marker, tenant_secret};

/// An HTTP server on loopback answering every request with `body`; returns its port.
async fn serve(body: String) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = stream.read(&mut buf).await;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(resp.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    port
}

/// Pushes the hostile component to the ground's registry; returns the pinned reference.
fn push_hostile(id: &str) -> String {
    let g = ground::ground();
    let wasm = std::path::Path::new(ampoule::plugin::distribution::embedded::BUILD_DIR)
        .join("ampoule_test_hostile.wasm");
    let repo = format!("oci://{}/ampoule/hostile-{id}", g.registry());
    let digest = crate::common::push(&wasm, &format!("{repo}:test"));
    format!("{repo}@{digest}")
}

fn store(op: &Operated, name: &str, key: &str, config: Value, sandbox: Option<Value>) -> Value {
    let mut spec = json!({"controller": op.class, "provider": {key: config}});
    if let Some(s) = sandbox {
        spec["sandbox"] = s;
    }
    json!({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": name}, "spec": spec})
}

/// An ExternalSecret running one hostile `command` (its remote key) through store `name`.
fn run(name: &str, command: &str) -> Value {
    es(
        name,
        json!({"refreshInterval": "1h", "secretStoreRef": {"name": name},
            "data": [{"secretKey": "v", "remoteRef": {"key": command}}]}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_cannot_widen_its_provider_class_ceiling() {
    let client = super::common::operator::client().await;
    let id = format!("{:08x}", rand::random::<u32>());
    let image = push_hostile(&id);
    let (inside, outside) = (marker("inside-the-ceiling"), marker("outside-the-ceiling"));
    let (a, b) = (serve(inside.clone()).await, serve(outside.clone()).await);
    let loopback = |port: u16| json!({"host": "127.0.0.1", "ports": [port]});
    // `open` reaches loopback port `a` only, 32 MiB, 2 s; `closed` the same port but no private
    // addresses.
    let (open, closed) = (format!("adv-open-{id}"), format!("adv-closed-{id}"));
    let _cleanup = super::Cleanup(vec![
        format!("providerclasses.ampoule.dev/{open}"),
        format!("providerclasses.ampoule.dev/{closed}"),
    ]);
    for (key, private, limits) in [
        (&open, "Allow", json!({"memory": "32Mi", "timeout": "2s"})),
        (&closed, "Deny", json!({"timeout": "2s"})),
    ] {
        apply(&client, None, json!({"apiVersion": "ampoule.dev/v1alpha1", "kind": "ProviderClass", "metadata": {"name": key},
            "spec": {"provider": key, "module": {"image": image},
                "sandbox": {"egress": {"allow": [loopback(a)], "privateNetworks": private}, "limits": limits}}}))
        .await
        .unwrap();
    }
    let ns = ground::ground().namespace("adv-ceiling").await;
    let mut op = Operated::start(&client, ns, true);
    op.wait = WAIT * 2;
    let both = json!({"egress": [loopback(a), loopback(b)]});
    let stores = [
        store(&op, "control", &open, both.clone(), None),
        store(
            &op,
            "wider-hosts",
            &open,
            both.clone(),
            Some(
                json!({"egress": {"allow": [loopback(a), loopback(b)], "privateNetworks": "Allow"}}),
            ),
        ),
        store(
            &op,
            "wider-private",
            &closed,
            both.clone(),
            Some(json!({"egress": {"allow": [loopback(a)], "privateNetworks": "Allow"}})),
        ),
        store(
            &op,
            "wider-memory",
            &open,
            json!({}),
            Some(json!({"limits": {"memory": "1Gi"}})),
        ),
        store(
            &op,
            "wider-deadline",
            &open,
            json!({}),
            Some(json!({"limits": {"timeout": "5m"}})),
        ),
    ];
    for s in stores {
        let name = s["metadata"]["name"].as_str().unwrap().to_owned();
        op.apply(s).await;
        op.store_ready(&name).await;
    }
    let http = |port: u16| format!("http http://127.0.0.1:{port}/");
    op.apply(run("control", &http(a))).await;
    let s = op
        .secret("control", "the control inside the ceiling", |_| true)
        .await;
    assert_eq!(data(&s)["v"], format!("200 {inside}"), "the grant works");

    let started = Instant::now();
    for (name, command) in [
        ("wider-hosts", http(b)),
        ("wider-private", http(a)),
        ("wider-memory", "oom".to_owned()),
        ("wider-deadline", "loop".to_owned()),
    ] {
        op.apply(run(name, &command)).await;
    }
    for (name, note) in [
        ("wider-hosts", "provider unavailable: Denied"),
        ("wider-private", "provider unavailable: Denied"),
        (
            "wider-memory",
            "plugin exceeded its memory limit of 33554432 bytes",
        ),
        ("wider-deadline", "plugin exceeded its deadline of 2s"),
    ] {
        op.wait_es(name, "False", "SecretSyncedError").await;
        op.warning(Some(name), &[note]).await;
        assert!(tenant_secret(&op, name).await.is_none(), "{name}");
    }
    println!(
        "the four attempts past the ceiling failed within {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let log = std::fs::read_to_string(&op.log).unwrap();
    for (store, why) in [
        (
            "wider-hosts",
            format!("egress denied: GET http://127.0.0.1:{b}/ is not granted to this store"),
        ),
        (
            "wider-private",
            "resolves to 127.0.0.1, a loopback address".to_owned(),
        ),
    ] {
        let scope = format!("SecretStore/{}/{store}", op.ns);
        assert!(
            log.lines().any(|l| l.contains(&scope) && l.contains(&why)),
            "no denial of {store} by the ceiling in {}",
            op.log.display()
        );
    }
    assert_never_visible(&op, &[], &[&outside], &[]).await;
    assert_never_visible(&op, &[], &[&inside], &["control"]).await;
}
