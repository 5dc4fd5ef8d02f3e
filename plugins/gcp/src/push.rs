//! PushSecret on Secret Manager (ESO's `PushSecret`, `DeleteSecret`).
//!
//! - A secret is ours when labelled `managed-by: external-secrets`; an existing secret without
//!   it is refused (`forbidden`) for every push (ESO checks it for whole-Secret pushes only) and
//!   left alone by delete.
//! - A new secret is created with its labels and annotations (ESO creates it, then updates them:
//!   one write fewer here) and, without a store `location`, the replication from the metadata
//!   (`replicationLocation(s)`, `cmekKeyName`), else automatic.
//! - Whole-Secret push: labels are the metadata's (`mergePolicy: Merge` keeps the existing ones
//!   on top), annotations the metadata's; a `property` push keeps both (no metadata allowed with
//!   a property, as ESO) and sets that path in the JSON payload.
//! - Labels/annotations are updated (PATCH, etag-checked) only when they differ; a version is
//!   added only when the payload changes. `topics` is refused: it is not supported here.
//! - Delete removes the whole secret (etag-checked), also for a property, as ESO.

use std::collections::BTreeMap;

use ampoule_plugin_common::{gjson, push_metadata, sjson, url_encode};
use ampoule_sdk::errors::{internal, invalid_config};
use ampoule_sdk::{ProviderError, PushRequest};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{crc32c, get, send};
use crate::sm::Sm;

const MANAGED_BY: &str = "managed-by";
const ESO: &str = "external-secrets";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Spec {
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    topics: Vec<String>,
    #[serde(default)]
    merge_policy: String,
    #[serde(default)]
    cmek_key_name: String,
    #[serde(default)]
    replication_location: String,
    #[serde(default)]
    replication_locations: Vec<String>,
}

fn spec(req: &PushRequest) -> Result<Option<Spec>, ProviderError> {
    let spec = push_metadata::parse::<Spec>(req.metadata.as_deref())
        .map_err(|e| invalid_config(format!("failed to parse PushSecret metadata: {e}")))?;
    let Some(spec) = spec else {
        return Ok(None);
    };
    if req.property.as_deref().is_some_and(|p| !p.is_empty()) {
        return Err(invalid_config(
            "cannot specify metadata and property at the same time",
        ));
    }
    if !spec.topics.is_empty() {
        return Err(invalid_config(
            "gcpsm: metadata.spec.topics is not supported by the Ampoule gcp plugin",
        ));
    }
    if !matches!(spec.merge_policy.as_str(), "" | "Replace" | "Merge") {
        return Err(invalid_config(format!(
            "gcpsm: unknown mergePolicy {:?} (Replace or Merge)",
            spec.merge_policy
        )));
    }
    Ok(Some(spec))
}

/// ESO's `buildReplication`: user-managed replicas for the locations, CMEK on each; automatic
/// (with CMEK when given) otherwise.
fn replication(spec: Option<&Spec>) -> Value {
    let Some(spec) = spec else {
        return json!({"automatic": {}});
    };
    let mut locations = spec.replication_locations.clone();
    if locations.is_empty() && !spec.replication_location.is_empty() {
        locations.push(spec.replication_location.clone());
    }
    let cmek = (!spec.cmek_key_name.is_empty()).then(|| json!({"kmsKeyName": spec.cmek_key_name}));
    if locations.is_empty() {
        return match cmek {
            Some(c) => json!({"automatic": {"customerManagedEncryption": c}}),
            None => json!({"automatic": {}}),
        };
    }
    let replicas: Vec<Value> = locations
        .iter()
        .map(|l| match &cmek {
            Some(c) => json!({"location": l, "customerManagedEncryption": c}),
            None => json!({"location": l}),
        })
        .collect();
    json!({"userManaged": {"replicas": replicas}})
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect()
}

