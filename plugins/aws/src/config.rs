//! `spec.provider.aws` (ESO's schema, unchanged) and the ProviderClass settings.

use ampoule_sdk::errors::invalid_config;
use ampoule_sdk::{
    AnnotatedTokenRef, ControllerAnnotatedToken, ControllerIdentity, CredentialRequest,
    CredentialSource, EgressRule, ProviderError, SecretKeyRef, ServiceAccountAnnotationRef,
};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Service {
    SecretsManager,
    ParameterStore,
    CertificateManager,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    pub service: Option<Service>,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub additional_roles: Vec<String>,
    #[serde(default, rename = "externalID")]
    pub external_id: String,
    #[serde(default)]
    pub session_tags: Vec<Tag>,
    #[serde(default)]
    pub transitive_tag_keys: Vec<String>,
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub auth: Auth,
    #[serde(default)]
    pub secrets_manager: Option<SecretsManager>,
}

/// `secretsManager`: how PushSecret's delete removes a secret.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretsManager {
    #[serde(default)]
    pub force_delete_without_recovery: bool,
    #[serde(default)]
    pub recovery_window_in_days: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Auth {
    pub secret_ref: Option<SecretRefAuth>,
    pub jwt: Option<JwtAuth>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretRefAuth {
    #[serde(rename = "accessKeyIDSecretRef")]
    pub access_key_id: Option<KeySelector>,
    #[serde(rename = "secretAccessKeySecretRef")]
    pub secret_access_key: Option<KeySelector>,
    #[serde(rename = "sessionTokenSecretRef")]
    pub session_token: Option<KeySelector>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct KeySelector {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub key: String,
    pub namespace: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtAuth {
    pub service_account_ref: Option<SaRef>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SaRef {
    #[serde(default)]
    pub name: String,
    pub namespace: Option<String>,
    #[serde(default)]
    pub audiences: Vec<String>,
}

/// Credential names this plugin asks the host for.
pub const ACCESS_KEY_ID: &str = "access-key-id";
pub const SECRET_ACCESS_KEY: &str = "secret-access-key";
pub const SESSION_TOKEN: &str = "session-token";
pub const WEB_IDENTITY: &str = "web-identity-token";
pub const ROLE_ARN: &str = "role-arn";
/// The operator's `AWS_ROLE_ARN` (controller identity only).
pub const ROLE_ARN_ENV: &str = "role-arn-env";
/// The IRSA variable ESO's AWS SDK reads for the role of the controller's own identity.
pub const ROLE_ARN_VARIABLE: &str = "AWS_ROLE_ARN";

/// The ServiceAccount annotations ESO's IRSA flow reads.
pub const ROLE_ARN_ANNOTATION: &str = "eks.amazonaws.com/role-arn";
pub const AUDIENCE_ANNOTATION: &str = "eks.amazonaws.com/audience";
pub const DEFAULT_AUDIENCE: &str = "sts.amazonaws.com";

/// ProviderClass `spec.settings`: `{"endpoints": {"secretsmanager"|"ssm"|"sts": URL}}`.
#[derive(Debug, Default, Deserialize)]
pub struct Settings {
    #[serde(default)]
    pub endpoints: Endpoints,
}

#[derive(Debug, Default, Deserialize)]
pub struct Endpoints {
    pub secretsmanager: Option<String>,
    pub ssm: Option<String>,
    pub sts: Option<String>,
}

pub fn parse(config: &str) -> Result<Config, ProviderError> {
    let cfg: Config =
        serde_json::from_str(config).map_err(|e| invalid_config(format!("aws: {e}")))?;
    check(&cfg)?;
    Ok(cfg)
}

pub fn settings(settings: &str) -> Result<Settings, ProviderError> {
    if settings.trim().is_empty() {
        return Ok(Settings::default());
    }
    serde_json::from_str(settings).map_err(|e| invalid_config(format!("aws settings: {e}")))
}

fn check(cfg: &Config) -> Result<(), ProviderError> {
    match cfg.service {
        None => return Err(invalid_config("aws: service is required")),
        Some(Service::CertificateManager) => {
            return Err(invalid_config(
                "aws: service CertificateManager is not supported",
            ));
        }
        Some(_) => {}
    }
    if let Some(sm) = &cfg.secrets_manager {
        let window = sm.recovery_window_in_days;
        if window != 0 && !(7..=30).contains(&window) {
            return Err(invalid_config(
                "invalid DeleteSecretInput: RecoveryWindowInDays must be between 7 and 30 days",
            ));
        }
        if window != 0 && sm.force_delete_without_recovery {
            return Err(invalid_config(
                "invalid DeleteSecretInput: ForceDeleteWithoutRecovery conflicts with RecoveryWindowInDays",
            ));
        }
    }
    if !valid_region(&cfg.region) {
        return Err(invalid_config(format!(
            "aws: invalid region {:?}",
            cfg.region
        )));
    }
    match (&cfg.auth.secret_ref, &cfg.auth.jwt) {
        (Some(s), _) => {
            for (what, sel) in [
                ("accessKeyIDSecretRef", &s.access_key_id),
                ("secretAccessKeySecretRef", &s.secret_access_key),
            ] {
                if sel
                    .as_ref()
                    .is_none_or(|k| k.name.is_empty() || k.key.is_empty())
                {
                    return Err(invalid_config(format!(
                        "aws: auth.secretRef.{what} needs name and key"
                    )));
                }
            }
        }
        (None, Some(jwt)) => {
            if jwt
                .service_account_ref
                .as_ref()
                .is_none_or(|s| s.name.is_empty())
            {
                return Err(invalid_config(
                    "aws: auth.jwt.serviceAccountRef.name is required",
                ));
            }
        }
        // As ESO: no auth is the operator's own identity (IRSA on its ServiceAccount), which
        // the host hands over where the ProviderClass allows it.
        (None, None) => {}
    }
    Ok(())
}

/// `xx-name-N` (and `xx-gov-name-N`, `cn-…`); enough to keep the region out of the host name.
pub fn valid_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

fn default_endpoint(service: &str, region: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://{service}.{region}.{suffix}")
}

impl Config {
    /// The service's endpoint: the ProviderClass override, else the regional host.
    pub fn service_endpoint(&self, settings: &Settings) -> String {
        match self.service {
            Some(Service::ParameterStore) => settings
                .endpoints
                .ssm
                .clone()
                .unwrap_or_else(|| default_endpoint("ssm", &self.region)),
            _ => settings
                .endpoints
                .secretsmanager
                .clone()
                .unwrap_or_else(|| default_endpoint("secretsmanager", &self.region)),
        }
    }

    pub fn sts_endpoint(&self, settings: &Settings) -> String {
        settings
            .endpoints
            .sts
            .clone()
            .unwrap_or_else(|| default_endpoint("sts", &self.region))
    }

    /// Whether any STS call is needed (a role to assume or web identity).
    pub fn needs_sts(&self) -> bool {
        !self.role.is_empty() || !self.additional_roles.is_empty() || self.auth.secret_ref.is_none()
    }

    pub fn egress(&self, settings: &Settings) -> Result<Vec<EgressRule>, ProviderError> {
        let mut urls = vec![self.service_endpoint(settings)];
        if self.needs_sts() {
            urls.push(self.sts_endpoint(settings));
        }
        urls.iter().map(|u| rule(u)).collect()
    }

    /// Whether the store names no credentials: ESO then authenticates as the controller
    /// (IRSA: AssumeRoleWithWebIdentity with the operator's token).
    pub fn uses_controller_identity(&self) -> bool {
        self.auth.secret_ref.is_none() && self.auth.jwt.is_none()
    }

    /// Asks the host for the operator's identity when the store names no credentials (only
    /// from `requested-credentials`): the role from its ServiceAccount's annotation and its
    /// `AWS_ROLE_ARN`, a token for the annotated audience (default sts.amazonaws.com).
    pub fn request_controller_identity(&self) -> Result<(), ProviderError> {
        if !self.uses_controller_identity() {
            return Ok(());
        }
        let ask = ampoule_sdk::request_controller_identity;
        ask(
            ROLE_ARN,
            &ControllerIdentity::Annotation(ROLE_ARN_ANNOTATION.into()),
        )?;
        ask(
            ROLE_ARN_ENV,
            &ControllerIdentity::Environment(ROLE_ARN_VARIABLE.into()),
        )?;
        ask(
            WEB_IDENTITY,
            &ControllerIdentity::AnnotatedToken(ControllerAnnotatedToken {
                audience_annotation: AUDIENCE_ANNOTATION.into(),
                default_audience: DEFAULT_AUDIENCE.into(),
                audiences: Vec::new(),
            }),
        )
    }

    pub fn credentials(&self) -> Vec<CredentialRequest> {
        let key = |name: &str, sel: &KeySelector| CredentialRequest {
            name: name.into(),
            source: CredentialSource::SecretKey(SecretKeyRef {
                name: sel.name.clone(),
                key: sel.key.clone(),
                namespace: sel.namespace.clone(),
            }),
        };
        let mut out = Vec::new();
        if let Some(s) = &self.auth.secret_ref {
            for (name, sel) in [
                (ACCESS_KEY_ID, &s.access_key_id),
                (SECRET_ACCESS_KEY, &s.secret_access_key),
                (SESSION_TOKEN, &s.session_token),
            ] {
                if let Some(sel) = sel.as_ref().filter(|k| !k.name.is_empty()) {
                    out.push(key(name, sel));
                }
            }
        } else if let Some(sa) = self
            .auth
            .jwt
            .as_ref()
            .and_then(|j| j.service_account_ref.as_ref())
        {
            // As ESO: the role from the ServiceAccount's annotation; the token's audience from
            // its audience annotation (default sts.amazonaws.com), then the listed audiences.
            out.push(CredentialRequest {
                name: ROLE_ARN.into(),
                source: CredentialSource::ServiceAccountAnnotation(ServiceAccountAnnotationRef {
                    name: sa.name.clone(),
                    namespace: sa.namespace.clone(),
                    key: ROLE_ARN_ANNOTATION.into(),
                }),
            });
            out.push(CredentialRequest {
                name: WEB_IDENTITY.into(),
                source: CredentialSource::AnnotatedToken(AnnotatedTokenRef {
                    name: sa.name.clone(),
                    namespace: sa.namespace.clone(),
                    audience_annotation: AUDIENCE_ANNOTATION.into(),
                    default_audience: DEFAULT_AUDIENCE.into(),
                    audiences: sa.audiences.clone(),
                }),
            });
        }
        out
    }
}

/// One egress rule for an endpoint URL: its scheme, host and port, POST only.
pub fn rule(url: &str) -> Result<EgressRule, ProviderError> {
    let (scheme, host, ports) = ampoule_plugin_common::endpoint_parts(url)
        .ok_or_else(|| invalid_config(format!("aws: endpoint {url:?} is not an http(s) URL")))?;
    Ok(EgressRule {
        schemes: vec![scheme],
        host,
        ports,
        methods: vec!["POST".into()],
        path_prefixes: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions() {
        assert!(valid_region("us-east-1"));
        assert!(valid_region("us-gov-west-1"));
        assert!(!valid_region("us-east-1.evil.com"));
        assert!(!valid_region(""));
    }

    #[test]
    fn egress_is_exactly_the_endpoints() {
        let cfg = parse(r#"{"service":"SecretsManager","region":"eu-west-1","role":"arn:aws:iam::1:role/r",
            "auth":{"secretRef":{"accessKeyIDSecretRef":{"name":"a","key":"k"},"secretAccessKeySecretRef":{"name":"a","key":"s"}}}}"#).unwrap();
        let rules = cfg.egress(&Settings::default()).unwrap();
        let hosts: Vec<_> = rules.iter().map(|r| r.host.as_str()).collect();
        assert_eq!(
            hosts,
            [
                "secretsmanager.eu-west-1.amazonaws.com",
                "sts.eu-west-1.amazonaws.com"
            ]
        );
        let s = settings(r#"{"endpoints":{"secretsmanager":"http://127.0.0.1:5000","sts":"http://127.0.0.1:5001/"}}"#).unwrap();
        let rules = cfg.egress(&s).unwrap();
        assert_eq!(rules[0].ports, [5000]);
        assert_eq!(rules[1].host, "127.0.0.1");
        assert_eq!(rules[1].schemes, ["http"]);
    }

    #[test]
    fn jwt_reads_the_service_accounts_annotations() {
        let cfg = parse(
            r#"{"service":"SecretsManager","region":"us-east-1",
            "auth":{"jwt":{"serviceAccountRef":{"name":"eso","audiences":["extra"]}}}}"#,
        )
        .unwrap();
        let creds = cfg.credentials();
        let names: Vec<_> = creds.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, [ROLE_ARN, WEB_IDENTITY]);
        let CredentialSource::ServiceAccountAnnotation(a) = &creds[0].source else {
            panic!("{:?}", creds[0].source)
        };
        assert_eq!(
            (a.name.as_str(), a.key.as_str()),
            ("eso", ROLE_ARN_ANNOTATION)
        );
        let CredentialSource::AnnotatedToken(t) = &creds[1].source else {
            panic!("{:?}", creds[1].source)
        };
        assert_eq!(t.audience_annotation, AUDIENCE_ANNOTATION);
        assert_eq!(t.default_audience, DEFAULT_AUDIENCE);
        assert_eq!(t.audiences, ["extra"]);
        assert!(cfg.needs_sts());
    }

    #[test]
    fn no_auth_is_the_controller_identity_and_bad_service_is_refused() {
        let own = parse(r#"{"service":"SecretsManager","region":"us-east-1"}"#).unwrap();
        assert!(own.uses_controller_identity());
        assert!(own.needs_sts());
        assert!(own.credentials().is_empty(), "no store reference");
        assert!(parse(r#"{"service":"Nope","region":"us-east-1"}"#).is_err());
    }
}
