//! Writing the target Secret (docs/eso-behaviour.md#target-secret): ownership, managed label,
//! data-hash, created-by, copied labels and annotations, creationPolicy — by server-side apply with
//! ESO's field manager, and no write at all when nothing changed.

mod apply;
mod desired;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, OwnerReference};
use kube::{Resource, ResourceExt};
use serde_json::Value;

use super::error::Error;
use crate::crd::{CreationPolicy, ExternalSecret};
use crate::redact::Redacted;

pub use apply::{delete_if_owned, target_valid, write};
pub use desired::rendered;

pub const MANAGED_LABEL: &str = "reconcile.external-secrets.io/managed";
pub const DATA_HASH: &str = "reconcile.external-secrets.io/data-hash";
pub const CREATED_BY: &str = "reconcile.external-secrets.io/created-by";

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    /// creationPolicy Merge and the Secret does not exist.
    Missing,
    /// creationPolicy None: nothing is written.
    NotManaged,
}

/// The result of a write: what happened, the Secret's resourceVersion afterwards, and a
/// fingerprint of what was applied (to skip identical applies later).
#[derive(Debug, Clone)]
pub struct Written {
    pub outcome: Outcome,
    pub resource_version: Option<String>,
    pub fingerprint: Option<String>,
}

/// What the target Secret should hold: its data and the metadata this ExternalSecret sets
/// (its own labels and annotations, or the template's).
#[derive(Debug, Clone, Default)]
pub struct Shape {
    pub data: BTreeMap<String, Redacted<Vec<u8>>>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// `template.type`; `None` keeps the Secret's type (Opaque when created).
    pub type_: Option<String>,
    /// `template.metadata.finalizers`.
    pub finalizers: Vec<String>,
}

/// The target Secret's name.
pub fn target_name(es: &ExternalSecret) -> String {
    es.spec
        .target
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| es.name_any())
}

fn is_es_owner(r: &OwnerReference) -> bool {
    r.kind == "ExternalSecret" && r.api_version.starts_with("external-secrets.io/")
}

/// Refuses to touch a Secret another ExternalSecret or another controller owns.
pub fn check_ownership(
    es: &ExternalSecret,
    owners: &[OwnerReference],
    policy: CreationPolicy,
) -> Result<(), Error> {
    let uid = es.meta().uid.as_deref().unwrap_or_default();
    if let Some(c) = owners.iter().find(|r| r.controller == Some(true)) {
        if is_es_owner(c) && c.uid != uid {
            return Err(Error::OwnedByAnother);
        }
        if !is_es_owner(c) && policy == CreationPolicy::Owner {
            return Err(Error::ForeignController(format!(
                "{} \"{}\"",
                c.kind, c.name
            )));
        }
    }
    Ok(())
}

/// Data keys a field manager set by server-side apply (`f:data` in its managedFields entry).
pub fn keys_owned_by(managed: &[ManagedFieldsEntry], manager: &str) -> Vec<String> {
    managed
        .iter()
        .filter(|m| m.manager.as_deref() == Some(manager))
        .filter_map(|m| m.fields_v1.as_ref())
        .filter_map(|f| f.0.get("f:data").and_then(Value::as_object))
        .flat_map(|data| {
            data.keys()
                .filter_map(|k| k.strip_prefix("f:"))
                .map(str::to_string)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::FieldsV1;
    use serde_json::json;

    use super::*;

    #[test]
    fn finds_the_data_keys_a_manager_applied() {
        let entry = |manager: &str, fields: Value| ManagedFieldsEntry {
            manager: Some(manager.into()),
            operation: Some("Apply".into()),
            fields_v1: Some(FieldsV1(fields)),
            ..Default::default()
        };
        let managed = vec![
            entry(
                "externalsecrets.external-secrets.io/a",
                json!({"f:data": {"f:x": {}, "f:y": {}}, "f:metadata": {}}),
            ),
            entry("kubectl", json!({"f:data": {"f:z": {}}})),
        ];
        assert_eq!(
            keys_owned_by(&managed, "externalsecrets.external-secrets.io/a"),
            vec!["x", "y"]
        );
        assert!(keys_owned_by(&managed, "other").is_empty());
    }
}
