//! ClusterExternalSecret: one ExternalSecret per selected namespace
//! (docs/eso-behaviour.md#clusterexternalsecret), owned by the ClusterExternalSecret; status lists
//! provisioned and failed namespaces.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::context::Context;
use super::stores::selector_matches;
use crate::crd::cluster_external_secret::{
    ClusterExternalSecretNamespaceFailure, ClusterExternalSecretStatus,
    ClusterExternalSecretStatusCondition,
};
use crate::crd::{ClusterExternalSecret, ConditionStatus, ExternalSecret};

/// The annotation ESO propagates from a ClusterExternalSecret to its ExternalSecrets.
pub const FORCE_SYNC: &str = "external-secrets.io/force-sync";
const FIELD_MANAGER: &str = "external-secrets-cluster-external-secret";
const DEFAULT_REFRESH: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum CesError {
    #[error("could not list namespaces: {0}")]
    ListNamespaces(#[source] kube::Error),
    #[error("could not list ExternalSecrets: {0}")]
    ListExternalSecrets(#[source] kube::Error),
    #[error("could not update status: {0}")]
    PatchStatus(#[source] kube::Error),
}

/// Runs the ClusterExternalSecret controller until aborted.
pub async fn run(ctx: Arc<Context>) {
    let client = ctx.client.clone();
    let controller = Controller::new(
        Api::<ClusterExternalSecret>::all(client.clone()),
        watcher::Config::default(),
    )
    .owns(
        Api::<ExternalSecret>::all(client.clone()),
        watcher::Config::default(),
    );
    let all = controller.store();
    controller
        .watches(
            Api::<Namespace>::all(client),
            watcher::Config::default(),
            move |_ns: Namespace| {
                all.state()
                    .iter()
                    .map(|c| ObjectRef::from_obj(c.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

fn error_policy(_ces: Arc<ClusterExternalSecret>, err: &CesError, _ctx: Arc<Context>) -> Action {
    tracing::warn!(error = %err, "ClusterExternalSecret reconcile failed");
    Action::requeue(Duration::from_secs(5))
}

fn selected(ces: &ClusterExternalSecret, ns: &Namespace) -> bool {
    let name = ns.name_any();
    let labels = ns.labels();
    ces.spec.namespaces.contains(&name)
        || ces
            .spec
            .namespace_selector
            .as_ref()
            .is_some_and(|s| selector_matches(s, labels))
        || ces
            .spec
            .namespace_selectors
            .iter()
            .any(|s| selector_matches(s, labels))
}

fn owned_by(es: &ExternalSecret, ces: &ClusterExternalSecret) -> bool {
    let uid = ces.meta().uid.as_deref().unwrap_or_default();
    es.owner_references()
        .iter()
        .any(|r| r.controller == Some(true) && r.uid == uid)
}

async fn reconcile(ces: Arc<ClusterExternalSecret>, ctx: Arc<Context>) -> Result<Action, CesError> {
    let client = ctx.client.clone();
    let es_name = ces
        .spec
        .external_secret_name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| ces.name_any());
    let refresh = ces
        .spec
        .refresh_time
        .as_deref()
        .and_then(|t| crate::crd::duration::parse(t).ok())
        .and_then(super::refresh::to_std)
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_REFRESH);
    if ces.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let namespaces = Api::<Namespace>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(CesError::ListNamespaces)?;
    let wanted: BTreeSet<String> = namespaces
        .items
        .iter()
        .filter(|ns| ns.metadata.deletion_timestamp.is_none() && selected(&ces, ns))
        .map(|ns| ns.name_any())
        .collect();

    // ExternalSecrets this ClusterExternalSecret created that are no longer wanted (namespace
    // deselected, or renamed) go away.
    let existing = Api::<ExternalSecret>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(CesError::ListExternalSecrets)?;
    for es in existing.items.iter().filter(|es| owned_by(es, &ces)) {
        let ns = es.namespace().unwrap_or_default();
        if !wanted.contains(&ns) || es.name_any() != es_name {
            let api: Api<ExternalSecret> = Api::namespaced(client.clone(), &ns);
            if let Err(e) = api.delete(&es.name_any(), &DeleteParams::default()).await {
                tracing::warn!(error = %e, namespace = %ns, "could not delete a deselected ExternalSecret");
            }
        }
    }

    let mut provisioned = Vec::new();
    let mut failed = Vec::new();
    for ns in &wanted {
        let api: Api<ExternalSecret> = Api::namespaced(client.clone(), ns);
        let current = existing
            .items
            .iter()
            .find(|es| es.namespace().as_deref() == Some(ns.as_str()) && es.name_any() == es_name);
        if current.is_some_and(|es| !owned_by(es, &ces)) {
            failed.push(ClusterExternalSecretNamespaceFailure {
                namespace: ns.clone(),
                reason: Some("external secret already exists in namespace".into()),
            });
            continue;
        }
        let metadata = ces
            .spec
            .external_secret_metadata
            .clone()
            .unwrap_or_default();
        let mut annotations = metadata.annotations.clone();
        if let Some(force) = ces.annotations().get(FORCE_SYNC) {
            annotations.insert(FORCE_SYNC.into(), force.clone());
        }
        let mut owner = ces.controller_owner_ref(&()).unwrap_or_default();
        owner.block_owner_deletion = Some(true);
        let obj = json!({
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": es_name, "namespace": ns, "labels": metadata.labels, "annotations": annotations, "ownerReferences": [owner]},
            "spec": ces.spec.external_secret_spec,
        });
        match api
            .patch(
                &es_name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&obj),
            )
            .await
        {
            Ok(_) => provisioned.push(ns.clone()),
            Err(e) => failed.push(ClusterExternalSecretNamespaceFailure {
                namespace: ns.clone(),
                reason: Some(e.to_string()),
            }),
        }
    }
    provisioned.sort();
    let ready = failed.is_empty();
    let status = ClusterExternalSecretStatus {
        external_secret_name: Some(es_name),
        failed_namespaces: failed,
        provisioned_namespaces: provisioned,
        conditions: vec![ClusterExternalSecretStatusCondition {
            type_: "Ready".into(),
            status: if ready {
                ConditionStatus::True
            } else {
                ConditionStatus::False
            },
            message: (!ready).then(|| "one or more namespaces failed".to_string()),
        }],
    };
    if ces.status.as_ref() != Some(&status) {
        Api::<ClusterExternalSecret>::all(client)
            .patch_status(
                &ces.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&json!({"status": status})),
            )
            .await
            .map_err(CesError::PatchStatus)?;
    }
    Ok(Action::requeue(refresh))
}
