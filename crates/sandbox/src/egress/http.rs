//! The wasi:http send hook: every guest request is decided by [`EgressPolicy`] and, when allowed,
//! sent by the host's own client to the vetted address, with caps and timeouts, never following
//! redirects. A denial reaches the guest as `HTTP-request-denied`, with a log line and a metric.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::policy::{Denial, EgressPolicy, FORBIDDEN_HEADERS, Host, Target};
use super::tls::InstanceTls;
use crate::identity::Identity;
use crate::metrics::SandboxMetrics;

type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
type SendResult = Result<(http::Response<WasiBody>, IoFuture), HttpError>;

/// The requests sent and response bytes read by one opened client: a fresh `Budget` comes with
/// each wasmtime store (`Sandbox::store`), which serves the open and every call made on that client
/// (during one reconcile). `requests` is checked against `Limits::requests`, `bytes` against
/// `Limits::total_bytes`; each response on its own is capped at `Limits::response_bytes`.
#[derive(Debug, Default)]
pub struct Budget {
    requests: AtomicU32,
    bytes: AtomicU64,
}

/// The per-store hook object (lives in `HostState`).
pub struct EgressHooks {
    pub(crate) policy: Arc<EgressPolicy>,
    pub(crate) budget: Arc<Budget>,
    pub(crate) scope: Arc<Identity>,
    pub(crate) metrics: Arc<SandboxMetrics>,
    /// The instance's TLS settings (`ampoule:host/tls`).
    pub(crate) tls: InstanceTls,
}

/// A TLS client config on ring with the webpki roots.
pub fn tls_config() -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn deny(metrics: &SandboxMetrics, scope: &Identity, denial: &Denial) -> HttpError {
    metrics.deny(denial.category());
    tracing::warn!(
        store = %scope.store, provider = %scope.provider, digest = %scope.digest,
        rule = denial.category(), "egress denied: {denial}"
    );
    HttpError::HttpRequestDenied
}

/// A handshake failure as the guest sees it: a rejected server certificate names the reason
/// (e.g. `UnknownIssuer`), an alert keeps its description.
fn tls_error(e: &std::io::Error) -> HttpError {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(err @ rustls::Error::InvalidCertificate(_)) => {
            HttpError::InternalError(Some(format!("TLS handshake failed: {err}")))
        }
        Some(rustls::Error::AlertReceived(alert)) => HttpError::TlsAlertReceived {
            alert_id: Some(u8::from(*alert)),
            alert_message: Some(format!("{alert:?}")),
        },
        _ => HttpError::TlsProtocolError,
    }
}

impl EgressHooks {
    fn deny(&self, denial: &Denial) -> HttpError {
        deny(&self.metrics, &self.scope, denial)
    }

    fn admit(&self, request: &http::Request<WasiBody>) -> Result<Target, Denial> {
        let headers = request
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()));
        let target = self
            .policy
            .check(request.method().as_str(), request.uri(), headers)?;
        let limit = self.policy.limits.requests;
        if self.budget.requests.fetch_add(1, Ordering::Relaxed) >= limit {
            return Err(Denial::RequestBudget(limit));
        }
        if request.body().size_hint().lower() > self.policy.limits.request_bytes {
            return Err(Denial::RequestTooLarge(self.policy.limits.request_bytes));
        }
        Ok(target)
    }
}

impl WasiHttpHooks for EgressHooks {
    fn is_forbidden_header(&mut self, name: &http::HeaderName) -> bool {
        FORBIDDEN_HEADERS.contains(&name.as_str())
    }

    fn set_host_header(&mut self) -> bool {
        false
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let target = match self.admit(&request) {
            Ok(t) => t,
            Err(denial) => {
                let err = self.deny(&denial);
                return Box::new(async move { Err(err) });
            }
        };
        let tls = if target.scheme == "https" {
            match self.tls.config() {
                Ok(c) => Some(c),
                Err(why) => {
                    let err = HttpError::InternalError(Some(format!("TLS settings: {why}")));
                    return Box::new(async move { Err(err) });
                }
            }
        } else {
            None
        };
        let sender = Sender {
            policy: self.policy.clone(),
            budget: self.budget.clone(),
            scope: self.scope.clone(),
            metrics: self.metrics.clone(),
            tls,
        };
        Box::new(async move { sender.send(target, request, options).await })
    }
}

