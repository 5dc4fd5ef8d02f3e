//! Providers written in JavaScript (componentize-js) and Python (componentize-py), built at test
//! time by `plugins/polyglot/build`: they load with no ambient authority, behave as the Rust
//! `fake` case by case, get errors (never data) for files, sockets and egress outside their
//! grant, and sync an ExternalSecret through the operator after a pull from the ground's registry.
//!
//! Compiled code goes to the wasmtime disk cache the build script names (the tests' operator gets
//! it as `AMPOULE_CACHE_DIR`): tests in this binary compile each component once, and a rerun of
//! an unchanged binary compiles nothing (in debug builds wasmtime keys its cache by the
//! executable, so the operator compiles for itself). The figures (size, cold compile, cached
//! load, open + call) come from an ignored test that prints them:
//! `cargo test -p ampoule --test plugin_polyglot -- --ignored --nocapture`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "plugin_polyglot/operator.rs"]
mod operator;
mod plugin_common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ampoule::plugin::{
    Digest, NoCredentials, ProviderClassConfig, Sandbox, SandboxConfig, WasmProvider,
};
use ampoule::provider::{FindRef, ProviderError, RemoteRef, SecretProvider, StoreContext};
use common::unique;
use serde_json::{Value, json};

/// The two components and the shared compiled cache, built (or found) once per test binary.
fn polyglot() -> &'static BTreeMap<String, PathBuf> {
    static BUILT: OnceLock<BTreeMap<String, PathBuf>> = OnceLock::new();
    BUILT.get_or_init(|| {
        let start = ground::manifest_dir();
        let script = start
            .ancestors()
            .map(|d| d.join("plugins/polyglot/build"))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("no plugins/polyglot/build above {}", start.display()));
        let out = ground::run(&mut Command::new(script));
        let built: BTreeMap<String, PathBuf> = out
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), PathBuf::from(v)))
            .collect();
        assert!(
            ["js-fake", "py-fake", "compiled"]
                .iter()
                .all(|k| built.contains_key(*k)),
            "{out}"
        );
        built
    })
}

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(&polyglot()[name]).unwrap()
}

fn ctx(provider: &str, config: Value) -> StoreContext {
    plugin_common::store_for(provider, "polyglot", config)
}

fn remote(key: &str, property: Option<&str>, version: Option<&str>) -> RemoteRef {
    RemoteRef {
        key: key.into(),
        property: property.map(Into::into),
        version: version.map(Into::into),
        ..RemoteRef::default()
    }
}

/// Loads a component into a fresh sandbox whose disk cache is `cache`; returns the time it took.
/// Loads are serialised, so concurrent tests compile a component once and then share it.
async fn load(
    cache: &Path,
    key: &str,
    component: Vec<u8>,
    class: Option<ProviderClassConfig>,
) -> (WasmProvider, Duration) {
    let sandbox = Sandbox::new(SandboxConfig {
        cache_dir: Some(cache.to_path_buf()),
        ..SandboxConfig::default()
    })
    .unwrap();
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;
    let digest = Digest::of(&component);
    let started = Instant::now();
    let loaded = sandbox.load(component, Some(digest)).await.unwrap();
    let took = started.elapsed();
    assert_eq!(loaded.info.name, "fake");
    assert!(loaded.info.read && loaded.info.write, "{:?}", loaded.info);
    let provider = WasmProvider::new(sandbox, Arc::new(NoCredentials));
    provider.bind(key, loaded, class);
    (provider, took)
}

