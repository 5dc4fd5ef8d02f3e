//! Generators that need no backend: Password, UUID, SSHKey, Fake, and MFA (TOTP).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::crd::common::SecretKeySelector;

/// A random password: length, how many digits and symbols, which symbols, and an encoding.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "Password",
    namespaced,
    derive = "PartialEq",
    category = "external-secrets",
    category = "external-secrets-generators",
    label("external-secrets.io/component", "controller"),
    doc = "Generates a random password (length, digits, symbols and encoding set in the spec)."
)]
#[serde(rename_all = "camelCase")]
pub struct PasswordSpec {
    /// Number of characters of the password.
    #[serde(default = "default_password_length")]
    #[schemars(required)]
    #[schemars(extend("format" = null))]
    pub length: i64,
    /// Number of digits; a quarter of the length when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = null))]
    pub digits: Option<i64>,
    /// Number of symbol characters; a quarter of the length when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = null))]
    pub symbols: Option<i64>,
    /// The symbol characters to draw from (a built-in set when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol_characters: Option<String>,
    /// Leaves out uppercase letters.
    #[serde(default)]
    #[schemars(required)]
    pub no_upper: bool,
    /// Allows a character to appear more than once.
    #[serde(default)]
    #[schemars(required)]
    pub allow_repeat: bool,
    /// Keys that each receive a generated password; `password` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub secret_keys: Option<Vec<String>>,
    /// How the generated password is encoded.
    #[serde(default)]
    pub encoding: PasswordEncoding,
}

fn default_password_length() -> i64 {
    24
}

impl Default for PasswordSpec {
    /// What the apiserver makes of an empty spec.
    fn default() -> Self {
        Self {
            length: default_password_length(),
            digits: None,
            symbols: None,
            symbol_characters: None,
            no_upper: false,
            allow_repeat: false,
            secret_keys: None,
            encoding: PasswordEncoding::Raw,
        }
    }
}

/// Encoding of a generated password.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
#[serde(rename_all = "lowercase")]
pub enum PasswordEncoding {
    /// Standard base64.
    Base64,
    /// URL-safe base64.
    Base64url,
    /// Base32.
    Base32,
    /// Hexadecimal.
    Hex,
    /// The characters as generated (the default).
    #[default]
    Raw,
}

/// A random UUID; the spec has no settings.
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "UUID",
    root = "Uuid",
    namespaced,
    derive = "PartialEq",
    category = "external-secrets",
    category = "external-secrets-generators",
    label("external-secrets.io/component", "controller"),
    doc = "Generates a random UUID."
)]
pub struct UuidSpec {}

/// An SSH key pair: type, size and comment.
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "SSHKey",
    root = "SshKey",
    namespaced,
    derive = "PartialEq",
    category = "external-secrets",
    category = "external-secrets-generators",
    label("external-secrets.io/component", "controller"),
    doc = "Generates an SSH key pair."
)]
#[serde(rename_all = "camelCase")]
pub struct SshKeySpec {
    /// Key algorithm.
    #[serde(default)]
    pub key_type: SshKeyType,
    /// Key size in bits: 2048, 3072 or 4096 for RSA (2048 when omitted), 256, 384 or 521 for
    /// ECDSA (256 when omitted); ignored for ed25519.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 256, max = 8192))]
    #[schemars(extend("format" = null))]
    pub key_size: Option<i64>,
    /// Comment appended to the public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// SSH key algorithm.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
#[serde(rename_all = "lowercase")]
pub enum SshKeyType {
    /// RSA (the default).
    #[default]
    Rsa,
    /// ECDSA over a NIST curve.
    Ecdsa,
    /// Ed25519.
    Ed25519,
}

/// Static values, for tests and demos.
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "Fake",
    namespaced,
    derive = "PartialEq",
    category = "external-secrets",
    category = "external-secrets-generators",
    label("external-secrets.io/component", "controller"),
    doc = "Returns the same static values every time (tests and demos)."
)]
#[serde(rename_all = "camelCase")]
pub struct FakeSpec {
    /// Controller class that handles this generator; any controller when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<String>,
    /// The values returned, by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
}

/// A TOTP code (RFC 6238) from a seed held in a Secret.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "MFA",
    root = "Mfa",
    namespaced,
    derive = "PartialEq",
    category = "external-secrets",
    category = "external-secrets-generators",
    label("external-secrets.io/component", "controller"),
    doc = "Generates a TOTP code (RFC 6238) from a seed kept in a Secret."
)]
#[serde(rename_all = "camelCase")]
pub struct MfaSpec {
    /// Secret key holding the TOTP seed.
    pub secret: SecretKeySelector,
    /// Digits of the code; 6 when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = null))]
    pub length: Option<i64>,
    /// Seconds a code stays valid; 30 when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = null))]
    pub time_period: Option<i64>,
    /// HMAC algorithm; SHA1 when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// Generates the code for this instant instead of now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Time>,
}
