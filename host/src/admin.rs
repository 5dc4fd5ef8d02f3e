//! The admin endpoint: `/metrics` (Prometheus text), `/healthz` (liveness) and `/readyz`
//! (readiness), which answer 503 with the reason when they fail (see [`crate::health`]).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::metrics::Metrics;

fn probe(result: Result<(), String>) -> (StatusCode, String, &'static str) {
    match result {
        Ok(()) => (StatusCode::OK, "ok\n".to_string(), "text/plain"),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{why}\n"),
            "text/plain",
        ),
    }
}

async fn handle(
    metrics: Option<&Metrics>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, body, content_type) = match (req.uri().path(), metrics) {
        ("/metrics", Some(metrics)) => (
            StatusCode::OK,
            metrics.encode(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
        ("/healthz", _) => probe(crate::health::global().liveness()),
        ("/readyz", _) => probe(crate::health::global().readiness().map_err(String::from)),
        _ => (
            StatusCode::NOT_FOUND,
            "not found\n".to_string(),
            "text/plain",
        ),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        resp.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    Ok(resp)
}

/// Binds `addr` (`host:port`, or `:port` for every interface as Go flags allow) and serves the
/// admin endpoints in the background, `/metrics` from `metrics`. Returns the bound address.
pub async fn serve(addr: &str, metrics: Arc<Metrics>) -> anyhow::Result<SocketAddr> {
    listen(addr, Some(metrics)).await
}

/// As [`serve`], `/healthz` and `/readyz` only: ESO's health probe address (`--live-addr`).
pub async fn serve_probes(addr: &str) -> anyhow::Result<SocketAddr> {
    listen(addr, None).await
}

async fn listen(addr: &str, metrics: Option<Arc<Metrics>>) -> anyhow::Result<SocketAddr> {
    let addr = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.to_string()
    };
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let service = service_fn(|req| handle(metrics.as_deref(), req));
                let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "admin connection failed");
                }
            });
        }
    });
    Ok(local)
}
