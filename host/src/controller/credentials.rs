//! Credential material for plugins (Secret and ConfigMap keys, ServiceAccount tokens and
//! annotations),
//! resolved by the host with ESO's namespace rules: a SecretStore's references always resolve in
//! its own namespace; a ClusterSecretStore's in the namespace the reference names, or — without
//! one — in the ExternalSecret's namespace (referent authentication). The operator's own
//! identity ([`ControllerAccount`]) resolves the same way against its own ServiceAccount; the
//! sandbox has checked the ProviderClass grant before asking.

use futures::future::BoxFuture;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use kube::Client;
use kube::api::{Api, PostParams};

use crate::plugin::{ControllerIdentity, CredentialRequest, CredentialResolver, CredentialSource};
use crate::provider::{ProviderError, SecretValue, StoreContext, StoreKind};
use crate::redact::Redacted;

/// Resolves Secret keys, ServiceAccount tokens and annotations through the Kubernetes API.
#[derive(Clone)]
pub struct KubeCredentials {
    client: Client,
    controller: Option<ControllerAccount>,
}

/// The operator's environment variables a plugin may read (`controller-identity.environment`):
/// names of an identity, never a secret.
pub const IDENTITY_ENV: &[&str] = &["AWS_ROLE_ARN"];

/// The operator's own identity: its ServiceAccount and its [`IDENTITY_ENV`] values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ControllerAccount {
    pub namespace: String,
    pub name: String,
    pub environment: std::collections::BTreeMap<String, String>,
}

impl ControllerAccount {
    /// `namespace/name`, as `--controller-service-account` spells it.
    pub fn parse(text: &str) -> Option<ControllerAccount> {
        let (namespace, name) = text.trim().split_once('/')?;
        (!namespace.is_empty() && !name.is_empty() && !name.contains('/')).then(|| {
            ControllerAccount {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                environment: Default::default(),
            }
        })
    }

    /// With the [`IDENTITY_ENV`] variables of this process that are set.
    pub fn with_process_environment(mut self) -> Self {
        for name in IDENTITY_ENV {
            if let Ok(value) = std::env::var(name)
                && !value.is_empty()
            {
                self.environment.insert((*name).to_owned(), value);
            }
        }
        self
    }
}

impl KubeCredentials {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            controller: None,
        }
    }

    /// Resolves controller-identity requests against `account` (without one they fail).
    pub fn with_controller(mut self, account: Option<ControllerAccount>) -> Self {
        self.controller = account;
        self
    }
}

/// The namespace a reference resolves in, by ESO's rules.
pub fn namespace_for(store: &StoreContext, named: Option<&str>) -> Result<String, ProviderError> {
    match store.kind {
        StoreKind::SecretStore => store
            .store_namespace
            .clone()
            .ok_or_else(|| ProviderError::InvalidConfig("a SecretStore without a namespace".into())),
        StoreKind::ClusterSecretStore => named
            .map(str::to_string)
            .or_else(|| store.caller_namespace.clone())
            .ok_or_else(|| {
                ProviderError::InvalidConfig(
                    "this reference has no namespace: it is resolved in each ExternalSecret's namespace (referent authentication)"
                        .into(),
                )
            }),
    }
}

fn kube_error(what: String, e: kube::Error) -> ProviderError {
    match e {
        kube::Error::Api(s) if s.code == 404 => {
            ProviderError::InvalidConfig(format!("{what} not found"))
        }
        kube::Error::Api(s) if s.code == 403 => {
            ProviderError::Forbidden(format!("{what}: {}", s.message))
        }
        other => ProviderError::Unavailable(format!("{what}: {other}")),
    }
}

impl KubeCredentials {
    async fn service_account(&self, ns: &str, name: &str) -> Result<ServiceAccount, ProviderError> {
        Api::<ServiceAccount>::namespaced(self.client.clone(), ns)
            .get(name)
            .await
            .map_err(|e| kube_error(format!("serviceaccount \"{ns}/{name}\""), e))
    }

