//! Helpers shared by the provider plugins (Vault, AWS, GCP), host-testable (no wasm imports).
//!
//! - [`gjson`]: ESO's property extraction (a literal dotted key first, then gjson path syntax).
//! - [`gojson`]: Go's `json.Marshal` output and ESO's `GetByteValue` / `GetSecretMap`.
//! - [`json_map`]: ESO's GetSecretMap conversion (string members raw, others as JSON).
//! - [`hash`]: SHA-256 / HMAC-SHA256 and hex.
//! - [`push_metadata`]: ESO's `PushSecretMetadata` envelope.
//! - [`sjson`]: setting one property of a JSON secret (PushSecret).

pub mod gjson;
pub mod gojson;
pub mod hash;
pub mod push_metadata;
pub mod sjson;

/// ESO's GetSecretMap: the payload must be a JSON object; string members are returned as their
/// text, every other member as its JSON encoding.
pub fn json_map(payload: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(payload).map_err(|e| format!("unable to unmarshal secret: {e}"))?;
    Ok(map
        .into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => (k, s.into_bytes()),
            other => (k, other.to_string().into_bytes()),
        })
        .collect())
}

/// Percent-encodes everything but RFC 3986 unreserved characters (what SigV4 and Google's
/// query strings expect).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_conversion_matches_eso() {
        let got = json_map(br#"{"a":"x","b":1,"c":{"d":true}}"#).unwrap();
        assert_eq!(
            got,
            vec![
                ("a".to_string(), b"x".to_vec()),
                ("b".to_string(), b"1".to_vec()),
                ("c".to_string(), br#"{"d":true}"#.to_vec()),
            ]
        );
        assert!(json_map(b"[1]").is_err());
    }

    #[test]
    fn encodes_unreserved_only() {
        assert_eq!(url_encode("a b/c~d"), "a%20b%2Fc~d");
        assert_eq!(url_encode("ሴ"), "%E1%88%B4");
    }
}

/// An endpoint URL's (scheme, host, ports) for an egress rule: the port list is empty when the
/// URL uses the scheme's default port. Only `http` and `https` are accepted.
pub fn endpoint_parts(url: &str) -> Option<(String, String, Vec<u16>)> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return None;
    }
    let (host, ports) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, vec![p.parse().ok()?]),
        _ => (authority, Vec::new()),
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if host.is_empty() {
        return None;
    }
    Some((scheme, host, ports))
}

#[cfg(test)]
mod endpoint_tests {
    use super::endpoint_parts;

    #[test]
    fn parts() {
        assert_eq!(
            endpoint_parts("http://127.0.0.1:5000/x"),
            Some(("http".into(), "127.0.0.1".into(), vec![5000]))
        );
        assert_eq!(
            endpoint_parts("https://Sts.amazonaws.com"),
            Some(("https".into(), "sts.amazonaws.com".into(), vec![]))
        );
        assert_eq!(endpoint_parts("ftp://x"), None);
        assert_eq!(endpoint_parts("https://u@h"), None);
    }
}
