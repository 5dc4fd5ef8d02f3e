//! The files `ampoule plugin test` reads: a SecretStore (`store.yaml`) and a case file
//! (`cases.yaml`: the backend, the Secrets the store's references resolve to, the cases).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::plugin::SandboxSpec;
use crate::provider::{FindRef, RemoteRef, StoreKind};

/// The text `${BACKEND_URL}` in the store file is replaced with.
pub const BACKEND_URL: &str = "${BACKEND_URL}";

#[derive(Debug, thiserror::Error)]
pub enum CasesError {
    #[error("read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {why}")]
    Parse { path: PathBuf, why: String },
}

/// A case file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaseFile {
    pub backend: Option<BackendSpec>,
    /// `namespace/name` → the Secret's data (text values).
    #[serde(default)]
    pub secrets: BTreeMap<String, BTreeMap<String, String>>,
    pub cases: Vec<Case>,
}

/// `serve` (a JSON object file served on loopback) or `url` (a server the author runs).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackendSpec {
    pub serve: Option<PathBuf>,
    pub token: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Case {
    pub name: String,
    #[serde(flatten)]
    pub call: Call,
    /// Replaces the store's provider config for this case.
    pub config: Option<Value>,
    /// Replaces the file's `secrets` for this case.
    pub secrets: Option<BTreeMap<String, BTreeMap<String, String>>>,
    #[serde(default)]
    pub expect: Expect,
}

/// What a case calls.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Call {
    /// The component's `describe`.
    Describe(Value),
    /// `validate-config` and the rest of opening a client (egress, credentials, `open`).
    ValidateConfig(Value),
    /// The client's live `validate`.
    Validate(Value),
    Get(Remote),
    GetMap(Remote),
    Find(Find),
}

/// An ExternalSecret's `remoteRef`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Remote {
    pub key: String,
    pub property: Option<String>,
    pub version: Option<String>,
    /// `None` (default) or `Fetch`.
    pub metadata_policy: Option<String>,
}

impl Remote {
    pub fn to_ref(&self) -> RemoteRef {
        RemoteRef {
            key: self.key.clone(),
            property: self.property.clone(),
            version: self.version.clone(),
            fetch_metadata: self.metadata_policy.as_deref() == Some("Fetch"),
        }
    }
}

/// `dataFrom[].find`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Find {
    pub path: Option<String>,
    pub name: Option<FindName>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindName {
    pub regexp: Option<String>,
}

impl Find {
    pub fn to_ref(&self) -> FindRef {
        FindRef {
            path: self.path.clone(),
            name_regexp: self.name.as_ref().and_then(|n| n.regexp.clone()),
            tags: self.tags.clone(),
        }
    }
}

/// What a case expects; only the fields given are checked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Expect {
    /// `describe`'s name.
    pub provider: Option<String>,
    /// `get`'s value as text.
    pub value: Option<String>,
    /// `getMap`'s or `find`'s entries as text.
    pub map: Option<BTreeMap<String, String>>,
    /// `find`'s keys (any order).
    pub keys: Option<Vec<String>>,
    /// The error kind, as in the WIT: not-found, unauthorized, forbidden, invalid-config,
    /// rate-limited, unavailable, internal.
    pub error: Option<String>,
    /// `validate`'s answer: valid or unknown.
    pub validation: Option<String>,
    /// `true`: the call succeeds (whatever it returns).
    pub ok: Option<bool>,
}

/// The parts of a SecretStore or ClusterSecretStore a provider sees.
#[derive(Debug, Clone)]
pub struct Store {
    pub kind: StoreKind,
    pub name: String,
    pub namespace: Option<String>,
    pub provider: String,
    pub config: Value,
    pub sandbox: Option<SandboxSpec>,
}

