//! The JSON key-value API the kit's template providers read, served on loopback from a JSON
//! object (`backend.json`) for `ampoule plugin test` and `ampoule plugin serve`:
//!
//! - `GET /v1/secrets/{key}` → `200 {"value": …}`, `404` when the key is absent;
//! - `GET /v1/secrets` → `200 {"keys": [sorted keys]}`;
//! - with a token, every request needs `Authorization: Bearer <token>` (else `401`);
//! - a value `{"$status": 429, "$retryAfter": 3}` answers that status (and `Retry-After`), so a
//!   case file can exercise rate limits and outages.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};

/// A running backend; dropping it stops accepting connections.
pub struct Backend {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Backend {
    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// What the backend serves.
#[derive(Debug, Clone)]
pub struct Data {
    pub entries: BTreeMap<String, Value>,
    pub token: Option<String>,
}

impl Data {
    /// The entries of a JSON object.
    pub fn from_json(text: &str, token: Option<String>) -> Result<Data, String> {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(Data {
                entries: map.into_iter().collect(),
                token,
            }),
            Ok(_) => Err("the backend data must be a JSON object of key → value".into()),
            Err(e) => Err(format!("the backend data is not JSON: {e}")),
        }
    }
}

/// Binds 127.0.0.1:`port` (0: any free port) and serves `data` until dropped.
pub async fn start(data: Data, port: u16) -> std::io::Result<Backend> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let data = Arc::new(data);
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let data = data.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let data = data.clone();
                    async move { Ok::<_, Infallible>(answer(&data, &req)) }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    Ok(Backend { addr, task })
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// The answer to one request (pure, so it is tested without a socket).
pub fn answer<B>(data: &Data, req: &Request<B>) -> Response<Full<Bytes>> {
    if let Some(token) = &data.token {
        let given = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token.as_str()) {
            return reply(StatusCode::UNAUTHORIZED, json!({"error": "unauthorized"}));
        }
    }
    if req.method() != hyper::Method::GET {
        return reply(StatusCode::METHOD_NOT_ALLOWED, json!({"error": "only GET"}));
    }
    let path = req.uri().path();
    if path == "/v1/secrets" || path == "/v1/secrets/" {
        let keys: Vec<&String> = data.entries.keys().collect();
        return reply(StatusCode::OK, json!({ "keys": keys }));
    }
    let Some(key) = path.strip_prefix("/v1/secrets/").and_then(percent_decode) else {
        return reply(StatusCode::NOT_FOUND, json!({"error": "no such path"}));
    };
    match data.entries.get(&key) {
        None => reply(StatusCode::NOT_FOUND, json!({"error": "not found"})),
        Some(value) => match value.get("$status").and_then(Value::as_u64) {
            Some(status) => {
                let status = u16::try_from(status)
                    .ok()
                    .and_then(|s| StatusCode::from_u16(s).ok())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let mut response = reply(status, json!({"error": "as configured"}));
                if let Some(after) = value.get("$retryAfter").and_then(Value::as_u64)
                    && let Ok(header) = hyper::header::HeaderValue::from_str(&after.to_string())
                {
                    response
                        .headers_mut()
                        .insert(hyper::header::RETRY_AFTER, header);
                }
                response
            }
            None => reply(StatusCode::OK, json!({ "value": value })),
        },
    }
}

/// `%XX` sequences decoded; `None` for a malformed one or a result that is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn call(data: &Data, path: &str, token: Option<&str>) -> (u16, Value, Option<String>) {
        let mut req = Request::get(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let response = answer(data, &req.body(()).unwrap());
        let status = response.status().as_u16();
        let retry = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap(), retry)
    }

    #[tokio::test]
    async fn serves_the_json_kv_api() {
        let data = Data::from_json(
            r#"{"db": {"user": "admin"}, "a/b": "x", "slow": {"$status": 429, "$retryAfter": 3}}"#,
            Some("t".into()),
        )
        .unwrap();
        assert_eq!(call(&data, "/v1/secrets", None).await.0, 401);
        assert_eq!(call(&data, "/v1/secrets", Some("u")).await.0, 401);
        let (status, keys, _) = call(&data, "/v1/secrets", Some("t")).await;
        assert_eq!(
            (status, keys),
            (200, json!({"keys": ["a/b", "db", "slow"]}))
        );
        let (status, value, _) = call(&data, "/v1/secrets/db", Some("t")).await;
        assert_eq!((status, value), (200, json!({"value": {"user": "admin"}})));
        assert_eq!(
            call(&data, "/v1/secrets/a%2Fb", Some("t")).await.1,
            json!({"value": "x"})
        );
        assert_eq!(call(&data, "/v1/secrets/nope", Some("t")).await.0, 404);
        let (status, _, retry) = call(&data, "/v1/secrets/slow", Some("t")).await;
        assert_eq!((status, retry.as_deref()), (429, Some("3")));
        assert!(Data::from_json("[1]", None).is_err());
    }
}
