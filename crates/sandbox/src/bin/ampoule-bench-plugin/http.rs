//! The bench row with real egress: the embedded Vault component opens a client and reads one
//! KV v2 secret over wasi:http from a stub server on loopback (a canned response, so the row
//! measures the sandbox, the egress policy and the host's HTTP client, not a backend).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::providers::line;
use ampoule_sandbox::distribution::embedded;
use ampoule_sandbox::provider::{
    ProviderError, RemoteRef, SecretProvider, SecretValue, StoreContext, StoreKind,
};
use ampoule_sandbox::{
    CredentialRequest, CredentialResolver, ProviderClassConfig, Sandbox, SandboxError, WasmProvider,
};

const BODY: &str = r#"{"data":{"data":{"password":"s3cr3t"},"metadata":{"version":1}}}"#;

/// Answers every request with the canned KV v2 read, one request per connection.
async fn stub() -> Result<u16, SandboxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| SandboxError::Engine(format!("stub server: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| SandboxError::Engine(e.to_string()))?
        .port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut seen = Vec::new();
                while let Ok(n) = conn.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    if seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{BODY}",
                    BODY.len()
                );
                let _ = conn.write_all(response.as_bytes()).await;
            });
        }
    });
    Ok(port)
}

/// Every credential the store asks for is the stub's token.
struct StubToken;

impl CredentialResolver for StubToken {
    fn resolve<'a>(
        &'a self,
        _store: &'a StoreContext,
        _request: &'a CredentialRequest,
    ) -> BoxFuture<'a, Result<SecretValue, ProviderError>> {
        Box::pin(async { Ok(SecretValue::new(b"bench-token".to_vec())) })
    }
}

/// `open + get-secret` of the Vault component against the stub, `iterations` times.
pub async fn run(sandbox: Arc<Sandbox>, iterations: usize) -> Result<String, SandboxError> {
    let vault = embedded::find("vault")
        .ok_or_else(|| SandboxError::Engine("no embedded vault component".into()))?;
    let loaded = sandbox.load(vault.bytes.to_vec(), None).await?;
    let port = stub().await?;
    let class: ProviderClassConfig = serde_json::from_value(serde_json::json!({
        "provider": "vault",
        "sandbox": {"egress": {"privateNetworks": "Allow"}}
    }))
    .map_err(|e| SandboxError::Engine(e.to_string()))?;
    let provider = WasmProvider::new(sandbox, Arc::new(StubToken));
    provider.bind("vault", loaded, Some(class));
    let key = RemoteRef {
        key: "app".into(),
        property: Some("password".into()),
        ..RemoteRef::default()
    };
    let mut samples: Vec<Duration> = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let store = StoreContext {
            kind: StoreKind::SecretStore,
            name: format!("bench-http-{i}"),
            store_namespace: Some("default".into()),
            caller_namespace: Some("default".into()),
            generation: 1,
            provider: "vault".into(),
            config: serde_json::json!({
                "server": format!("http://127.0.0.1:{port}"),
                "path": "secret",
                "version": "v2",
                "auth": {"tokenSecretRef": {"name": "vault-token", "key": "token"}}
            }),
            sandbox: None,
        };
        let t = Instant::now();
        let (client, _) = provider
            .open(&store)
            .await
            .map_err(|e| SandboxError::Trap(e.to_string()))?;
        let value = client
            .get_secret(&key)
            .await
            .map_err(|e| SandboxError::Trap(e.to_string()))?;
        samples.push(t.elapsed());
        if value.expose().as_slice() != b"s3cr3t" {
            return Err(SandboxError::Trap("unexpected value from the stub".into()));
        }
    }
    Ok(line(
        "vault open + get-secret via wasi:http (stub)",
        &mut samples,
    ))
}
