//! ESO's backend-calling generators (plugins/generators-cloud) through the generator seam
//! (`SecretGenerator`, crates/sandbox/src/seam/generator.rs), the component embedded in the
//! binary, against real servers: a loopback HTTP server this test starts (Webhook).
//!
//! Each test checks the outputs, that the egress granted is only the backend's (a second origin
//! the ceiling allows is not granted), that errors never carry secret values, and counts the
//! backend requests per generation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ampoule_sandbox::generator::{Generated, GeneratorRequest, SecretGenerator};
use ampoule_sandbox::provider::{ProviderError, SecretValue, StoreContext};
use ampoule_sandbox::{
    CredentialRequest, CredentialResolver, CredentialSource, ProviderClassConfig, Sandbox,
    SandboxConfig, WasmGenerator,
};
use futures::future::BoxFuture;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

fn sandbox() -> Arc<Sandbox> {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("module-cache");
    Sandbox::new(SandboxConfig {
        cache_dir: Some(dir),
        ..SandboxConfig::default()
    })
    .unwrap()
}

/// Serves the Secrets of one namespace from memory and records what was asked.
#[derive(Default)]
struct Secrets {
    /// (namespace, name, key) → value.
    values: BTreeMap<(String, String, String), Vec<u8>>,
    asked: Mutex<Vec<String>>,
}

impl Secrets {
    fn with(mut self, ns: &str, name: &str, key: &str, value: &str) -> Self {
        self.values.insert(
            (ns.into(), name.into(), key.into()),
            value.as_bytes().to_vec(),
        );
        self
    }
}

impl CredentialResolver for Secrets {
    fn resolve<'a>(
        &'a self,
        store: &'a StoreContext,
        request: &'a CredentialRequest,
    ) -> BoxFuture<'a, Result<SecretValue, ProviderError>> {
        Box::pin(async move {
            let CredentialSource::SecretKey { name, key, .. } = &request.source else {
                return Err(ProviderError::InvalidConfig(format!(
                    "unexpected source {:?}",
                    request.source
                )));
            };
            // Generators resolve in the generator's namespace, whatever a reference says.
            let ns = store.caller_namespace.clone().unwrap_or_default();
            self.asked
                .lock()
                .unwrap()
                .push(format!("{ns}/{name}/{key}"));
            self.values
                .get(&(ns, name.clone(), key.clone()))
                .map(|v| SecretValue::new(v.clone()))
                .ok_or(ProviderError::NotFound)
        })
    }
}

/// The embedded generators-cloud component, every kind bound under a ceiling that allows
/// exactly these loopback ports (private addresses allowed: the servers are on 127.0.0.1).
async fn cloud(creds: Arc<dyn CredentialResolver>, ports: &[u16]) -> WasmGenerator {
    let g = WasmGenerator::new(sandbox(), creds);
    let component = ampoule_sandbox::distribution::embedded::GENERATORS
        .iter()
        .find(|c| c.name == "generators-cloud")
        .expect("generators-cloud is embedded");
    let loaded = g.load(component.bytes.to_vec(), None).await.unwrap();
    let allow: Vec<Value> = ports
        .iter()
        .map(|p| json!({"host": "127.0.0.1", "ports": [p]}))
        .collect();
    for kind in loaded.kinds.clone() {
        let class: ProviderClassConfig = serde_json::from_value(json!({"provider": kind,
            "sandbox": {"egress": {"allow": allow, "privateNetworks": "Allow"}}}))
        .unwrap();
        g.bind(&kind, loaded.clone(), Some(class));
    }
    g
}

fn request(kind: &str, spec: Value) -> GeneratorRequest {
    GeneratorRequest {
        kind: kind.into(),
        name: "gen".into(),
        namespace: "team-a".into(),
        generation: 1,
        spec,
    }
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

/// One request as the loopback server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: String,
}

