//! The decisions of a ClusterExternalSecret reconcile, as pure functions of the objects in the
//! caches: which namespaces are selected, which ExternalSecrets to apply, which to delete,
//! which namespaces fail, the status that results, and which ClusterExternalSecrets an event
//! concerns (docs/eso-behaviour.md#clusterexternalsecret).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kube::{Resource, ResourceExt};
use serde_json::{Value, json};

use super::FORCE_SYNC;
use crate::controller::stores::selector_matches;
use crate::crd::cluster_external_secret::{
    ClusterExternalSecretNamespaceFailure, ClusterExternalSecretStatus,
    ClusterExternalSecretStatusCondition,
};
use crate::crd::{ClusterExternalSecret, ConditionStatus, ExternalSecret};

/// `spec.refreshTime` when it is omitted, zero or not a duration.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(3600);

/// Why a namespace holding an ExternalSecret of that name that this ClusterExternalSecret does
/// not own fails (ESO's text).
pub const CONFLICT: &str = "external secret already exists in namespace";

/// The `Ready` message when a namespace failed (ESO's text).
pub const NOT_READY: &str = "one or more namespaces failed";

/// What is known of a namespace: its name, labels and whether it is being deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceView {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub deleting: bool,
}

impl NamespaceView {
    pub fn of<K: Resource>(ns: &K) -> Self {
        Self {
            name: ns.name_any(),
            labels: ns.labels().clone(),
            deleting: ns.meta().deletion_timestamp.is_some(),
        }
    }
}

/// The name of the ExternalSecrets: `spec.externalSecretName`, else the ClusterExternalSecret's.
pub fn external_secret_name(ces: &ClusterExternalSecret) -> String {
    ces.spec
        .external_secret_name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| ces.name_any())
}

/// How long after a successful reconcile the next one is due: `spec.refreshTime`, or
/// [`DEFAULT_REFRESH`].
pub fn refresh_interval(ces: &ClusterExternalSecret) -> Duration {
    ces.spec
        .refresh_time
        .as_deref()
        .and_then(|t| crate::crd::duration::parse(t).ok())
        .and_then(crate::controller::refresh::to_std)
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_REFRESH)
}

/// Whether namespace `name` with `labels` is selected: by name (`namespaces`), by
/// `namespaceSelector` or by any of `namespaceSelectors`.
pub fn selects(ces: &ClusterExternalSecret, name: &str, labels: &BTreeMap<String, String>) -> bool {
    ces.spec.namespaces.iter().any(|n| n == name)
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

/// Stage 1: the namespaces that get an ExternalSecret. Namespaces being deleted are left out;
/// with `scope` (`--namespace`) only that namespace can be selected, the only one whose
/// ExternalSecrets this process watches.
pub fn select_namespaces<'a>(
    ces: &ClusterExternalSecret,
    namespaces: impl IntoIterator<Item = &'a NamespaceView>,
    scope: Option<&str>,
) -> BTreeSet<String> {
    namespaces
        .into_iter()
        .filter(|ns| !ns.deleting && scope.is_none_or(|s| s == ns.name))
        .filter(|ns| selects(ces, &ns.name, &ns.labels))
        .map(|ns| ns.name.clone())
        .collect()
}

/// Whether `es` has a controller ownerReference to `ces` (by uid).
pub fn owned_by(es: &ExternalSecret, ces: &ClusterExternalSecret) -> bool {
    let uid = ces.meta().uid.as_deref().unwrap_or_default();
    es.owner_references()
        .iter()
        .any(|r| r.controller == Some(true) && r.uid == uid)
}

/// The name of the ClusterExternalSecret controlling `es`, if one does.
pub fn controller_of(es: &ExternalSecret) -> Option<&str> {
    es.owner_references()
        .iter()
        .find(|r| {
            r.controller == Some(true)
                && r.kind == "ClusterExternalSecret"
                && r.api_version.starts_with("external-secrets.io/")
        })
        .map(|r| r.name.as_str())
}

/// Stage 2: what to do in the cluster, from the selected namespaces and the ExternalSecrets
/// that exist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Namespaces to apply the ExternalSecret in.
    pub apply: Vec<String>,
    /// Selected namespaces where an ExternalSecret of that name exists that this
    /// ClusterExternalSecret does not own.
    pub conflicts: Vec<ClusterExternalSecretNamespaceFailure>,
    /// `(namespace, name)` of owned ExternalSecrets no longer wanted: the namespace is no
    /// longer selected, or the ExternalSecret has an old name.
    pub delete: Vec<(String, String)>,
}

