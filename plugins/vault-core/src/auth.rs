//! Login once and reuse: the token lives in the host cache (scoped to store + plugin digest)
//! under a key naming the login identity, until shortly before its lease ends.

use ampoule_sdk::{
    CredentialSource, ProviderError, StoreContext, StoreKind, cache, credential, log,
};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::api::{self, Api};
use crate::config::{Config, Login, cred};

pub struct Auth {
    login: Login,
    /// Host-cache key for a login method; `None` for token/anonymous.
    cache_key: Option<String>,
    namespace: Option<String>,
}

/// A token and whether it came from the cache (then it may have been revoked since).
pub struct Token {
    pub value: Option<String>,
    pub cached: bool,
}

impl Auth {
    pub fn new(config: &Config, ctx: &StoreContext) -> Result<Auth, ProviderError> {
        let login = config.login()?;
        let cache_key = match &login {
            Login::Mount { .. } => Some(cache_key(&identity(config, ctx, &login)?)),
            _ => None,
        };
        let namespace = config
            .auth
            .as_ref()
            .and_then(|a| a.namespace.clone())
            .filter(|n| !n.is_empty());
        Ok(Auth {
            login,
            cache_key,
            namespace,
        })
    }

    /// The token to send: the configured one, a cached one, or a fresh login.
    pub fn token(&self, api: &Api, fresh: bool) -> Result<Token, ProviderError> {
        match &self.login {
            Login::Anonymous => Ok(Token {
                value: None,
                cached: false,
            }),
            Login::Token => Ok(Token {
                value: Some(text(cred::TOKEN, true)?),
                cached: false,
            }),
            Login::Mount { .. } => {
                let key = self.cache_key.as_deref().unwrap_or("vault-token");
                if !fresh && let Some(t) = cache::get(key).and_then(|t| String::from_utf8(t).ok()) {
                    return Ok(Token {
                        value: Some(t),
                        cached: true,
                    });
                }
                let (token, lease) = self.login(api)?;
                let ttl = cache_ttl(lease);
                if ttl > 0
                    && let Err(why) = cache::set(key, token.as_bytes(), ttl)
                {
                    log::debug(&format!("vault: token not cached: {why}"));
                }
                Ok(Token {
                    value: Some(token),
                    cached: false,
                })
            }
        }
    }

    /// Drops a cached token (it was revoked or expired early).
    pub fn forget(&self) {
        if let Some(key) = &self.cache_key {
            cache::delete(key);
        }
    }

    fn login(&self, api: &Api) -> Result<(String, u64), ProviderError> {
        let Login::Mount {
            method,
            mount,
            suffix,
            fields,
            secrets,
        } = &self.login
        else {
            return Err(ProviderError::Internal("vault: no login method".into()));
        };
        let mut body = Map::new();
        for (k, v) in fields {
            body.insert((*k).to_owned(), Value::String(v.clone()));
        }
        let mut material = Vec::new();
        for (field, name) in secrets {
            let value = text(name, *name == cred::JWT)?;
            material.push(value.clone());
            body.insert((*field).to_owned(), Value::String(value));
        }
        let op = format!("vault login ({method} at auth/{mount})");
        let path = format!("auth/{mount}/{suffix}");
        let body = Value::Object(body);
        let resp = api
            .send(
                "POST",
                &path,
                None,
                None,
                Some(&body),
                self.namespace.as_deref(),
            )
            .map_err(|e| scrub_error(e, &material))?;
        if !resp.is_success() {
            return Err(scrub_error(api::error(&op, &resp, true), &material));
        }
        let json = api::json(&resp, &op)?;
        let auth = &json["auth"];
        let token = auth["client_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ProviderError::Unauthorized(format!("{op}: no client_token in the response"))
            })?;
        let lease = auth["lease_duration"].as_u64().unwrap_or(0);
        log::info(&format!(
            "vault: logged in ({method} at auth/{mount}), lease {lease}s"
        ));
        Ok((token.to_owned(), lease))
    }
}

fn text(name: &str, trim: bool) -> Result<String, ProviderError> {
    let bytes = credential(name)?;
    let s = String::from_utf8(bytes)
        .map_err(|_| ProviderError::InvalidConfig(format!("credential {name:?} is not UTF-8")))?;
    Ok(if trim { s.trim().to_owned() } else { s })
}