    /// A TokenRequest token for the ServiceAccount, valid for ten minutes (as ESO).
    async fn token(
        &self,
        ns: &str,
        name: &str,
        audiences: Vec<String>,
    ) -> Result<SecretValue, ProviderError> {
        let what = format!("serviceaccount \"{ns}/{name}\"");
        let request = TokenRequest {
            spec: Some(TokenRequestSpec {
                audiences: Some(audiences),
                expiration_seconds: Some(600),
                ..Default::default()
            }),
            ..Default::default()
        };
        let issued = Api::<ServiceAccount>::namespaced(self.client.clone(), ns)
            .create_token_request(name, &PostParams::default(), &request)
            .await
            .map_err(|e| kube_error(what.clone(), e))?;
        let token = issued.status.and_then(|s| s.token).ok_or_else(|| {
            ProviderError::Unavailable(format!("{what}: TokenRequest returned no token"))
        })?;
        Ok(Redacted::new(token.into_bytes()))
    }
}

/// An annotation's value, or `""` when the ServiceAccount does not carry it.
fn annotation(sa: &ServiceAccount, key: &str) -> String {
    sa.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .cloned()
        .unwrap_or_default()
}

impl CredentialResolver for KubeCredentials {
    fn resolve<'a>(
        &'a self,
        store: &'a StoreContext,
        request: &'a CredentialRequest,
    ) -> BoxFuture<'a, Result<SecretValue, ProviderError>> {
        Box::pin(async move {
            if let CredentialSource::Controller(identity) = &request.source {
                return self.controller_identity(identity).await;
            }
            let ns = namespace_for(store, request.source.namespace())?;
            match &request.source {
                CredentialSource::SecretKey { name, key, .. } => {
                    let what = format!("secret \"{ns}/{name}\"");
                    let secret = Api::<Secret>::namespaced(self.client.clone(), &ns)
                        .get(name)
                        .await
                        .map_err(|e| kube_error(what.clone(), e))?;
                    let value = secret.data.and_then(|mut d| d.remove(key)).ok_or_else(|| {
                        ProviderError::InvalidConfig(format!("{what} has no key \"{key}\""))
                    })?;
                    Ok(Redacted::new(value.0))
                }
                CredentialSource::ConfigMapKey { name, key, .. } => {
                    let what = format!("configmap \"{ns}/{name}\"");
                    let cm = Api::<ConfigMap>::namespaced(self.client.clone(), &ns)
                        .get(name)
                        .await
                        .map_err(|e| kube_error(what.clone(), e))?;
                    let text = cm
                        .data
                        .and_then(|mut d| d.remove(key))
                        .map(String::into_bytes);
                    let binary = || cm.binary_data.and_then(|mut d| d.remove(key)).map(|b| b.0);
                    let value = text.or_else(binary).ok_or_else(|| {
                        ProviderError::InvalidConfig(format!("{what} has no key \"{key}\""))
                    })?;
                    Ok(Redacted::new(value))
                }
                CredentialSource::ServiceAccountToken {
                    name, audiences, ..
                } => self.token(&ns, name, audiences.clone()).await,
                CredentialSource::ServiceAccountAnnotation { name, key, .. } => {
                    let sa = self.service_account(&ns, name).await?;
                    Ok(Redacted::new(annotation(&sa, key).into_bytes()))
                }
                CredentialSource::AnnotatedToken {
                    name,
                    audience_annotation,
                    default_audience,
                    audiences,
                    ..
                } => {
                    self.annotated_token(
                        &ns,
                        name,
                        audience_annotation,
                        default_audience,
                        audiences,
                    )
                    .await
                }
                CredentialSource::Controller(identity) => self.controller_identity(identity).await,
            }
        })
    }
}

