//! ESO's `fake` provider (`spec.provider.fake`) as a sandboxed plugin: static data from the
//! store's config, no egress, no credentials.
//!
//! Config: `{data: [{key, value?, version?, valueMap?}], validationResult?}`.
//! - `data[].version`: when set, a `remoteRef.version` must equal it (and an unversioned ref
//!   only matches unversioned entries).
//! - `remoteRef.property`: a dotted path into the JSON value; a missing path is not-found.
//! - get-secret-map: `valueMap` when given (older ESO), otherwise `value` parsed as a JSON object
//!   (string members as their text, other members as JSON).
//! - find: only `name.regexp` is supported (the latest version of each matching key).
//! - validationResult other than `Ready` (0 in ESO's enum) makes `validate` fail.
//! - push/delete/exists work on the client's own copy (a client lives for one reconcile).

use std::cell::RefCell;
use std::collections::BTreeMap;

use ampoule_sdk::errors::{invalid_config, not_found};
use ampoule_sdk::{
    Capabilities, Client, CredentialRequest, EgressRule, FindQuery, Guest, GuestClient,
    ProviderError, ProviderInfo, PushRequest, SecretMap, SecretRef, StoreContext, Validation,
};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Config {
    #[serde(default)]
    data: Vec<Entry>,
    #[serde(default)]
    validation_result: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    value_map: BTreeMap<String, String>,
}

fn parse(config: &str) -> Result<Config, ProviderError> {
    serde_json::from_str(config).map_err(|e| invalid_config(format!("fake: {e}")))
}

fn check(config: &Config) -> Result<(), ProviderError> {
    for (pos, entry) in config.data.iter().enumerate() {
        if entry.key.is_empty() {
            return Err(invalid_config(format!("key must be set in data {pos}")));
        }
        if entry.value.is_empty() && entry.value_map.is_empty() {
            return Err(invalid_config(format!(
                "at least one value must be set in data {pos}"
            )));
        }
    }
    Ok(())
}

struct Fake;

impl Guest for Fake {
    type Client = FakeClient;

    fn describe() -> ProviderInfo {
        ProviderInfo {
            name: "fake".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            capabilities: Capabilities::READ | Capabilities::WRITE,
            config_schema: None,
        }
    }

    fn validate_config(config: String) -> Result<Vec<String>, ProviderError> {
        check(&parse(&config)?)?;
        Ok(Vec::new())
    }

    fn requested_egress(
        _config: String,
        _settings: String,
    ) -> Result<Vec<EgressRule>, ProviderError> {
        Ok(Vec::new())
    }

    fn requested_credentials(_config: String) -> Result<Vec<CredentialRequest>, ProviderError> {
        Ok(Vec::new())
    }
}

struct FakeClient {
    entries: RefCell<Vec<Entry>>,
    ready: bool,
}

/// ESO's `ValidationResult` enum: Ready = 0, Unknown = 1, Error = 2 (also accepted as names).
fn is_ready(value: &Option<serde_json::Value>) -> bool {
    match value {
        None => true,
        Some(serde_json::Value::Number(n)) => n.as_u64() == Some(0),
        Some(serde_json::Value::String(s)) => s == "Ready",
        Some(_) => false,
    }
}

impl FakeClient {
    fn find(&self, key: &str, version: Option<&str>) -> Option<Entry> {
        let version = version.unwrap_or_default();
        self.entries
            .borrow()
            .iter()
            .rev()
            .find(|e| e.key == key && e.version == version)
            .cloned()
    }
}

fn property(value: &str, path: &str) -> Option<String> {
    let mut node: serde_json::Value = serde_json::from_str(value).ok()?;
    for part in path.split('.') {
        node = match node {
            serde_json::Value::Object(mut map) => map.remove(part)?,
            serde_json::Value::Array(mut items) => {
                let i: usize = part.parse().ok()?;
                if i < items.len() {
                    items.swap_remove(i)
                } else {
                    return None;
                }
            }
            _ => return None,
        };
    }
    Some(match node {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    })
}

