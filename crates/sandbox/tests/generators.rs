//! ESO's pure generators (plugins/generators) run through the generator seam
//! (`SecretGenerator`, crates/sandbox/src/seam/generator.rs) exactly as the controller will run
//! them: the component embedded in the binary, a fresh instance per call, no egress. The probe
//! component (plugins/testing/probe-generator) shows that a generator which requests no egress
//! cannot reach even a loopback server its ceiling allows.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ampoule_sandbox::generator::{Generated, GeneratorRequest, SecretGenerator};
use ampoule_sandbox::provider::ProviderError;
use ampoule_sandbox::{NoCredentials, ProviderClassConfig, Sandbox, SandboxConfig, WasmGenerator};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn sandbox() -> Arc<Sandbox> {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("module-cache");
    Sandbox::new(SandboxConfig {
        cache_dir: Some(dir),
        ..SandboxConfig::default()
    })
    .unwrap()
}

async fn embedded() -> WasmGenerator {
    WasmGenerator::with_embedded(sandbox(), Arc::new(NoCredentials))
        .await
        .unwrap()
}

fn request(kind: &str, spec: Value) -> GeneratorRequest {
    GeneratorRequest {
        kind: kind.into(),
        name: "gen".into(),
        namespace: "default".into(),
        generation: 1,
        spec,
    }
}

async fn generate(g: &WasmGenerator, kind: &str, spec: Value) -> Generated {
    g.generate(&request(kind, spec)).await.unwrap()
}

fn text(out: &Generated, key: &str) -> String {
    let v = out
        .data
        .get(key)
        .unwrap_or_else(|| panic!("no key {key}: {:?}", out.data.keys()));
    String::from_utf8(v.expose().clone()).unwrap()
}

fn keys(out: &Generated) -> Vec<&str> {
    out.data.keys().map(String::as_str).collect()
}

const SYMBOLS: &str = "~!@#$%^&*()_+`-={}|[]\\:\"<>?,./";

#[tokio::test]
async fn the_embedded_component_serves_esos_pure_kinds() {
    let g = embedded().await;
    for kind in ["Fake", "Password", "SSHKey", "UUID"] {
        assert!(g.serves(kind), "{kind}: {:?}", g.kinds());
    }
    // The cloud kinds come from plugins/generators-cloud (tests/generators_cloud.rs).
    assert!(g.serves("VaultDynamicSecret") && g.serves("Webhook"));
    assert!(!g.serves("Nope"));
    let err = g.generate(&request("Nope", json!({}))).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidConfig(_)), "{err:?}");
}

#[tokio::test]
async fn password_has_esos_shape_and_is_fresh_each_call() {
    let g = embedded().await;
    let first = generate(&g, "Password", json!({})).await;
    assert_eq!(keys(&first), ["password"]);
    assert_eq!(first.state, None);
    assert!(
        first.granted_egress.is_empty(),
        "{:?}",
        first.granted_egress
    );
    assert!(first.digest.starts_with("sha256:"));
    let p = text(&first, "password");
    assert_eq!(p.chars().count(), 24);
    let count = |f: fn(&char) -> bool| p.chars().filter(f).count();
    assert_eq!(count(char::is_ascii_digit), 6, "{p}");
    assert_eq!(count(|c| SYMBOLS.contains(*c)), 6, "{p}");
    assert_eq!(count(char::is_ascii_alphabetic), 12, "{p}");
    assert_eq!(
        p.chars().collect::<BTreeSet<_>>().len(),
        24,
        "no repeats: {p}"
    );
    let second = generate(&g, "Password", json!({})).await;
    assert_ne!(text(&second, "password"), p);

    let spec = json!({"length": 32, "digits": 4, "symbols": 0, "noUpper": true, "allowRepeat": true,
        "secretKeys": ["a", "b"], "encoding": "hex"});
    let out = generate(&g, "Password", spec).await;
    assert_eq!(keys(&out), ["a", "b"]);
    assert_ne!(text(&out, "a"), text(&out, "b"));
    for key in ["a", "b"] {
        let hex = text(&out, key);
        assert_eq!(hex.len(), 64);
        let raw: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).unwrap())
            .collect();
        assert_eq!(raw.iter().filter(|b| b.is_ascii_digit()).count(), 4);
        assert_eq!(raw.iter().filter(|b| b.is_ascii_lowercase()).count(), 28);
    }

    let err = g
        .generate(&request("Password", json!({"secretKeys": ["x", "x"]})))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ProviderError::InvalidConfig("secretKeys must be non-empty and unique".into())
    );
}

