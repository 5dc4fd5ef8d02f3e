//! Access tokens: a service-account key (RS256 JWT → OAuth2 JWT-bearer grant), GKE workload
//! identity (KSA token → identity binding token → generateAccessToken for the GSA named by the
//! KSA's `iam.gke.io/gcp-service-account` annotation, or the federated token without one) and
//! workload identity federation (KSA token → STS token exchange → optional generateAccessToken).
//! Tokens are cached in the host's per-store cache until five minutes before they expire.

use ampoule_plugin_common::hash::{sha256, sha256_hex};
use ampoule_plugin_common::url_encode;
use ampoule_sdk::errors::invalid_config;
use ampoule_sdk::http::Request;
use ampoule_sdk::{ProviderError, cache, credential};
use base64::Engine as _;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::google_error;
use crate::config::{self, Config, GSA, KSA_TOKEN, SA_KEY, Settings};

pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
const EARLY: i64 = 300;
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[derive(Deserialize)]
struct SaKey {
    client_email: String,
    private_key: String,
    #[serde(default)]
    private_key_id: String,
}

/// An access token for the store, from the cache or freshly minted.
pub fn token(cfg: &Config, s: &Settings, store_ns: Option<&str>) -> Result<String, ProviderError> {
    let a = &cfg.auth;
    // Workload identity: the GSA named by the KSA's annotation, if any.
    let mut gsa = None;
    let identity = if a.secret_ref.is_some() {
        let key = credential(SA_KEY)?;
        let cache_key = format!("gcp-token:key:{}", sha256_hex(&key));
        return cached(&cache_key, || key_token(&key, s));
    } else if let Some(wi) = &a.workload_identity {
        gsa = ampoule_sdk::annotation(GSA)?;
        json!([
            "wi",
            wi.service_account_ref
                .as_ref()
                .map(|r| (&r.name, &r.namespace)),
            store_ns,
            wi.cluster_name,
            gsa
        ])
    } else if cfg.uses_controller_identity() {
        gsa = ampoule_sdk::annotation(GSA)?;
        let (name, _) = controller_cluster(s)?;
        json!(["controller", name, gsa])
    } else {
        let f = a.workload_identity_federation.as_ref();
        json!([
            "wif",
            f.and_then(|f| f.service_account_ref.as_ref())
                .map(|r| (&r.name, &r.namespace)),
            store_ns,
            f.map(|f| (&f.audience, &f.gcp_service_account_email))
        ])
    };
    let cache_key = format!("gcp-token:{}", sha256_hex(identity.to_string().as_bytes()));
    cached(&cache_key, || {
        let ksa = String::from_utf8(credential(KSA_TOKEN)?)
            .map_err(|_| invalid_config("gcpsm: ServiceAccount token is not UTF-8"))?;
        let cluster = match &a.workload_identity {
            Some(wi) => Some((wi.cluster_name.as_str(), wi.cluster_location.as_str())),
            None if cfg.uses_controller_identity() => Some(controller_cluster(s)?),
            None => None,
        };
        if let Some((cluster_name, cluster_location)) = cluster {
            let audience = format!(
                "identitynamespace:{}.svc.id.goog:https://container.googleapis.com/v1/projects/{}/locations/{}/clusters/{}",
                cfg.cluster_project(),
                cfg.cluster_project(),
                cluster_location,
                cluster_name
            );
            let url = format!("{}/v1/identitybindingtoken", config::securetoken(s));
            let federated = exchange(&url, &ksa, &audience)?;
            // As ESO: without the annotation the federated token is used directly.
            match &gsa {
                Some(gsa) => impersonate(s, &federated.0, gsa),
                None => Ok(federated),
            }
        } else {
            let f = a
                .workload_identity_federation
                .as_ref()
                .ok_or_else(|| invalid_config("gcpsm: no auth"))?;
            let url = format!("{}/v1/token", config::sts(s));
            let federated = exchange(&url, &ksa, &f.audience)?;
            if f.gcp_service_account_email.is_empty() {
                Ok(federated)
            } else {
                impersonate(s, &federated.0, &f.gcp_service_account_email)
            }
        }
    })
}

/// The operator's cluster (name, location) from the ProviderClass settings, for a store with no
/// auth: ESO asks the GKE metadata server, which the sandbox does not have.
fn controller_cluster(s: &Settings) -> Result<(&str, &str), ProviderError> {
    s.workload_identity
        .as_ref()
        .filter(|c| !c.cluster_name.is_empty() && !c.cluster_location.is_empty())
        .map(|c| (c.cluster_name.as_str(), c.cluster_location.as_str()))
        .ok_or_else(|| {
            invalid_config(
                "gcpsm: this store names no auth, so it authenticates as the operator's own GKE \
                 workload identity: set settings.workloadIdentity.clusterName and \
                 clusterLocation on the ProviderClass (there is no metadata server in the sandbox)",
            )
        })
}

