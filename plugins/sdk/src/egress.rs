//! Building the answer of `requested-egress`: the rules a config needs, derived from the URLs
//! it names. The host grants at most these, narrowed by the ProviderClass ceiling and the
//! store's `spec.sandbox`; a request outside the grant fails with
//! [`crate::http::HttpError::Denied`].

use crate::{EgressRule, ProviderError};

/// The parts of an `http`/`https` URL an egress rule is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `http` or `https`, lower case.
    pub scheme: String,
    /// The host name or IP literal (IPv6 without brackets), lower case.
    pub host: String,
    /// The explicit port, or the scheme's default (80, 443).
    pub port: u16,
    /// The path (always starting with `/`), without query or fragment.
    pub path: String,
}

/// Parses an absolute `http`/`https` URL. Userinfo (`user:pass@`) is refused: credentials
/// belong in `requested-credentials`, not in a URL an admin reads in a store.
pub fn parse_origin(url: &str) -> Result<Origin, ProviderError> {
    let bad = |why: &str| ProviderError::InvalidConfig(format!("url {url:?}: {why}"));
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("not an absolute URL (no scheme://)"))?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return Err(bad("the scheme must be http or https")),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') {
        return Err(bad("credentials in the URL are not allowed"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| bad("unclosed [ in host"))?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?,
    };
    let path = tail.split(['?', '#']).next().unwrap_or_default();
    Ok(Origin {
        scheme,
        host: host.to_ascii_lowercase(),
        port,
        path: if path.is_empty() {
            "/".into()
        } else {
            path.into()
        },
    })
}

/// One rule for exactly the origin (scheme, host, port) of `url`, for these methods (empty:
/// any) and path prefixes (empty: any path).
pub fn origin_of(
    url: &str,
    methods: &[&str],
    path_prefixes: &[&str],
) -> Result<EgressRule, ProviderError> {
    let origin = parse_origin(url)?;
    Ok(EgressRule {
        schemes: vec![origin.scheme],
        host: origin.host,
        ports: vec![origin.port],
        methods: methods.iter().map(|m| m.to_ascii_uppercase()).collect(),
        path_prefixes: path_prefixes.iter().map(|p| (*p).to_owned()).collect(),
    })
}

/// Joins a base URL (with or without a trailing `/`) and a path that starts with `/`.
pub fn join(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

/// Percent-encodes one path segment (RFC 3986 unreserved characters stay as they are), so a
/// key such as `a/b c` becomes `a%2Fb%20c`.
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Percent-encodes a path of segments: each segment as [`encode_segment`], the `/` between them
/// kept, so a key such as `team/db password` becomes `team/db%20password`. Use it for keys that
/// name a path on the backend: the sandbox refuses an encoded `/` (`%2F`) in a request path, so a
/// key encoded as one segment would be forbidden.
pub fn encode_path(path: &str) -> String {
    path.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn origins() {
        let o = parse_origin("HTTPS://Vault.Example:8200/v1/x?y#z").unwrap();
        assert_eq!(
            (o.scheme.as_str(), o.host.as_str(), o.port, o.path.as_str()),
            ("https", "vault.example", 8200, "/v1/x")
        );
        assert_eq!(parse_origin("http://h").unwrap().port, 80);
        assert_eq!(parse_origin("https://h/").unwrap().port, 443);
        let v6 = parse_origin("http://[::1]:9/").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 9));
        for bad in [
            "h:1",
            "ftp://h",
            "http://",
            "http://u:p@h",
            "http://h:0",
            "http://h:x",
        ] {
            assert!(
                matches!(parse_origin(bad), Err(ProviderError::InvalidConfig(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_rule_for_the_origin() {
        let r = origin_of("http://127.0.0.1:8080/base", &["get"], &["/v1/"]).unwrap();
        assert_eq!(r.schemes, ["http"]);
        assert_eq!(
            (r.host.as_str(), r.ports.as_slice()),
            ("127.0.0.1", &[8080][..])
        );
        assert_eq!(r.methods, ["GET"]);
        assert_eq!(r.path_prefixes, ["/v1/"]);
    }

    #[test]
    fn joins_and_encodes() {
        assert_eq!(join("http://h/", "/v1"), "http://h/v1");
        assert_eq!(join("http://h", "/v1"), "http://h/v1");
        assert_eq!(encode_segment("a/b c~é"), "a%2Fb%20c~%C3%A9");
        assert_eq!(encode_path("team/db password"), "team/db%20password");
        assert_eq!(encode_path("a"), "a");
    }
}