/// The labels and annotations the secret should carry.
fn desired(
    spec: Option<&Spec>,
    property: bool,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    if property {
        let mut l = labels.clone();
        l.insert(MANAGED_BY.into(), ESO.into());
        return (l, annotations.clone());
    }
    let mut l = spec.map(|s| s.labels.clone()).unwrap_or_default();
    if spec.is_some_and(|s| s.merge_policy == "Merge") {
        l.extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    l.insert(MANAGED_BY.into(), ESO.into());
    (l, spec.map(|s| s.annotations.clone()).unwrap_or_default())
}

impl Sm<'_> {
    /// The secret's resource, `None` when it does not exist.
    fn secret(&self, key: &str) -> Result<Option<Value>, ProviderError> {
        match get("GetSecret", &self.secret_url(key), self.token) {
            Ok(s) => Ok(Some(s)),
            Err(ProviderError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn push(&self, req: &PushRequest) -> Result<(), ProviderError> {
        let spec = spec(req)?;
        let key = req.remote_key.as_str();
        let property = req.property.as_deref().filter(|p| !p.is_empty());
        let existing = self.secret(key)?;
        let current = match existing {
            None => {
                let (labels, annotations) = desired(
                    spec.as_ref(),
                    property.is_some(),
                    &BTreeMap::new(),
                    &BTreeMap::new(),
                );
                let mut body = json!({"labels": labels});
                if !annotations.is_empty() {
                    body["annotations"] = json!(annotations);
                }
                if !self.parent.contains("/locations/") {
                    body["replication"] = replication(spec.as_ref());
                }
                let url = format!(
                    "{}/v1/{}/secrets?secretId={}",
                    self.base,
                    self.parent,
                    url_encode(key)
                );
                send("POST", "CreateSecret", &url, self.token, Some(&body))?;
                None
            }
            Some(secret) => {
                let labels = string_map(secret.get("labels"));
                if labels.get(MANAGED_BY).map(String::as_str) != Some(ESO) {
                    return Err(ProviderError::Forbidden(format!(
                        "secret {key} exists and is not managed by external-secrets (no label \
                         managed-by: external-secrets); refusing to overwrite it"
                    )));
                }
                let annotations = string_map(secret.get("annotations"));
                let (want_labels, want_annotations) =
                    desired(spec.as_ref(), property.is_some(), &labels, &annotations);
                if want_labels != labels || want_annotations != annotations {
                    let mut body = json!({"labels": want_labels, "annotations": want_annotations});
                    if let Some(etag) = secret.get("etag") {
                        body["etag"] = etag.clone();
                    }
                    let url = format!(
                        "{}?updateMask={}",
                        self.secret_url(key),
                        url_encode("labels,annotations")
                    );
                    send("PATCH", "UpdateSecret", &url, self.token, Some(&body))?;
                }
                match self.access(key, None) {
                    Ok(v) => Some(v),
                    Err(ProviderError::NotFound(_)) => None,
                    Err(e) => return Err(e),
                }
            }
        };
        if let Some(cur) = current.as_deref() {
            let unchanged = match property {
                None => cur == req.value.as_slice(),
                Some(p) => serde_json::from_slice::<Value>(cur)
                    .ok()
                    .and_then(|root| gjson::get(&root, p))
                    .is_some_and(|v| gjson::to_text(&v).as_bytes() == req.value.as_slice()),
            };
            if unchanged {
                return Ok(());
            }
        }
        let data = match property {
            None => req.value.clone(),
            Some(p) => sjson::set_string(
                current.as_deref().unwrap_or_default(),
                p,
                &String::from_utf8_lossy(&req.value),
            )
            .map_err(|_| {
                internal(format!(
                    "secret {key}: a property push needs the current payload to be JSON"
                ))
            })?,
        };
        let body = json!({"payload": {
            "data": base64::engine::general_purpose::STANDARD.encode(&data),
            "dataCrc32c": crc32c(&data).to_string(),
        }});
        let url = format!("{}:addVersion", self.secret_url(key));
        send("POST", "AddSecretVersion", &url, self.token, Some(&body))?;
        Ok(())
    }

    pub fn delete(&self, key: &str) -> Result<(), ProviderError> {
        let Some(secret) = self.secret(key)? else {
            return Ok(());
        };
        if string_map(secret.get("labels"))
            .get(MANAGED_BY)
            .map(String::as_str)
            != Some(ESO)
        {
            return Ok(());
        }
        let mut url = self.secret_url(key);
        if let Some(etag) = secret.get("etag").and_then(Value::as_str) {
            url = format!("{url}?etag={}", url_encode(etag));
        }
        match send("DELETE", "DeleteSecret", &url, self.token, None) {
            Ok(_) | Err(ProviderError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn labels_like_eso() {
        let existing = m(&[("managed-by", ESO), ("keep", "1"), ("team", "old")]);
        let ann = m(&[("a", "1")]);
        let replace = Spec {
            labels: m(&[("team", "new")]),
            ..Spec::default()
        };
        assert_eq!(
            desired(Some(&replace), false, &existing, &ann),
            (m(&[("managed-by", ESO), ("team", "new")]), m(&[]))
        );
        let merge = Spec {
            labels: m(&[("team", "new"), ("x", "y")]),
            merge_policy: "Merge".into(),
            ..Spec::default()
        };
        // ESO copies the existing labels over the metadata's.
        assert_eq!(
            desired(Some(&merge), false, &existing, &ann).0,
            m(&[
                ("managed-by", ESO),
                ("keep", "1"),
                ("team", "old"),
                ("x", "y")
            ])
        );
        assert_eq!(
            desired(None, true, &existing, &ann),
            (existing.clone(), ann)
        );
    }

    #[test]
    fn replication_like_eso() {
        assert_eq!(replication(None), json!({"automatic": {}}));
        let one = Spec {
            replication_location: "europe-west1".into(),
            cmek_key_name: "k".into(),
            ..Spec::default()
        };
        assert_eq!(
            replication(Some(&one)),
            json!({"userManaged": {"replicas": [{"location": "europe-west1", "customerManagedEncryption": {"kmsKeyName": "k"}}]}})
        );
        let cmek = Spec {
            cmek_key_name: "k".into(),
            ..Spec::default()
        };
        assert_eq!(
            replication(Some(&cmek)),
            json!({"automatic": {"customerManagedEncryption": {"kmsKeyName": "k"}}})
        );
    }
}
