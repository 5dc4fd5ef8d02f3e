//! Sandbox tests against real components built by crates/sandbox/build.rs (no cluster, loopback only):
//! the fake provider end to end, and the hostile-plugin suite.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

#[path = "plugin_sandbox/egress.rs"]
mod egress;
mod plugin_common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ampoule::plugin::{Digest, NoCredentials, ProviderClassConfig, SandboxError, WasmProvider};
use ampoule::provider::{FindRef, ProviderError, RemoteRef, SecretProvider};
use bytes::Bytes;
use http_body_util::Full;
use serde_json::{Value, json};

use plugin_common::{component, sandbox, store_for};

fn key(k: &str) -> RemoteRef {
    RemoteRef {
        key: k.into(),
        ..RemoteRef::default()
    }
}

/// A ceiling that lets the hostile plugin reach loopback (the test servers) with a short deadline.
fn class(private: &str, timeout: &str, port: u16) -> ProviderClassConfig {
    serde_json::from_value(json!({
        "provider": "hostile",
        "sandbox": {
            "egress": {"allow": [{"host": "127.0.0.1", "ports": [port]}, {"host": "localhost", "ports": [port]},
                                 {"host": "*.example.com"}],
                       "privateNetworks": private},
            "limits": {"memory": "32Mi", "timeout": timeout, "requests": 5, "responseBytes": "1Mi"}
        }
    }))
    .unwrap()
}

async fn hostile(private: &str, timeout: &str) -> WasmProvider {
    hostile_on(private, timeout, 0).await
}

/// Like [`hostile`], with the ceiling also allowing a test server's port on loopback.
async fn hostile_on(private: &str, timeout: &str, port: u16) -> WasmProvider {
    let class = class(private, timeout, port);
    plugin_common::provider(
        "ampoule_test_hostile",
        "hostile",
        NoCredentials,
        Some(class),
    )
    .await
}

/// A test server, and a hostile plugin with a 5s deadline whose ceiling allows its port.
async fn served(private: &str) -> (WasmProvider, u16) {
    let port = serve().await.port();
    (hostile_on(private, "5s", port).await, port)
}

/// `http <url>` for the hostile plugin: a GET of `path` at the test server.
fn http(port: u16, path: &str) -> String {
    format!("http http://127.0.0.1:{port}{path}")
}

/// Asserts that the plugin's request is denied by the egress policy.
async fn denied(p: &WasmProvider, store: &str, config: Value, command: &str) {
    let err = get(p, store, config, command).await.unwrap_err();
    assert!(err.to_string().contains("Denied"), "{err}");
}

fn egress(port: u16) -> Value {
    json!({"egress": [{"host": "127.0.0.1", "ports": [port]}, {"host": "localhost", "ports": [port]},
                      {"host": "169.254.169.254", "ports": [80]}, {"host": "other.example.com"}]})
}

async fn serve() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    |req: hyper::Request<hyper::body::Incoming>| async move {
                        let resp = match req.uri().path() {
                            "/redirect" => hyper::Response::builder()
                                .status(302)
                                .header("location", "http://other.example.com/")
                                .body(Full::new(Bytes::new())),
                            "/big" => hyper::Response::builder()
                                .body(Full::new(Bytes::from(vec![b'x'; 100 << 20]))),
                            _ => hyper::Response::builder()
                                .body(Full::new(Bytes::from_static(b"hello"))),
                        };
                        Ok::<_, Infallible>(resp.unwrap())
                    },
                );
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    addr
}

