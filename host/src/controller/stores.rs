//! Resolving an ExternalSecret's store references: which store, whether this controller serves
//! it (`spec.controller`), whether a ClusterSecretStore admits the namespace (`spec.conditions`),
//! and the flood gate (store Ready).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::Api;
use kube::runtime::reflector::ObjectRef;

use super::context::Context;
use super::error::Error;
use super::retry::Retry;
use crate::crd::secret_store::ClusterSecretStoreCondition;
use crate::crd::{
    ClusterSecretStore, ConditionStatus, ExternalSecret, GenericStore, SecretStore, SecretStoreRef,
    SecretStoreSpec, StoreKind,
};
use crate::provider::StoreContext;

/// Every store an ExternalSecret refers to: `spec.secretStoreRef` and the `sourceRef.storeRef`s.
pub fn referenced(es: &ExternalSecret) -> Vec<SecretStoreRef> {
    let mut refs: Vec<SecretStoreRef> = es.spec.secret_store_ref.iter().cloned().collect();
    for d in &es.spec.data {
        if let Some(crate::crd::data::StoreSourceRef::StoreRef(r)) = &d.source_ref {
            refs.push(r.clone());
        }
    }
    for d in &es.spec.data_from {
        if let Some(crate::crd::data::StoreGeneratorSourceRef::StoreRef(r)) = &d.source_ref {
            refs.push(r.clone());
        }
    }
    refs
}

/// A store found in the cache, generic over the two kinds.
pub struct Found {
    pub kind: StoreKind,
    pub name: String,
    pub namespace: Option<String>,
    pub generation: i64,
    pub spec: SecretStoreSpec,
    pub ready: bool,
}

/// Whether a store's Ready condition is True (ValidationUnknown counts: its status is True).
pub fn is_ready<S: GenericStore>(s: &S) -> bool {
    s.store_status()
        .and_then(|st| st.ready())
        .is_some_and(|c| c.status == ConditionStatus::True)
}

fn found<S: GenericStore + kube::Resource>(s: &S) -> Found {
    let ready = is_ready(s);
    Found {
        kind: S::KIND,
        name: s.meta().name.clone().unwrap_or_default(),
        namespace: s.meta().namespace.clone(),
        generation: s.meta().generation.unwrap_or_default(),
        spec: s.store_spec().clone(),
        ready,
    }
}

/// The store a reference names, from the watch cache.
pub fn lookup(ctx: &Context, es_namespace: &str, r: &SecretStoreRef) -> Option<Found> {
    match r.effective_kind() {
        StoreKind::SecretStore => ctx
            .stores
            .get(&ObjectRef::<SecretStore>::new(&r.name).within(es_namespace))
            .map(|s| found(s.as_ref())),
        StoreKind::ClusterSecretStore => ctx
            .cluster_stores
            .get(&ObjectRef::<ClusterSecretStore>::new(&r.name))
            .map(|s| found(s.as_ref())),
    }
}

/// True when this controller serves the store's class (empty class = every controller).
pub fn serves(ctx: &Context, spec: &SecretStoreSpec) -> bool {
    spec.controller
        .as_deref()
        .is_none_or(|c| c.is_empty() || c == ctx.settings.controller_class)
}

