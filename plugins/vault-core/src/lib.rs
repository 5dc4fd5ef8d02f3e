//! ESO's Vault / OpenBao client as plain library code: the `spec.provider.vault` config and its
//! checks, the auth methods, the HTTP API, ESO's path rules and the TLS settings. The provider
//! component (plugins/vault) and the VaultDynamicSecret generator (plugins/generators-cloud)
//! both build on it; neither exports anything from here.

pub mod api;
pub mod auth;
pub mod config;
pub mod creds;
pub mod paths;
pub mod tls;