async fn get(
    p: &WasmProvider,
    store: &str,
    config: Value,
    command: &str,
) -> Result<String, ProviderError> {
    let (client, _) = p.open(&store_for("hostile", store, config)).await?;
    client
        .get_secret(&key(command))
        .await
        .map(|v| String::from_utf8_lossy(v.expose()).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_provider_end_to_end_from_the_embedded_component() {
    let p = WasmProvider::with_embedded(sandbox(), Arc::new(NoCredentials))
        .await
        .unwrap();
    let fake = ampoule::plugin::distribution::embedded::find("fake").unwrap();
    assert_eq!(Digest::of(fake.bytes).as_str(), fake.digest);
    let config = json!({"data": [
        {"key": "/foo/bar", "value": "HELLO1"},
        {"key": "/foo/bar", "value": "HELLO2", "version": "v2"},
        {"key": "/foo/baz", "value": "{\"john\": \"doe\", \"n\": 1, \"nested\": {\"a\": \"b\"}}"},
        {"key": "/other", "value": "x"}
    ]});
    let (client, info) = p.open(&store_for("fake", "s", config)).await.unwrap();
    assert_eq!(info.digest.as_deref(), Some(fake.digest));
    assert!(info.granted_egress.is_empty());
    assert_eq!(
        client.get_secret(&key("/foo/bar")).await.unwrap().expose(),
        b"HELLO1"
    );
    let v2 = RemoteRef {
        version: Some("v2".into()),
        ..key("/foo/bar")
    };
    assert_eq!(client.get_secret(&v2).await.unwrap().expose(), b"HELLO2");
    let prop = RemoteRef {
        property: Some("nested.a".into()),
        ..key("/foo/baz")
    };
    assert_eq!(client.get_secret(&prop).await.unwrap().expose(), b"b");
    assert_eq!(
        client.get_secret(&key("/nope")).await.unwrap_err(),
        ProviderError::NotFound
    );
    let map = client.get_secret_map(&key("/foo/baz")).await.unwrap();
    assert_eq!(map["john"].expose(), b"doe");
    assert_eq!(map["n"].expose(), b"1");
    let found = client
        .get_all_secrets(&FindRef {
            name_regexp: Some("^/foo/".into()),
            ..FindRef::default()
        })
        .await
        .unwrap();
    assert_eq!(found.keys().collect::<Vec<_>>(), ["/foo/bar", "/foo/baz"]);
    assert_eq!(found["/foo/bar"].expose(), b"HELLO2");
    assert!(client.validate().await.is_ok());
    // ESO's ValidateStore rules.
    let err = p
        .open(&store_for(
            "fake",
            "s",
            json!({"data": [{"key": "", "value": "x"}]}),
        ))
        .await
        .err()
        .unwrap();
    assert_eq!(
        err,
        ProviderError::InvalidConfig("key must be set in data 0".into())
    );
    let err = p
        .open(&store_for("nope", "s", json!({})))
        .await
        .err()
        .unwrap();
    assert_eq!(err.category(), "invalid_config");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_hits_the_deadline_within_one_tick() {
    let p = hostile("Allow", "300ms").await;
    let start = Instant::now();
    let err = get(&p, "loop", json!({}), "loop").await.unwrap_err();
    let took = start.elapsed();
    assert!(err.to_string().contains("deadline"), "{err}");
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(300 + 10 + 150),
        "{took:?}"
    );
    assert_eq!(
        p.sandbox()
            .metrics
            .deadline_exceeded
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bomb_is_capped_with_a_clear_error() {
    let p = hostile("Allow", "5s").await;
    let err = get(&p, "oom", json!({}), "oom").await.unwrap_err();
    assert!(
        err.to_string().contains("memory limit of 33554432 bytes"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trap_fails_one_store_while_a_neighbour_keeps_working() {
    let p = hostile("Allow", "5s").await;
    let (bad, _) = p
        .open(&store_for("hostile", "bad", json!({})))
        .await
        .unwrap();
    let (good, _) = p
        .open(&store_for("hostile", "good", json!({})))
        .await
        .unwrap();
    let err = bad.get_secret(&key("trap")).await.unwrap_err();
    assert!(err.to_string().contains("trapped"), "{err}");
    assert_eq!(
        good.get_secret(&key("echo hi")).await.unwrap().expose(),
        b"hi"
    );
    assert!(
        bad.get_secret(&key("echo hi"))
            .await
            .unwrap_err()
            .to_string()
            .contains("failed earlier")
    );
    assert_eq!(
        get(&p, "again", json!({}), "missing x").await.unwrap_err(),
        ProviderError::NotFound
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_sockets_and_environment_give_errors_never_data() {
    let p = hostile("Allow", "5s").await;
    for cmd in [
        "file /var/run/secrets/kubernetes.io/serviceaccount/token",
        "file /etc/passwd",
        "file .",
    ] {
        let err = get(&p, "f", json!({}), cmd).await.unwrap_err();
        assert_eq!(err.category(), "internal", "{cmd}: {err}");
    }
    let addr = serve().await;
    let err = get(&p, "s", json!({}), &format!("socket {addr}"))
        .await
        .unwrap_err();
    assert_eq!(err.category(), "internal", "{err}");
    assert_eq!(get(&p, "e", json!({}), "env").await.unwrap(), "[] []");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_components_are_refused_at_load() {
    let sb = sandbox();
    let err = sb
        .load(component("ampoule_test_bad_import"), None)
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&err, SandboxError::UnsupportedImport(name) if name.starts_with("test:evil/steal")),
        "{err}"
    );
    let err = sb
        .load(component("ampoule_test_not_provider"), None)
        .await
        .err()
        .unwrap();
    assert_eq!(err.category(), "not_a_provider", "{err}");
    assert!(
        err.to_string().contains("ampoule:provider/provider"),
        "{err}"
    );
    let wrong = Digest::of(b"something else");
    let err = sb
        .load(component("ampoule_fake"), Some(wrong))
        .await
        .err()
        .unwrap();
    assert_eq!(err.category(), "digest_mismatch", "{err}");
    let err = sb
        .load(b"\0asm garbage".to_vec(), None)
        .await
        .err()
        .unwrap();
    assert_eq!(err.category(), "compile", "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_cache_and_stdout_reach_the_host() {
    let p = hostile("Allow", "5s").await;
    let (client, _) = p
        .open(&store_for("hostile", "kv", json!({})))
        .await
        .unwrap();
    client
        .get_secret(&key("cache-set token abc"))
        .await
        .unwrap();
    client
        .get_secret(&key("log hello from the plugin"))
        .await
        .unwrap();
    // Same store and digest → same cache scope; another store sees nothing.
    assert_eq!(
        get(&p, "kv", json!({}), "cache-get token").await.unwrap(),
        "abc"
    );
    assert_eq!(
        get(&p, "other", json!({}), "cache-get token")
            .await
            .unwrap_err(),
        ProviderError::NotFound
    );
    let err = get(&p, "cred", json!({}), "cred token").await.unwrap_err();
    assert!(err.to_string().contains("not requested"), "{err}");
}

/// `validate-config`, `requested-egress` and `requested-credentials` are free of I/O (the WIT
/// says so): their answer is kept per (digest, config, settings), so a second open of the same
/// store runs only the instantiation and `client.open`, and a changed config asks again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pure_calls_run_once_per_config() {
    use ampoule::plugin::metrics::SandboxMetrics;
    let p = WasmProvider::with_embedded(sandbox(), Arc::new(NoCredentials))
        .await
        .unwrap();
    let calls = || SandboxMetrics::get(&p.sandbox().metrics.calls);
    let one = json!({"data": [{"key": "k", "value": "v1"}]});
    let two = json!({"data": [{"key": "k", "value": "v2"}]});
    let before = calls();
    let (client, _) = p.open(&store_for("fake", "s", one.clone())).await.unwrap();
    assert_eq!(client.get_secret(&key("k")).await.unwrap().expose(), b"v1");
    let first = calls() - before;
    // instantiate, validate-config, requested-egress, requested-credentials, open, get
    assert_eq!(first, 6);
    let before = calls();
    let (client, _) = p.open(&store_for("fake", "s", one)).await.unwrap();
    assert_eq!(client.get_secret(&key("k")).await.unwrap().expose(), b"v1");
    assert_eq!(calls() - before, 3, "instantiate, open, get");
    let before = calls();
    let (client, _) = p.open(&store_for("fake", "s", two)).await.unwrap();
    assert_eq!(client.get_secret(&key("k")).await.unwrap().expose(), b"v2");
    assert_eq!(calls() - before, first, "a changed config asks again");
    // A config the component refuses is refused on every open (errors are never kept).
    for _ in 0..2 {
        let bad = store_for("fake", "s", json!({"data": [{"key": "", "value": "x"}]}));
        assert!(p.open(&bad).await.is_err());
    }
}
