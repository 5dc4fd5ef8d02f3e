//! The Rust SDK for Ampoule provider plugins: WebAssembly components (WASI 0.2) that serve one
//! key under a SecretStore's `spec.provider` for the operator, in its sandbox.
//!
//! A plugin implements [`Guest`] (the pure, per-config functions) and [`GuestClient`] (one
//! client per store and reconcile), and registers them with [`export!`]. The host calls, in
//! order: `validate-config` (no I/O), `requested-egress` and `requested-credentials` (no I/O,
//! answers kept per config), then `client.open` and the client's calls.
//!
//! - [`bindings`]: the `ampoule:provider/secret-provider` world (exports to implement, the
//!   `ampoule:host` imports, standard `wasi:http`), and [`export!`] to register an implementation:
//!   `ampoule_sdk::export!(MyProvider with_types_in ampoule_sdk::bindings);`
//! - [`http`]: a small blocking HTTP client over `wasi:http/outgoing-handler`. Every request goes
//!   through the host's egress policy; a denial is [`http::HttpError::Denied`].
//! - [`errors`]: constructors for [`ProviderError`] and a mapping of HTTP statuses (with
//!   `Retry-After`) to it.
//! - [`egress`]: `requested-egress` rules from the URLs of a config ([`egress::origin_of`]).
//! - [`credentials`]: `requested-credentials` entries (Secret keys, ServiceAccount tokens) and
//!   [`credential`] to read what the host resolved.
//! - [`cache`]: a small per-store cache (auth tokens).
//! - [`log`]: the host's log sink.
//! - [`tls`]: this store's trust anchors and client certificate for HTTPS egress.
//!
//! A provider that reads `GET {url}/v1/secrets/{key}` with a bearer token from a Secret:
//!
//! ```ignore
//! use ampoule_sdk::{
//!     Client, CredentialRequest, EgressRule, FindQuery, Guest, GuestClient, ProviderError,
//!     ProviderInfo, PushRequest, SecretMap, SecretRef, StoreContext, Validation, Capabilities,
//!     credentials, egress, errors, http,
//! };
//!
//! struct Acme;
//! struct AcmeClient { url: String, token: String }
//!
//! fn url(config: &str) -> Result<String, ProviderError> {
//!     let v: serde_json::Value = serde_json::from_str(config)
//!         .map_err(|e| errors::invalid_config(format!("config: {e}")))?;
//!     v["url"].as_str().map(str::to_owned).ok_or_else(|| errors::invalid_config("no url"))
//! }
//!
//! impl Guest for Acme {
//!     type Client = AcmeClient;
//!     fn describe() -> ProviderInfo {
//!         ProviderInfo { name: "acme".into(), version: "0.1.0".into(),
//!                        capabilities: Capabilities::READ, config_schema: None }
//!     }
//!     fn validate_config(config: String) -> Result<Vec<String>, ProviderError> {
//!         egress::parse_origin(&url(&config)?)?;
//!         Ok(vec![])
//!     }
//!     fn requested_egress(config: String, _: String) -> Result<Vec<EgressRule>, ProviderError> {
//!         Ok(vec![egress::origin_of(&url(&config)?, &["GET"], &["/v1/secrets"])?])
//!     }
//!     fn requested_credentials(_: String) -> Result<Vec<CredentialRequest>, ProviderError> {
//!         Ok(vec![credentials::secret_key("token", "acme-token", "token", None)])
//!     }
//! }
//!
//! impl GuestClient for AcmeClient {
//!     fn open(config: String, _: StoreContext) -> Result<Client, ProviderError> {
//!         let token = credentials::text("token")?;
//!         Ok(Client::new(AcmeClient { url: url(&config)?, token }))
//!     }
//!     fn get_secret(&self, secret: SecretRef) -> Result<Vec<u8>, ProviderError> {
//!         let path = format!("/v1/secrets/{}", egress::encode_path(&secret.key));
//!         let response = http::Request::get(&egress::join(&self.url, &path))
//!             .header("authorization", &format!("Bearer {}", self.token))
//!             .send()?;
//!         if !response.is_success() {
//!             return Err(errors::from_response(&response, &secret.key));
//!         }
//!         Ok(response.body)
//!     }
//!     // … validate, get_secret_map, get_all_secrets, push_secret, delete_secret, secret_exists
//! #   fn validate(&self) -> Result<Validation, ProviderError> { Ok(Validation::Unknown) }
//! #   fn get_secret_map(&self, _: SecretRef) -> Result<SecretMap, ProviderError> { Ok(vec![]) }
//! #   fn get_all_secrets(&self, _: FindQuery) -> Result<SecretMap, ProviderError> { Ok(vec![]) }
//! #   fn push_secret(&self, _: PushRequest) -> Result<(), ProviderError> { Err(errors::forbidden("read-only")) }
//! #   fn delete_secret(&self, _: String, _: Option<String>) -> Result<(), ProviderError> { Err(errors::forbidden("read-only")) }
//! #   fn secret_exists(&self, _: String, _: Option<String>) -> Result<bool, ProviderError> { Err(errors::forbidden("read-only")) }
//! }
//!
//! ampoule_sdk::export!(Acme with_types_in ampoule_sdk::bindings);
//! ```
//!
//! `ampoule plugin new --lang rust NAME` starts a project with a complete provider of this kind
//! and its tests; docs/plugin-walkthrough.md takes it to a synced ExternalSecret.

pub mod credentials;
pub mod egress;
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

/// The host's log sink (`ampoule:host/log`). Never log secret values. Messages are truncated
/// and capped per call by the host, and written to the operator's log with the store and the
/// plugin's digest.
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

    /// A value set earlier for this store and plugin digest, unless it expired.
    pub fn get(key: &str) -> Option<Vec<u8>> {
        host::get(key)
    }
    /// Keeps `value` for `ttl_seconds` (the host caps TTL, size and count; the error says which).
    pub fn set(key: &str, value: &[u8], ttl_seconds: u32) -> Result<(), String> {
        host::set(key, value, ttl_seconds)
    }
    /// Forgets `key` (e.g. a token the backend refused).
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
