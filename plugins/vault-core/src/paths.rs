//! The server origin and ESO's KV path rules (`buildPath`, `buildMetadataPath`).

use ampoule_sdk::ProviderError;
use ampoule_sdk::errors::invalid_config;

use crate::config::Version;

/// `scheme://host:port[/base]` of `spec.provider.vault.server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub scheme: String,
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    /// Path the server is mounted under (`""` normally), without a trailing `/`.
    pub base_path: String,
}

impl Origin {
    pub fn parse(server: &str) -> Result<Origin, ProviderError> {
        let bad = |why: &str| invalid_config(format!("server {server:?}: {why}"));
        let (scheme, rest) = server
            .trim()
            .split_once("://")
            .ok_or_else(|| bad("expected http(s)://host[:port]"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => return Err(bad("scheme must be http or https")),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.contains('@') {
            return Err(bad("user info is not allowed"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, tail) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            (h.to_owned(), tail.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (authority.to_owned(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            None | Some("") => default_port,
            Some(p) => p.parse().map_err(|_| bad("invalid port"))?,
        };
        let base_path = path
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_owned();
        Ok(Origin {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
            base_path,
        })
    }

    /// `scheme://authority/base`, the prefix of every request URL.
    pub fn base_url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{}://{host}:{}{}", self.scheme, self.port, self.base_path)
    }
}

/// ESO's `buildPath`: where a `remoteRef.key` is read from.
pub fn data_path(mount: Option<&str>, version: Version, key: &str) -> String {
    let v2 = version == Version::V2;
    if let Some(mount) = mount.filter(|m| !m.is_empty()) {
        let mut out = key;
        if let Some(rest) = key.strip_prefix(&format!("{mount}/")) {
            out = rest;
            if v2 && let Some(rest) = out.strip_prefix("data/") {
                out = rest;
            }
        }
        return if v2 {
            format!("{mount}/data/{out}")
        } else {
            format!("{mount}/{out}")
        };
    }
    if v2 && !key.contains("/data/") {
        return match key.split_once('/') {
            Some((first, rest)) => format!("{first}/data/{rest}"),
            None => format!("{key}/data"),
        };
    }
    key.to_owned()
}

/// ESO's `buildMetadataPath` (KV v2 `metadata/`, or the v1 path).
pub fn metadata_path(
    mount: Option<&str>,
    version: Version,
    key: &str,
) -> Result<String, ProviderError> {
    let mount = mount.filter(|m| !m.is_empty());
    if version == Version::V1 {
        return Ok(match mount {
            Some(m) => format!("{m}/{key}"),
            None => key.to_owned(),
        });
    }
    let Some(mount) = mount else {
        if !key.contains("data") {
            return Err(invalid_config(
                "provided Path isn't a valid kv v2 path (set the store's path)",
            ));
        }
        return Ok(key.replacen("/data/", "/metadata/", 1));
    };
    let mut out = key;
    if let Some(rest) = key.strip_prefix(&format!("{mount}/")) {
        out = rest.strip_prefix("data/").unwrap_or(rest);
    }
    Ok(format!("{mount}/metadata/{out}"))
}

/// Percent-encodes a Vault path for a URL (keeps `/` and RFC 3986 unreserved/sub-delims).
pub fn encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Version::{V1, V2};

    #[test]
    fn build_path_matches_eso_examples() {
        let cases = [
            (Some("secret/path"), V2, "foo", "secret/path/data/foo"),
            (Some("secret/path"), V1, "foo", "secret/path/foo"),
            (
                Some("secret/path"),
                V2,
                "secret/path/foo",
                "secret/path/data/foo",
            ),
            (
                Some("secret/path"),
                V2,
                "secret/path/data/foo",
                "secret/path/data/foo",
            ),
            (
                Some("secret/path"),
                V1,
                "secret/path/foo",
                "secret/path/foo",
            ),
            (None, V2, "secret/path/foo", "secret/data/path/foo"),
            (None, V2, "secret/path/data/foo", "secret/path/data/foo"),
            (None, V1, "secret/path/foo", "secret/path/foo"),
            (Some("secret"), V2, "a/b.c", "secret/data/a/b.c"),
        ];
        for (mount, version, key, want) in cases {
            assert_eq!(
                data_path(mount, version, key),
                want,
                "{mount:?} {version:?} {key}"
            );
        }
    }

    #[test]
    fn metadata_paths() {
        assert_eq!(
            metadata_path(Some("secret"), V2, "a/b").unwrap(),
            "secret/metadata/a/b"
        );
        assert_eq!(
            metadata_path(Some("secret"), V2, "secret/data/a").unwrap(),
            "secret/metadata/a"
        );
        assert_eq!(metadata_path(Some("kv"), V1, "x/").unwrap(), "kv/x/");
        assert_eq!(
            metadata_path(None, V2, "secret/data/a").unwrap(),
            "secret/metadata/a"
        );
        assert!(metadata_path(None, V2, "secret/a").is_err());
        assert_eq!(
            metadata_path(Some("secret"), V2, "").unwrap(),
            "secret/metadata/"
        );
    }

    #[test]
    fn origins() {
        let o = Origin::parse("http://127.0.0.1:8200").unwrap();
        assert_eq!(
            (o.scheme.as_str(), o.host.as_str(), o.port),
            ("http", "127.0.0.1", 8200)
        );
        assert_eq!(o.base_url(), "http://127.0.0.1:8200");
        let o = Origin::parse("https://Vault.Example.com/").unwrap();
        assert_eq!(
            (o.host.as_str(), o.port, o.base_path.as_str()),
            ("vault.example.com", 443, "")
        );
        let o = Origin::parse("https://[::1]:8200/base/").unwrap();
        assert_eq!((o.host.as_str(), o.base_path.as_str()), ("::1", "/base"));
        assert_eq!(o.base_url(), "https://[::1]:8200/base");
        for bad in [
            "vault:8200",
            "ftp://x",
            "http://",
            "http://u@x",
            "http://x:99999",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn encodes_paths() {
        assert_eq!(encode("secret/data/a b?c#d"), "secret/data/a%20b%3Fc%23d");
        assert_eq!(encode("a/b.c-d_e~f"), "a/b.c-d_e~f");
    }
}
