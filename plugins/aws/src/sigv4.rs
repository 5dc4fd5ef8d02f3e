//! AWS Signature Version 4 (header form), written against the published SigV4 test suite
//! (see `sigv4/tests.rs`).

use ampoule_plugin_common::hash::{hex, hmac_sha256, sha256_hex};
use ampoule_plugin_common::url_encode;
use ampoule_sdk::http::Request;

/// AWS credentials. `Debug` never prints the secret parts.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// What is signed: the raw (unencoded) path and query pairs, every header to sign (including
/// `host` and `x-amz-date`), and the payload.
pub struct Canonical<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a [(String, String)],
    pub headers: &'a [(String, String)],
    pub payload: &'a [u8],
}

/// (canonical request, signed header list).
pub fn canonical_request(req: &Canonical<'_>) -> (String, String) {
    let path = req
        .path
        .split('/')
        .map(url_encode)
        .collect::<Vec<_>>()
        .join("/");
    let mut query: Vec<(String, String)> = req
        .query
        .iter()
        .map(|(k, v)| (url_encode(k), url_encode(v)))
        .collect();
    query.sort();
    let query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut headers: Vec<(String, String)> = Vec::new();
    for (name, value) in req.headers {
        let name = name.to_ascii_lowercase();
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        match headers.iter_mut().find(|(n, _)| *n == name) {
            Some((_, existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            None => headers.push((name, value)),
        }
    }
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    let signed = headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_headers: String = headers.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let creq = format!(
        "{}\n{path}\n{query}\n{canonical_headers}\n{signed}\n{}",
        req.method,
        sha256_hex(req.payload)
    );
    (creq, signed)
}

/// The `Authorization` header value.
pub fn authorization(
    req: &Canonical<'_>,
    creds: &Credentials,
    region: &str,
    service: &str,
    amz_date: &str,
) -> String {
    let (creq, signed) = canonical_request(req);
    let day = amz_date.get(..8).unwrap_or_default();
    let scope = format!("{day}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(creq.as_bytes())
    );
    let mut key = hmac_sha256(
        format!("AWS4{}", creds.secret_access_key).as_bytes(),
        day.as_bytes(),
    );
    for part in [region, service, "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    let signature = hex(&hmac_sha256(&key, string_to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
        creds.access_key_id
    )
}

/// Signs a request (no query string) in place: adds `x-amz-date`, `x-amz-security-token` when
/// the credentials carry one, and `authorization`. `host` is signed from the URL's authority
/// (wasi:http sets the header from it).
pub fn sign(req: &mut Request, creds: &Credentials, region: &str, service: &str, amz_date: &str) {
    let rest = req
        .url
        .split_once("://")
        .map_or(req.url.as_str(), |(_, r)| r);
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let path = path
        .split(['?', '#'])
        .next()
        .filter(|p| !p.is_empty())
        .unwrap_or("/");
    req.headers.push(("x-amz-date".into(), amz_date.into()));
    if let Some(token) = &creds.session_token {
        req.headers
            .push(("x-amz-security-token".into(), token.clone()));
    }
    let mut signed = vec![("host".to_owned(), authority.to_owned())];
    signed.extend(req.headers.iter().cloned());
    let canonical = Canonical {
        method: &req.method,
        path,
        query: &[],
        headers: &signed,
        payload: &req.body,
    };
    let auth = authorization(&canonical, creds, region, service, amz_date);
    req.headers.push(("authorization".into(), auth));
}

#[cfg(test)]
mod tests;