/// Resolves a reference for use by an ExternalSecret in `es_namespace`: the store exists, admits
/// the namespace, and (with the flood gate) is Ready.
pub async fn resolve(
    ctx: &Context,
    es_namespace: &str,
    r: &SecretStoreRef,
) -> Result<(StoreContext, Retry), Error> {
    let kind = r.effective_kind();
    let store = lookup(ctx, es_namespace, r).ok_or_else(|| Error::StoreNotFound {
        kind: kind.as_str(),
        name: r.name.clone(),
    })?;
    if kind == StoreKind::ClusterSecretStore
        && !admits(ctx, &store.spec.conditions, es_namespace).await?
    {
        return Err(Error::StoreNotAllowed {
            store: r.name.clone(),
            namespace: es_namespace.into(),
        });
    }
    if ctx.settings.flood_gate && !store.ready {
        return Err(Error::StoreNotReady {
            kind: kind.as_str(),
            name: r.name.clone(),
        });
    }
    let (provider, config) = store.spec.provider.key().ok_or_else(|| {
        Error::InvalidSpec(format!(
            "{} \"{}\" must name exactly one provider",
            kind.as_str(),
            r.name
        ))
    })?;
    let retry = Retry::for_store(provider, store.spec.retry_settings.as_ref())
        .map_err(|e| Error::InvalidSpec(format!("{} \"{}\": {e}", kind.as_str(), r.name)))?;
    let context = StoreContext {
        kind,
        name: store.name,
        store_namespace: store.namespace,
        caller_namespace: Some(es_namespace.into()),
        generation: store.generation,
        provider: provider.into(),
        config,
        sandbox: store
            .spec
            .sandbox
            .as_ref()
            .map(|s| std::sync::Arc::new(s.into())),
    };
    Ok((context, retry))
}

/// ESO's ClusterSecretStore access rule: no conditions admit every namespace; otherwise any one
/// condition must match (namespace selector, name list, or unanchored regexp on the name).
pub async fn admits(
    ctx: &Context,
    conditions: &[ClusterSecretStoreCondition],
    namespace: &str,
) -> Result<bool, Error> {
    if conditions.is_empty() {
        return Ok(true);
    }
    let mut labels: Option<BTreeMap<String, String>> = None;
    for c in conditions {
        if c.namespaces.iter().any(|n| n == namespace) {
            return Ok(true);
        }
        if c.namespace_regexes
            .iter()
            .any(|re| regex::Regex::new(re).is_ok_and(|re| re.is_match(namespace)))
        {
            return Ok(true);
        }
        if let Some(selector) = &c.namespace_selector {
            if labels.is_none() {
                let ns = Api::<Namespace>::all(ctx.client.clone())
                    .get(namespace)
                    .await
                    .map_err(|source| Error::GetNamespace {
                        namespace: namespace.into(),
                        source,
                    })?;
                labels = Some(ns.metadata.labels.unwrap_or_default());
            }
            if selector_matches(selector, labels.as_ref().unwrap_or(&BTreeMap::new())) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Kubernetes label-selector semantics (matchLabels AND every matchExpression).
pub fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_ok = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let exprs_ok = selector.match_expressions.iter().flatten().all(|e| {
        let values = e.values.as_deref().unwrap_or_default();
        let value = labels.get(&e.key);
        match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    labels_ok && exprs_ok
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    #[test]
    fn label_selectors() {
        let labels = BTreeMap::from([
            ("team".to_string(), "a".to_string()),
            ("env".to_string(), "prod".to_string()),
        ]);
        let sel = |ml: &[(&str, &str)], exprs: Vec<LabelSelectorRequirement>| LabelSelector {
            match_labels: Some(
                ml.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            match_expressions: Some(exprs),
        };
        let req = |key: &str, op: &str, values: &[&str]| LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        };
        assert!(selector_matches(&sel(&[("team", "a")], vec![]), &labels));
        assert!(!selector_matches(&sel(&[("team", "b")], vec![]), &labels));
        assert!(selector_matches(
            &sel(&[], vec![req("env", "In", &["prod", "dev"])]),
            &labels
        ));
        assert!(!selector_matches(
            &sel(&[], vec![req("env", "NotIn", &["prod"])]),
            &labels
        ));
        assert!(selector_matches(
            &sel(&[], vec![req("x", "DoesNotExist", &[])]),
            &labels
        ));
        assert!(!selector_matches(
            &sel(&[], vec![req("x", "Exists", &[])]),
            &labels
        ));
        assert!(
            selector_matches(&LabelSelector::default(), &labels),
            "an empty selector matches everything"
        );
    }
}