impl KubeCredentials {
    /// A token of ServiceAccount `ns/name` whose first audience is the value of its annotation
    /// `audience_annotation` (`default_audience` when absent or empty), then `audiences`.
    async fn annotated_token(
        &self,
        ns: &str,
        name: &str,
        audience_annotation: &str,
        default_audience: &str,
        audiences: &[String],
    ) -> Result<SecretValue, ProviderError> {
        let sa = self.service_account(ns, name).await?;
        let first = Some(annotation(&sa, audience_annotation))
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| default_audience.to_owned());
        let all = std::iter::once(first)
            .chain(audiences.iter().cloned())
            .collect();
        self.token(ns, name, all).await
    }

    async fn controller_identity(
        &self,
        identity: &ControllerIdentity,
    ) -> Result<SecretValue, ProviderError> {
        let account = self.controller.as_ref().ok_or_else(|| {
            ProviderError::InvalidConfig(
                "the operator does not know its own ServiceAccount: run it in a Pod, or set \
                 --controller-service-account NAMESPACE/NAME"
                    .into(),
            )
        })?;
        let (ns, name) = (account.namespace.as_str(), account.name.as_str());
        match identity {
            ControllerIdentity::Token { audiences } => {
                self.token(ns, name, audiences.clone()).await
            }
            ControllerIdentity::Annotation { key } => {
                let sa = self.service_account(ns, name).await?;
                Ok(Redacted::new(annotation(&sa, key).into_bytes()))
            }
            ControllerIdentity::AnnotatedToken {
                audience_annotation,
                default_audience,
                audiences,
            } => {
                self.annotated_token(ns, name, audience_annotation, default_audience, audiences)
                    .await
            }
            ControllerIdentity::Environment { name } => {
                if !IDENTITY_ENV.contains(&name.as_str()) {
                    return Err(ProviderError::InvalidConfig(format!(
                        "the operator's environment variable {name:?} is not one a plugin may \
                         read (only {IDENTITY_ENV:?})"
                    )));
                }
                let value = account.environment.get(name).cloned().unwrap_or_default();
                Ok(Redacted::new(value.into_bytes()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(kind: StoreKind, ns: Option<&str>, caller: Option<&str>) -> StoreContext {
        StoreContext {
            kind,
            name: "s".into(),
            store_namespace: ns.map(Into::into),
            caller_namespace: caller.map(Into::into),
            generation: 1,
            provider: "vault".into(),
            config: serde_json::Value::Null,
            sandbox: None,
        }
    }

    #[test]
    fn namespaces_follow_eso_rules() {
        let ss = store(StoreKind::SecretStore, Some("team-a"), Some("team-a"));
        assert_eq!(
            namespace_for(&ss, Some("other")).unwrap(),
            "team-a",
            "a SecretStore never reaches another namespace"
        );
        let css = store(StoreKind::ClusterSecretStore, None, Some("team-b"));
        assert_eq!(namespace_for(&css, Some("infra")).unwrap(), "infra");
        assert_eq!(
            namespace_for(&css, None).unwrap(),
            "team-b",
            "referent authentication"
        );
        let validating = store(StoreKind::ClusterSecretStore, None, None);
        assert!(namespace_for(&validating, None).is_err());
    }

    /// A client for an apiserver that is never called.
    fn offline() -> Client {
        let url = "https://127.0.0.1:9".parse().unwrap();
        Client::try_from(kube::Config::new(url)).unwrap()
    }

    async fn own(creds: &KubeCredentials, identity: ControllerIdentity) -> Result<String, String> {
        let request = CredentialRequest {
            name: "own".into(),
            source: CredentialSource::Controller(identity),
        };
        let s = store(StoreKind::ClusterSecretStore, None, None);
        creds
            .resolve(&s, &request)
            .await
            .map(|v| String::from_utf8(v.expose().clone()).unwrap())
            .map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn controller_identity_without_an_account_or_outside_the_environment_allowlist() {
        let env = |name: &str| ControllerIdentity::Environment { name: name.into() };
        let unknown = KubeCredentials::new(offline());
        let err = own(&unknown, env("AWS_ROLE_ARN")).await.unwrap_err();
        assert!(err.contains("--controller-service-account"), "{err}");
        let mut account = ControllerAccount::parse("ops/ampoule").unwrap();
        account
            .environment
            .insert("AWS_ROLE_ARN".into(), "arn:aws:iam::1:role/r".into());
        let known = KubeCredentials::new(offline()).with_controller(Some(account));
        assert_eq!(
            own(&known, env("AWS_ROLE_ARN")).await.unwrap(),
            "arn:aws:iam::1:role/r"
        );
        let err = own(&known, env("AWS_SECRET_ACCESS_KEY")).await.unwrap_err();
        assert!(err.contains("not one a plugin may read"), "{err}");
    }

    #[test]
    fn controller_service_account_flag() {
        let a = ControllerAccount::parse("ampoule-system/ampoule").unwrap();
        assert_eq!(
            (a.namespace.as_str(), a.name.as_str()),
            ("ampoule-system", "ampoule")
        );
        for bad in ["ampoule", "/a", "a/", "a/b/c", ""] {
            assert_eq!(ControllerAccount::parse(bad), None, "{bad:?}");
        }
    }
}
