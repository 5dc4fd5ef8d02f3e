//! One store's client for one reconcile: KV reads, metadata, LIST and token lookup.

use std::cell::RefCell;

use ampoule_sdk::errors::invalid_config;
use ampoule_sdk::http::Response;
use ampoule_sdk::{ProviderError, SecretRef, StoreContext, StoreKind, Validation};
use serde_json::{Map, Value};

use crate::api::{self, Api};
use crate::auth::{Auth, Token};
use crate::config::{Config, Version};
use crate::paths::{data_path, metadata_path};
use ampoule_plugin_common::{gjson, gojson as value};

/// KV v2 metadata fields ESO adds next to `custom_metadata`.
const SYSTEM_METADATA: [&str; 3] = ["created_time", "current_version", "delete_version_after"];

pub struct VaultClient {
    pub mount: Option<String>,
    pub version: Version,
    api: Api,
    auth: Auth,
    /// ClusterSecretStore whose credentials resolve in each caller's namespace.
    referent: bool,
    /// `checkAndSet.required` (KV v2 writes carry `options.cas`).
    pub cas_required: bool,
    token: RefCell<Option<Token>>,
}

impl VaultClient {
    pub fn new(config: &Config, ctx: &StoreContext) -> Result<VaultClient, ProviderError> {
        config.check()?;
        Ok(VaultClient {
            mount: config
                .path
                .as_deref()
                .map(|p| p.trim_matches('/').to_owned())
                .filter(|p| !p.is_empty()),
            version: config.version,
            api: Api::new(config)?,
            auth: Auth::new(config, ctx)?,
            referent: ctx.kind == StoreKind::ClusterSecretStore && config.is_referent(),
            cas_required: config.cas_required(),
            token: RefCell::new(None),
        })
    }

    fn current_token(&self, fresh: bool) -> Result<(Option<String>, bool), ProviderError> {
        if !fresh && let Some(t) = self.token.borrow().as_ref() {
            return Ok((t.value.clone(), t.cached));
        }
        let t = self.auth.token(&self.api, fresh)?;
        let out = (t.value.clone(), t.cached);
        *self.token.borrow_mut() = Some(t);
        Ok(out)
    }

    /// A call with the store's token; a cached token Vault no longer accepts is replaced once.
    fn call(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
    ) -> Result<Response, ProviderError> {
        self.call_with(method, path, query, None)
    }

