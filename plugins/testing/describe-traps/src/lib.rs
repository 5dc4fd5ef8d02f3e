//! A provider whose `describe` traps (and whose other calls refuse): a component that compiles
//! and exports the provider world but cannot say what it is. The host must refuse to bind it; the
//! ProviderClass swap tests (host/tests/provider_class_swap.rs) push it as a bad new module.

use ampoule_sdk::{
    Client, CredentialRequest, EgressRule, FindQuery, Guest, GuestClient, ProviderError,
    ProviderInfo, PushRequest, SecretMap, SecretRef, StoreContext, Validation,
};

struct Traps;

fn refused() -> ProviderError {
    ProviderError::Internal("describe-traps serves nothing".into())
}

impl Guest for Traps {
    type Client = TrapsClient;

    fn describe() -> ProviderInfo {
        // A trap (wasm `unreachable`), as a guest bug would raise.
        std::process::abort()
    }
    fn validate_config(_text: String) -> Result<Vec<String>, ProviderError> {
        Err(refused())
    }
    fn requested_egress(
        _text: String,
        _settings: String,
    ) -> Result<Vec<EgressRule>, ProviderError> {
        Err(refused())
    }
    fn requested_credentials(_text: String) -> Result<Vec<CredentialRequest>, ProviderError> {
        Err(refused())
    }
}

struct TrapsClient;

impl GuestClient for TrapsClient {
    fn open(_text: String, _ctx: StoreContext) -> Result<Client, ProviderError> {
        Err(refused())
    }
    fn validate(&self) -> Result<Validation, ProviderError> {
        Err(refused())
    }
    fn get_secret(&self, _secret: SecretRef) -> Result<Vec<u8>, ProviderError> {
        Err(refused())
    }
    fn get_secret_map(&self, _secret: SecretRef) -> Result<SecretMap, ProviderError> {
        Err(refused())
    }
    fn get_all_secrets(&self, _query: FindQuery) -> Result<SecretMap, ProviderError> {
        Err(refused())
    }
    fn push_secret(&self, _req: PushRequest) -> Result<(), ProviderError> {
        Err(refused())
    }
    fn delete_secret(&self, _key: String, _property: Option<String>) -> Result<(), ProviderError> {
        Err(refused())
    }
    fn secret_exists(
        &self,
        _key: String,
        _property: Option<String>,
    ) -> Result<bool, ProviderError> {
        Err(refused())
    }
}

ampoule_sdk::export!(Traps with_types_in ampoule_sdk::bindings);