#[tokio::test]
async fn uuid_and_fake() {
    let g = embedded().await;
    let a = text(&generate(&g, "UUID", json!({})).await, "uuid");
    let b = text(&generate(&g, "UUID", json!({})).await, "uuid");
    assert_ne!(a, b);
    let shape =
        regex::Regex::new("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
            .unwrap();
    assert!(shape.is_match(&a), "{a}");

    let out = generate(&g, "Fake", json!({"data": {"foo": "bar", "n": "1"}})).await;
    assert_eq!(keys(&out), ["foo", "n"]);
    assert_eq!(text(&out, "foo"), "bar");
}

#[tokio::test]
async fn ssh_keys_in_openssh_format() {
    let g = embedded().await;
    let out = generate(
        &g,
        "SSHKey",
        json!({"keyType": "ed25519", "comment": "ci@ampoule"}),
    )
    .await;
    assert_eq!(keys(&out), ["privateKey", "publicKey"]);
    let public = text(&out, "publicKey");
    assert!(
        public.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"),
        "{public}"
    );
    assert!(public.ends_with(" ci@ampoule\n"), "{public}");
    let private = text(&out, "privateKey");
    assert!(private.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA"));
    assert!(private.ends_with("-----END OPENSSH PRIVATE KEY-----\n"));
    let again = generate(&g, "SSHKey", json!({"keyType": "ed25519"})).await;
    assert_ne!(text(&again, "publicKey"), public);
    assert!(
        text(&again, "publicKey").matches(' ').count() == 1,
        "no comment, no trailing field"
    );

    // ESO's default: RSA 2048 (timed: one generation inside the default deadline).
    let started = std::time::Instant::now();
    let rsa = generate(&g, "SSHKey", json!({})).await;
    println!("rsa 2048 in the sandbox: {:?}", started.elapsed());
    let public = text(&rsa, "publicKey");
    assert!(public.starts_with("ssh-rsa AAAAB3NzaC1yc2E"), "{public}");
    // 2048-bit modulus: the blob holds "ssh-rsa", e and a 257-byte n: 279 bytes, 372 base64.
    assert_eq!(public.trim_end().split(' ').nth(1).unwrap().len(), 372);

    let err = g
        .generate(&request("SSHKey", json!({"keyType": "dsa"})))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ProviderError::InvalidConfig("unsupported key type: dsa".into())
    );
}

/// A loopback HTTP server that counts connections and answers 200.
async fn counting_server() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf).await;
                let _ = conn
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    (port, seen)
}

#[tokio::test]
async fn a_generator_that_requests_no_egress_gets_none() {
    let (port, seen) = counting_server().await;
    let sb = sandbox();
    let path = format!(
        "{}/ampoule_test_probe_generator.wasm",
        ampoule_sandbox::distribution::embedded::BUILD_DIR
    );
    let g = WasmGenerator::new(sb, Arc::new(NoCredentials));
    let loaded = g.load(std::fs::read(&path).unwrap(), None).await.unwrap();
    assert_eq!(loaded.kinds, ["Probe"]);
    // The ceiling allows the server, private networks included: only the component's own
    // (empty) request stands between it and the server.
    let class: ProviderClassConfig = serde_json::from_value(json!({"provider": "Probe",
        "sandbox": {"egress": {"allow": [{"host": "127.0.0.1", "ports": [port]}],
        "privateNetworks": "Allow"}}}))
    .unwrap();
    g.bind("Probe", loaded, Some(class));
    let url = format!("http://127.0.0.1:{port}/x");

    let out = generate(&g, "Probe", json!({"url": url})).await;
    assert_eq!(text(&out, "outcome"), "denied");
    assert!(out.granted_egress.is_empty());
    assert_eq!(seen.load(Ordering::SeqCst), 0, "the server was reached");

    // The same request, asked for: granted and sent (so the denial above is the policy's).
    let out = generate(&g, "Probe", json!({"url": url, "request": true})).await;
    assert_eq!(text(&out, "outcome"), "status 200");
    assert_eq!(out.granted_egress.len(), 1, "{:?}", out.granted_egress);
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}