/// One outcome per case, errors reduced to what ESO acts on (category; messages for validation).
async fn outcomes(p: &WasmProvider, key: &str) -> Vec<String> {
    let config = json!({"data": [
        {"key": "/foo/bar", "value": "HELLO1"},
        {"key": "/foo/bar", "value": "HELLO2", "version": "v2"},
        {"key": "/foo/baz", "value": "{\"john\": \"doe\", \"n\": 1, \"nested\": {\"a\": [\"x\", {\"b\": true}]}}"},
        {"key": "/map", "valueMap": {"k1": "v1", "k2": "v2"}},
        {"key": "/text", "value": "not json"},
        {"key": "/other", "value": "x", "version": "2"},
        {"key": "/other", "value": "y", "version": "10"}
    ]});
    let show = |r: Result<String, ProviderError>| match r {
        Ok(v) => format!("ok {v}"),
        Err(ProviderError::InvalidConfig(m)) => format!("invalid-config {m}"),
        Err(e) => format!("err {}", e.category()),
    };
    let (client, info) = p.open(&ctx(key, config)).await.unwrap();
    assert!(info.granted_egress.is_empty(), "{:?}", info.granted_egress);
    let mut out = vec![show(client.validate().await.map(|v| format!("{v:?}")))];
    for (k, prop, version) in [
        ("/foo/bar", None, None),
        ("/foo/bar", None, Some("v2")),
        ("/foo/bar", None, Some("v3")),
        ("/foo/baz", Some("john"), None),
        ("/foo/baz", Some("n"), None),
        ("/foo/baz", Some("nested"), None),
        ("/foo/baz", Some("nested.a.1.b"), None),
        ("/foo/baz", Some("nested.a.7"), None),
        ("/foo/baz", Some("missing"), None),
        ("/nope", None, None),
    ] {
        let r = client.get_secret(&remote(k, prop, version)).await;
        out.push(show(
            r.map(|v| String::from_utf8_lossy(v.expose()).into_owned()),
        ));
    }
    for (k, prop) in [
        ("/foo/baz", None),
        ("/foo/baz", Some("nested.a.1")),
        ("/map", None),
        ("/text", None),
        ("/nope", None),
    ] {
        let r = client.get_secret_map(&remote(k, prop, None)).await;
        out.push(show(r.map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", String::from_utf8_lossy(v.expose())))
                .collect::<Vec<_>>()
                .join(",")
        })));
    }
    for find in [
        FindRef {
            name_regexp: Some("^/(foo|other)".into()),
            ..FindRef::default()
        },
        FindRef {
            path: Some("/foo".into()),
            ..FindRef::default()
        },
    ] {
        let r = client.get_all_secrets(&find).await;
        out.push(show(r.map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", String::from_utf8_lossy(v.expose())))
                .collect::<Vec<_>>()
                .join(",")
        })));
    }
    // ESO's ValidateStore rules and validationResult.
    for config in [
        json!({"data": [{"key": "", "value": "x"}]}),
        json!({"data": [{"key": "a"}]}),
        json!({"data": [], "validationResult": 2}),
    ] {
        let r = match p.open(&ctx(key, config)).await {
            Ok((client, _)) => client.validate().await.map(|v| format!("{v:?}")),
            Err(e) => Err(e),
        };
        out.push(show(r));
    }
    out
}

fn compiled() -> &'static Path {
    &polyglot()["compiled"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_and_python_fakes_answer_as_the_rust_fake() {
    let rust = WasmProvider::with_embedded(
        Sandbox::new(SandboxConfig::default()).unwrap(),
        Arc::new(NoCredentials),
    )
    .await
    .unwrap();
    let expected = outcomes(&rust, "fake").await;
    assert_eq!(expected[1], "ok HELLO1");
    assert_eq!(expected.len(), 21);
    for name in ["js-fake", "py-fake"] {
        let (p, _) = load(compiled(), "fake", bytes(name), None).await;
        assert_eq!(outcomes(&p, "fake").await, expected, "{name}");
    }
}

/// A ceiling that allows `port` on loopback.
fn loopback_class(port: u16) -> ProviderClassConfig {
    serde_json::from_value(json!({
        "provider": "fake",
        "sandbox": {
            "egress": {"allow": [{"host": "127.0.0.1", "ports": [port]}], "privateNetworks": "Allow"},
            "limits": {"timeout": "20s"}
        }
    }))
    .unwrap()
}

/// Serves `hello` to every HTTP request on 127.0.0.1.
async fn hello_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(
                        http_body_util::Full::new(bytes::Bytes::from_static(b"hello")),
                    ))
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    port
}

/// A listener nothing may reach: `untouched` checks that no connection is waiting on it.
fn trap_listener() -> std::net::TcpListener {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    listener
}

