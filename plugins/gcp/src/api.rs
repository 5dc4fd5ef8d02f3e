//! Secret Manager REST calls, Google's JSON error shape, CRC32C.

use ampoule_sdk::http::{Request, Response};
use ampoule_sdk::{ProviderError, RateLimit};
use serde_json::Value;

/// Maps `{"error": {"code", "message", "status"}}` (or a bare status) to the host's variants.
pub fn google_error(op: &str, resp: &Response) -> ProviderError {
    let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    let err = v.get("error");
    let status = err
        .and_then(|e| e.get("status"))
        .and_then(Value::as_str)
        .or_else(|| err.and_then(Value::as_str))
        .unwrap_or_default()
        .to_owned();
    let message: String = err
        .and_then(|e| e.get("message").or_else(|| v.get("error_description")))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    let text = format!("{op}: {status} (HTTP {}): {message}", resp.status);
    match (status.as_str(), resp.status) {
        ("NOT_FOUND", _) | (_, 404) => ProviderError::NotFound(text),
        ("UNAUTHENTICATED" | "invalid_grant" | "unauthorized_client", _) | (_, 401) => {
            ProviderError::Unauthorized(text)
        }
        ("PERMISSION_DENIED", _) | (_, 403) => ProviderError::Forbidden(text),
        ("RESOURCE_EXHAUSTED", _) | (_, 429) => ProviderError::RateLimited(RateLimit {
            message: text,
            retry_after_secs: resp.retry_after(),
        }),
        (_, 500..) => ProviderError::Unavailable(text),
        _ => ProviderError::Internal(text),
    }
}

/// `GET` with a bearer token, JSON response.
pub fn get(op: &str, url: &str, token: &str) -> Result<Value, ProviderError> {
    send("GET", op, url, token, None)
}

/// A call with a bearer token and an optional JSON body; JSON response (`{}` when empty).
pub fn send(
    method: &str,
    op: &str,
    url: &str,
    token: &str,
    body: Option<&Value>,
) -> Result<Value, ProviderError> {
    let mut req = Request::new(method, url).header("authorization", &format!("Bearer {token}"));
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = req.send()?;
    if !resp.is_success() {
        return Err(google_error(op, &resp));
    }
    if resp.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    serde_json::from_slice(&resp.body)
        .map_err(|_| ProviderError::Internal(format!("{op}: response is not JSON")))
}

/// CRC32C (Castagnoli), as Secret Manager's `dataCrc32c`.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in data {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn errors() {
        let r = |status, body: &str| Response {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        };
        let e = google_error(
            "access",
            &r(
                404,
                r#"{"error":{"code":404,"message":"gone","status":"NOT_FOUND"}}"#,
            ),
        );
        assert!(matches!(e, ProviderError::NotFound(_)));
        let e = google_error(
            "access",
            &r(
                403,
                r#"{"error":{"code":403,"message":"no","status":"PERMISSION_DENIED"}}"#,
            ),
        );
        assert!(matches!(e, ProviderError::Forbidden(_)));
        let e = google_error(
            "token",
            &r(
                400,
                r#"{"error":"invalid_grant","error_description":"bad"}"#,
            ),
        );
        assert!(matches!(e, ProviderError::Unauthorized(_)));
    }
}
