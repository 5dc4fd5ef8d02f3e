//! Custom resources: `external-secrets.io` (ESO's API, `v1` storage + `v1beta1` served with the
//! same schema) and `ampoule.dev` (ProviderClass).
//!
//! The Rust types are the schema: doc comments become descriptions, serde defaults become
//! defaults, and ESO's admission webhook rules are CEL `x-kubernetes-validations` attached with
//! `#[schemars(extend(...))]` next to the fields they check (each kind's `rules` module holds the
//! expressions and ESO's messages). [`schema`] finishes what the derive cannot express.
//!
//! The chart's copy in `charts/ampoule/crds/` is generated with
//! `cargo run -p ampoule --bin ampoule -- crd > charts/ampoule/crds/crds.yaml`; a test
//! (`host/tests/crd_up_to_date.rs`) fails when it is stale.

pub mod cluster_external_secret;
pub mod common;
pub mod data;
pub mod duration;
pub mod external_secret;
pub mod generators;
pub mod provider_class;
pub mod providers;
pub mod push_secret;
pub mod sandbox;
pub mod schema;
pub mod secret_store;
pub mod template;

use std::io::Write;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde_json::json;

pub use cluster_external_secret::{
    ClusterExternalSecret, ClusterExternalSecretSpec, ClusterExternalSecretStatus,
};
pub use common::{
    CaProvider, Condition, ConditionStatus, SecretKeySelector, SecretStoreRef,
    ServiceAccountSelector, StatusCondition, StoreKind,
};
pub use external_secret::{
    CreationPolicy, DeletionPolicy, ExternalSecret, ExternalSecretSpec, ExternalSecretStatus,
    ExternalSecretTarget,
};
pub use generators::{ClusterGenerator, GeneratorKind, GeneratorState};
pub use provider_class::{ProviderClass, ProviderClassSpec, ProviderClassStatus};
pub use providers::SecretStoreProvider;
pub use push_secret::{
    ClusterPushSecret, ClusterPushSecretSpec, ClusterPushSecretStatus, PushSecret, PushSecretSpec,
    PushSecretStatus,
};
pub use sandbox::{Egress, EgressRule, Limits, PrivateNetworks, Sandbox};
pub use secret_store::{
    ClusterSecretStore, ClusterSecretStoreSpec, GenericStore, SecretStore, SecretStoreSpec,
    SecretStoreStatus,
};

/// API group of ESO's kinds.
pub const ESO_GROUP: &str = "external-secrets.io";
/// API group of Ampoule's own kinds.
pub const AMPOULE_GROUP: &str = "ampoule.dev";

/// Every CRD Ampoule serves, in a stable order: ExternalSecret, SecretStore, ClusterSecretStore,
/// ClusterExternalSecret, ProviderClass, PushSecret, ClusterPushSecret, then the generators
/// ([`generators::all`]).
pub fn all() -> Vec<CustomResourceDefinition> {
    let eso = schema::Finish {
        legacy_version: true,
        ..schema::Finish::default()
    };
    let external_secret = schema::Finish {
        // ESO writes `refreshTime: null` before the first sync (`+nullable` in its CRD).
        nullable: &[&["status", "refreshTime"]],
        ..eso
    };
    let provider_class = schema::Finish {
        // The ceiling denies private networks unless it says otherwise; a store's own sandbox
        // has no default (omitted = inherit the class's setting).
        defaults: &[(
            &["spec", "sandbox", "egress", "privateNetworks"],
            json!("Deny"),
        )],
        ..schema::Finish::default()
    };
    let push_secret = schema::Finish {
        // ESO writes `refreshTime: null` before the first push (`+nullable` in its CRD).
        nullable: &[&["status", "refreshTime"]],
        ..schema::Finish::default()
    };
    let mut crds = vec![
        schema::finish(ExternalSecret::crd(), &external_secret),
        schema::finish(SecretStore::crd(), &eso),
        schema::finish(ClusterSecretStore::crd(), &eso),
        schema::finish(ClusterExternalSecret::crd(), &eso),
        schema::finish(ProviderClass::crd(), &provider_class),
        schema::finish(PushSecret::crd(), &push_secret),
        schema::finish(ClusterPushSecret::crd(), &schema::Finish::default()),
    ];
    crds.extend(generators::all());
    crds
}

/// Writes every CRD as one multi-document YAML stream (what `ampoule crd` prints and what
/// `charts/ampoule/crds/` holds).
pub fn print_all(out: &mut dyn Write) -> anyhow::Result<()> {
    for crd in all() {
        writeln!(out, "---")?;
        out.write_all(serde_norway::to_string(&crd)?.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
