//! Writing the target Secret (eso-api.md §2.6–§2.7): ownership, managed label, data-hash,
//! created-by, copied labels and annotations, creationPolicy — by server-side apply with ESO's
//! field manager, and no write at all when nothing changed.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, OwnerReference};
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};

use super::context::Context;
use super::error::Error;
use super::hash;
use crate::crd::{CreationPolicy, ExternalSecret};
use crate::redact::Redacted;

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

fn owner_reference(es: &ExternalSecret) -> Option<OwnerReference> {
    let mut r = es.controller_owner_ref(&())?;
    r.block_owner_deletion = Some(true);
    Some(r)
}

/// The object applied to the target, and the final `.data` the data-hash covers.
fn desired(
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

fn fingerprint(obj: &Value) -> String {
    hash::object_hash(&obj.to_string())
}

/// Writes `shape` to the target of `es` according to its creationPolicy.
pub async fn write(ctx: &Context, es: &ExternalSecret, shape: &Shape) -> Result<Written, Error> {
    let policy = es.spec.target.creation_policy;
    let ns = es.namespace().unwrap_or_default();
    let name = target_name(es);
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let manager = hash::field_manager(&es.name_any());
    let key = ObjectRef::from_obj(es);
    let cached = ctx.secrets.get(&ObjectRef::new(&name).within(&ns));
    if let Some(meta) = &cached {
        check_ownership(
            es,
            meta.metadata
                .owner_references
                .as_deref()
                .unwrap_or_default(),
            policy,
        )?;
    }
    if policy == CreationPolicy::None {
        return Ok(Written {
            outcome: Outcome::NotManaged,
            resource_version: None,
            fingerprint: None,
        });
    }
    let merging = matches!(
        policy,
        CreationPolicy::Merge | CreationPolicy::CreateOrMerge
    );
    let existing = if merging {
        api.get_opt(&name).await.map_err(Error::GetSecret)?
    } else {
        None
    };
    if let Some(s) = &existing {
        check_ownership(
            es,
            s.metadata.owner_references.as_deref().unwrap_or_default(),
            policy,
        )?;
    }
    if policy == CreationPolicy::Merge && existing.is_none() {
        return Ok(Written {
            outcome: Outcome::Missing,
            resource_version: None,
            fingerprint: None,
        });
    }

    let (obj, final_data) = desired(es, &name, shape, existing.as_ref(), &manager);
    let print = fingerprint(&obj);
    let synced = ctx.synced(&key);
    let current_rv = existing
        .as_ref()
        .and_then(|s| s.resource_version())
        .or_else(|| cached.as_ref().and_then(|m| m.resource_version()));
    if current_rv.is_some()
        && current_rv == synced.secret_resource_version
        && synced.fingerprint.as_deref() == Some(print.as_str())
    {
        return Ok(Written {
            outcome: Outcome::Unchanged,
            resource_version: current_rv,
            fingerprint: Some(print),
        });
    }

    let params = PatchParams::apply(&manager).force();
    let applied = api
        .patch(&name, &params, &Patch::Apply(&obj))
        .await
        .map_err(apply_error)?;
    let mut rv = applied.resource_version();
    // Server-side apply keeps keys other managers set; ESO rebuilds `.data` for Owner and Orphan.
    let extra: Vec<String> = applied
        .data
        .iter()
        .flatten()
        .map(|(k, _)| k.clone())
        .filter(|k| !final_data.contains_key(k))
        .collect();
    if !extra.is_empty() {
        let mut ops = vec![json!({"op": "test", "path": "/metadata/resourceVersion", "value": rv})];
        ops.extend(extra.iter().map(|k| json!({"op": "remove", "path": format!("/data/{}", k.replace('~', "~0").replace('/', "~1"))})));
        let patch: json_patch::Patch = serde_json::from_value(Value::Array(ops))
            .map_err(|e| Error::InvalidSpec(e.to_string()))?;
        let cleaned = api
            .patch(&name, &PatchParams::default(), &Patch::<()>::Json(patch))
            .await
            .map_err(apply_error)?;
        rv = cleaned.resource_version();
    }
    let unchanged = current_rv.is_some() && current_rv == rv;
    let created = cached.is_none()
        && existing.is_none()
        && applied
            .metadata
            .managed_fields
            .as_ref()
            .is_some_and(|m| m.len() == 1);
    let outcome = if unchanged {
        Outcome::Unchanged
    } else if created {
        Outcome::Created
    } else {
        Outcome::Updated
    };
    if policy == CreationPolicy::Owner && outcome != Outcome::Unchanged {
        delete_orphans(ctx, es, &name).await?;
    }
    Ok(Written {
        outcome,
        resource_version: rv,
        fingerprint: Some(print),
    })
}

fn apply_error(e: kube::Error) -> Error {
    if let kube::Error::Api(status) = &e {
        if status.code == 422 && status.message.contains("immutable") {
            return Error::Immutable;
        }
        if status.code == 422 && status.message.contains("Controller set to true") {
            return Error::ForeignController("another controller (ownerReferences)".into());
        }
    }
    Error::ApplySecret(e)
}

/// Deletes Secrets this ExternalSecret created (label created-by) under another name: the
/// target was renamed.
async fn delete_orphans(ctx: &Context, es: &ExternalSecret, current: &str) -> Result<(), Error> {
    let ns = es.namespace().unwrap_or_default();
    let mark = hash::created_by(&ns, &es.name_any());
    let orphans: Vec<String> = ctx
        .secrets
        .state()
        .iter()
        .filter(|s| s.namespace().as_deref() == Some(ns.as_str()) && s.name_any() != current)
        .filter(|s| s.labels().get(CREATED_BY) == Some(&mark))
        .map(|s| s.name_any())
        .collect();
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    for name in orphans {
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(Error::DeleteSecret(e)),
        }
    }
    Ok(())
}

