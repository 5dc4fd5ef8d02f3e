//! PushSecret on KV v1 and v2 (ESO's `PushSecret`, `DeleteSecret`, `SecretExists`).
//!
//! - A secret is ours when its custom metadata says `managed-by: external-secrets` (KV v2: the
//!   metadata endpoint; KV v1: a `custom_metadata` entry inside the secret, as ESO writes it).
//!   Anything else that exists is refused (`forbidden`); delete leaves it alone.
//! - A `property` push merges into the existing properties; a whole-Secret push writes the JSON
//!   object. Nothing changed → no write.
//! - KV v2 with `checkAndSet.required`: `options.cas` is 0 for a new secret, else the current
//!   version (read from the metadata already fetched for the ownership check).
//! - ESO's Vault provider ignores `data[].metadata`; so does this one (with a warning).

use ampoule_sdk::errors::internal;
use ampoule_sdk::{ProviderError, PushRequest};
use serde_json::{Map, Value, json};

use crate::api;
use crate::client::VaultClient;
use crate::config::Version;
use crate::paths::{data_path, metadata_path};

const MANAGED_BY: &str = "managed-by";
const ESO: &str = "external-secrets";
const CUSTOM_METADATA: &str = "custom_metadata";

/// What is at a key: its data and (KV v2) its metadata.
struct Existing {
    data: Map<String, Value>,
    /// KV v2 metadata `data` (`None` on KV v1).
    metadata: Option<Value>,
}

impl Existing {
    fn managed(&self, version: Version) -> bool {
        let custom = match version {
            Version::V1 => self.data.get(CUSTOM_METADATA),
            Version::V2 => self.metadata.as_ref().and_then(|m| m.get(CUSTOM_METADATA)),
        };
        custom
            .and_then(|c| c.get(MANAGED_BY))
            .and_then(Value::as_str)
            == Some(ESO)
    }

    /// KV v2 `current_version` (1 when the metadata does not say, as ESO).
    fn current_version(&self) -> u64 {
        self.metadata
            .as_ref()
            .and_then(|m| m.get("current_version"))
            .and_then(Value::as_u64)
            .unwrap_or(1)
    }
}

fn not_managed(path: &str) -> ProviderError {
    ProviderError::Forbidden(format!(
        "secret {path} exists and is not managed by external-secrets (its custom metadata has no \
         managed-by: external-secrets); refusing to overwrite it"
    ))
}

impl VaultClient {
    fn path(&self, key: &str) -> String {
        data_path(self.mount.as_deref(), self.version, key)
    }

