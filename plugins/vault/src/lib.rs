//! ESO's HashiCorp Vault provider (`spec.provider.vault`, unchanged) as a sandboxed plugin; works
//! against Vault and OpenBao.
//!
//! - Auth: tokenSecretRef, appRole, kubernetes (serviceAccountRef → host TokenRequest, or
//!   secretRef), userPass, jwt (secretRef or kubernetesServiceAccountToken), cert (the client
//!   certificate is presented by the host, `ampoule:host/tls`). ldap, iam and gcp are refused
//!   with an invalid-config message (see `config`).
//! - TLS: `caBundle`/`caProvider` (Secret or ConfigMap) replace the trusted roots, as ESO;
//!   `tls.certSecretRef`/`keySecretRef` give a client certificate (see `tls`).
//! - A login's token is kept in the host cache (scoped to store + plugin digest) until shortly
//!   before its lease ends, so consecutive reconciles reuse it.
//! - KV v1/v2 reads with ESO's path rules, property lookup (exact key, then gjson), version,
//!   metadata, extract, and find with a bounded recursive LIST.
//! - PushSecret (see `push`): property merge or whole-Secret writes, `managed-by:
//!   external-secrets` ownership, no write when nothing changed, checkAndSet on KV v2.
//! - Egress: exactly the server's origin under `/v1/`: GET/LIST/POST, and PUT/DELETE to push.

//!
//! The client code (config, auth, API, paths, TLS) is the library `ampoule-vault-core`
//! (plugins/vault-core), which the VaultDynamicSecret generator shares.

use ampoule_vault_core::{api, auth, config, paths, tls};

mod client;
mod find;
mod push;

use ampoule_sdk::{
    Capabilities, Client, CredentialRequest, EgressRule, FindQuery, Guest, GuestClient,
    ProviderError, ProviderInfo, PushRequest, SecretMap, SecretRef, StoreContext, Validation,
};

use crate::client::VaultClient;
use ampoule_plugin_common::gojson as value;

struct Vault;

impl Guest for Vault {
    type Client = VaultClient;

    fn describe() -> ProviderInfo {
        ProviderInfo {
            name: "vault".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            capabilities: Capabilities::READ | Capabilities::WRITE,
            config_schema: None,
        }
    }

    fn validate_config(config: String) -> Result<Vec<String>, ProviderError> {
        config::parse(&config)?.check()
    }

    fn requested_egress(
        config: String,
        _settings: String,
    ) -> Result<Vec<EgressRule>, ProviderError> {
        config::parse(&config)?.egress()
    }

    fn requested_credentials(config: String) -> Result<Vec<CredentialRequest>, ProviderError> {
        let config = config::parse(&config)?;
        tls::request_config_maps(&config)?;
        config.request_controller_identity()?;
        config.credentials()
    }
}

impl GuestClient for VaultClient {
    fn open(config: String, ctx: StoreContext) -> Result<Client, ProviderError> {
        let config = config::parse(&config)?;
        let client = VaultClient::new(&config, &ctx)?;
        tls::apply(&config, &ctx)?;
        Ok(Client::new(client))
    }

    fn validate(&self) -> Result<Validation, ProviderError> {
        VaultClient::validate(self)
    }

    fn get_secret(&self, secret: SecretRef) -> Result<Vec<u8>, ProviderError> {
        self.get(&secret)
    }

    fn get_secret_map(&self, secret: SecretRef) -> Result<SecretMap, ProviderError> {
        let bytes = self.get(&secret)?;
        value::to_map(&bytes).map_err(ProviderError::Internal)
    }

    fn get_all_secrets(&self, query: FindQuery) -> Result<SecretMap, ProviderError> {
        self.find(query)
    }

    fn push_secret(&self, req: PushRequest) -> Result<(), ProviderError> {
        self.push(&req)
    }

    fn delete_secret(&self, key: String, property: Option<String>) -> Result<(), ProviderError> {
        self.delete_pushed(&key, property.as_deref())
    }

    fn secret_exists(&self, key: String, property: Option<String>) -> Result<bool, ProviderError> {
        self.exists(&key, property.as_deref())
    }
}

ampoule_sdk::export!(Vault with_types_in ampoule_sdk::bindings);
