//! Talking to the API server: applying the target, deleting it or its orphans, checking it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};

use super::desired::{already_applied, desired, fingerprint};
use super::{
    CREATED_BY, DATA_HASH, MANAGED_LABEL, Outcome, Shape, Written, check_ownership, is_es_owner,
    target_name,
};
use crate::controller::context::Context;
use crate::controller::error::Error;
use crate::controller::hash;
use crate::crd::{CreationPolicy, ExternalSecret};

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

    // Nothing applied to this target since the process started (a restart, or a Secret another
    // controller wrote: ESO before a migration): look before writing, and leave a Secret that
    // already is what the apply would make untouched.
    if synced.fingerprint.is_none() && (existing.is_some() || cached.is_some()) {
        let current = match existing {
            Some(ref s) => Some(s.clone()),
            None => api.get_opt(&name).await.map_err(Error::GetSecret)?,
        };
        if let Some(current) = current
            && already_applied(&obj, &final_data, &current, &manager)
        {
            return Ok(Written {
                outcome: Outcome::Unchanged,
                resource_version: current.resource_version(),
                fingerprint: Some(print),
            });
        }
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