    /// The secret at `key` and, when it exists on KV v2, its metadata.
    fn existing(&self, key: &str) -> Result<Option<Existing>, ProviderError> {
        let data = match self.read(key, None) {
            Ok(d) => d,
            Err(ProviderError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let metadata = match self.version {
            Version::V1 => None,
            Version::V2 => self.raw_metadata(key)?,
        };
        Ok(Some(Existing { data, metadata }))
    }

    fn write(&self, path: &str, body: &Value) -> Result<(), ProviderError> {
        let resp = self.call_with("PUT", path, None, Some(body))?;
        if !resp.is_success() {
            return Err(api::error(&format!("write {path}"), &resp, false));
        }
        Ok(())
    }

    fn delete(&self, path: &str) -> Result<(), ProviderError> {
        let resp = self.call_with("DELETE", path, None, None)?;
        if !resp.is_success() && resp.status != 404 {
            return Err(api::error(&format!("delete {path}"), &resp, false));
        }
        Ok(())
    }

    /// Writes `data` at `key` (KV v2: wrapped in `data`, with `options.cas` when required).
    fn write_data(
        &self,
        key: &str,
        mut data: Map<String, Value>,
        existing: Option<&Existing>,
    ) -> Result<(), ProviderError> {
        let path = self.path(key);
        let body = match self.version {
            Version::V1 => {
                data.insert(CUSTOM_METADATA.into(), json!({MANAGED_BY: ESO}));
                Value::Object(data)
            }
            Version::V2 => {
                let mut body = json!({"data": data});
                if self.cas_required {
                    let cas = existing.map_or(0, Existing::current_version);
                    body["options"] = json!({"cas": cas});
                }
                body
            }
        };
        self.write(&path, &body)
    }

    pub fn push(&self, req: &PushRequest) -> Result<(), ProviderError> {
        if req
            .metadata
            .as_deref()
            .is_some_and(|m| !m.trim().is_empty())
        {
            ampoule_sdk::log::warn(
                "vault: data[].metadata is ignored (ESO's Vault provider does not use it)",
            );
        }
        let key = req.remote_key.as_str();
        let path = self.path(key);
        // Fails early (before any write) for a KV v2 key without a store path and without /data/.
        let meta_path = metadata_path(self.mount.as_deref(), self.version, key)?;
        let mut existing = self.existing(key)?;
        if let Some(e) = existing.as_mut() {
            if !e.managed(self.version) {
                return Err(not_managed(&path));
            }
            if self.version == Version::V1 {
                e.data.remove(CUSTOM_METADATA);
            }
        }
        let current = existing.as_ref().map(|e| &e.data);
        let data = match req.property.as_deref().filter(|p| !p.is_empty()) {
            Some(prop) => {
                let mut data = current.cloned().unwrap_or_default();
                if let Some(old) = data.get(prop) {
                    let old = old
                        .as_str()
                        .ok_or_else(|| internal(format!("error converting {prop} to string")))?;
                    if old.as_bytes() == req.value.as_slice() {
                        return Ok(());
                    }
                }
                let value = String::from_utf8_lossy(&req.value).into_owned();
                data.insert(prop.to_owned(), Value::String(value));
                data
            }
            None => {
                // The parse error is not passed on: it may quote the secret.
                let incoming: Map<String, Value> =
                    serde_json::from_slice(&req.value).map_err(|_| {
                        internal("error unmarshalling vault secret: invalid JSON format")
                    })?;
                if current == Some(&incoming) {
                    return Ok(());
                }
                incoming
            }
        };
        // KV v2: the ownership label on the metadata endpoint, unless it is there already (that
        // write would also replace any other custom metadata the secret carries).
        if self.version == Version::V2 && existing.is_none() {
            self.write(&meta_path, &json!({CUSTOM_METADATA: {MANAGED_BY: ESO}}))?;
        }
        self.write_data(key, data, existing.as_ref())
    }

    pub fn delete_pushed(&self, key: &str, property: Option<&str>) -> Result<(), ProviderError> {
        let meta_path = metadata_path(self.mount.as_deref(), self.version, key)?;
        let Some(mut existing) = self.existing(key)? else {
            return Ok(());
        };
        if !existing.managed(self.version) {
            return Ok(());
        }
        if let Some(prop) = property.filter(|p| !p.is_empty()) {
            existing.data.remove(CUSTOM_METADATA);
            if existing.data.remove(prop).is_none() {
                return Ok(());
            }
            if !existing.data.is_empty() {
                let data = std::mem::take(&mut existing.data);
                return self.write_data(key, data, Some(&existing));
            }
        }
        match self.version {
            Version::V1 => self.delete(&self.path(key)),
            // Deleting the metadata removes every version.
            Version::V2 => self.delete(&meta_path),
        }
    }

    /// ESO's `SecretExists`: the secret exists and, with a property, has it.
    pub fn exists(&self, key: &str, property: Option<&str>) -> Result<bool, ProviderError> {
        let data = match self.read(key, None) {
            Ok(d) => d,
            Err(ProviderError::NotFound(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        match crate::client::property(data, property) {
            Ok(_) => Ok(true),
            Err(ProviderError::Internal(m)) if m.starts_with("cannot find secret data") => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}