/// A loopback HTTP/1.1 server: records every request and answers each with `status` and
/// `body`.
async fn http_server(status: u16, body: &'static str) -> (u16, Arc<Mutex<Vec<Seen>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut conn = BufReader::new(conn);
                let mut line = String::new();
                if conn.read_line(&mut line).await.is_err() {
                    return;
                }
                let mut parts = line.split_whitespace();
                let method = parts.next().unwrap_or_default().to_owned();
                let target = parts.next().unwrap_or_default().to_owned();
                let mut headers = Vec::new();
                let mut length = 0usize;
                loop {
                    let mut h = String::new();
                    if conn.read_line(&mut h).await.is_err() || h.trim().is_empty() {
                        break;
                    }
                    if let Some((n, v)) = h.trim_end().split_once(':') {
                        let (n, v) = (n.trim().to_ascii_lowercase(), v.trim().to_owned());
                        if n == "content-length" {
                            length = v.parse().unwrap_or(0);
                        }
                        headers.push((n, v));
                    }
                }
                let chunked = headers
                    .iter()
                    .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
                let mut buf = vec![0u8; length];
                let _ = conn.read_exact(&mut buf).await;
                if chunked {
                    loop {
                        let mut size = String::new();
                        if conn.read_line(&mut size).await.is_err() {
                            break;
                        }
                        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                        let mut chunk = vec![0u8; n + 2];
                        if n == 0 || conn.read_exact(&mut chunk).await.is_err() {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                }
                log.lock().unwrap().push(Seen {
                    method,
                    target,
                    headers,
                    body: String::from_utf8_lossy(&buf).into_owned(),
                });
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.get_mut().write_all(reply.as_bytes()).await;
            });
        }
    });
    (port, seen)
}

const TOKEN: &str = "tok-5ecret/+&value";
const PASSWORD: &str = "hunter2-very-secret";

fn webhook_secrets() -> Arc<Secrets> {
    Arc::new(
        Secrets::default()
            .with("team-a", "api-creds", "token", TOKEN)
            .with("team-a", "api-creds", "password", PASSWORD)
            .with("team-a", "api-creds", "id", "item-42")
            .with("other-ns", "api-creds", "token", "wrong-namespace"),
    )
}

fn webhook_spec(port: u16) -> Value {
    json!({
        "url": format!("http://127.0.0.1:{port}/api/issue?token={{{{ .creds.token }}}}"),
        "method": "POST",
        "headers": {"Authorization": "Bearer {{ .creds.token }}", "Content-Type": "application/json"},
        "body": "{\"user\": \"app\", \"password\": \"{{ .creds.password }}\", \"ns\": \"{{ .creds.token | len }}\"}",
        "result": {"jsonPath": "$.data"},
        "secrets": [{"name": "creds", "secretRef": {"name": "api-creds", "namespace": "other-ns"}}],
    })
}

