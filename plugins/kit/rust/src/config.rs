//! The store's `spec.provider.{{name}}` block: parsed and checked with no I/O, so
//! `validate-config`, `requested-egress` and `requested-credentials` answer from it alone.

use ampoule_sdk::{CredentialRequest, EgressRule, ProviderError, credentials, egress, errors};
use serde::Deserialize;

/// The name the token is requested and read under.
pub const TOKEN: &str = "token";

/// The only paths this provider reads.
pub const PATH_PREFIX: &str = "/v1/secrets";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The backend, e.g. `https://kv.example.com` or `http://127.0.0.1:8080`.
    pub url: String,
    pub auth: Option<Auth>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Auth {
    /// The Secret key holding the bearer token (ESO's `SecretKeySelector`).
    pub token_secret_ref: SecretKeySelector,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretKeySelector {
    pub name: String,
    pub key: String,
    pub namespace: Option<String>,
}

impl Config {
    /// Parses and checks a config; every error is `invalid-config` and says what to fix.
    pub fn parse(json: &str) -> Result<Config, ProviderError> {
        let config: Config = serde_json::from_str(json)
            .map_err(|e| errors::invalid_config(format!("spec.provider.{{name}}: {e}")))?;
        egress::parse_origin(&config.url)?;
        if let Some(auth) = &config.auth {
            let r = &auth.token_secret_ref;
            if r.name.is_empty() || r.key.is_empty() {
                return Err(errors::invalid_config(
                    "spec.provider.{{name}}.auth.tokenSecretRef needs a name and a key",
                ));
            }
        }
        Ok(config)
    }

    /// Exactly the backend's origin, GET only, under [`PATH_PREFIX`].
    pub fn egress(&self) -> Result<Vec<EgressRule>, ProviderError> {
        Ok(vec![egress::origin_of(
            &self.url,
            &["GET"],
            &[PATH_PREFIX],
        )?])
    }

    /// The token's Secret key, when the store names one.
    pub fn credentials(&self) -> Vec<CredentialRequest> {
        self.auth
            .iter()
            .map(|a| {
                let r = &a.token_secret_ref;
                credentials::secret_key(TOKEN, &r.name, &r.key, r.namespace.as_deref())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ampoule_sdk::CredentialSource;

    fn invalid(json: &str) -> String {
        match Config::parse(json) {
            Err(ProviderError::InvalidConfig(m)) => m,
            other => format!("not invalid-config: {other:?}"),
        }
    }

    #[test]
    fn a_config_without_auth() {
        let c = Config::parse(r#"{"url": "http://127.0.0.1:8080"}"#).unwrap();
        assert!(c.credentials().is_empty());
        let rules = c.egress().unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].host, "127.0.0.1");
        assert_eq!(rules[0].ports, [8080]);
        assert_eq!(rules[0].methods, ["GET"]);
        assert_eq!(rules[0].path_prefixes, [PATH_PREFIX]);
    }

    #[test]
    fn the_token_is_requested_from_its_secret() {
        let c = Config::parse(
            r#"{"url": "https://kv.example", "auth": {"tokenSecretRef": {"name": "t", "key": "k"}}}"#,
        )
        .unwrap();
        let creds = c.credentials();
        assert_eq!(creds.len(), 1);
        assert_eq!(creds[0].name, TOKEN);
        assert!(matches!(&creds[0].source,
            CredentialSource::SecretKey(r) if r.name == "t" && r.key == "k" && r.namespace.is_none()));
        assert_eq!(c.egress().unwrap()[0].ports, [443]);
    }

    #[test]
    fn bad_configs_say_what_is_wrong() {
        assert!(invalid("{}").contains("missing field `url`"));
        assert!(invalid(r#"{"url": "kv.example"}"#).contains("no scheme"));
        assert!(invalid(r#"{"url": "ftp://kv.example"}"#).contains("http or https"));
        assert!(invalid(r#"{"url": "http://h", "auth": {}}"#).contains("tokenSecretRef"));
        assert!(
            invalid(r#"{"url": "http://h", "auth": {"tokenSecretRef": {"name": "", "key": "k"}}}"#)
                .contains("needs a name and a key")
        );
        assert!(invalid(r#"{"url": "http://h", "extra": 1}"#).contains("unknown field"));
    }
}