fn cached(
    key: &str,
    mint: impl FnOnce() -> Result<(String, i64), ProviderError>,
) -> Result<String, ProviderError> {
    if let Some(hit) = cache::get(key).and_then(|v| String::from_utf8(v).ok()) {
        return Ok(hit);
    }
    let (token, expires) = mint()?;
    let ttl = expires - now() - EARLY;
    if ttl > 0
        && let Err(why) = cache::set(
            key,
            token.as_bytes(),
            u32::try_from(ttl).unwrap_or(u32::MAX),
        )
    {
        ampoule_sdk::log::warn(&format!("gcpsm: token not cached: {why}"));
    }
    Ok(token)
}

fn b64url(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// An RS256 JWT for the OAuth2 JWT-bearer grant, signed with the key's private key.
pub fn signed_jwt(key: &[u8], aud: &str, iat: i64) -> Result<(String, String), ProviderError> {
    let key: SaKey = serde_json::from_slice(key)
        .map_err(|_| invalid_config("gcpsm: the service-account key is not a key JSON"))?;
    let private = RsaPrivateKey::from_pkcs8_pem(&key.private_key)
        .or_else(|_| RsaPrivateKey::from_pkcs1_pem(&key.private_key))
        .map_err(|_| {
            invalid_config("gcpsm: the service-account key's private_key is not an RSA PEM key")
        })?;
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": key.private_key_id});
    let claims =
        json!({"iss": key.client_email, "scope": SCOPE, "aud": aud, "iat": iat, "exp": iat + 3600});
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let sig = private
        .sign(
            Pkcs1v15Sign::new::<sha2::Sha256>(),
            &sha256(input.as_bytes()),
        )
        .map_err(|_| ProviderError::Internal("gcpsm: signing the JWT failed".into()))?;
    Ok((format!("{input}.{}", b64url(&sig)), key.client_email))
}

fn key_token(key: &[u8], s: &Settings) -> Result<(String, i64), ProviderError> {
    let url = config::token_url(s);
    let (jwt, _) = signed_jwt(key, &url, now())?;
    let body = format!(
        "grant_type={}&assertion={}",
        url_encode("urn:ietf:params:oauth:grant-type:jwt-bearer"),
        url_encode(&jwt)
    );
    let req = Request::new("POST", &url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    oauth_response("OAuth2 token", &req)
}

/// RFC 8693 token exchange (STS and the identity binding endpoint speak the same JSON).
fn exchange(url: &str, subject: &str, audience: &str) -> Result<(String, i64), ProviderError> {
    let body = json!({
        "grantType": TOKEN_EXCHANGE, "grant_type": TOKEN_EXCHANGE,
        "audience": audience, "scope": SCOPE,
        "requestedTokenType": "urn:ietf:params:oauth:token-type:access_token",
        "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "subjectToken": subject, "subject_token": subject,
        "subjectTokenType": "urn:ietf:params:oauth:token-type:jwt",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
    });
    let req = Request::new("POST", url)
        .header("content-type", "application/json")
        .body(body.to_string());
    oauth_response("token exchange", &req)
}

fn oauth_response(op: &str, req: &Request) -> Result<(String, i64), ProviderError> {
    let resp = req.send()?;
    if !resp.is_success() {
        return Err(google_error(op, &resp));
    }
    let v: Value = serde_json::from_slice(&resp.body)
        .map_err(|_| ProviderError::Internal(format!("{op}: response is not JSON")))?;
    let token = v
        .get("access_token")
        .and_then(Value::as_str)
        .ok_or_else(|| ProviderError::Internal(format!("{op}: no access_token")))?;
    let expires_in = v.get("expires_in").and_then(Value::as_i64).unwrap_or(0);
    Ok((token.to_owned(), now() + expires_in))
}

/// IAM Credentials `generateAccessToken` for a GSA, authorised by a federated token.
fn impersonate(s: &Settings, federated: &str, gsa: &str) -> Result<(String, i64), ProviderError> {
    let url = format!(
        "{}/v1/projects/-/serviceAccounts/{}:generateAccessToken",
        config::iamcredentials(s),
        url_encode(gsa)
    );
    let req = Request::new("POST", &url)
        .header("authorization", &format!("Bearer {federated}"))
        .header("content-type", "application/json")
        .body(json!({"scope": [SCOPE]}).to_string());
    let resp = req.send()?;
    if !resp.is_success() {
        return Err(google_error("generateAccessToken", &resp));
    }
    let v: Value = serde_json::from_slice(&resp.body)
        .map_err(|_| ProviderError::Internal("generateAccessToken: response is not JSON".into()))?;
    let token = v
        .get("accessToken")
        .and_then(Value::as_str)
        .ok_or_else(|| ProviderError::Internal("generateAccessToken: no accessToken".into()))?;
    let expires = v
        .get("expireTime")
        .and_then(Value::as_str)
        .and_then(parse_rfc3339)
        .unwrap_or(0);
    Ok((token.to_owned(), expires))
}

/// `YYYY-MM-DDTHH:MM:SS[.f]Z` → Unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (y2, mp) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + (153 * mp + 2) / 5 + d - 1;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + n(11..13)? * 3600 + n(14..16)? * 60 + n(17..19)?)
}

#[cfg(test)]
mod tests;
