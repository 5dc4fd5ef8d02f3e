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
}

impl CredentialSource {
    /// The namespace the reference names, if any.
    pub fn namespace(&self) -> Option<&str> {
        match self {
            CredentialSource::SecretKey { namespace, .. }
            | CredentialSource::ConfigMapKey { namespace, .. }
            | CredentialSource::ServiceAccountToken { namespace, .. }
            | CredentialSource::ServiceAccountAnnotation { namespace, .. }
            | CredentialSource::AnnotatedToken { namespace, .. } => namespace.as_deref(),
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