struct Sender {
    policy: Arc<EgressPolicy>,
    budget: Arc<Budget>,
    scope: Arc<Identity>,
    metrics: Arc<SandboxMetrics>,
    /// Set for https targets.
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Sender {
    fn deny(&self, denial: &Denial) -> HttpError {
        deny(&self.metrics, &self.scope, denial)
    }

    async fn resolve(&self, target: &Target, timeout: Duration) -> Result<Vec<IpAddr>, HttpError> {
        let name = match &target.host {
            Host::Ip(ip) => return Ok(vec![*ip]),
            Host::Name(name) => name.clone(),
        };
        let lookup = tokio::net::lookup_host((name.as_str(), target.port));
        match tokio::time::timeout(timeout, lookup).await {
            Err(_) => Err(HttpError::DnsTimeout),
            Ok(Err(_)) => Err(HttpError::DnsError {
                rcode: Some("NXDOMAIN or resolver failure".into()),
                info_code: None,
            }),
            Ok(Ok(addrs)) => Ok(addrs.map(|a| a.ip()).collect()),
        }
    }

    async fn send(
        self,
        target: Target,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> SendResult {
        let limits = self.policy.limits;
        let clamp = |d: Option<Duration>, max: Duration| d.map_or(max, |d| d.min(max));
        let connect_timeout = clamp(
            options.and_then(|o| o.connect_timeout),
            limits.connect_timeout,
        );
        let first_byte_timeout = clamp(options.and_then(|o| o.first_byte_timeout), limits.timeout);
        let between_bytes = clamp(
            options.and_then(|o| o.between_bytes_timeout),
            limits.timeout,
        );

        let ips = self.resolve(&target, connect_timeout).await?;
        let mut vetted = Vec::new();
        let mut last_denial = None;
        for ip in ips {
            match self.policy.vet_address(&target.host, ip) {
                Ok(()) => vetted.push(SocketAddr::new(ip, target.port)),
                Err(d) => last_denial = Some(d),
            }
        }
        if vetted.is_empty() {
            return Err(match last_denial {
                Some(d) => self.deny(&d),
                None => HttpError::DestinationNotFound,
            });
        }
        let stream = tokio::time::timeout(connect_timeout, TcpStream::connect(vetted.as_slice()))
            .await
            .map_err(|_| HttpError::ConnectionTimeout)?
            .map_err(|_| HttpError::ConnectionRefused)?;
        SandboxMetrics::inc(&self.metrics.egress_allowed);

        let host_header = match (&target.host, target.port) {
            (Host::Name(n), p) if p == default_port(&target.scheme) => n.clone(),
            (Host::Name(n), p) => format!("{n}:{p}"),
            (Host::Ip(IpAddr::V6(ip)), p) => format!("[{ip}]:{p}"),
            (Host::Ip(ip), p) => format!("{ip}:{p}"),
        };
        let path_and_query = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        *request.uri_mut() =
            http::Uri::try_from(path_and_query).map_err(|_| HttpError::HttpRequestUriInvalid)?;
        let host_value = http::HeaderValue::try_from(host_header)
            .map_err(|_| HttpError::HttpRequestUriInvalid)?;
        request.headers_mut().insert(http::header::HOST, host_value);
        let request =
            request.map(|b| http_body_util::Limited::new(b, limits.request_bytes as usize));

        if let Some(config) = self.tls.clone() {
            let name = match &target.host {
                Host::Name(n) => rustls::pki_types::ServerName::try_from(n.clone())
                    .map_err(|_| HttpError::HttpRequestUriInvalid)?,
                Host::Ip(ip) => rustls::pki_types::ServerName::from(*ip),
            };
            let tls = tokio_rustls::TlsConnector::from(config);
            let stream = tokio::time::timeout(connect_timeout, tls.connect(name, stream))
                .await
                .map_err(|_| HttpError::ConnectionTimeout)?
                .map_err(|e| tls_error(&e))?;
            exchange(
                TokioIo::new(stream),
                request,
                first_byte_timeout,
                between_bytes,
                self,
            )
            .await
        } else {
            exchange(
                TokioIo::new(stream),
                request,
                first_byte_timeout,
                between_bytes,
                self,
            )
            .await
        }
    }
}

fn default_port(scheme: &str) -> u16 {
    if scheme == "http" { 80 } else { 443 }
}

async fn exchange<IO>(
    io: IO,
    request: http::Request<http_body_util::Limited<WasiBody>>,
    first_byte_timeout: Duration,
    between_bytes: Duration,
    sender: Sender,
) -> SendResult
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut send, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|_| HttpError::HttpProtocolError)?;
    let conn_task = tokio::spawn(conn);
    let response = tokio::time::timeout(first_byte_timeout, send.send_request(request))
        .await
        .map_err(|_| HttpError::HttpResponseTimeout)?
        .map_err(|e| {
            if e.is_timeout() {
                HttpError::HttpResponseTimeout
            } else {
                HttpError::HttpProtocolError
            }
        })?;
    let limits = sender.policy.limits;
    let declared = response.body().size_hint().exact();
    if declared.is_some_and(|n| n > limits.response_bytes) {
        tracing::warn!(store = %sender.scope.store, digest = %sender.scope.digest, "response of {declared:?} bytes exceeds the cap of {}", limits.response_bytes);
        conn_task.abort();
        return Err(HttpError::HttpResponseBodySize(declared));
    }
    let (parts, incoming) = response.into_parts();
    let body = CappedBody {
        inner: incoming,
        seen: 0,
        cap: limits.response_bytes,
        budget: sender.budget.clone(),
        total_cap: limits.total_bytes,
        idle: Box::pin(tokio::time::sleep(between_bytes)),
        between_bytes,
        _conn: AbortOnDrop(conn_task),
    };
    let io: IoFuture = Box::new(async { Ok(()) });
    Ok((http::Response::from_parts(parts, body.boxed_unsync()), io))
}

struct AbortOnDrop(tokio::task::JoinHandle<Result<(), hyper::Error>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A response body that stops at the byte cap and the between-bytes timeout.
struct CappedBody {
    inner: hyper::body::Incoming,
    seen: u64,
    cap: u64,
    budget: Arc<Budget>,
    total_cap: u64,
    idle: Pin<Box<tokio::time::Sleep>>,
    between_bytes: Duration,
    _conn: AbortOnDrop,
}

impl Body for CappedBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(_))) => Poll::Ready(Some(Err(HttpError::HttpResponseIncomplete))),
            Poll::Ready(Some(Ok(frame))) => {
                let n = frame.data_ref().map_or(0, |d| d.len() as u64);
                self.seen += n;
                let total = self.budget.bytes.fetch_add(n, Ordering::Relaxed) + n;
                if self.seen > self.cap || total > self.total_cap {
                    return Poll::Ready(Some(Err(HttpError::HttpResponseBodySize(Some(
                        self.seen,
                    )))));
                }
                let deadline = tokio::time::Instant::now() + self.between_bytes;
                self.idle.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => match self.idle.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