    /// [`Self::call`] with a JSON body.
    pub fn call_with(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Response, ProviderError> {
        let (token, cached) = self.current_token(false)?;
        let resp = self
            .api
            .send(method, path, query, token.as_deref(), body, None)?;
        if resp.status != 403 || !cached {
            return Ok(resp);
        }
        let check = self.api.send(
            "GET",
            "auth/token/lookup-self",
            None,
            token.as_deref(),
            None,
            None,
        )?;
        if check.status != 403 {
            return Ok(resp);
        }
        self.auth.forget();
        let (token, _) = self.current_token(true)?;
        self.api
            .send(method, path, query, token.as_deref(), body, None)
    }

    /// The secret's data (`.data.data` on v2, `.data` on v1); missing → not-found.
    pub fn read(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<Map<String, Value>, ProviderError> {
        let path = data_path(self.mount.as_deref(), self.version, key);
        let query = version
            .filter(|v| !v.is_empty())
            .map(|v| format!("version={}", crate::paths::encode(v)));
        let op = format!("read {path}");
        let resp = self.call("GET", &path, query.as_deref())?;
        if resp.status == 404 {
            return Err(ProviderError::NotFound(format!("{op}: secret not found")));
        }
        if !resp.is_success() {
            return Err(api::error(&op, &resp, false));
        }
        let mut json = api::json(&resp, &op)?;
        let data = match self.version {
            Version::V2 => {
                let data = json.get_mut("data").and_then(|d| d.get_mut("data"));
                match data.map(Value::take) {
                    None => {
                        return Err(ProviderError::Internal(format!(
                            "{op}: failed to find data field"
                        )));
                    }
                    Some(d) => d,
                }
            }
            Version::V1 => json.get_mut("data").map(Value::take).unwrap_or(Value::Null),
        };
        match data {
            Value::Object(map) => Ok(map),
            Value::Null => Err(ProviderError::NotFound(format!("{op}: secret not found"))),
            _ => Err(ProviderError::Internal(format!(
                "{op}: failed to unmarshall JSON"
            ))),
        }
    }

    /// The whole secret as Go's `json.Marshal` writes it.
    pub fn read_json(&self, key: &str, version: Option<&str>) -> Result<Vec<u8>, ProviderError> {
        Ok(value::go_json(&Value::Object(self.read(key, version)?)).into_bytes())
    }

    /// The KV v2 metadata endpoint's `data` (`None` when there is none).
    pub fn raw_metadata(&self, key: &str) -> Result<Option<Value>, ProviderError> {
        let path = metadata_path(self.mount.as_deref(), self.version, key)?;
        let op = format!("read {path}");
        let resp = self.call("GET", &path, None)?;
        if resp.status == 404 {
            return Ok(None);
        }
        if !resp.is_success() {
            return Err(api::error(&op, &resp, false));
        }
        let mut json = api::json(&resp, &op)?;
        Ok(json
            .get_mut("data")
            .map(Value::take)
            .filter(|d| !d.is_null()))
    }

    /// KV v2 metadata: `custom_metadata` plus ESO's system keys.
    pub fn metadata(&self, key: &str) -> Result<Vec<(String, String)>, ProviderError> {
        if self.version == Version::V1 {
            return Err(invalid_config(
                "cannot perform metadata fetch operations with kv version v1",
            ));
        }
        let path = metadata_path(self.mount.as_deref(), self.version, key)?;
        let op = format!("read {path}");
        let resp = self.call("GET", &path, None)?;
        if resp.status == 404 {
            return Err(ProviderError::NotFound(format!("{op}: secret not found")));
        }
        if !resp.is_success() {
            return Err(api::error(&op, &resp, false));
        }
        let json = api::json(&resp, &op)?;
        let data = &json["data"];
        let mut out = Vec::new();
        for k in SYSTEM_METADATA {
            if let Some(v) = data.get(k).filter(|v| !v.is_null()) {
                out.push((k.to_owned(), gjson::to_text(v)));
            }
        }
        if let Some(custom) = data.get("custom_metadata").and_then(Value::as_object) {
            for (k, v) in custom {
                out.retain(|(existing, _)| existing != k);
                out.push((k.clone(), gjson::to_text(v)));
            }
        }
        Ok(out)
    }

    /// Keys under a folder (`prefix` empty or ending in `/`); missing → not-found.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, ProviderError> {
        let path = metadata_path(self.mount.as_deref(), self.version, prefix)?;
        let op = format!("list {path}");
        let resp = self.call("LIST", &path, None)?;
        if resp.status == 404 {
            return Err(ProviderError::NotFound(format!("{op}: nothing found")));
        }
        if !resp.is_success() {
            return Err(api::error(&op, &resp, false));
        }
        let json = api::json(&resp, &op)?;
        Ok(json["data"]["keys"]
            .as_array()
            .map(|keys| {
                keys.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default())
    }

    pub fn get(&self, r: &SecretRef) -> Result<Vec<u8>, ProviderError> {
        let data: Map<String, Value> = if r.fetch_metadata {
            let md = self.metadata(&r.key)?;
            if md.is_empty() {
                return Ok(Vec::new());
            }
            md.into_iter().map(|(k, v)| (k, Value::String(v))).collect()
        } else {
            self.read(&r.key, r.version.as_deref())?
        };
        property(data, r.property.as_deref())
    }

    /// ESO's `Validate`: unknown for referent auth, otherwise `lookup-self` with the token.
    pub fn validate(&self) -> Result<Validation, ProviderError> {
        if self.referent {
            return Ok(Validation::Unknown);
        }
        let op = "token lookup-self";
        let resp = self.call("GET", "auth/token/lookup-self", None)?;
        if !resp.is_success() {
            return Err(api::error(op, &resp, false));
        }
        Ok(Validation::Valid)
    }
}

/// ESO's `getSecretValue`: no property → the whole map as JSON; an exact key first; then gjson.
pub fn property(
    data: Map<String, Value>,
    property: Option<&str>,
) -> Result<Vec<u8>, ProviderError> {
    let Some(prop) = property.filter(|p| !p.is_empty()) else {
        return Ok(value::go_json(&Value::Object(data)).into_bytes());
    };
    if let Some(v) = data.get(prop) {
        return Ok(value::byte_value(v));
    }
    gjson::get(&Value::Object(data), prop)
        .map(|v| gjson::to_text(&v).into_bytes())
        // ESO reports a missing property as an error, not as a missing secret (no deletionPolicy).
        .ok_or_else(|| {
            ProviderError::Internal(format!("cannot find secret data for key: {prop:?}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data() -> Map<String, Value> {
        match json!({"user": "admin", "a.b": "dotted", "a": {"b": "nested", "c": [1, 2]}, "n": 5}) {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn properties_like_eso() {
        let get = |p: Option<&str>| property(data(), p).map(|b| String::from_utf8(b).unwrap());
        assert_eq!(
            get(None).unwrap(),
            r#"{"a":{"b":"nested","c":[1,2]},"a.b":"dotted","n":5,"user":"admin"}"#
        );
        assert_eq!(get(Some("user")).unwrap(), "admin");
        assert_eq!(
            get(Some("a.b")).unwrap(),
            "dotted",
            "an exact key wins over a path"
        );
        assert_eq!(get(Some("a.c.1")).unwrap(), "2");
        assert_eq!(get(Some("a")).unwrap(), r#"{"b":"nested","c":[1,2]}"#);
        assert_eq!(get(Some("n")).unwrap(), "5");
        assert!(matches!(
            get(Some("missing")),
            Err(ProviderError::Internal(_))
        ));
    }
}
