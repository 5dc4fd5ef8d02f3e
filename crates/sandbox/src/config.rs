//! The ProviderClass `spec` (docs/architecture.md#providerclass) and a store's `spec.sandbox`,
//! as the sandbox reads them. The host converts its CRD types into these once, where it reads
//! the object (`From` impls in the host's `crd` module); [`crate::egress::policy`] turns them
//! into a decision.

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub mod duration;

/// `ProviderClass.spec`: which provider key it serves, the module, admin settings, the ceiling.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderClassConfig {
    pub provider: String,
    /// `None` → the first-party component embedded in the binary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<ModuleSource>,
    /// Admin-only JSON handed to the plugin with every call.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub settings: serde_json::Value,
    /// The ceiling.
    #[serde(default)]
    pub sandbox: SandboxSpec,
    /// Which credentials the class's stores may use besides their own references.
    #[serde(default, skip_serializing_if = "CredentialsSpec::is_default")]
    pub credentials: CredentialsSpec,
}

/// `ProviderClass.spec.credentials`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsSpec {
    /// Stores that name no credentials may authenticate as the operator's own ServiceAccount.
    #[serde(default)]
    pub allow_controller_identity: bool,
}

impl CredentialsSpec {
    fn is_default(&self) -> bool {
        self == &CredentialsSpec::default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleSource {
    /// `oci://REGISTRY/REPO@sha256:…` (a tag is resolved once to a digest).
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_secret_ref: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verify>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verify {
    #[serde(default)]
    pub cosign_public_keys: Vec<String>,
}

/// A ProviderClass ceiling, or a store's `spec.sandbox` (which can only narrow it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "camelCase")]
pub struct SandboxSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<EgressSpec>,
    #[serde(default)]
    pub limits: LimitsSpec,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "camelCase")]
pub struct EgressSpec {
    #[serde(default)]
    pub allow: Vec<AllowRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_networks: Option<PrivateNetworks>,
}

/// One allowed destination. Empty lists mean "any" (ports: the scheme's default port;
/// schemes: http and https).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "camelCase")]
pub struct AllowRule {
    /// Exact name, IP literal, `*.suffix`, or `*` (any host).
    pub host: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schemes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path_prefixes: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub enum PrivateNetworks {
    #[default]
    Deny,
    Allow,
}

/// `limits: {memory: 64Mi, timeout: 10s, requests: 50, responseBytes: 4Mi}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "camelCase")]
pub struct LimitsSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Quantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_bytes: Option<Quantity>,
}

/// A Kubernetes-style quantity: `64Mi`, `4M`, `1048576`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(untagged)]
pub enum Quantity {
    Int(u64),
    Str(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid quantity {0:?} (expected e.g. 64Mi, 4M or 1048576)")]
    Quantity(String),
    #[error("invalid duration {0:?} (expected e.g. 10s, 500ms, 2m)")]
    Duration(String),
}

impl Quantity {
    pub fn bytes(&self) -> Result<u64, ConfigError> {
        let text = match self {
            Quantity::Int(n) => return Ok(*n),
            Quantity::Str(s) => s.trim(),
        };
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, suffix) = text.split_at(split);
        let bad = || ConfigError::Quantity(text.to_owned());
        let n: u64 = digits.parse().map_err(|_| bad())?;
        let mult: u64 = match suffix {
            "" => 1,
            "k" => 1_000,
            "M" => 1_000_000,
            "G" => 1_000_000_000,
            "Ki" => 1 << 10,
            "Mi" => 1 << 20,
            "Gi" => 1 << 30,
            _ => return Err(bad()),
        };
        n.checked_mul(mult).ok_or_else(bad)
    }
}

/// Parses a sandbox's `limits.timeout`: a non-negative Go duration (`10s`, `1m30s`, `1.5s`,
/// `250ms`), as the CRDs' CEL `duration()` checks it.
pub fn parse_duration(text: &str) -> Result<Duration, ConfigError> {
    duration::parse_std(text.trim()).map_err(|_| ConfigError::Duration(text.to_owned()))
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (issue 17, found by `props`, seeds in `proptest-regressions/`): the sum of the
    /// terms overflowed `Duration` and panicked (`310000000000000000m1000ms`); an overflowing
    /// term saturated silently (`5124095576030432h`).
    #[test]
    fn overflowing_durations_are_errors() {
        assert!(parse_duration("18446744073709551615s1s").is_err());
        assert!(parse_duration("310000000000000000m1000ms").is_err());
        assert!(parse_duration("5124095576030432h").is_err());
        assert!(parse_duration("18446744073709551615h").is_err());
        assert!(parse_duration("9999999999999999999m9999999999999999999m").is_err());
    }

    #[test]
    fn deserializes_the_design_example() {
        let spec: ProviderClassConfig = serde_json::from_value(serde_json::json!({
            "provider": "vault",
            "module": {"image": "oci://r/ampoule/vault@sha256:00", "pullSecretRef": {"name": "p", "namespace": "n"},
                       "verify": {"cosignPublicKeys": ["PEM"]}},
            "settings": {"endpoints": {}},
            "sandbox": {
                "egress": {"allow": [{"host": "*.example.com", "ports": [443], "methods": ["GET"], "pathPrefixes": ["/v1/"]}],
                           "privateNetworks": "Deny"},
                "limits": {"memory": "64Mi", "timeout": "10s", "requests": 50, "responseBytes": "4Mi"}
            }
        }))
        .unwrap();
        assert_eq!(
            spec.sandbox
                .limits
                .memory
                .as_ref()
                .unwrap()
                .bytes()
                .unwrap(),
            64 << 20
        );
        assert_eq!(
            spec.sandbox.egress.as_ref().unwrap().allow[0].path_prefixes,
            vec!["/v1/"]
        );
        assert_eq!(
            spec.module.unwrap().verify.unwrap().cosign_public_keys,
            vec!["PEM"]
        );
    }

    #[test]
    fn quantities_and_durations() {
        assert_eq!(Quantity::Str("4M".into()).bytes().unwrap(), 4_000_000);
        assert_eq!(Quantity::Int(7).bytes().unwrap(), 7);
        assert!(Quantity::Str("4X".into()).bytes().is_err());
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("").is_err());
    }
}
