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

pub(super) fn fingerprint(obj: &Value) -> String {
    hash::object_hash(&obj.to_string())
}
