//! A fault relay: an HTTP/1.1 proxy on 127.0.0.1 in front of one backend (OpenBao, moto, the GCP
//! fake) that passes requests through, or fails them the way a sick backend does — the port
//! closed (the server stopped), an error status with `Retry-After`, or a response that stalls half
//! way — and counts every request it is sent.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the relay does with the next requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Passes every request to the backend.
    Pass,
    /// The port is closed: connections are refused, open ones are dropped (a stopped server).
    Down,
    /// Answers every request with this status, headers and body (a 500, or a throttle with
    /// `Retry-After`), without calling the backend.
    Status {
        code: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Passes the request on, then sends the backend's status, headers and half of its body,
    /// and never the rest (a backend that hangs mid-response).
    Stall,
}

impl Fault {
    /// HTTP 500 with a JSON body.
    pub fn server_error() -> Fault {
        Fault::Status {
            code: 500,
            headers: vec![("content-type".into(), "application/json".into())],
            body: r#"{"errors":["internal error"]}"#.into(),
        }
    }

    /// The provider's throttle answer with `Retry-After: secs`: 429 for Vault and Google, 400
    /// `ThrottlingException` for AWS's JSON protocol.
    pub fn throttled(provider: &str, secs: u32) -> Fault {
        let retry = ("retry-after".to_string(), secs.to_string());
        match provider {
            "aws" => Fault::Status {
                code: 400,
                headers: vec![
                    ("content-type".into(), "application/x-amz-json-1.1".into()),
                    ("x-amzn-errortype".into(), "ThrottlingException".into()),
                    retry,
                ],
                body: r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into(),
            },
            "gcp" => Fault::Status {
                code: 429,
                headers: vec![("content-type".into(), "application/json".into()), retry],
                body: r#"{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}"#.into(),
            },
            _ => Fault::Status {
                code: 429,
                headers: vec![("content-type".into(), "application/json".into()), retry],
                body: r#"{"errors":["rate limit quota exceeded"]}"#.into(),
            },
        }
    }

    /// A short name for tables.
    pub fn label(&self) -> String {
        match self {
            Fault::Pass => "pass".into(),
            Fault::Down => "stopped".into(),
            Fault::Status { code, headers, .. } => {
                match headers.iter().find(|(k, _)| k == "retry-after") {
                    Some((_, s)) => format!("HTTP {code} + Retry-After {s}s"),
                    None => format!("HTTP {code}"),
                }
            }
            Fault::Stall => "stalls mid-response".into(),
        }
    }
}

/// A running relay; stops with the test's runtime.
pub struct Relay {
    pub port: u16,
    fault: watch::Sender<Fault>,
    requests: Arc<AtomicUsize>,
}

type Body = BoxBody<Bytes, hyper::Error>;

impl Relay {
    /// A relay on a free port of 127.0.0.1 to `127.0.0.1:upstream`, passing everything.
    pub async fn start(upstream: u16) -> std::io::Result<Relay> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (tx, rx) = watch::channel(Fault::Pass);
        let requests = Arc::new(AtomicUsize::new(0));
        tokio::spawn(accept(listener, port, upstream, rx, requests.clone()));
        Ok(Relay {
            port,
            fault: tx,
            requests,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Switches the fault; requests already stalled stay stalled until their client gives up.
    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }

    /// How many requests reached the relay so far (refused connections are not requests).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

async fn accept(
    mut listener: TcpListener,
    port: u16,
    upstream: u16,
    mut fault: watch::Receiver<Fault>,
    requests: Arc<AtomicUsize>,
) {
    loop {
        if *fault.borrow() == Fault::Down {
            // A stopped server: nothing listens on the port until the fault changes.
            drop(listener);
            while *fault.borrow_and_update() == Fault::Down {
                if fault.changed().await.is_err() {
                    return;
                }
            }
            listener = loop {
                match TcpListener::bind(("127.0.0.1", port)).await {
                    Ok(l) => break l,
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            };
        }
        let conn = tokio::select! {
            c = listener.accept() => c,
            changed = fault.changed() => {
                if changed.is_err() { return; }
                continue;
            }
        };
        let Ok((stream, _)) = conn else { continue };
        let rx = fault.clone();
        let requests = requests.clone();
        tokio::spawn(async move {
            let mut down = rx.clone();
            let service = hyper::service::service_fn(move |req| {
                requests.fetch_add(1, Ordering::SeqCst);
                let current = rx.borrow().clone();
                handle(req, current, upstream)
            });
            let serve = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            // Open connections die with the server when it goes down.
            tokio::select! {
                _ = serve => {}
                _ = down.wait_for(|f| *f == Fault::Down) => {}
            }
        });
    }
}

async fn handle(
    req: Request<Incoming>,
    fault: Fault,
    upstream: u16,
) -> Result<Response<Body>, Infallible> {
    match fault {
        Fault::Status {
            code,
            headers,
            body,
        } => {
            let mut resp = Response::builder().status(code);
            for (k, v) in headers {
                resp = resp.header(k, v);
            }
            Ok(resp
                .body(full(Bytes::from(body)))
                .unwrap_or_else(|_| Response::new(full(Bytes::new()))))
        }
        Fault::Pass | Fault::Down => Ok(forward(req, upstream, false).await),
        Fault::Stall => Ok(forward(req, upstream, true).await),
    }
}

fn full(b: Bytes) -> Body {
    Full::new(b).map_err(|never| match never {}).boxed()
}

/// Sends `req` to the backend on a new connection and returns its answer (502 when the backend
/// cannot be reached); with `stall`, only half the body and then nothing.
async fn forward(req: Request<Incoming>, upstream: u16, stall: bool) -> Response<Body> {
    let bad_gateway = || {
        Response::builder()
            .status(502)
            .body(full(Bytes::from_static(b"relay: backend unreachable")))
            .unwrap_or_else(|_| Response::new(full(Bytes::new())))
    };
    let Ok(stream) = TcpStream::connect(("127.0.0.1", upstream)).await else {
        return bad_gateway();
    };
    let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    else {
        return bad_gateway();
    };
    tokio::spawn(conn);
    let Ok(resp) = sender.send_request(req).await else {
        return bad_gateway();
    };
    if !stall {
        return resp.map(|b| b.boxed());
    }
    let (parts, body) = resp.into_parts();
    let Ok(collected) = body.collect().await else {
        return bad_gateway();
    };
    let bytes = collected.to_bytes();
    let half = bytes.slice(..bytes.len() / 2);
    let frames = futures::stream::iter([Ok::<_, hyper::Error>(Frame::data(half))])
        .chain(futures::stream::pending());
    let mut parts = parts;
    parts.headers.insert(
        http::header::CONTENT_LENGTH,
        http::HeaderValue::from(bytes.len()),
    );
    parts.headers.remove(http::header::TRANSFER_ENCODING);
    Response::from_parts(parts, BodyExt::boxed(StreamBody::new(frames)))
}
