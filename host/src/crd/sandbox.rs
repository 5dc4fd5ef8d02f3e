//! The sandbox a provider plugin runs in: egress rules and resource limits. A ProviderClass sets
//! the ceiling; a store's optional `spec.sandbox` narrows it further and can never widen it (the
//! effective policy is the intersection of the plugin's request, the class and the store).

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `limits.timeout` is a positive Go duration (an unparsable one fails evaluation).
pub const TIMEOUT_RULE: &str = "duration(self) > duration('0s')";
/// Message for [`TIMEOUT_RULE`].
pub const TIMEOUT_MSG: &str = "timeout must be a positive Go duration such as \"10s\"";
/// CEL rule of `limits.memory` and `limits.responseBytes`: the quantities the sandbox reads
/// (`crates/sandbox/src/config.rs`, `Quantity::bytes`), so a value it cannot read (`64MiB`,
/// `1.5Gi`) is refused when the object is written rather than when a store first uses it.
pub const QUANTITY_RULE: &str = "string(self).matches('^[0-9]+(k|M|G|Ki|Mi|Gi)?$')";
/// Message for [`QUANTITY_RULE`].
pub const QUANTITY_MSG: &str =
    "must be a whole number of bytes, optionally with a suffix k, M, G, Ki, Mi or Gi (e.g. 64Mi)";

/// Egress and limits of a plugin.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sandbox {
    /// Where the plugin may send HTTP requests. Omitted on a store: the class's rules apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<Egress>,
    /// Resource limits of the plugin. Omitted fields: the class's (or built-in) limits apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
}

/// Outgoing HTTP rules. Deny by default: only requests matching an `allow` rule leave.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Egress {
    /// Requests matching any of these rules are allowed (subject to the other layers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub allow: Vec<EgressRule>,
    /// Whether resolved addresses may be private (loopback, RFC 1918, unique-local). Cloud
    /// metadata addresses stay denied unless an allow rule names them explicitly. `Deny` when
    /// omitted on a ProviderClass; inherited from the class when omitted on a store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_networks: Option<PrivateNetworks>,
}

/// One allowed destination.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EgressRule {
    /// Host name, or a wildcard for one or more leading labels (`*.example.com`), or an IP
    /// address (IPv6 in brackets or bare).
    #[schemars(length(min = 1, max = 253), pattern(r"^(\*\.)?[-A-Za-z0-9.:\[\]]+$"))]
    pub host: String,
    /// Allowed ports; when empty, the default port of the request's scheme (443 for https, 80
    /// for http).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(range(min = 1, max = 65535)))]
    pub ports: Vec<u16>,
    /// Allowed HTTP methods (upper case, e.g. `GET`, `LIST`); any method when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 16),
        inner(length(min = 1, max = 16), pattern(r"^[A-Z]+$"))
    )]
    pub methods: Vec<String>,
    /// Allowed URL path prefixes (each starting with `/`); any path when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(length(min = 1, max = 1024), pattern(r"^/")))]
    pub path_prefixes: Vec<String>,
}

/// Whether private addresses are reachable.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum PrivateNetworks {
    /// Only public addresses (the ProviderClass default).
    #[default]
    Deny,
    /// Private addresses too (for in-cluster or on-premises backends).
    Allow,
}

/// Resource limits of a plugin. `memory` and `timeout` bound each instance and each call into it;
/// `requests` and `responseBytes` bound the HTTP traffic of one opened client: the open and every
/// call made on it during one reconcile (validating a store, or reading one ExternalSecret's
/// values from that store).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Linear memory cap of the plugin instance (e.g. `64Mi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": QUANTITY_RULE, "message": QUANTITY_MSG}]))]
    pub memory: Option<Quantity>,
    /// Wall-clock deadline of one call (Go duration, e.g. `10s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 64),
        extend("x-kubernetes-validations" = [{"rule": TIMEOUT_RULE, "message": TIMEOUT_MSG}])
    )]
    pub timeout: Option<String>,
    /// Maximum number of outgoing HTTP requests of one opened client: the open and every call
    /// made on it during one reconcile together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub requests: Option<u32>,
    /// Maximum bytes of each response body (e.g. `4Mi`); the response bodies of one opened client
    /// (the open and every call made on it during one reconcile) may total 8 times this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": QUANTITY_RULE, "message": QUANTITY_MSG}]))]
    pub response_bytes: Option<Quantity>,
}

/// The sandbox reads a store's `spec.sandbox` (and a class's ceiling) as its own typed spec,
/// converted here once, where the object is read.
impl From<&Sandbox> for ampoule_sandbox::SandboxSpec {
    fn from(s: &Sandbox) -> Self {
        use ampoule_sandbox::config as c;
        let quantity = |q: &Quantity| c::Quantity::Str(q.0.clone());
        ampoule_sandbox::SandboxSpec {
            egress: s.egress.as_ref().map(|e| c::EgressSpec {
                allow: e
                    .allow
                    .iter()
                    .map(|r| c::AllowRule {
                        host: r.host.clone(),
                        schemes: Vec::new(),
                        ports: r.ports.clone(),
                        methods: r.methods.clone(),
                        path_prefixes: r.path_prefixes.clone(),
                    })
                    .collect(),
                private_networks: e.private_networks.map(c::PrivateNetworks::from),
            }),
            limits: s
                .limits
                .as_ref()
                .map(|l| c::LimitsSpec {
                    memory: l.memory.as_ref().map(quantity),
                    timeout: l.timeout.clone(),
                    requests: l.requests,
                    response_bytes: l.response_bytes.as_ref().map(quantity),
                })
                .unwrap_or_default(),
        }
    }
}

impl From<PrivateNetworks> for ampoule_sandbox::config::PrivateNetworks {
    fn from(p: PrivateNetworks) -> Self {
        match p {
            PrivateNetworks::Deny => Self::Deny,
            PrivateNetworks::Allow => Self::Allow,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed conversion reads a spec as the JSON round trip it replaced did.
    #[test]
    fn converts_as_the_json_round_trip_did() {
        let specs = [
            serde_json::json!({}),
            serde_json::json!({"egress": {}}),
            serde_json::json!({"egress": {"privateNetworks": "Allow"}}),
            serde_json::json!({
                "egress": {"allow": [{"host": "*.example.com", "ports": [443, 8200],
                                      "methods": ["GET"], "pathPrefixes": ["/v1/"]}],
                           "privateNetworks": "Deny"},
                "limits": {"memory": "64Mi", "timeout": "1.5s", "requests": 7, "responseBytes": "4Mi"}
            }),
        ];
        for json in specs {
            let crd: Sandbox = serde_json::from_value(json.clone()).unwrap();
            let old: ampoule_sandbox::SandboxSpec =
                serde_json::from_value(serde_json::to_value(&crd).unwrap()).unwrap();
            assert_eq!(ampoule_sandbox::SandboxSpec::from(&crd), old, "{json}");
        }
        // Go's durations, as the CRD's CEL `duration()` admits them.
        assert_eq!(
            ampoule_sandbox::config::parse_duration("1.5s").unwrap(),
            std::time::Duration::from_millis(1500)
        );
    }
}
