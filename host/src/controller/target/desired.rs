//! The Secret an ExternalSecret wants: its data merged with what other managers own, labels,
//! annotations and ownerReference (no I/O).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};

use super::{CREATED_BY, DATA_HASH, MANAGED_LABEL, Shape, keys_owned_by, target_name};
use crate::controller::hash;
use crate::crd::{CreationPolicy, ExternalSecret};

fn owner_reference(es: &ExternalSecret) -> Option<OwnerReference> {
    let mut r = es.controller_owner_ref(&())?;
    r.block_owner_deletion = Some(true);
    Some(r)
}

/// The object applied to the target, and the final `.data` the data-hash covers.
pub(super) fn desired(
    es: &ExternalSecret,
    name: &str,
    shape: &Shape,
    existing: Option<&Secret>,
    manager: &str,
) -> (Value, BTreeMap<String, Vec<u8>>) {
    let policy = es.spec.target.creation_policy;
    let merging = matches!(
        policy,
        CreationPolicy::Merge | CreationPolicy::CreateOrMerge
    );
    let mut final_data: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    if let (true, Some(secret)) = (merging, existing) {
        let ours = keys_owned_by(
            secret
                .metadata
                .managed_fields
                .as_deref()
                .unwrap_or_default(),
            manager,
        );
        for (k, v) in secret.data.iter().flatten() {
            if !ours.contains(k) {
                final_data.insert(k.clone(), v.0.clone());
            }
        }
    }
    let data = &shape.data;
    for (k, v) in data {
        final_data.insert(k.clone(), v.expose().clone());
    }

    let mut labels = shape.labels.clone();
    let mut annotations = shape.annotations.clone();
    labels.insert(MANAGED_LABEL.into(), "true".into());
    annotations.insert(DATA_HASH.into(), hash::data_hash(&final_data));
    let mut metadata = json!({"name": name, "namespace": es.namespace()});
    if policy == CreationPolicy::Owner {
        labels.insert(
            CREATED_BY.into(),
            hash::created_by(&es.namespace().unwrap_or_default(), &es.name_any()),
        );
        if let Some(owner) = owner_reference(es) {
            metadata["ownerReferences"] = json!([owner]);
        }
    }
    metadata["labels"] = json!(labels);
    metadata["annotations"] = json!(annotations);
    if !shape.finalizers.is_empty() {
        metadata["finalizers"] = json!(shape.finalizers);
    }
    let encoded: BTreeMap<&String, String> = data
        .iter()
        .map(|(k, v)| (k, STANDARD.encode(v.expose())))
        .collect();
    let mut obj =
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "data": encoded});
    if es.spec.target.immutable {
        obj["immutable"] = json!(true);
    }
    if let Some(t) = &shape.type_ {
        obj["type"] = json!(t);
    }
    (obj, final_data)
}

/// The Secret `es` would create from `shape` when no Secret exists yet (`ampoule render`).
pub fn rendered(es: &ExternalSecret, shape: &Shape) -> Value {
    let manager = hash::field_manager(&es.name_any());
    desired(es, &target_name(es), shape, None, &manager).0
}

