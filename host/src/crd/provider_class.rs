//! `ampoule.dev/v1alpha1` `ProviderClass` (cluster-scoped, like StorageClass): which component
//! serves a provider key, and the sandbox ceiling it runs under.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{Condition, DNS1123_LABEL, DNS1123_SUBDOMAIN};
use super::sandbox::{PrivateNetworks, Sandbox};

/// Names the module serving a provider key and the most it may do.
// Several `printcolumn(type_ = …)` look like duplicated attributes to clippy.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "ampoule.dev",
    version = "v1alpha1",
    kind = "ProviderClass",
    status = "ProviderClassStatus",
    derive = "PartialEq",
    category = "ampoule",
    doc = "Which WebAssembly component serves a SecretStore provider key, and the sandbox ceiling (egress, limits) it runs under.",
    printcolumn(name = "Provider", type_ = "string", json_path = ".spec.provider"),
    printcolumn(
        name = "Digest",
        type_ = "string",
        json_path = ".status.digest",
        priority = "1"
    ),
    printcolumn(
        name = "Pending",
        type_ = "string",
        json_path = ".status.pendingDigest",
        priority = "1"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ProviderClassSpec {
    /// The key under a store's `spec.provider` this class serves, e.g. `vault`.
    #[schemars(length(min = 1, max = 63), pattern(r"^[A-Za-z][-A-Za-z0-9_.]*$"))]
    pub provider: String,
    /// The component to run; the first-party component embedded in the binary when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<ModuleSource>,
    /// Administrator settings handed to the plugin with every call (free JSON, e.g. endpoint
    /// overrides); stores cannot set them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_json_object")]
    pub settings: Option<serde_json::Map<String, serde_json::Value>>,
    /// The ceiling: egress rules and limits no store can exceed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<Sandbox>,
    /// Credentials the class's stores may use besides the references they name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<ClassCredentials>,
}

/// What a ProviderClass grants its stores beyond their own credential references.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClassCredentials {
    /// Stores that name no credentials authenticate as the operator's own ServiceAccount, as in
    /// ESO (AWS without `auth`: IRSA; GCP without `auth`: workload identity; Vault `kubernetes`
    /// auth without `serviceAccountRef` or `secretRef`). The host requests that
    /// ServiceAccount's token (TokenRequest, with the audience the provider needs) and hands it
    /// to the plugin. Off by default: such a store is then not Ready, and its message names
    /// this field.
    #[serde(default)]
    pub allow_controller_identity: bool,
}

impl ProviderClassSpec {
    /// Whether the ceiling admits private addresses (`Deny` unless set).
    pub fn private_networks(&self) -> PrivateNetworks {
        self.sandbox
            .as_ref()
            .and_then(|s| s.egress.as_ref())
            .and_then(|e| e.private_networks)
            .unwrap_or_default()
    }
}

fn free_json_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// Where the component comes from.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModuleSource {
    /// OCI reference, `oci://REGISTRY/REPOSITORY@sha256:…` (a tag is resolved once to a digest).
    #[schemars(length(min = 1, max = 1024), pattern(r"^oci://[^\s]+$"))]
    pub image: String,
    /// Secret (`kubernetes.io/dockerconfigjson`) with credentials for the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_secret_ref: Option<PullSecretRef>,
    /// Signature verification; the module must be signed by one of these keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<ModuleVerification>,
}

/// A registry credentials Secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PullSecretRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253), pattern(DNS1123_SUBDOMAIN))]
    pub name: String,
    /// Namespace of the Secret; when omitted, the namespace Ampoule runs in (the chart's release
    /// namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), pattern(DNS1123_LABEL))]
    pub namespace: Option<String>,
}

/// Signature verification of a module.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModuleVerification {
    /// PEM public keys; a cosign signature by any of them is accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cosign_public_keys: Vec<String>,
}

/// Observed state of a ProviderClass.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderClassStatus {
    /// Digest (`sha256:…`) of the component that serves: the module reference resolved to it
    /// and it was bound. A changed module replaces it only once it is compiled and answered
    /// `describe`; absent until a module of this class first served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The module reference (`spec.module.image`) being pulled and compiled, or that could not be
    /// used (Ready is then False and says why); absent once it serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_image: Option<String>,
    /// Digest (`sha256:…`) of the pending component once it is pulled (a tag resolved); absent
    /// before the pull and once it serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_digest: Option<String>,
    /// Conditions; `Ready` tells whether the spec's module serves: False while a changed module
    /// is being loaded only when it then failed, with the reason (`PullFailed`,
    /// `VerificationFailed`, `LoadFailed`, `InvalidSpec`, `NoModule`) and a message naming what
    /// still serves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// The sandbox's typed view of a class, converted once where the class is read.
impl From<&ProviderClassSpec> for ampoule_sandbox::ProviderClassConfig {
    fn from(spec: &ProviderClassSpec) -> Self {
        use ampoule_sandbox::config as c;
        c::ProviderClassConfig {
            provider: spec.provider.clone(),
            module: spec.module.as_ref().map(|m| c::ModuleSource {
                image: m.image.clone(),
                pull_secret_ref: m.pull_secret_ref.as_ref().map(|r| c::ObjectRef {
                    name: r.name.clone(),
                    namespace: r.namespace.clone(),
                }),
                verify: m.verify.as_ref().map(|v| c::Verify {
                    cosign_public_keys: v.cosign_public_keys.clone(),
                }),
            }),
            settings: spec
                .settings
                .clone()
                .map_or(serde_json::Value::Null, serde_json::Value::Object),
            sandbox: spec.sandbox.as_ref().map(Into::into).unwrap_or_default(),
            credentials: c::CredentialsSpec {
                allow_controller_identity: spec
                    .credentials
                    .as_ref()
                    .is_some_and(|c| c.allow_controller_identity),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed conversion reads a class as the JSON round trip it replaced did.
    #[test]
    fn converts_as_the_json_round_trip_did() {
        let specs = [
            serde_json::json!({"provider": "vault"}),
            serde_json::json!({
                "provider": "vault",
                "module": {"image": "oci://r/ampoule/vault@sha256:00",
                           "pullSecretRef": {"name": "p", "namespace": "n"},
                           "verify": {"cosignPublicKeys": ["PEM"]}},
                "settings": {"endpoints": {"a": 1}},
                "sandbox": {"egress": {"privateNetworks": "Allow"}, "limits": {"memory": "32Mi"}},
                "credentials": {"allowControllerIdentity": true}
            }),
            serde_json::json!({"provider": "aws", "credentials": {}}),
        ];
        for json in specs {
            let crd: ProviderClassSpec = serde_json::from_value(json.clone()).unwrap();
            let old: ampoule_sandbox::ProviderClassConfig =
                serde_json::from_value(serde_json::to_value(&crd).unwrap()).unwrap();
            assert_eq!(
                ampoule_sandbox::ProviderClassConfig::from(&crd),
                old,
                "{json}"
            );
        }
    }
}
