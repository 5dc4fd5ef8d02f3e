//! Webhook: values returned by an HTTP endpoint, the request rendered from templates.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::LocalSecretKeySelector;
use crate::crd::common::{CaProvider, SecretKeySelector};

/// An HTTP call whose (templated) request and JSON answer define the generated values.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "Webhook",
    namespaced,
    derive = "PartialEq",
    category = "external-secrets",
    category = "external-secrets-generators",
    label("external-secrets.io/component", "controller"),
    doc = "Calls an HTTP endpoint and returns values taken from its answer."
)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSpec {
    /// HTTP method (`GET` when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// URL to call (a template).
    pub url: String,
    /// Request headers (templates).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Authentication of the request: exactly one protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<WebhookAuth>,
    /// Request body (a template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Request timeout (Go duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Which part of the answer is the result.
    pub result: WebhookResult,
    /// Secrets offered to the templates, each under a name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<WebhookSecret>,
    /// Base64 PEM bundle of CAs trusted for an HTTPS URL (system roots when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "byte"))]
    pub ca_bundle: Option<String>,
    /// Reads the CA bundle from a Secret or ConfigMap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_provider: Option<CaProvider>,
}

/// Authentication of a webhook request: exactly one protocol.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct WebhookAuth {
    /// NTLM with a username and password from Secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ntlm: Option<WebhookNtlm>,
}

/// NTLM credentials.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookNtlm {
    /// Secret key holding the username.
    pub username_secret: SecretKeySelector,
    /// Secret key holding the password.
    pub password_secret: SecretKeySelector,
}

/// Extraction of the result.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookResult {
    /// JSONPath of the value in the answer; the whole answer when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_path: Option<String>,
}

/// A Secret offered to the templates.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSecret {
    /// Name under which the templates see the Secret's data.
    pub name: String,
    /// The Secret (in the generator's namespace).
    pub secret_ref: LocalSecretKeySelector,
}
