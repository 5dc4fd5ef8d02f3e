//! A blocking HTTP client over `wasi:http/outgoing-handler` (WASI 0.2).
//!
//! The host decides every request against the store's egress grant; a refusal arrives as
//! [`HttpError::Denied`]. Redirects are never followed (a 3xx is returned as is).

use crate::ProviderError;
use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme,
};
use crate::bindings::wasi::io::streams::StreamError;

/// Bodies larger than this are refused by the client (the host has its own, usually lower, cap).
pub const MAX_BODY: usize = 16 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn new(method: &str, url: &str) -> Self {
        Self {
            method: method.to_owned(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
    pub fn get(url: &str) -> Self {
        Self::new("GET", url)
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
    pub fn send(&self) -> Result<Response, HttpError> {
        send(self)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
    /// `Retry-After` in seconds, when present and numeric.
    pub fn retry_after(&self) -> Option<u32> {
        std::str::from_utf8(self.header("retry-after")?)
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The sandbox's egress policy refused the request (see the operator's log for the rule).
    Denied,
    /// The URL could not be used.
    InvalidUrl(String),
    /// The response body exceeded a cap.
    TooLarge,
    Timeout,
    /// Any other transport failure, with wasi:http's error code.
    Transport(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Denied => f.write_str("request denied by the sandbox egress policy"),
            HttpError::InvalidUrl(why) => write!(f, "invalid URL: {why}"),
            HttpError::TooLarge => f.write_str("response too large"),
            HttpError::Timeout => f.write_str("request timed out"),
            HttpError::Transport(why) => write!(f, "transport error: {why}"),
        }
    }
}

impl From<HttpError> for ProviderError {
    fn from(err: HttpError) -> Self {
        match err {
            HttpError::Denied => ProviderError::Forbidden(err.to_string()),
            HttpError::InvalidUrl(_) => ProviderError::InvalidConfig(err.to_string()),
            _ => ProviderError::Unavailable(err.to_string()),
        }
    }
}

fn from_code(code: ErrorCode) -> HttpError {
    match code {
        ErrorCode::HttpRequestDenied => HttpError::Denied,
        ErrorCode::HttpResponseBodySize(_) => HttpError::TooLarge,
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::HttpResponseTimeout => HttpError::Timeout,
        other => HttpError::Transport(format!("{other:?}")),
    }
}

struct Parts<'a> {
    scheme: Scheme,
    authority: &'a str,
    path_and_query: &'a str,
}

fn split_url(url: &str) -> Result<Parts<'_>, HttpError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| HttpError::InvalidUrl("no scheme".into()))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "https" => Scheme::Https,
        "http" => Scheme::Http,
        other => return Err(HttpError::InvalidUrl(format!("unsupported scheme {other}"))),
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.is_empty() {
        return Err(HttpError::InvalidUrl("no host".into()));
    }
    let path = path.split('#').next().unwrap_or_default();
    Ok(Parts {
        scheme,
        authority,
        path_and_query: if path.is_empty() { "/" } else { path },
    })
}

fn method(name: &str) -> Method {
    match name {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_owned()),
    }
}

/// Sends one request and reads the whole response.
pub fn send(req: &Request) -> Result<Response, HttpError> {
    let parts = split_url(&req.url)?;
    let entries: Vec<(String, Vec<u8>)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.as_bytes().to_vec()))
        .collect();
    let headers =
        Fields::from_list(&entries).map_err(|e| HttpError::InvalidUrl(format!("header: {e:?}")))?;
    let outgoing = OutgoingRequest::new(headers);
    let bad = |what: &str| HttpError::InvalidUrl(what.to_owned());
    outgoing
        .set_method(&method(&req.method))
        .map_err(|()| bad("method"))?;
    outgoing
        .set_scheme(Some(&parts.scheme))
        .map_err(|()| bad("scheme"))?;
    outgoing
        .set_authority(Some(parts.authority))
        .map_err(|()| bad("authority"))?;
    outgoing
        .set_path_with_query(Some(parts.path_and_query))
        .map_err(|()| bad("path"))?;
    let body = outgoing
        .body()
        .map_err(|()| HttpError::Transport("request body".into()))?;
    let future = outgoing_handler::handle(outgoing, None).map_err(from_code)?;
    let written = (move || -> Result<(), HttpError> {
        {
            let stream = body
                .write()
                .map_err(|()| HttpError::Transport("request body stream".into()))?;
            for chunk in req.body.chunks(4096) {
                stream
                    .blocking_write_and_flush(chunk)
                    .map_err(stream_error)?;
            }
        }
        OutgoingBody::finish(body, None).map_err(from_code)
    })();
    if let Err(write_error) = written {
        // A request the host refused (egress policy) closes its body stream: report the refusal
        // the response carries, not the closed stream it caused.
        future.subscribe().block();
        if let Some(Ok(Err(code))) = future.get() {
            return Err(from_code(code));
        }
        return Err(write_error);
    }

    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(from_code(code)),
        Some(Err(())) | None => return Err(HttpError::Transport("response already taken".into())),
    };
    let status = response.status();
    let headers = response.headers().entries();
    let incoming = response
        .consume()
        .map_err(|()| HttpError::Transport("response body".into()))?;
    let body = read_body(&incoming)?;
    drop(incoming);
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn read_body(incoming: &IncomingBody) -> Result<Vec<u8>, HttpError> {
    let stream = incoming
        .stream()
        .map_err(|()| HttpError::Transport("response stream".into()))?;
    let mut out = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => {
                if out.len() + chunk.len() > MAX_BODY {
                    return Err(HttpError::TooLarge);
                }
                out.extend_from_slice(&chunk);
            }
            Err(StreamError::Closed) => return Ok(out),
            Err(err) => return Err(stream_error(err)),
        }
    }
}

fn stream_error(err: StreamError) -> HttpError {
    match err {
        StreamError::Closed => HttpError::Transport("stream closed".into()),
        StreamError::LastOperationFailed(e) => {
            match crate::bindings::wasi::http::types::http_error_code(&e) {
                Some(code) => from_code(code),
                None => HttpError::Transport(e.to_debug_string()),
            }
        }
    }
}
