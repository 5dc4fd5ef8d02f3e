//! Controller errors. Variants name the operation that failed; [`Error::category`] is a bounded
//! label for metrics; messages never contain secret values.

use crate::provider::ProviderError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{kind} \"{name}\" not found")]
    StoreNotFound { kind: &'static str, name: String },
    #[error("could not get {kind} \"{name}\": {source}")]
    GetStore {
        kind: &'static str,
        name: String,
        source: kube::Error,
    },
    #[error(
        "using cluster store \"{store}\" is not allowed from namespace \"{namespace}\": denied by spec.condition"
    )]
    StoreNotAllowed { store: String, namespace: String },
    #[error("could not check namespace \"{namespace}\" against the store's conditions: {source}")]
    GetNamespace {
        namespace: String,
        source: kube::Error,
    },
    #[error("{kind} \"{name}\" is not ready")]
    StoreNotReady { kind: &'static str, name: String },
    #[error("{context}: {source}")]
    Provider {
        context: String,
        source: ProviderError,
    },
    #[error("invalid secret keys (TIP: use rewrite or conversionStrategy to change keys): {keys}")]
    InvalidKeys { keys: String },
    #[error("{0}")]
    Decode(String),
    #[error("{0}")]
    Unsupported(String),
    /// A template (target template or rewrite transform) failed; the text quotes the template
    /// error with data values removed.
    #[error("could not apply template: {0}")]
    Template(String),
    #[error("invalid spec: {0}")]
    InvalidSpec(String),
    /// A template that would mint a privileged Secret (ESO's rules against
    /// GHSA-fq7h-9x26-6j22), with ESO's message.
    #[error("{0}")]
    PrivilegedTemplate(&'static str),
    #[error("could not get target secret: {0}")]
    GetSecret(#[source] kube::Error),
    #[error("could not update secret: {0}")]
    ApplySecret(#[source] kube::Error),
    #[error("could not update secret, target is immutable")]
    Immutable,
    #[error("could not delete secret: {0}")]
    DeleteSecret(#[source] kube::Error),
    #[error("target is owned by another ExternalSecret")]
    OwnedByAnother,
    #[error("failed to take ownership of target secret: it is controlled by {0}")]
    ForeignController(String),
    #[error("deletionPolicy=Delete requires creationPolicy=Owner")]
    DeleteWithoutOwner,
    #[error("could not update status: {0}")]
    PatchStatus(#[source] kube::Error),
    #[error("could not update finalizers: {0}")]
    PatchFinalizer(#[source] kube::Error),
    /// A generator could not be read, resolved or run (ESO's messages).
    #[error("{0}")]
    Generator(String),
    #[error("{0}")]
    Kube(#[from] kube::Error),
}

impl Error {
    /// A bounded label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Error::StoreNotFound { .. } | Error::GetStore { .. } => "get_store",
            Error::StoreNotAllowed { .. } | Error::GetNamespace { .. } => "store_not_allowed",
            Error::StoreNotReady { .. } => "store_not_ready",
            Error::Provider { source, .. } => source.category(),
            Error::InvalidKeys { .. } | Error::Decode(_) => "data",
            Error::Unsupported(_) | Error::InvalidSpec(_) | Error::PrivilegedTemplate(_) => {
                "invalid_spec"
            }
            Error::Template(_) => "template",
            Error::GetSecret(_) => "get_secret",
            Error::ApplySecret(_) | Error::Immutable => "apply_secret",
            Error::DeleteSecret(_) => "delete_secret",
            Error::OwnedByAnother | Error::ForeignController(_) | Error::DeleteWithoutOwner => {
                "ownership"
            }
            Error::PatchStatus(_) | Error::PatchFinalizer(_) | Error::Kube(_) => "kubernetes",
            Error::Generator(_) => "generator",
        }
    }

    /// ESO does not retry these with backoff: only a change of the object or the next refresh
    /// helps.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Error::OwnedByAnother
                | Error::ForeignController(_)
                | Error::Immutable
                | Error::DeleteWithoutOwner
                | Error::Unsupported(_)
                | Error::InvalidSpec(_)
                | Error::PrivilegedTemplate(_)
                | Error::InvalidKeys { .. }
        )
    }

    /// ESO's fixed `Ready=False` message for this failure (the detail goes into the event).
    pub fn condition_message(&self) -> &'static str {
        match self {
            Error::Immutable => "could not update secret, target is immutable",
            Error::OwnedByAnother => "target is owned by another ExternalSecret",
            Error::ForeignController(_) => "failed to take ownership of target secret",
            Error::DeleteWithoutOwner | Error::DeleteSecret(_) => "could not delete secret",
            Error::ApplySecret(_) | Error::GetSecret(_) => "could not update secret",
            Error::PrivilegedTemplate(rule) => rule,
            _ => "could not get secret data from provider",
        }
    }
}