pub fn plan<'a>(
    ces: &ClusterExternalSecret,
    es_name: &str,
    wanted: &BTreeSet<String>,
    existing: impl IntoIterator<Item = &'a ExternalSecret>,
) -> Plan {
    let mut plan = Plan::default();
    let mut foreign = BTreeSet::new();
    for es in existing {
        let ns = es.namespace().unwrap_or_default();
        let name = es.name_any();
        let owned = owned_by(es, ces);
        if owned && (!wanted.contains(&ns) || name != es_name) {
            plan.delete.push((ns, name));
        } else if !owned && name == es_name && wanted.contains(&ns) {
            foreign.insert(ns);
        }
    }
    plan.delete.sort();
    for ns in wanted {
        if foreign.contains(ns) {
            plan.conflicts.push(ClusterExternalSecretNamespaceFailure {
                namespace: ns.clone(),
                reason: Some(CONFLICT.into()),
            });
        } else {
            plan.apply.push(ns.clone());
        }
    }
    plan
}

/// The ExternalSecret applied in `namespace`: the spec, `externalSecretMetadata`'s labels and
/// annotations, the ClusterExternalSecret's `force-sync` annotation and a controller
/// ownerReference that blocks the owner's deletion.
pub fn desired(ces: &ClusterExternalSecret, es_name: &str, namespace: &str) -> Value {
    let metadata = ces
        .spec
        .external_secret_metadata
        .clone()
        .unwrap_or_default();
    let mut annotations = metadata.annotations;
    if let Some(force) = ces.annotations().get(FORCE_SYNC) {
        annotations.insert(FORCE_SYNC.into(), force.clone());
    }
    let mut owner = ces.controller_owner_ref(&()).unwrap_or_default();
    owner.block_owner_deletion = Some(true);
    json!({
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {
            "name": es_name,
            "namespace": namespace,
            "labels": metadata.labels,
            "annotations": annotations,
            "ownerReferences": [owner],
        },
        "spec": ces.spec.external_secret_spec,
    })
}

/// Stage 4: the status after the applies: `provisioned` (sorted here) and `failed`, `Ready`
/// False when any namespace failed.
pub fn status(
    es_name: &str,
    mut provisioned: Vec<String>,
    failed: Vec<ClusterExternalSecretNamespaceFailure>,
) -> ClusterExternalSecretStatus {
    provisioned.sort();
    let ready = failed.is_empty();
    ClusterExternalSecretStatus {
        external_secret_name: Some(es_name.to_owned()),
        failed_namespaces: failed,
        provisioned_namespaces: provisioned,
        conditions: vec![ClusterExternalSecretStatusCondition {
            type_: "Ready".into(),
            status: if ready {
                ConditionStatus::True
            } else {
                ConditionStatus::False
            },
            message: (!ready).then(|| NOT_READY.to_string()),
        }],
    }
}

/// The ClusterExternalSecrets a Namespace change concerns: those selecting it before or after
/// the change (`None`: it did not exist, or no longer does).
pub fn affected_by_namespace<'a>(
    all: impl IntoIterator<Item = &'a ClusterExternalSecret>,
    before: Option<&NamespaceView>,
    after: Option<&NamespaceView>,
) -> Vec<String> {
    let selected = |ces: &ClusterExternalSecret, view: Option<&NamespaceView>| {
        view.is_some_and(|v| selects(ces, &v.name, &v.labels))
    };
    all.into_iter()
        .filter(|ces| selected(ces, before) || selected(ces, after))
        .map(ResourceExt::name_any)
        .collect()
}

/// The ClusterExternalSecrets an ExternalSecret change concerns: the one controlling it, and
/// those whose status lists its namespace as failed under its name (an ExternalSecret in the
/// way that goes or changes owner).
pub fn affected_by_external_secret<'a>(
    all: impl IntoIterator<Item = &'a ClusterExternalSecret>,
    es: &ExternalSecret,
) -> BTreeSet<String> {
    let ns = es.namespace().unwrap_or_default();
    let name = es.name_any();
    let mut names: BTreeSet<String> = controller_of(es).map(str::to_owned).into_iter().collect();
    for ces in all {
        let blocked = ces.status.as_ref().is_some_and(|s| {
            s.external_secret_name.as_deref() == Some(name.as_str())
                && s.failed_namespaces.iter().any(|f| f.namespace == ns)
        });
        if blocked {
            names.insert(ces.name_any());
        }
    }
    names
}

/// What makes a ClusterExternalSecret event worth a reconcile: a new object (uid), a spec
/// change (generation), annotations (force-sync), labels or deletion, never a status-only
/// update such as this controller's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    uid: Option<String>,
    generation: Option<i64>,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    deleting: bool,
}

pub fn fingerprint(ces: &ClusterExternalSecret) -> Fingerprint {
    Fingerprint {
        uid: ces.metadata.uid.clone(),
        generation: ces.metadata.generation,
        labels: ces.labels().clone(),
        annotations: ces.annotations().clone(),
        deleting: ces.metadata.deletion_timestamp.is_some(),
    }
}