/// Whether applying `obj` (with `final_data`, the `.data` it leads to) to `existing` would change
/// nothing but managedFields: every field `obj` sets already holds its value, `.data` is exactly
/// `final_data`, and `manager` applied no label or annotation that `obj` drops. Then there is no
/// write: a Secret another controller wrote (ESO, before a migration) or this one wrote before a
/// restart is left exactly as it is, resourceVersion included.
pub(super) fn already_applied(
    obj: &Value,
    final_data: &BTreeMap<String, Vec<u8>>,
    existing: &Secret,
    manager: &str,
) -> bool {
    let data: BTreeMap<&String, &Vec<u8>> = existing
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k, &v.0))
        .collect();
    if data.len() != final_data.len() || final_data.iter().any(|(k, v)| data.get(k) != Some(&v)) {
        return false;
    }
    if let Some(t) = obj["type"].as_str()
        && existing.type_.as_deref().unwrap_or("Opaque") != t
    {
        return false;
    }
    if obj["immutable"] == json!(true) && existing.immutable != Some(true) {
        return false;
    }
    let meta = &obj["metadata"];
    let holds = |want: &Value, have: Option<&BTreeMap<String, String>>| {
        want.as_object()
            .into_iter()
            .flatten()
            .all(|(k, v)| have.and_then(|h| h.get(k)).map(String::as_str) == v.as_str())
    };
    if !holds(&meta["labels"], existing.metadata.labels.as_ref())
        || !holds(&meta["annotations"], existing.metadata.annotations.as_ref())
    {
        return false;
    }
    let finalizers = existing.metadata.finalizers.as_deref().unwrap_or_default();
    if !meta["finalizers"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|f| finalizers.iter().any(|g| Some(g.as_str()) == f.as_str()))
    {
        return false;
    }
    let owners = existing
        .metadata
        .owner_references
        .as_deref()
        .unwrap_or_default();
    let owned = meta["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|want| {
            owners.iter().any(|o| {
                serde_json::to_value(o).is_ok_and(|have| {
                    [
                        "apiVersion",
                        "kind",
                        "name",
                        "uid",
                        "controller",
                        "blockOwnerDeletion",
                    ]
                    .iter()
                    .all(|k| have[*k] == want[*k])
                })
            })
        });
    if !owned {
        return false;
    }
    // What this manager applied before and `obj` no longer sets would be removed by the apply.
    let applied = existing
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter(|m| {
            m.manager.as_deref() == Some(manager) && m.operation.as_deref() == Some("Apply")
        })
        .filter_map(|m| m.fields_v1.as_ref());
    for fields in applied {
        for section in ["f:labels", "f:annotations"] {
            let want = meta[section.trim_start_matches("f:")].as_object();
            let keys = fields.0["f:metadata"][section]
                .as_object()
                .into_iter()
                .flatten();
            for (k, _) in keys {
                let k = k.strip_prefix("f:").unwrap_or(k);
                if !want.is_some_and(|w| w.contains_key(k)) {
                    return false;
                }
            }
        }
    }
    true
}

pub(super) fn fingerprint(obj: &Value) -> String {
    hash::object_hash(&obj.to_string())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::ByteString;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};

    use super::*;

    fn wanted() -> (Value, BTreeMap<String, Vec<u8>>) {
        let obj = json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "s", "labels": {"managed": "true"}, "annotations": {"hash": "h"}},
            "data": {"k": "dg=="}});
        (obj, BTreeMap::from([("k".to_string(), b"v".to_vec())]))
    }

    fn secret() -> Secret {
        let mut s = Secret::default();
        s.metadata.labels = Some(BTreeMap::from([
            ("managed".into(), "true".into()),
            ("theirs".into(), "x".into()),
        ]));
        s.metadata.annotations = Some(BTreeMap::from([("hash".into(), "h".into())]));
        s.data = Some(BTreeMap::from([("k".into(), ByteString(b"v".to_vec()))]));
        s.type_ = Some("Opaque".into());
        s
    }

    #[test]
    fn a_secret_that_already_is_the_apply_is_not_written() {
        let (obj, data) = wanted();
        assert!(
            already_applied(&obj, &data, &secret(), "m"),
            "others' labels do not matter"
        );
        let mut changed = secret();
        changed
            .data
            .as_mut()
            .unwrap()
            .insert("k".into(), ByteString(b"w".to_vec()));
        assert!(
            !already_applied(&obj, &data, &changed, "m"),
            "a value differs"
        );
        let mut extra = secret();
        extra
            .data
            .as_mut()
            .unwrap()
            .insert("old".into(), ByteString(b"x".to_vec()));
        assert!(
            !already_applied(&obj, &data, &extra, "m"),
            "a key to remove"
        );
        let mut relabelled = secret();
        relabelled
            .metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("managed".into(), "no".into());
        assert!(
            !already_applied(&obj, &data, &relabelled, "m"),
            "a label differs"
        );
        let mut typed = secret();
        typed.type_ = Some("kubernetes.io/tls".into());
        assert!(
            !already_applied(&obj, &data, &typed, "m"),
            "the type differs"
        );
        // A label this manager applied before and no longer wants: the apply would drop it.
        let mut dropped = secret();
        dropped.metadata.managed_fields = Some(vec![ManagedFieldsEntry {
            manager: Some("m".into()),
            operation: Some("Apply".into()),
            fields_v1: Some(FieldsV1(
                json!({"f:metadata": {"f:labels": {"f:theirs": {}}}}),
            )),
            ..Default::default()
        }]);
        assert!(!already_applied(&obj, &data, &dropped, "m"));
        assert!(
            already_applied(&obj, &data, &dropped, "other"),
            "another manager's label"
        );
    }
}
