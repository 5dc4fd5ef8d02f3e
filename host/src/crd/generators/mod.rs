//! ESO's generators (`generators.external-secrets.io/v1alpha1`): one namespaced kind per
//! generator, ClusterGenerator (any kind's spec, cluster-scoped) and GeneratorState (what a
//! stateful generator produced). An ExternalSecret reads them with
//! `spec.dataFrom[].sourceRef.generatorRef`.
//!
//! Every kind ESO has is installed with its full schema, so the apiserver keeps every field;
//! [`GeneratorKind::has_component`] tells which ones Ampoule can run. [`resolve`] turns a
//! `generatorRef` and the object it names into the kind and spec to run.

pub mod beyondtrust;
pub mod cloud;
pub mod cluster;
pub mod kind;
pub mod resolve;
pub mod simple;
pub mod state;
pub mod tokens;
pub mod vault;
pub mod webhook;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceSubresourceStatus, CustomResourceSubresources,
};
use kube::CustomResourceExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{DNS1123_SUBDOMAIN, SECRET_KEY};
use super::schema;

pub use beyondtrust::{
    BeyondtrustWorkloadCredentialsDynamicSecret, BeyondtrustWorkloadCredentialsDynamicSecretSpec,
};
pub use cloud::{
    AcrAccessToken, AcrAccessTokenSpec, EcrAuthorizationToken, EcrAuthorizationTokenSpec,
    GcrAccessToken, GcrAccessTokenSpec, StsSessionToken, StsSessionTokenSpec,
};
pub use cluster::{ClusterGenerator, ClusterGeneratorSpec, GeneratorSpec};
pub use kind::{GeneratorKind, UnknownGeneratorKind};
pub use resolve::{GeneratorError, GeneratorTarget, ResolvedGenerator, resolve};
pub use simple::{
    Fake, FakeSpec, Mfa, MfaSpec, Password, PasswordSpec, SshKey, SshKeySpec, Uuid, UuidSpec,
};
pub use state::{GeneratorState, GeneratorStateSpec, GeneratorStateStatus};
pub use tokens::{
    CloudsmithAccessToken, CloudsmithAccessTokenSpec, GithubAccessToken, GithubAccessTokenSpec,
    GitlabDeployToken, GitlabDeployTokenSpec, Grafana, GrafanaSpec, QuayAccessToken,
    QuayAccessTokenSpec,
};
pub use vault::{VaultDynamicSecret, VaultDynamicSecretSpec};
pub use webhook::{Webhook, WebhookSpec};

/// API group of the generators.
pub const GROUP: &str = "generators.external-secrets.io";
/// Their only version.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` of every generator resource (and the default of `generatorRef.apiVersion`).
pub const API_VERSION: &str = "generators.external-secrets.io/v1alpha1";

/// Points at one key of a Secret in the generator's own namespace (no `namespace` field).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalSecretKeySelector {
    /// Name of the Secret.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(length(min = 1, max = 253), pattern(DNS1123_SUBDOMAIN))]
    pub name: String,
    /// Key inside the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), pattern(SECRET_KEY))]
    pub key: Option<String>,
}

/// Schema of a free JSON value (any type, kept as given).
pub(crate) fn free_json(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// The CRD of one generator kind (ClusterGenerator included).
fn generated(kind: GeneratorKind) -> CustomResourceDefinition {
    match kind {
        GeneratorKind::AcrAccessToken => AcrAccessToken::crd(),
        GeneratorKind::BeyondtrustWorkloadCredentialsDynamicSecret => {
            BeyondtrustWorkloadCredentialsDynamicSecret::crd()
        }
        GeneratorKind::ClusterGenerator => ClusterGenerator::crd(),
        GeneratorKind::CloudsmithAccessToken => CloudsmithAccessToken::crd(),
        GeneratorKind::EcrAuthorizationToken => EcrAuthorizationToken::crd(),
        GeneratorKind::Fake => Fake::crd(),
        GeneratorKind::GcrAccessToken => GcrAccessToken::crd(),
        GeneratorKind::GithubAccessToken => GithubAccessToken::crd(),
        GeneratorKind::GitlabDeployToken => GitlabDeployToken::crd(),
        GeneratorKind::QuayAccessToken => QuayAccessToken::crd(),
        GeneratorKind::Password => Password::crd(),
        GeneratorKind::SshKey => SshKey::crd(),
        GeneratorKind::StsSessionToken => StsSessionToken::crd(),
        GeneratorKind::Uuid => Uuid::crd(),
        GeneratorKind::VaultDynamicSecret => VaultDynamicSecret::crd(),
        GeneratorKind::Webhook => Webhook::crd(),
        GeneratorKind::Grafana => Grafana::crd(),
        GeneratorKind::Mfa => Mfa::crd(),
    }
}

/// Every generator CRD: the kinds in [`GeneratorKind::ALL`]'s order, then GeneratorState.
///
/// As in ESO, `spec` may be omitted (a UUID has nothing to set), every generator kind has a
/// status subresource without a status schema, and GeneratorState has none.
pub fn all() -> Vec<CustomResourceDefinition> {
    let finish = schema::Finish::default();
    let mut crds: Vec<CustomResourceDefinition> = GeneratorKind::ALL
        .into_iter()
        .map(|kind| {
            let mut crd = schema::finish(generated(kind), &finish);
            // Defaulted and required, as in ESO (the derive leaves defaulted fields optional).
            let password = ["length", "noUpper", "allowRepeat"];
            match kind {
                GeneratorKind::Password => require(&mut crd, &["spec"], &password),
                GeneratorKind::ClusterGenerator => {
                    require(&mut crd, &["spec", "generator", "passwordSpec"], &password)
                }
                _ => {}
            }
            for version in &mut crd.spec.versions {
                version.subresources = Some(CustomResourceSubresources {
                    status: Some(CustomResourceSubresourceStatus(serde_json::json!({}))),
                    scale: None,
                });
            }
            crd
        })
        .collect();
    let mut state = schema::finish(GeneratorState::crd(), &finish);
    require(&mut state, &["spec"], &["resource", "state"]);
    for version in &mut state.spec.versions {
        version.subresources = Some(CustomResourceSubresources::default());
    }
    crds.push(state);
    for crd in &mut crds {
        for version in &mut crd.spec.versions {
            if let Some(root) = version
                .schema
                .as_mut()
                .and_then(|s| s.open_api_v3_schema.as_mut())
                && let Some(required) = root.required.as_mut()
            {
                required.retain(|r| r != "spec");
                if required.is_empty() {
                    root.required = None;
                }
            }
        }
    }
    crds
}

/// Adds `fields` to the `required` list of the object at `path`.
fn require(crd: &mut CustomResourceDefinition, path: schema::Path, fields: &[&str]) {
    for version in &mut crd.spec.versions {
        let Some(root) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        else {
            continue;
        };
        schema::walk(root, &mut Vec::new(), &mut |here, props| {
            if here.iter().map(String::as_str).eq(path.iter().copied()) {
                let required = props.required.get_or_insert_with(Vec::new);
                for field in fields {
                    if !required.iter().any(|r| r == field) {
                        required.push((*field).to_owned());
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests;