fn untouched(listener: &std::net::TcpListener) -> bool {
    matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

async fn probe(p: &WasmProvider, port: u16, what: &str) -> Result<String, ProviderError> {
    let config = json!({"data": [], "probes": true,
                        "probeEgress": [{"host": "127.0.0.1", "ports": [port]}]});
    let (client, _) = p.open(&ctx("fake", config)).await?;
    client
        .get_secret(&remote(&format!("probe:{what}"), None, None))
        .await
        .map(|v| String::from_utf8_lossy(v.expose()).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_sockets_and_egress_outside_the_grant_give_errors_never_data() {
    let allowed = hello_server().await;
    let closed = trap_listener();
    let closed_port = closed.local_addr().unwrap().port();
    for name in ["js-fake", "py-fake"] {
        let (p, _) = load(
            compiled(),
            "fake",
            bytes(name),
            Some(loopback_class(allowed)),
        )
        .await;
        let denied_before = p.sandbox().metrics.egress_denied_total();
        // The language's own HTTP client works inside the grant …
        let ok = probe(
            &p,
            allowed,
            &format!("http:http://127.0.0.1:{allowed}/v1/x"),
        )
        .await;
        assert_eq!(ok.as_deref(), Ok("hello"), "{name}");
        // … and outside it the host refuses before connecting.
        let url = format!("http:http://127.0.0.1:{closed_port}/");
        let err = probe(&p, allowed, &url).await.unwrap_err();
        assert_eq!(err.category(), "forbidden", "{name}: {err}");
        assert_eq!(p.sandbox().metrics.egress_denied_total(), denied_before + 1);
        assert!(
            untouched(&closed),
            "{name} reached a port outside its grant"
        );
    }
    // Python has files and sockets (JavaScript under componentize-js has neither): no preopened
    // directory, no socket.
    let (p, _) = load(
        compiled(),
        "fake",
        bytes("py-fake"),
        Some(loopback_class(allowed)),
    )
    .await;
    let err = probe(&p, allowed, "http:http://127.0.0.1:1/")
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ProviderError::Forbidden("request denied by the sandbox egress policy".into())
    );
    for path in [
        "/var/run/secrets/kubernetes.io/serviceaccount/token",
        "/etc/passwd",
        ".",
    ] {
        let err = probe(&p, allowed, &format!("file:{path}"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ProviderError::Unavailable(m) if m.starts_with("file probe failed: FileNotFoundError")),
            "{path}: {err}"
        );
    }
    for target in [
        format!("127.0.0.1:{closed_port}"),
        format!("127.0.0.1:{allowed}"),
    ] {
        let err = probe(&p, allowed, &format!("socket:{target}"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ProviderError::Unavailable(m) if m.starts_with("socket probe failed")),
            "{target}: {err}"
        );
    }
    assert!(untouched(&closed), "python opened a socket");
}

/// Prints the figures for the note (not a test of timing: nothing is asserted on them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "prints figures; run with --ignored --nocapture"]
async fn figures() {
    for name in ["js-fake", "py-fake"] {
        let cold = std::env::temp_dir().join(unique("ampoule-polyglot-cold"));
        let component = bytes(name);
        let size = component.len();
        let (_, compile) = load(&cold, "fake", component.clone(), None).await;
        let (p, cached) = load(&cold, "fake", component, None).await;
        let mut calls = Vec::new();
        for _ in 0..50 {
            let started = Instant::now();
            let (client, _) = p
                .open(&ctx("fake", json!({"data": [{"key": "k", "value": "v"}]})))
                .await
                .unwrap();
            client.get_secret(&remote("k", None, None)).await.unwrap();
            calls.push(started.elapsed());
        }
        calls.sort();
        println!(
            "{name}: {:.1} MB, cold compile {:.2} s, cached load {:.1} ms, \
             open + get-secret p50 {:.2} ms p99 {:.2} ms",
            size as f64 / 1e6,
            compile.as_secs_f64(),
            cached.as_secs_f64() * 1e3,
            calls[calls.len() / 2].as_secs_f64() * 1e3,
            calls[calls.len() * 99 / 100].as_secs_f64() * 1e3
        );
        let _ = std::fs::remove_dir_all(&cold);
    }
}
