//! The credential seam: a plugin asks for credentials by reference (`requested-credentials`);
//! the controller resolves them against Kubernetes ([`CredentialResolver`]) and the host hands
//! the values to the plugin through `ampoule:host/credentials`.

use futures::future::BoxFuture;

use crate::provider::{ProviderError, SecretValue, StoreContext};

/// A credential a plugin asked for (`requested-credentials`), resolved by the controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRequest {
    /// The name the plugin will ask `ampoule:host/credentials.get` for.
    pub name: String,
    pub source: CredentialSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// A key of a Secret; `namespace` only honoured for ClusterSecretStores (ESO's rules).
    SecretKey {
        name: String,
        key: String,
        namespace: Option<String>,
    },
    /// A ServiceAccount token (TokenRequest) for these audiences.
    ServiceAccountToken {
        name: String,
        namespace: Option<String>,
        audiences: Vec<String>,
    },
    /// The value of one ServiceAccount annotation (empty when absent).
    ServiceAccountAnnotation {
        name: String,
        namespace: Option<String>,
        key: String,
    },
    /// A key of a ConfigMap (requested with `credentials.request-config-map`); `namespace` as
    /// for a Secret key.
    ConfigMapKey {
        name: String,
        key: String,
        namespace: Option<String>,
    },
    /// A ServiceAccount token whose first audience is an annotation's value (or the default),
    /// followed by `audiences`.
    AnnotatedToken {
        name: String,
        namespace: Option<String>,
        audience_annotation: String,
        default_audience: String,
        audiences: Vec<String>,
    },
    /// The operator's own identity (requested with `credentials.request-controller-identity`),
    /// resolved only when the store's ProviderClass allows it ([`check_controller_identity`]).
    Controller(ControllerIdentity),
}

/// What a plugin may ask of the operator's own identity (its ServiceAccount and the IRSA
/// environment), for the stores ESO authenticates as the controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControllerIdentity {
    /// A TokenRequest token of the operator's ServiceAccount for these audiences.
    Token { audiences: Vec<String> },
    /// A token whose first audience is an annotation's value (or the default), then `audiences`.
    AnnotatedToken {
        audience_annotation: String,
        default_audience: String,
        audiences: Vec<String>,
    },
    /// One annotation of the operator's ServiceAccount.
    Annotation { key: String },
    /// One of the operator's identity environment variables (`AWS_ROLE_ARN`).
    Environment { name: String },
}

/// The field a cluster admin sets on a ProviderClass to let its stores use the operator's own
/// identity.
pub const ALLOW_CONTROLLER_IDENTITY: &str = "spec.credentials.allowControllerIdentity";

/// Refuses controller-identity requests unless the class grants them: the error names the
/// field to set (and the provider key, so the admin finds the class).
pub fn check_controller_identity(
    requests: &[CredentialRequest],
    allowed: bool,
    provider: &str,
) -> Result<(), ProviderError> {
    if allowed || !requests.iter().any(|r| r.source.is_controller()) {
        return Ok(());
    }
    Err(ProviderError::Forbidden(format!(
        "{CONTROLLER_IDENTITY_REFUSED}this store names no credentials and so authenticates as \
         the operator's own ServiceAccount, which the ProviderClass serving {provider:?} does not \
         allow: set {ALLOW_CONTROLLER_IDENTITY}: true on that ProviderClass, or give the store \
         credentials"
    )))
}

/// How the refusal of [`check_controller_identity`] begins.
const CONTROLLER_IDENTITY_REFUSED: &str = "controller identity not allowed: ";

/// Whether `e` is the refusal of [`check_controller_identity`] (the store controller then names
/// the field in the store's condition, not only in its event).
pub fn is_controller_identity_refusal(e: &ProviderError) -> bool {
    matches!(e, ProviderError::Forbidden(m) if m.starts_with(CONTROLLER_IDENTITY_REFUSED))
}

impl CredentialSource {
    /// Whether this is the operator's own identity rather than a reference of the store.
    pub fn is_controller(&self) -> bool {
        matches!(self, CredentialSource::Controller(_))
    }

    /// The namespace the reference names, if any.
    pub fn namespace(&self) -> Option<&str> {
        match self {
            CredentialSource::SecretKey { namespace, .. }
            | CredentialSource::ConfigMapKey { namespace, .. }
            | CredentialSource::ServiceAccountToken { namespace, .. }
            | CredentialSource::ServiceAccountAnnotation { namespace, .. }
            | CredentialSource::AnnotatedToken { namespace, .. } => namespace.as_deref(),
            CredentialSource::Controller(_) => None,
        }
    }
}

/// Resolves credentials for a store (the controller implements this against Kubernetes).
pub trait CredentialResolver: Send + Sync + 'static {
    fn resolve<'a>(
        &'a self,
        store: &'a StoreContext,
        request: &'a CredentialRequest,
    ) -> BoxFuture<'a, Result<SecretValue, ProviderError>>;
}

/// Resolves nothing: every request fails with a clear message.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoCredentials;

impl CredentialResolver for NoCredentials {
    fn resolve<'a>(
        &'a self,
        _store: &'a StoreContext,
        request: &'a CredentialRequest,
    ) -> BoxFuture<'a, Result<SecretValue, ProviderError>> {
        let name = request.name.clone();
        Box::pin(async move {
            Err(ProviderError::InvalidConfig(format!(
                "credential {name:?} cannot be resolved: no credential resolver configured"
            )))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(source: CredentialSource) -> CredentialRequest {
        CredentialRequest {
            name: "n".into(),
            source,
        }
    }

    #[test]
    fn controller_identity_needs_the_class_grant() {
        let own = [request(CredentialSource::Controller(
            ControllerIdentity::Token {
                audiences: Vec::new(),
            },
        ))];
        let named = [request(CredentialSource::SecretKey {
            name: "s".into(),
            key: "k".into(),
            namespace: None,
        })];
        assert!(check_controller_identity(&named, false, "vault").is_ok());
        assert!(check_controller_identity(&own, true, "vault").is_ok());
        let refused = check_controller_identity(&own, false, "vault").unwrap_err();
        assert!(is_controller_identity_refusal(&refused));
        assert!(refused.to_string().contains(ALLOW_CONTROLLER_IDENTITY));
        assert!(refused.to_string().contains("\"vault\""));
        assert!(!is_controller_identity_refusal(&ProviderError::Forbidden(
            "denied".into()
        )));
    }
}
