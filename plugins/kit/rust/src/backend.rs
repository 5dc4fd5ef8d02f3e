//! The backend's JSON key-value API, as pure functions of its answers:
//!
//! - `GET {url}/v1/secrets/{key}` → `200 {"value": <string or JSON object>}`; 404, 401, 403,
//!   429 (with `Retry-After`) and 5xx map to not-found, unauthorized, forbidden, rate-limited
//!   and unavailable;
//! - `GET {url}/v1/secrets` → `200 {"keys": ["k1", …]}`.

use ampoule_sdk::{ProviderError, errors};
use serde_json::Value;

use crate::config::PATH_PREFIX;

/// The URL of one secret (the key percent-encoded, its `/` kept: the sandbox refuses `%2F`).
pub fn secret_url(base: &str, key: &str) -> String {
    ampoule_sdk::egress::join(
        base,
        &format!("{PATH_PREFIX}/{}", ampoule_sdk::egress::encode_path(key)),
    )
}

/// The URL listing every key.
pub fn list_url(base: &str) -> String {
    ampoule_sdk::egress::join(base, PATH_PREFIX)
}

/// The error for a non-2xx answer about `what`.
pub fn error_for(status: u16, retry_after: Option<u32>, what: &str) -> ProviderError {
    errors::from_status(status, retry_after, what)
}

/// The `value` of a secret's answer.
pub fn parse_value(body: &[u8], key: &str) -> Result<Value, ProviderError> {
    let mut answer: Value = serde_json::from_slice(body)
        .map_err(|e| errors::internal(format!("secret {key}: the answer is not JSON: {e}")))?;
    match answer.get_mut("value").map(Value::take) {
        Some(Value::Null) | None => Err(errors::internal(format!(
            "secret {key}: the answer has no \"value\""
        ))),
        Some(value) => Ok(value),
    }
}

/// A value as secret bytes: a string as its UTF-8 bytes, anything else as JSON text.
pub fn bytes_of(value: &Value) -> Vec<u8> {
    match value {
        Value::String(s) => s.as_bytes().to_vec(),
        other => other.to_string().into_bytes(),
    }
}

/// `get-secret`: the value, or one top-level field of an object value.
pub fn select(value: &Value, key: &str, property: Option<&str>) -> Result<Vec<u8>, ProviderError> {
    let Some(property) = property else {
        return Ok(bytes_of(value));
    };
    let object = value.as_object().ok_or_else(|| {
        errors::not_found(format!(
            "secret {key} has no property {property}: its value is not an object"
        ))
    })?;
    object
        .get(property)
        .map(bytes_of)
        .ok_or_else(|| errors::not_found(format!("secret {key} has no property {property}")))
}

/// `get-secret-map`: the fields of an object value (a string holding a JSON object counts).
pub fn fields(value: &Value, key: &str) -> Result<Vec<(String, Vec<u8>)>, ProviderError> {
    let parsed;
    let object = match value {
        Value::Object(o) => o,
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s).ok();
            parsed
                .as_ref()
                .and_then(Value::as_object)
                .ok_or_else(|| errors::internal(format!("secret {key} is not a JSON object")))?
        }
        _ => {
            return Err(errors::internal(format!(
                "secret {key} is not a JSON object"
            )));
        }
    };
    Ok(object
        .iter()
        .map(|(k, v)| (k.clone(), bytes_of(v)))
        .collect())
}

/// The `keys` of a listing.
pub fn parse_keys(body: &[u8]) -> Result<Vec<String>, ProviderError> {
    let answer: Value = serde_json::from_slice(body)
        .map_err(|e| errors::internal(format!("listing: the answer is not JSON: {e}")))?;
    answer
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| errors::internal("listing: the answer has no \"keys\" list"))?
        .iter()
        .map(|k| {
            k.as_str()
                .map(str::to_owned)
                .ok_or_else(|| errors::internal("listing: a key is not a string"))
        })
        .collect()
}