fn read(path: &Path) -> Result<String, CasesError> {
    std::fs::read_to_string(path).map_err(|source| CasesError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a case file.
pub fn load_cases(path: &Path) -> Result<CaseFile, CasesError> {
    let text = read(path)?;
    serde_norway::from_str(&text).map_err(|e| CasesError::Parse {
        path: path.to_path_buf(),
        why: e.to_string(),
    })
}

/// Reads a store file, `${BACKEND_URL}` replaced by `backend_url` (when there is a backend).
pub fn load_store(path: &Path, backend_url: Option<&str>) -> Result<Store, CasesError> {
    let mut text = read(path)?;
    if let Some(url) = backend_url {
        text = text.replace(BACKEND_URL, url);
    }
    parse_store(&text).map_err(|why| CasesError::Parse {
        path: path.to_path_buf(),
        why,
    })
}

/// A SecretStore's kind, name, namespace, single provider key and block, and `spec.sandbox`.
pub fn parse_store(text: &str) -> Result<Store, String> {
    let doc: Value = serde_norway::from_str(text).map_err(|e| e.to_string())?;
    let kind = match doc["kind"].as_str() {
        Some("SecretStore") => StoreKind::SecretStore,
        Some("ClusterSecretStore") => StoreKind::ClusterSecretStore,
        other => {
            return Err(format!(
                "kind must be SecretStore or ClusterSecretStore, not {other:?}"
            ));
        }
    };
    let name = doc["metadata"]["name"]
        .as_str()
        .ok_or("metadata.name is missing")?
        .to_owned();
    let namespace = match kind {
        StoreKind::SecretStore => Some(
            doc["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_owned(),
        ),
        StoreKind::ClusterSecretStore => None,
    };
    let providers = doc["spec"]["provider"]
        .as_object()
        .ok_or("spec.provider is missing")?;
    let mut keys = providers.iter();
    let (provider, config) = match (keys.next(), keys.next()) {
        (Some((k, v)), None) => (k.clone(), v.clone()),
        _ => return Err("spec.provider must have exactly one key".into()),
    };
    let sandbox = match doc["spec"].get("sandbox") {
        None | Some(Value::Null) => None,
        Some(spec) => {
            Some(serde_json::from_value(spec.clone()).map_err(|e| format!("spec.sandbox: {e}"))?)
        }
    };
    Ok(Store {
        kind,
        name,
        namespace,
        provider,
        config,
        sandbox,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_contract_example() {
        let file: CaseFile = serde_norway::from_str(
            r#"
backend: {serve: backend.json, token: t0ken}
secrets:
  default/kv-token: {token: t0ken}
cases:
- {name: d, describe: {}, expect: {provider: acme}}
- {name: g, get: {key: db, property: user}, expect: {value: admin}}
- {name: m, getMap: {key: db}, expect: {map: {user: admin}}}
- {name: f, find: {name: {regexp: "^db"}}, expect: {keys: [db]}}
- {name: n, get: {key: nope}, expect: {error: not-found}}
- {name: v, validate: {}, expect: {validation: valid}}
- {name: c, validateConfig: {}, config: {url: x}, expect: {error: invalid-config}}
"#,
        )
        .unwrap();
        assert_eq!(file.cases.len(), 7);
        assert!(
            matches!(&file.cases[1].call, Call::Get(r) if r.property.as_deref() == Some("user"))
        );
        assert!(
            matches!(&file.cases[3].call, Call::Find(f) if f.to_ref().name_regexp.as_deref() == Some("^db"))
        );
        assert!(file.cases[6].config.is_some());
        assert_eq!(file.secrets["default/kv-token"]["token"], "t0ken");
        assert!(
            serde_norway::from_str::<CaseFile>(
                "cases: [{name: x, expect: {valu: 1}, get: {key: a}}]"
            )
            .is_err()
        );
    }

    #[test]
    fn parses_a_store() {
        let s = parse_store(
            "kind: SecretStore\nmetadata: {name: s}\nspec:\n  provider:\n    acme: {url: u}\n  sandbox: {limits: {timeout: 5s}}\n",
        )
        .unwrap();
        assert_eq!(
            (s.provider.as_str(), s.namespace.as_deref()),
            ("acme", Some("default"))
        );
        assert_eq!(s.config["url"], "u");
        assert!(s.sandbox.is_some());
        assert!(
            parse_store("kind: SecretStore\nmetadata: {name: s}\nspec: {provider: {a: {}, b: {}}}")
                .is_err()
        );
        assert!(parse_store("kind: Secret\nmetadata: {name: s}").is_err());
    }
}
