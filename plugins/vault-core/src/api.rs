//! One Vault HTTP call over the SDK's wasi:http client, and Vault's errors mapped to the host's.

use std::cell::RefCell;

use ampoule_sdk::http::{Request, Response};
use ampoule_sdk::{ProviderError, RateLimit};
use serde_json::Value;

use crate::config::Config;
use crate::paths::{Origin, encode};

/// Longest Vault error text passed on.
const MAX_MESSAGE: usize = 512;

/// The server, the headers every request carries, and the replication index (readYourWrites).
pub struct Api {
    base: String,
    namespace: Option<String>,
    headers: Vec<(String, String)>,
    read_your_writes: bool,
    forward_inconsistent: bool,
    index: RefCell<Option<String>>,
}

impl Api {
    pub fn new(config: &Config) -> Result<Api, ProviderError> {
        Ok(Api {
            base: Origin::parse(&config.server)?.base_url(),
            namespace: config.namespace.clone().filter(|n| !n.is_empty()),
            headers: config
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            read_your_writes: config.read_your_writes,
            forward_inconsistent: config.forward_inconsistent,
            index: RefCell::new(None),
        })
    }

    /// `method /v1/<path>[?query]`. `namespace` overrides the store's (auth.namespace for login).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        token: Option<&str>,
        body: Option<&Value>,
        namespace: Option<&str>,
    ) -> Result<Response, ProviderError> {
        let mut url = format!("{}/v1/{}", self.base, encode(path.trim_start_matches('/')));
        if let Some(q) = query {
            url.push('?');
            url.push_str(q);
        }
        let mut req = Request::new(method, &url).header("x-vault-request", "true");
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        if let Some(ns) = namespace.or(self.namespace.as_deref()) {
            req = req.header("x-vault-namespace", ns);
        }
        if let Some(t) = token {
            req = req.header("x-vault-token", t);
        }
        if self.read_your_writes {
            if let Some(index) = self.index.borrow().as_deref() {
                req = req.header("x-vault-index", index);
            }
            if self.forward_inconsistent {
                req = req.header("x-vault-inconsistent", "forward-active-node");
            }
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send()?;
        if self.read_your_writes
            && let Some(index) = resp.header("x-vault-index")
        {
            *self.index.borrow_mut() = Some(String::from_utf8_lossy(index).into_owned());
        }
        Ok(resp)
    }
}

/// A response body as JSON (`null` when empty).
pub fn json(resp: &Response, what: &str) -> Result<Value, ProviderError> {
    if resp.body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&resp.body)
        .map_err(|e| ProviderError::Internal(format!("{what}: invalid JSON from Vault: {e}")))
}

/// Vault's `{"errors": [...]}` as one line, truncated.
pub fn vault_errors(body: &[u8]) -> String {
    let text = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            let errs = v.get("errors")?.as_array()?.clone();
            Some(
                errs.iter()
                    .filter_map(Value::as_str)
                    .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })
        .unwrap_or_default();
    truncate(text)
}

fn truncate(mut text: String) -> String {
    if text.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// Replaces every occurrence of credential material in a message.
pub fn scrub(message: String, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| s.len() >= 4)
        .fold(message, |m, s| m.replace(s.as_str(), "<redacted>"))
}

/// Maps a failed Vault response. `login` turns client errors into `unauthorized`.
pub fn status_error(
    op: &str,
    status: u16,
    retry_after: Option<u32>,
    body: &[u8],
    login: bool,
) -> ProviderError {
    let detail = vault_errors(body);
    let message = if detail.is_empty() {
        format!("{op}: Vault returned HTTP {status}")
    } else {
        format!("{op}: Vault returned HTTP {status}: {detail}")
    };
    match status {
        429 => ProviderError::RateLimited(RateLimit {
            message,
            retry_after_secs: retry_after,
        }),
        400..=499 if login => ProviderError::Unauthorized(message),
        401 => ProviderError::Unauthorized(message),
        403 => ProviderError::Forbidden(message),
        404 => ProviderError::NotFound(message),
        // 412: readYourWrites index not yet replicated; retry.
        412 => ProviderError::Unavailable(message),
        400..=499 => ProviderError::Internal(message),
        _ => ProviderError::Unavailable(message),
    }
}

/// `status_error` for a response.
pub fn error(op: &str, resp: &Response, login: bool) -> ProviderError {
    status_error(op, resp.status, resp.retry_after(), &resp.body, login)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(e: &ProviderError) -> &'static str {
        match e {
            ProviderError::NotFound(_) => "not-found",
            ProviderError::Unauthorized(_) => "unauthorized",
            ProviderError::Forbidden(_) => "forbidden",
            ProviderError::InvalidConfig(_) => "invalid-config",
            ProviderError::RateLimited(_) => "rate-limited",
            ProviderError::Unavailable(_) => "unavailable",
            ProviderError::Internal(_) => "internal",
        }
    }

    #[test]
    fn maps_vault_statuses() {
        let denied = br#"{"errors":["1 error occurred:\n\t* permission denied\n\n"]}"#;
        let cases: [(u16, bool, &str); 10] = [
            (403, false, "forbidden"),
            (403, true, "unauthorized"),
            (400, true, "unauthorized"),
            (401, false, "unauthorized"),
            (404, false, "not-found"),
            (429, false, "rate-limited"),
            (500, false, "unavailable"),
            (503, true, "unavailable"),
            (412, false, "unavailable"),
            (400, false, "internal"),
        ];
        for (status, login, want) in cases {
            assert_eq!(
                kind(&status_error("read", status, None, denied, login)),
                want,
                "{status} {login}"
            );
        }
        let e = status_error("read secret/data/x", 403, None, denied, false);
        assert!(matches!(e, ProviderError::Forbidden(m)
            if m == "read secret/data/x: Vault returned HTTP 403: 1 error occurred: * permission denied"));
        match status_error("x", 429, Some(7), b"", false) {
            ProviderError::RateLimited(r) => assert_eq!(r.retry_after_secs, Some(7)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn messages_are_bounded_and_scrubbed() {
        let long = format!(r#"{{"errors":["{}"]}}"#, "x".repeat(2000));
        assert!(vault_errors(long.as_bytes()).len() <= MAX_MESSAGE + 3);
        assert_eq!(vault_errors(b"not json"), "");
        let msg = scrub(
            "bad jwt eyJhbGc.abc for role".into(),
            &["eyJhbGc.abc".into(), "x".into()],
        );
        assert_eq!(msg, "bad jwt <redacted> for role");
    }
}