/// `find`: the keys under `path` (a prefix) whose name matches `name_regexp`, sorted.
pub fn matching(
    mut keys: Vec<String>,
    path: Option<&str>,
    name_regexp: Option<&str>,
) -> Result<Vec<String>, ProviderError> {
    let regex = name_regexp
        .map(regex_lite::Regex::new)
        .transpose()
        .map_err(|e| errors::invalid_config(format!("find.name.regexp: {e}")))?;
    keys.retain(|k| {
        path.is_none_or(|p| k.starts_with(p)) && regex.as_ref().is_none_or(|r| r.is_match(k))
    });
    keys.sort();
    keys.dedup();
    Ok(keys)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn text(b: Vec<u8>) -> String {
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn urls() {
        assert_eq!(
            secret_url("http://h:1/", "a/b c"),
            "http://h:1/v1/secrets/a/b%20c"
        );
        assert_eq!(list_url("http://h:1"), "http://h:1/v1/secrets");
    }

    #[test]
    fn values_and_properties() {
        let s = parse_value(br#"{"value": "s3cr3t"}"#, "k").unwrap();
        assert_eq!(text(select(&s, "k", None).unwrap()), "s3cr3t");
        let o = parse_value(br#"{"value": {"user": "admin", "port": 5432}}"#, "db").unwrap();
        assert_eq!(text(select(&o, "db", Some("user")).unwrap()), "admin");
        assert_eq!(text(select(&o, "db", Some("port")).unwrap()), "5432");
        assert_eq!(
            text(select(&o, "db", None).unwrap()),
            r#"{"port":5432,"user":"admin"}"#
        );
        assert!(matches!(
            select(&o, "db", Some("nope")),
            Err(ProviderError::NotFound(_))
        ));
        assert!(matches!(
            select(&s, "k", Some("x")),
            Err(ProviderError::NotFound(_))
        ));
        assert!(matches!(
            parse_value(b"{}", "k"),
            Err(ProviderError::Internal(_))
        ));
        assert!(matches!(
            parse_value(b"<html>", "k"),
            Err(ProviderError::Internal(_))
        ));
    }

    #[test]
    fn maps() {
        let o = json!({"user": "admin", "n": 1});
        let m = fields(&o, "db").unwrap();
        assert_eq!(
            m,
            [
                ("n".into(), b"1".to_vec()),
                ("user".into(), b"admin".to_vec())
            ]
        );
        let s = json!("{\"a\": \"b\"}");
        assert_eq!(fields(&s, "k").unwrap(), [("a".into(), b"b".to_vec())]);
        assert!(fields(&json!("plain"), "k").is_err());
    }

    #[test]
    fn errors_by_status() {
        assert!(matches!(
            error_for(404, None, "k"),
            ProviderError::NotFound(_)
        ));
        assert!(matches!(
            error_for(401, None, "k"),
            ProviderError::Unauthorized(_)
        ));
        assert!(matches!(
            error_for(403, None, "k"),
            ProviderError::Forbidden(_)
        ));
        assert!(matches!(error_for(429, Some(3), "k"),
            ProviderError::RateLimited(r) if r.retry_after_secs == Some(3)));
        assert!(matches!(
            error_for(502, None, "k"),
            ProviderError::Unavailable(_)
        ));
    }

    #[test]
    fn find() {
        let keys = parse_keys(br#"{"keys": ["db-password", "api", "db"]}"#).unwrap();
        assert_eq!(
            matching(keys.clone(), None, Some("^db")).unwrap(),
            ["db", "db-password"]
        );
        assert_eq!(matching(keys.clone(), Some("a"), None).unwrap(), ["api"]);
        assert!(matches!(
            matching(keys, None, Some("(")),
            Err(ProviderError::InvalidConfig(_))
        ));
        assert!(parse_keys(br#"{"keys": [1]}"#).is_err());
    }
}