#[tokio::test]
async fn webhook_templates_the_request_and_maps_the_answer() {
    let (port, seen) = http_server(
        200,
        r#"{"data": {"username": "u-1", "password": "p-1", "ttl": 3600, "nested": {"a": true}}}"#,
    )
    .await;
    let (other, other_seen) = http_server(200, "{}").await;
    let creds = webhook_secrets();
    let g = cloud(creds.clone(), &[port, other]).await;
    assert!(g.serves("Webhook"), "{:?}", g.kinds());

    let out = g
        .generate(&request("Webhook", webhook_spec(port)))
        .await
        .unwrap();
    assert_eq!(keys(&out), ["nested", "password", "ttl", "username"]);
    assert_eq!(text(&out, "username"), "u-1");
    assert_eq!(text(&out, "ttl"), "3600");
    assert_eq!(text(&out, "nested"), r#"{"a":true}"#);
    assert_eq!(out.state, None);

    // Only the backend: its origin, the method, the literal path.
    assert_eq!(out.granted_egress.len(), 1, "{:?}", out.granted_egress);
    let granted = &out.granted_egress[0];
    assert!(granted.contains(&format!("127.0.0.1:{port}")), "{granted}");
    assert!(!granted.contains(&other.to_string()), "{granted}");
    assert!(
        granted.contains("POST") && granted.contains("/api/issue"),
        "{granted}"
    );

    // One backend request per generation; the URL got the escaped value, headers and body
    // the raw ones; the Secret was read in the generator's namespace.
    let requests = seen.lock().unwrap().clone();
    println!(
        "webhook: {} backend request(s) per generate",
        requests.len()
    );
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, "/api/issue?token=tok-5ecret%2F%2B%26value");
    assert!(
        r.headers
            .contains(&("authorization".into(), format!("Bearer {TOKEN}"))),
        "{:?}",
        r.headers
    );
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        body,
        json!({"user": "app", "password": PASSWORD, "ns": TOKEN.len().to_string()})
    );
    let mut asked = creds.asked.lock().unwrap().clone();
    asked.sort();
    assert_eq!(
        asked,
        ["team-a/api-creds/password", "team-a/api-creds/token"]
    );
    assert!(other_seen.lock().unwrap().is_empty());

    // Fresh every call: a second generation is a second request.
    g.generate(&request("Webhook", webhook_spec(port)))
        .await
        .unwrap();
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn webhook_errors_name_no_secret() {
    let (port, seen) = http_server(500, r#"{"error": "boom"}"#).await;
    let (missing, _) = http_server(404, "{}").await;
    let (not_json, _) = http_server(200, "plain text").await;
    let g = cloud(webhook_secrets(), &[port, missing, not_json]).await;
    let mut errors = Vec::new();
    for p in [port, missing, not_json] {
        let err = g
            .generate(&request("Webhook", webhook_spec(p)))
            .await
            .unwrap_err();
        errors.push(err);
    }
    assert!(
        matches!(errors[1], ProviderError::NotFound),
        "{:?}",
        errors[1]
    );
    assert!(
        matches!(errors[0], ProviderError::Unavailable(_)),
        "{:?}",
        errors[0]
    );
    // A template error over a secret value.
    let mut spec = webhook_spec(port);
    spec["body"] = json!("{{ .creds.token | fail }}");
    errors.push(g.generate(&request("Webhook", spec)).await.unwrap_err());
    for e in &errors {
        let m = format!("{e:?} {e}");
        for s in [TOKEN, PASSWORD, "tok-5ecret", "hunter2"] {
            assert!(!m.contains(s), "{m}");
        }
    }
    println!("webhook errors: {errors:?}");
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "a template error sends nothing"
    );
}

#[tokio::test]
async fn webhook_egress_follows_the_spec_only() {
    let (port, seen) = http_server(200, r#"{"a": "b"}"#).await;
    let (other, other_seen) = http_server(200, r#"{"a": "b"}"#).await;
    let g = cloud(webhook_secrets(), &[port, other]).await;
    // The templated path stays under its literal prefix.
    let spec = json!({"url": format!("http://127.0.0.1:{port}/v1/items/{{{{ .creds.id }}}}"),
        "result": {}, "secrets": [{"name": "creds", "secretRef": {"name": "api-creds"}}]});
    let out = g.generate(&request("Webhook", spec)).await.unwrap();
    assert_eq!(text(&out, "a"), "b");
    assert_eq!(out.granted_egress.len(), 1);
    assert!(
        out.granted_egress[0].contains("GET"),
        "{:?}",
        out.granted_egress
    );
    assert_eq!(seen.lock().unwrap()[0].target, "/v1/items/item-42");
    // A value cannot climb out of it: the URL's values are query-escaped, so a '/' arrives
    // as %2F, which the sandbox refuses in a path.
    let spec = json!({"url": format!("http://127.0.0.1:{port}/v1/items/{{{{ .creds.token }}}}"),
        "result": {}, "secrets": [{"name": "creds", "secretRef": {"name": "api-creds"}}]});
    let err = g.generate(&request("Webhook", spec)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Forbidden(_)), "{err:?}");
    assert!(!format!("{err:?}").contains("5ecret"), "{err:?}");
    assert_eq!(seen.lock().unwrap().len(), 1);
    // An origin the ceiling does not allow is refused before anything is sent.
    let spec = json!({"url": "http://127.0.0.1:1/x", "result": {}});
    let err = g.generate(&request("Webhook", spec)).await.unwrap_err();
    assert!(
        matches!(
            err,
            ProviderError::Forbidden(_) | ProviderError::InvalidConfig(_)
        ),
        "{err:?}"
    );
    // A templated host cannot be granted at all.
    let spec = json!({"url": "http://{{ .creds.token }}/x", "result": {},
        "secrets": [{"name": "creds", "secretRef": {"name": "api-creds"}}]});
    let err = g.generate(&request("Webhook", spec)).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidConfig(_)), "{err:?}");
    assert!(other_seen.lock().unwrap().is_empty());
}