fn scrub_error(e: ProviderError, secrets: &[String]) -> ProviderError {
    let s = |m: String| api::scrub(m, secrets);
    match e {
        ProviderError::NotFound(m) => ProviderError::NotFound(s(m)),
        ProviderError::Unauthorized(m) => ProviderError::Unauthorized(s(m)),
        ProviderError::Forbidden(m) => ProviderError::Forbidden(s(m)),
        ProviderError::InvalidConfig(m) => ProviderError::InvalidConfig(s(m)),
        ProviderError::RateLimited(mut r) => {
            r.message = s(r.message);
            ProviderError::RateLimited(r)
        }
        ProviderError::Unavailable(m) => ProviderError::Unavailable(s(m)),
        ProviderError::Internal(m) => ProviderError::Internal(s(m)),
    }
}

/// How long a token is reused: until 60 s before its lease ends (half the lease when short);
/// `0` (no expiry) → an hour (the host caps TTLs anyway).
pub fn cache_ttl(lease: u64) -> u32 {
    let ttl = match lease {
        0 => 3600,
        l if l > 120 => l - 60,
        l => l / 2,
    };
    u32::try_from(ttl).unwrap_or(u32::MAX)
}

/// What a cached token stands for: server, namespaces, the login and the credential references
/// (with the caller's namespace when a ClusterSecretStore reference resolves there).
pub fn identity(
    config: &Config,
    ctx: &StoreContext,
    login: &Login,
) -> Result<String, ProviderError> {
    let referent_ns = match ctx.kind {
        StoreKind::ClusterSecretStore => ctx.caller_namespace.clone().unwrap_or_default(),
        StoreKind::SecretStore => String::new(),
    };
    let mut id = format!(
        "{}|{:?}|{:?}|{login:?}",
        config.server,
        config.namespace,
        config.auth.as_ref().and_then(|a| a.namespace.clone())
    );
    for c in config.credentials()? {
        match c.source {
            CredentialSource::SecretKey(s) => {
                let ns = s.namespace.unwrap_or_else(|| referent_ns.clone());
                id.push_str(&format!("|secret:{ns}/{}/{}", s.name, s.key));
            }
            CredentialSource::ServiceAccountToken(s) => {
                let ns = s.namespace.unwrap_or_else(|| referent_ns.clone());
                id.push_str(&format!("|sa:{ns}/{}/{}", s.name, s.audiences.join(",")));
            }
            // Vault's auth methods request neither (the aws and gcp plugins do).
            CredentialSource::ServiceAccountAnnotation(_) | CredentialSource::AnnotatedToken(_) => {
            }
        }
    }
    Ok(id)
}

pub fn cache_key(identity: &str) -> String {
    let digest = Sha256::digest(identity.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("vault-token/{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(kind: StoreKind, caller: &str) -> StoreContext {
        StoreContext {
            kind,
            name: "s".into(),
            store_namespace: None,
            caller_namespace: Some(caller.into()),
            settings: "{}".into(),
        }
    }

    #[test]
    fn ttl_leaves_a_margin() {
        assert_eq!(cache_ttl(0), 3600);
        assert_eq!(cache_ttl(600), 540);
        assert_eq!(cache_ttl(100), 50);
        assert_eq!(cache_ttl(1), 0);
    }

    #[test]
    fn referent_logins_are_cached_per_caller_namespace() {
        let referent: Config = serde_json::from_value(json!({"server": "http://v:8200",
            "auth": {"kubernetes": {"role": "r", "serviceAccountRef": {"name": "sa"}}}}))
        .unwrap();
        let login = referent.login().unwrap();
        let key =
            |kind, caller| cache_key(&identity(&referent, &ctx(kind, caller), &login).unwrap());
        assert_ne!(
            key(StoreKind::ClusterSecretStore, "a"),
            key(StoreKind::ClusterSecretStore, "b")
        );
        assert_eq!(
            key(StoreKind::SecretStore, "a"),
            key(StoreKind::SecretStore, "b")
        );
        let fixed: Config = serde_json::from_value(json!({"server": "http://v:8200",
            "auth": {"kubernetes": {"role": "r", "serviceAccountRef": {"name": "sa", "namespace": "infra"}}}}))
        .unwrap();
        let login = fixed.login().unwrap();
        let key = |caller| {
            cache_key(
                &identity(&fixed, &ctx(StoreKind::ClusterSecretStore, caller), &login).unwrap(),
            )
        };
        assert_eq!(
            key("a"),
            key("b"),
            "an explicit namespace is shared by every caller"
        );
        assert!(key("a").len() < 100);
    }
}
