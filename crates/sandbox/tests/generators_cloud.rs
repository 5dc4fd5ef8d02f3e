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

/// A variable of the test ground (`$GROUND_DIR/env`, written by tests/ground/up).
fn ground_var(name: &str) -> String {
    if let Ok(v) = std::env::var(name) {
        return v;
    }
    let dir = std::env::var("GROUND_DIR")
        .unwrap_or_else(|_| format!("{}/../../.ground", env!("CARGO_MANIFEST_DIR")));
    let env = std::fs::read_to_string(format!("{dir}/env"))
        .unwrap_or_else(|e| panic!("no test ground at {dir} (start it with tests/ground/up): {e}"));
    env.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .unwrap_or_else(|| panic!("{name} is not in {dir}/env"))
}

/// One call to OpenBao with curl: (status, JSON body or null).
fn bao(method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let addr = ground_var("VAULT_ADDR");
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-sS", "-w", "\n%{http_code}", "-X", method, "-H"])
        .arg(format!("X-Vault-Token: {token}"))
        .arg(format!("{addr}/v1/{path}"));
    if let Some(b) = body {
        cmd.args(["--data", &b.to_string()]);
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, code) = text
        .trim_end()
        .rsplit_once('\n')
        .unwrap_or(("", text.trim()));
    (
        code.trim().parse().unwrap(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

/// A PKI engine at a fresh mount whose role issues leased certificates, and a token whose
/// policy may only issue there and revoke leases.
fn pki_with_leases() -> (String, String) {
    let root = ground_var("VAULT_TOKEN");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let mount = format!("pki-gen-{}-{nanos}", std::process::id());
    let ok = |(s, b): (u16, Value)| assert!((200..300).contains(&s), "{s} {b}");
    ok(bao(
        "POST",
        &format!("sys/mounts/{mount}"),
        &root,
        Some(json!({"type": "pki", "config": {"max_lease_ttl": "24h"}})),
    ));
    ok(bao(
        "POST",
        &format!("{mount}/root/generate/internal"),
        &root,
        Some(json!({"common_name": "gen.test", "ttl": "24h"})),
    ));
    ok(bao(
        "POST",
        &format!("{mount}/roles/app"),
        &root,
        Some(json!({"allow_any_name": true, "generate_lease": true, "max_ttl": "1h"})),
    ));
    let policy = format!(
        "path \"{mount}/issue/app\" {{ capabilities = [\"update\"] }}\n\
         path \"sys/leases/revoke\" {{ capabilities = [\"update\"] }}\n"
    );
    ok(bao(
        "PUT",
        &format!("sys/policies/acl/{mount}"),
        &root,
        Some(json!({"policy": policy})),
    ));
    let (s, b) = bao(
        "POST",
        "auth/token/create",
        &root,
        Some(json!({"policies": [mount], "ttl": "1h", "no_default_policy": true})),
    );
    assert_eq!(s, 200, "{b}");
    (
        mount,
        b["auth"]["client_token"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn vault_dynamic_secret_issues_and_cleanup_revokes_the_lease() {
    let addr = ground_var("VAULT_ADDR");
    let root = ground_var("VAULT_TOKEN");
    let (mount, token) = pki_with_leases();
    let (other, other_seen) = http_server(200, "{}").await;
    let creds = Arc::new(Secrets::default().with("team-a", "bao", "token", &token));
    let g = cloud(creds.clone(), &[port_of(&addr), other]).await;
    assert!(g.serves("VaultDynamicSecret"), "{:?}", g.kinds());
    let spec = json!({
        "path": format!("{mount}/issue/app"),
        "method": "POST",
        "parameters": {"common_name": "svc.gen.test", "ttl": "10m"},
        "provider": {"server": addr, "auth": {"tokenSecretRef": {"name": "bao", "key": "token",
            "namespace": "ignored"}}},
    });
    let req = request("VaultDynamicSecret", spec.clone());
    let out = g.generate(&req).await.unwrap();
    for k in ["certificate", "issuing_ca", "private_key", "serial_number"] {
        assert!(out.data.contains_key(k), "{k}: {:?}", keys(&out));
    }
    assert!(text(&out, "certificate").starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(creds.asked.lock().unwrap().as_slice(), ["team-a/bao/token"]);

    // Only OpenBao's origin is granted: the issue path, and the revoke path.
    println!("vault granted: {:?}", out.granted_egress);
    assert!(
        out.granted_egress
            .iter()
            .all(|r| r.contains(&format!("127.0.0.1:{}", port_of(&addr))))
    );
    assert!(
        !out.granted_egress
            .iter()
            .any(|r| r.contains(&other.to_string()))
    );
    assert!(
        out.granted_egress
            .iter()
            .any(|r| r.contains(&format!("/v1/{mount}/issue/app")))
    );
    assert!(other_seen.lock().unwrap().is_empty());

    // The lease is the state; it exists until cleanup.
    let state = out
        .state
        .clone()
        .expect("a leased certificate leaves state");
    let lease: Value = serde_json::from_str(state.expose()).unwrap();
    let lease = lease["leaseId"].as_str().unwrap().to_owned();
    assert!(lease.starts_with(&format!("{mount}/issue/app/")), "{lease}");
    let lookup = || {
        bao(
            "PUT",
            "sys/leases/lookup",
            &root,
            Some(json!({"lease_id": lease})),
        )
    };
    assert_eq!(lookup().0, 200, "{:?}", lookup());
    g.cleanup(&req, &state).await.unwrap();
    let (status, body) = lookup();
    assert_eq!(status, 400, "the lease is gone after cleanup: {body}");
    // Idempotent: already gone is success.
    g.cleanup(&req, &state).await.unwrap();

    // Two generations, two certificates (fresh values every call).
    let again = g.generate(&req).await.unwrap();
    assert_ne!(text(&again, "serial_number"), text(&out, "serial_number"));
    g.cleanup(&req, again.state.as_ref().unwrap())
        .await
        .unwrap();

    // Errors: a path the token may not write, and a wrong token; neither names the token.
    let mut spec_denied = spec.clone();
    spec_denied["path"] = json!(format!("{mount}/root/generate/internal"));
    let e1 = g
        .generate(&request("VaultDynamicSecret", spec_denied))
        .await
        .unwrap_err();
    let bad = Arc::new(Secrets::default().with("team-a", "bao", "token", "s.wrong-token-value"));
    let g_bad = cloud(bad, &[port_of(&addr)]).await;
    let e2 = g_bad.generate(&req).await.unwrap_err();
    for e in [&e1, &e2] {
        let m = format!("{e:?} {e}");
        assert!(
            !m.contains(&token) && !m.contains("wrong-token-value"),
            "{m}"
        );
    }
    assert!(
        matches!(
            e2,
            ProviderError::Forbidden(_) | ProviderError::Unauthorized(_)
        ),
        "{e2:?}"
    );
    println!("vault errors: {e1:?} / {e2:?}");

    // resultType Raw keeps the whole answer (lease fields included), Auth the auth block.
    let mut raw = spec.clone();
    raw["resultType"] = json!("Raw");
    let out = g
        .generate(&request("VaultDynamicSecret", raw))
        .await
        .unwrap();
    assert!(
        text(&out, "lease_id").starts_with(&mount),
        "{:?}",
        keys(&out)
    );
    assert!(text(&out, "data").contains("BEGIN CERTIFICATE"));
    g.cleanup(&req, out.state.as_ref().unwrap()).await.unwrap();

    // An empty answer is an error, unless allowEmptyResponse.
    let mut empty = spec.clone();
    empty["path"] = json!("sys/leases/revoke");
    empty["method"] = json!("PUT");
    empty["parameters"] = json!({"lease_id": "nothing/here"});
    let err = g
        .generate(&request("VaultDynamicSecret", empty.clone()))
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("empty response"), "{err:?}");
    empty["allowEmptyResponse"] = json!(true);
    let out = g
        .generate(&request("VaultDynamicSecret", empty))
        .await
        .unwrap();
    assert!(out.data.is_empty() && out.state.is_none());
}