/// Deletes the target when this ExternalSecret controls it (deletionPolicy Delete). Returns
/// whether a Secret was deleted.
pub async fn delete_if_owned(ctx: &Context, es: &ExternalSecret) -> Result<bool, Error> {
    let ns = es.namespace().unwrap_or_default();
    let name = target_name(es);
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let Some(meta) = api
        .get_metadata_opt(&name)
        .await
        .map_err(Error::GetSecret)?
    else {
        return Ok(false);
    };
    let uid = es.meta().uid.clone().unwrap_or_default();
    let controlled = meta
        .owner_references()
        .iter()
        .any(|r| r.controller == Some(true) && is_es_owner(r) && r.uid == uid);
    if !controlled {
        return Ok(false);
    }
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: meta.uid(),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(&name, &params).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(false),
        Err(e) => Err(Error::DeleteSecret(e)),
    }
}

/// Whether the target is as this controller last left it (ESO's "target valid" check): it
/// exists with the managed label and its data matches its data-hash annotation.
pub async fn target_valid(ctx: &Context, es: &ExternalSecret) -> Result<bool, Error> {
    let policy = es.spec.target.creation_policy;
    if policy == CreationPolicy::Orphan {
        return Ok(true);
    }
    if policy == CreationPolicy::None {
        return Ok(false);
    }
    let ns = es.namespace().unwrap_or_default();
    let name = target_name(es);
    let Some(meta) = ctx.secrets.get(&ObjectRef::new(&name).within(&ns)) else {
        return Ok(false);
    };
    let key = ObjectRef::from_obj(es);
    if meta.resource_version().is_some()
        && meta.resource_version() == ctx.synced(&key).secret_resource_version
    {
        return Ok(true);
    }
    // Unknown to this process (restart) or changed since: compare the data with its hash.
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let Some(secret) = api.get_opt(&name).await.map_err(Error::GetSecret)? else {
        return Ok(false);
    };
    let empty = BTreeMap::new();
    let data = secret.data.as_ref().unwrap_or(&empty);
    let valid = secret.labels().get(MANAGED_LABEL).map(String::as_str) == Some("true")
        && secret.annotations().get(DATA_HASH)
            == Some(&hash::data_hash(data.iter().map(|(k, v)| (k, &v.0))));
    if valid {
        ctx.lock_synced()
            .entry(key)
            .or_default()
            .secret_resource_version = secret.resource_version();
    }
    Ok(valid)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::FieldsV1;

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
