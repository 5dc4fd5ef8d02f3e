//! Building the answer of `requested-credentials` and reading what the host resolved.
//!
//! A plugin never reads Kubernetes itself: it names what it needs (a Secret key, a
//! ServiceAccount token, …) under a name of its choosing, the host resolves it with ESO's
//! namespace rules before `client.open`, and the plugin reads it with [`crate::credential`].

use crate::{CredentialRequest, CredentialSource, SecretKeyRef, ServiceAccountRef};

/// A key of a Kubernetes Secret (ESO's `SecretKeySelector`), read later under `name`.
/// `namespace` is honoured only for a ClusterSecretStore, as in ESO.
pub fn secret_key(
    name: &str,
    secret: &str,
    key: &str,
    namespace: Option<&str>,
) -> CredentialRequest {
    CredentialRequest {
        name: name.to_owned(),
        source: CredentialSource::SecretKey(SecretKeyRef {
            name: secret.to_owned(),
            key: key.to_owned(),
            namespace: namespace.map(str::to_owned),
        }),
    }
}

/// A token of a ServiceAccount for these audiences (a TokenRequest), read later under `name`.
pub fn service_account_token(
    name: &str,
    account: &str,
    namespace: Option<&str>,
    audiences: &[&str],
) -> CredentialRequest {
    CredentialRequest {
        name: name.to_owned(),
        source: CredentialSource::ServiceAccountToken(ServiceAccountRef {
            name: account.to_owned(),
            namespace: namespace.map(str::to_owned),
            audiences: audiences.iter().map(|a| (*a).to_owned()).collect(),
        }),
    }
}

/// A resolved credential as UTF-8 text with surrounding whitespace removed (a token pasted
/// into a Secret often ends with a newline).
pub fn text(name: &str) -> Result<String, crate::ProviderError> {
    let bytes = crate::credential(name)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        crate::ProviderError::InvalidConfig(format!("credential {name} is not UTF-8 text"))
    })?;
    Ok(text.trim().to_owned())
}
