//! Guest-side helpers for Ampoule provider plugins.
//!
//! - [`bindings`]: the `ampoule:provider/secret-provider` world (exports to implement, the
//!   `ampoule:host` imports, standard `wasi:http`), and [`export!`] to register an implementation:
//!   `ampoule_sdk::export!(MyProvider with_types_in ampoule_sdk::bindings);`
//! - [`http`]: a small blocking HTTP client over `wasi:http/outgoing-handler`. Every request goes
//!   through the host's egress policy; a denial is [`http::HttpError::Denied`].
//! - [`errors`]: constructors for [`ProviderError`] and a mapping of HTTP statuses to it.
//! - [`log`]: the host's log sink.
//! - [`tls`]: this store's trust anchors and client certificate for HTTPS egress.

pub mod errors;
pub mod http;

#[allow(unsafe_code, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "ampoule:provider/secret-provider",
        generate_all,
        pub_export_macro: true,
        default_bindings_module: "ampoule_sdk::bindings",
        export_macro_name: "export",
    });
}

pub use bindings::ampoule::host::credentials::{
    AnnotatedTokenRef, ConfigMapKeyRef, ControllerAnnotatedToken, ControllerIdentity,
    CredentialRequest, CredentialSource, SecretKeyRef, ServiceAccountAnnotationRef,
    ServiceAccountRef,
};
pub use bindings::ampoule::provider::types::{Capabilities, RateLimit, StoreKind};
pub use bindings::export;
pub use bindings::exports::ampoule::provider::provider::{
    Client, EgressRule, FindQuery, Guest, GuestClient, ProviderError, ProviderInfo, PushRequest,
    SecretMap, SecretRef, StoreContext, Validation,
};

/// The host's log sink (`ampoule:host/log`). Never log secret values.
pub mod log {
    use crate::bindings::ampoule::host::log::{Level, log};

    pub fn debug(message: &str) {
        log(Level::Debug, message);
    }
    pub fn info(message: &str) {
        log(Level::Info, message);
    }
    pub fn warn(message: &str) {
        log(Level::Warn, message);
    }
    pub fn error(message: &str) {
        log(Level::Error, message);
    }
}

/// Credential material the host resolved for a name from `requested-credentials`.
pub fn credential(name: &str) -> Result<Vec<u8>, ProviderError> {
    bindings::ampoule::host::credentials::get(name).map_err(ProviderError::InvalidConfig)
}

/// Asks the host to resolve a ConfigMap key under `name` as well (read it with [`credential`]).
/// Call it only from `requested-credentials`; anywhere else the host refuses.
pub fn request_config_map(name: &str, source: &ConfigMapKeyRef) -> Result<(), ProviderError> {
    bindings::ampoule::host::credentials::request_config_map(name, source)
        .map_err(ProviderError::InvalidConfig)
}

/// Asks the host for the operator's own identity under `name` (read it with [`credential`] or
/// [`annotation`]). Call it only from `requested-credentials`. The host resolves it only when
/// the store's ProviderClass sets `spec.credentials.allowControllerIdentity: true`.
pub fn request_controller_identity(
    name: &str,
    source: &ControllerIdentity,
) -> Result<(), ProviderError> {
    bindings::ampoule::host::credentials::request_controller_identity(name, source)
        .map_err(ProviderError::InvalidConfig)
}

/// A ServiceAccount annotation the host resolved for a name from `requested-credentials`
/// (`service-account-annotation`): `None` when the ServiceAccount does not carry it or it is
/// empty (ESO treats both alike).
pub fn annotation(name: &str) -> Result<Option<String>, ProviderError> {
    let value = String::from_utf8(credential(name)?).map_err(|_| {
        ProviderError::InvalidConfig(format!("ServiceAccount annotation {name} is not UTF-8"))
    })?;
    let value = value.trim();
    Ok((!value.is_empty()).then(|| value.to_owned()))
}

/// The host's cache, scoped to this store and this plugin's digest (for auth tokens).
pub mod cache {
    use crate::bindings::ampoule::host::cache as host;

    pub fn get(key: &str) -> Option<Vec<u8>> {
        host::get(key)
    }
    pub fn set(key: &str, value: &[u8], ttl_seconds: u32) -> Result<(), String> {
        host::set(key, value, ttl_seconds)
    }
    pub fn delete(key: &str) {
        host::delete(key)
    }
}

/// TLS settings of this store's HTTPS egress (`ampoule:host/tls`); they never widen the egress
/// the host granted.
pub mod tls {
    use crate::ProviderError;
    use crate::bindings::ampoule::host::tls as host;

    /// Trust exactly these PEM CA certificates (instead of the web PKI roots).
    pub fn set_trust(ca_pem: &[u8]) -> Result<(), ProviderError> {
        host::set_trust(ca_pem).map_err(ProviderError::InvalidConfig)
    }

    /// Present this PEM client certificate chain and PEM private key.
    pub fn set_client_identity(cert_pem: &[u8], key_pem: &[u8]) -> Result<(), ProviderError> {
        host::set_client_identity(cert_pem, key_pem).map_err(ProviderError::InvalidConfig)
    }
}
