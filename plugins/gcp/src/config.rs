//! `spec.provider.gcpsm` (ESO's schema, unchanged) and the ProviderClass settings.

use ampoule_sdk::errors::invalid_config;
use ampoule_sdk::{
    ControllerIdentity, CredentialRequest, CredentialSource, EgressRule, ProviderError,
    SecretKeyRef, ServiceAccountAnnotationRef, ServiceAccountRef,
};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    #[serde(default, rename = "projectID")]
    pub project_id: String,
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub secret_version_selection_policy: Option<String>,
    #[serde(default)]
    pub auth: Auth,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Auth {
    pub secret_ref: Option<SecretRefAuth>,
    pub workload_identity: Option<WorkloadIdentity>,
    pub workload_identity_federation: Option<Federation>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretRefAuth {
    pub secret_access_key_secret_ref: Option<KeySelector>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct KeySelector {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub key: String,
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SaRef {
    #[serde(default)]
    pub name: String,
    pub namespace: Option<String>,
    #[serde(default)]
    pub audiences: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadIdentity {
    pub service_account_ref: Option<SaRef>,
    #[serde(default)]
    pub cluster_location: String,
    #[serde(default)]
    pub cluster_name: String,
    #[serde(default, rename = "clusterProjectID")]
    pub cluster_project_id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Federation {
    pub cred_config: Option<serde_json::Value>,
    pub service_account_ref: Option<SaRef>,
    pub aws_security_credentials: Option<serde_json::Value>,
    #[serde(default)]
    pub audience: String,
    #[serde(default)]
    pub external_token_endpoint: String,
    #[serde(default)]
    pub gcp_service_account_email: String,
}

/// ProviderClass `spec.settings`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    #[serde(default)]
    pub endpoints: Endpoints,
    /// The operator's GKE cluster, for stores with no `auth` (the operator's own workload
    /// identity), where ESO asks the GKE metadata server.
    #[serde(default)]
    pub workload_identity: Option<ClusterIdentity>,
}

/// `settings.workloadIdentity`: the cluster whose identity pool the operator belongs to.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterIdentity {
    #[serde(default)]
    pub cluster_name: String,
    #[serde(default)]
    pub cluster_location: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct Endpoints {
    pub secretmanager: Option<String>,
    pub sts: Option<String>,
    pub securetoken: Option<String>,
    pub iamcredentials: Option<String>,
    pub oauth2: Option<String>,
}

pub const SA_KEY: &str = "sa-key";
pub const KSA_TOKEN: &str = "ksa-token";
pub const GSA: &str = "gcp-service-account";
/// The KSA annotation naming the GSA workload identity impersonates.
pub const GSA_ANNOTATION: &str = "iam.gke.io/gcp-service-account";

pub fn parse(config: &str) -> Result<Config, ProviderError> {
    let cfg: Config =
        serde_json::from_str(config).map_err(|e| invalid_config(format!("gcpsm: {e}")))?;
    if cfg.project_id.is_empty() {
        return Err(invalid_config(
            "gcpsm: projectID is required (no metadata server in the sandbox)",
        ));
    }
    let label = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !label(&cfg.project_id) || !label(&cfg.location) {
        return Err(invalid_config(
            "gcpsm: projectID and location must be plain names",
        ));
    }
    if let Some(p) = cfg.secret_version_selection_policy.as_deref()
        && p != "LatestOrFail"
        && p != "LatestOrFetch"
    {
        return Err(invalid_config(format!(
            "gcpsm: unknown secretVersionSelectionPolicy {p:?}"
        )));
    }
    let a = &cfg.auth;
    if let Some(s) = &a.secret_ref {
        if s.secret_access_key_secret_ref
            .as_ref()
            .is_none_or(|k| k.name.is_empty() || k.key.is_empty())
        {
            return Err(invalid_config(
                "gcpsm: auth.secretRef.secretAccessKeySecretRef needs name and key",
            ));
        }
    } else if let Some(wi) = &a.workload_identity {
        if wi
            .service_account_ref
            .as_ref()
            .is_none_or(|s| s.name.is_empty())
        {
            return Err(invalid_config(
                "gcpsm: workloadIdentity.serviceAccountRef.name is required",
            ));
        }
        if wi.cluster_name.is_empty() || wi.cluster_location.is_empty() {
            return Err(invalid_config(
                "gcpsm: workloadIdentity needs clusterName and clusterLocation (no metadata server in the sandbox)",
            ));
        }
    } else if let Some(f) = &a.workload_identity_federation {
        if f.cred_config.is_some()
            || f.aws_security_credentials.is_some()
            || !f.external_token_endpoint.is_empty()
        {
            return Err(invalid_config(
                "gcpsm: workloadIdentityFederation.credConfig, awsSecurityCredentials and externalTokenEndpoint are not supported; use serviceAccountRef",
            ));
        }
        if f.service_account_ref
            .as_ref()
            .is_none_or(|s| s.name.is_empty())
            || f.audience.is_empty()
        {
            return Err(invalid_config(
                "gcpsm: workloadIdentityFederation needs serviceAccountRef and audience",
            ));
        }
    }
    // No auth: as ESO, the operator's own workload identity (the host hands its token over
    // where the ProviderClass allows it).
    Ok(cfg)
}

pub fn settings(s: &str) -> Result<Settings, ProviderError> {
    if s.trim().is_empty() {
        return Ok(Settings::default());
    }
    serde_json::from_str(s).map_err(|e| invalid_config(format!("gcpsm settings: {e}")))
}

fn or(url: &Option<String>, default: &str) -> String {
    url.clone()
        .unwrap_or_else(|| default.to_owned())
        .trim_end_matches('/')
        .to_owned()
}

impl Config {
    pub fn cluster_project(&self) -> &str {
        self.auth
            .workload_identity
            .as_ref()
            .map(|w| w.cluster_project_id.as_str())
            .filter(|p| !p.is_empty())
            .unwrap_or(&self.project_id)
    }

    pub fn parent(&self) -> String {
        if self.location.is_empty() {
            format!("projects/{}", self.project_id)
        } else {
            format!("projects/{}/locations/{}", self.project_id, self.location)
        }
    }

    pub fn secretmanager(&self, s: &Settings) -> String {
        let default = if self.location.is_empty() {
            "https://secretmanager.googleapis.com".to_owned()
        } else {
            format!("https://secretmanager.{}.rep.googleapis.com", self.location)
        };
        or(&s.endpoints.secretmanager, &default)
    }

    pub fn egress(&self, s: &Settings) -> Result<Vec<EgressRule>, ProviderError> {
        // Reads are GET; PushSecret creates (POST), adds versions (POST), updates labels (PATCH)
        // and deletes (DELETE).
        let mut sm = rule(&self.secretmanager(s), "GET")?;
        sm.methods = ["GET", "POST", "PATCH", "DELETE"]
            .map(String::from)
            .to_vec();
        let mut rules = vec![sm];
        let a = &self.auth;
        if a.secret_ref.is_some() {
            rules.push(rule(&token_url(s), "POST")?);
        } else if a.workload_identity.is_some() || self.uses_controller_identity() {
            rules.push(rule(&securetoken(s), "POST")?);
            rules.push(rule(&iamcredentials(s), "POST")?);
        } else if let Some(f) = &a.workload_identity_federation {
            rules.push(rule(&sts(s), "POST")?);
            if !f.gcp_service_account_email.is_empty() {
                rules.push(rule(&iamcredentials(s), "POST")?);
            }
        }
        Ok(rules)
    }

    /// Whether the store names no auth: ESO then uses the controller's own workload identity.
    pub fn uses_controller_identity(&self) -> bool {
        let a = &self.auth;
        a.secret_ref.is_none()
            && a.workload_identity.is_none()
            && a.workload_identity_federation.is_none()
    }

    /// Asks the host for the operator's identity when the store names no auth (only from
    /// `requested-credentials`): a token for the identity pool of the store's project and the
    /// GSA its ServiceAccount's annotation names.
    pub fn request_controller_identity(&self) -> Result<(), ProviderError> {
        if !self.uses_controller_identity() {
            return Ok(());
        }
        let pool = format!("{}.svc.id.goog", self.cluster_project());
        ampoule_sdk::request_controller_identity(
            KSA_TOKEN,
            &ControllerIdentity::Token(vec![pool]),
        )?;
        ampoule_sdk::request_controller_identity(
            GSA,
            &ControllerIdentity::Annotation(GSA_ANNOTATION.into()),
        )
    }

    pub fn credentials(&self) -> Vec<CredentialRequest> {
        let a = &self.auth;
        let sa = |sa: &SaRef, audiences: Vec<String>| CredentialRequest {
            name: KSA_TOKEN.into(),
            source: CredentialSource::ServiceAccountToken(ServiceAccountRef {
                name: sa.name.clone(),
                namespace: sa.namespace.clone(),
                audiences,
            }),
        };
        if let Some(k) = a
            .secret_ref
            .as_ref()
            .and_then(|s| s.secret_access_key_secret_ref.as_ref())
        {
            return vec![CredentialRequest {
                name: SA_KEY.into(),
                source: CredentialSource::SecretKey(SecretKeyRef {
                    name: k.name.clone(),
                    key: k.key.clone(),
                    namespace: k.namespace.clone(),
                }),
            }];
        }
        if let Some(wi) = &a.workload_identity
            && let Some(r) = &wi.service_account_ref
        {
            let mut aud = vec![format!("{}.svc.id.goog", self.cluster_project())];
            aud.extend(r.audiences.iter().cloned());
            let gsa = CredentialRequest {
                name: GSA.into(),
                source: CredentialSource::ServiceAccountAnnotation(ServiceAccountAnnotationRef {
                    name: r.name.clone(),
                    namespace: r.namespace.clone(),
                    key: GSA_ANNOTATION.into(),
                }),
            };
            return vec![sa(r, aud), gsa];
        }
        if let Some(f) = &a.workload_identity_federation
            && let Some(r) = &f.service_account_ref
        {
            let mut aud = vec![f.audience.clone()];
            aud.extend(r.audiences.iter().cloned());
            return vec![sa(r, aud)];
        }
        Vec::new()
    }
}

pub fn token_url(s: &Settings) -> String {
    format!(
        "{}/token",
        or(&s.endpoints.oauth2, "https://oauth2.googleapis.com")
    )
}
pub fn securetoken(s: &Settings) -> String {
    or(
        &s.endpoints.securetoken,
        "https://securetoken.googleapis.com",
    )
}
pub fn iamcredentials(s: &Settings) -> String {
    or(
        &s.endpoints.iamcredentials,
        "https://iamcredentials.googleapis.com",
    )
}
pub fn sts(s: &Settings) -> String {
    or(&s.endpoints.sts, "https://sts.googleapis.com")
}

fn rule(url: &str, method: &str) -> Result<EgressRule, ProviderError> {
    let (scheme, host, ports) = ampoule_plugin_common::endpoint_parts(url)
        .ok_or_else(|| invalid_config(format!("gcpsm: endpoint {url:?} is not an http(s) URL")))?;
    Ok(EgressRule {
        schemes: vec![scheme],
        host,
        ports,
        methods: vec![method.into()],
        path_prefixes: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regional_endpoint_and_names() {
        let cfg = parse(r#"{"projectID":"p","location":"europe-west1","auth":{"secretRef":{"secretAccessKeySecretRef":{"name":"a","key":"k"}}}}"#).unwrap();
        assert_eq!(cfg.parent(), "projects/p/locations/europe-west1");
        let rules = cfg.egress(&Settings::default()).unwrap();
        let hosts: Vec<_> = rules.iter().map(|r| r.host.as_str()).collect();
        assert_eq!(
            hosts,
            [
                "secretmanager.europe-west1.rep.googleapis.com",
                "oauth2.googleapis.com"
            ]
        );
        assert_eq!(rules[0].methods, ["GET", "POST", "PATCH", "DELETE"]);
        assert_eq!(rules[1].methods, ["POST"]);
    }

    #[test]
    fn workload_identity_audience() {
        let cfg = parse(
            r#"{"projectID":"p","auth":{"workloadIdentity":{"clusterName":"c","clusterLocation":"l",
            "serviceAccountRef":{"name":"ksa"}}}}"#,
        )
        .unwrap();
        let creds = cfg.credentials();
        let CredentialSource::ServiceAccountToken(sa) = &creds[0].source else {
            panic!()
        };
        assert_eq!(sa.audiences, ["p.svc.id.goog"]);
        let CredentialSource::ServiceAccountAnnotation(a) = &creds[1].source else {
            panic!()
        };
        assert_eq!((a.name.as_str(), a.key.as_str()), ("ksa", GSA_ANNOTATION));
        assert!(parse(r#"{"projectID":"p.evil","auth":{}}"#).is_err());
    }

    #[test]
    fn no_auth_is_the_controller_identity() {
        let own = parse(r#"{"projectID":"p"}"#).unwrap();
        assert!(own.uses_controller_identity());
        assert!(own.credentials().is_empty(), "no store reference");
        let rules = own.egress(&Settings::default()).unwrap();
        let hosts: Vec<&str> = rules.iter().map(|r| r.host.as_str()).collect();
        assert!(hosts.contains(&"securetoken.googleapis.com"), "{hosts:?}");
        assert!(
            hosts.contains(&"iamcredentials.googleapis.com"),
            "{hosts:?}"
        );
    }
}
