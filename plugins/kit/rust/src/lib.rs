//! The `{{name}}` provider: reads secrets from a JSON key-value HTTP API (see [`backend`]) with a
//! bearer token from a Kubernetes Secret, through the host's egress policy.
//!
//! The pure parts (the config in [`config`], the answers in [`backend`]) have unit tests that
//! run natively (`cargo test`); this file is the glue to the WIT world and the HTTP client, tested
//! in the real sandbox by `ampoule plugin test build/{{name}}.wasm --store store.yaml`.

pub mod backend;
pub mod config;

use ampoule_sdk::{
    Capabilities, Client, CredentialRequest, EgressRule, FindQuery, Guest, GuestClient,
    ProviderError, ProviderInfo, PushRequest, SecretMap, SecretRef, StoreContext, Validation,
    credentials, errors, http,
};

use config::Config;

struct Provider;

struct KvClient {
    url: String,
    token: Option<String>,
}

impl Guest for Provider {
    type Client = KvClient;

    fn describe() -> ProviderInfo {
        ProviderInfo {
            name: "{{name}}".into(),
            version: "0.1.0".into(),
            capabilities: Capabilities::READ,
            config_schema: None,
        }
    }

    fn validate_config(config: String) -> Result<Vec<String>, ProviderError> {
        Config::parse(&config)?;
        Ok(Vec::new())
    }

    fn requested_egress(
        config: String,
        _settings: String,
    ) -> Result<Vec<EgressRule>, ProviderError> {
        Config::parse(&config)?.egress()
    }

    fn requested_credentials(config: String) -> Result<Vec<CredentialRequest>, ProviderError> {
        Ok(Config::parse(&config)?.credentials())
    }
}

impl KvClient {
    /// One GET; a non-2xx answer is the error its status maps to.
    fn get(&self, url: &str, what: &str) -> Result<Vec<u8>, ProviderError> {
        let mut request = http::Request::get(url).header("accept", "application/json");
        if let Some(token) = &self.token {
            request = request.header("authorization", &format!("Bearer {token}"));
        }
        let response = request.send()?;
        if !response.is_success() {
            return Err(backend::error_for(
                response.status,
                response.retry_after(),
                what,
            ));
        }
        Ok(response.body)
    }

    fn value(&self, key: &str) -> Result<serde_json::Value, ProviderError> {
        let body = self.get(
            &backend::secret_url(&self.url, key),
            &format!("secret {key}"),
        )?;
        backend::parse_value(&body, key)
    }

    fn keys(&self) -> Result<Vec<String>, ProviderError> {
        backend::parse_keys(&self.get(&backend::list_url(&self.url), "listing")?)
    }
}

impl GuestClient for KvClient {
    fn open(config: String, _ctx: StoreContext) -> Result<Client, ProviderError> {
        let config = Config::parse(&config)?;
        let token = match config.auth {
            Some(_) => Some(credentials::text(config::TOKEN)?),
            None => None,
        };
        Ok(Client::new(KvClient {
            url: config.url,
            token,
        }))
    }

    /// The store is valid when the backend lists its keys for this token.
    fn validate(&self) -> Result<Validation, ProviderError> {
        self.keys().map(|_| Validation::Valid)
    }

    fn get_secret(&self, secret: SecretRef) -> Result<Vec<u8>, ProviderError> {
        let value = self.value(&secret.key)?;
        backend::select(&value, &secret.key, secret.property.as_deref())
    }

    fn get_secret_map(&self, secret: SecretRef) -> Result<SecretMap, ProviderError> {
        let value = self.value(&secret.key)?;
        match secret.property.as_deref() {
            None => backend::fields(&value, &secret.key),
            Some(property) => {
                let inner = backend::select(&value, &secret.key, Some(property))?;
                let inner: serde_json::Value = serde_json::from_slice(&inner).map_err(|_| {
                    errors::internal(format!("{}.{property} is not a JSON object", secret.key))
                })?;
                backend::fields(&inner, &secret.key)
            }
        }
    }

    fn get_all_secrets(&self, query: FindQuery) -> Result<SecretMap, ProviderError> {
        if !query.tags.is_empty() {
            return Err(errors::invalid_config(
                "{{name}} has no tags: find by name or path",
            ));
        }
        let keys = backend::matching(
            self.keys()?,
            query.path.as_deref(),
            query.name_regexp.as_deref(),
        )?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            match self.value(&key) {
                Ok(value) => out.push((key, backend::bytes_of(&value))),
                // Deleted between the listing and the read.
                Err(ProviderError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    fn push_secret(&self, _req: PushRequest) -> Result<(), ProviderError> {
        Err(errors::forbidden("{{name}} is read-only"))
    }

    fn delete_secret(&self, _key: String, _property: Option<String>) -> Result<(), ProviderError> {
        Err(errors::forbidden("{{name}} is read-only"))
    }

    fn secret_exists(
        &self,
        _key: String,
        _property: Option<String>,
    ) -> Result<bool, ProviderError> {
        Err(errors::forbidden("{{name}} is read-only"))
    }
}

ampoule_sdk::export!(Provider with_types_in ampoule_sdk::bindings);