impl GuestClient for FakeClient {
    fn open(config: String, _ctx: StoreContext) -> Result<Client, ProviderError> {
        let config = parse(&config)?;
        check(&config)?;
        let ready = is_ready(&config.validation_result);
        Ok(Client::new(FakeClient {
            entries: RefCell::new(config.data),
            ready,
        }))
    }

    fn validate(&self) -> Result<Validation, ProviderError> {
        if self.ready {
            Ok(Validation::Valid)
        } else {
            Err(ProviderError::Unavailable("unable to validate".into()))
        }
    }

    fn get_secret(&self, secret: SecretRef) -> Result<Vec<u8>, ProviderError> {
        let entry = self
            .find(&secret.key, secret.version.as_deref())
            .ok_or_else(|| not_found(&secret.key))?;
        match secret.property.as_deref().filter(|p| !p.is_empty()) {
            None => Ok(entry.value.into_bytes()),
            Some(path) => property(&entry.value, path)
                .map(String::into_bytes)
                .ok_or_else(|| not_found(&secret.key)),
        }
    }

    fn get_secret_map(&self, secret: SecretRef) -> Result<SecretMap, ProviderError> {
        let entry = self
            .find(&secret.key, secret.version.as_deref())
            .ok_or_else(|| not_found(&secret.key))?;
        if !entry.value_map.is_empty() {
            return Ok(entry
                .value_map
                .into_iter()
                .map(|(k, v)| (k, v.into_bytes()))
                .collect());
        }
        let value = match secret.property.as_deref().filter(|p| !p.is_empty()) {
            None => entry.value,
            Some(path) => property(&entry.value, path).ok_or_else(|| not_found(&secret.key))?,
        };
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&value)
            .map_err(|e| ProviderError::Internal(format!("unable to unmarshal secret: {e}")))?;
        Ok(map
            .into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => (k, s.into_bytes()),
                other => (k, other.to_string().into_bytes()),
            })
            .collect())
    }

    fn get_all_secrets(&self, query: FindQuery) -> Result<SecretMap, ProviderError> {
        let Some(pattern) = query
            .name_regexp
            .filter(|_| query.tags.is_empty() && query.path.is_none())
        else {
            return Err(ProviderError::InvalidConfig(
                "fake: unsupported find operator (only name.regexp)".into(),
            ));
        };
        let re = regex_lite::Regex::new(&pattern)
            .map_err(|e| invalid_config(format!("find.name.regexp: {e}")))?;
        let mut latest: BTreeMap<String, (String, String)> = BTreeMap::new();
        for entry in self.entries.borrow().iter().filter(|e| re.is_match(&e.key)) {
            let newer = latest
                .get(&entry.key)
                .is_none_or(|(version, _)| version.as_str() < entry.version.as_str());
            if newer {
                latest.insert(
                    entry.key.clone(),
                    (entry.version.clone(), entry.value.clone()),
                );
            }
        }
        Ok(latest
            .into_iter()
            .map(|(k, (_, v))| (k, v.into_bytes()))
            .collect())
    }

    fn push_secret(&self, req: PushRequest) -> Result<(), ProviderError> {
        let value = String::from_utf8(req.value)
            .map_err(|_| ProviderError::Internal("fake stores text only".into()))?;
        let mut entries = self.entries.borrow_mut();
        entries.retain(|e| !(e.key == req.remote_key && e.version.is_empty()));
        entries.push(Entry {
            key: req.remote_key,
            value,
            version: String::new(),
            value_map: BTreeMap::new(),
        });
        Ok(())
    }

    fn delete_secret(
        &self,
        remote_key: String,
        _property: Option<String>,
    ) -> Result<(), ProviderError> {
        self.entries.borrow_mut().retain(|e| e.key != remote_key);
        Ok(())
    }

    fn secret_exists(
        &self,
        remote_key: String,
        _property: Option<String>,
    ) -> Result<bool, ProviderError> {
        Ok(self.entries.borrow().iter().any(|e| e.key == remote_key))
    }
}

ampoule_sdk::export!(Fake with_types_in ampoule_sdk::bindings);
