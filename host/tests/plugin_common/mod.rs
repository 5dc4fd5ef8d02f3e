//! Shared by the cloud plugin tests (plugin_aws, plugin_gcp): a credential resolver serving fixed
//! values by name, store contexts, remote refs, and one get-secret through a fresh client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use ampoule::plugin::{CredentialRequest, CredentialResolver, WasmProvider};
use ampoule::provider::{
    ProviderError, RemoteRef, SecretProvider, SecretValue, StoreContext, StoreKind,
};
use futures::future::BoxFuture;
use serde_json::Value;

/// Credentials by the name the plugin requests them under.
pub struct Creds(pub HashMap<String, Vec<u8>>);

impl CredentialResolver for Creds {
    fn resolve<'a>(
        &'a self,
        _: &'a StoreContext,
        r: &'a CredentialRequest,
    ) -> BoxFuture<'a, Result<SecretValue, ProviderError>> {
        let v = self.0.get(&r.name).cloned();
        Box::pin(async move {
            v.map(SecretValue::new)
                .ok_or_else(|| ProviderError::InvalidConfig(format!("no {}", r.name)))
        })
    }
}

/// A SecretStore in `default` serving `provider` with `config`.
pub fn store_for(provider: &str, name: &str, config: Value) -> StoreContext {
    StoreContext {
        kind: StoreKind::SecretStore,
        name: name.into(),
        store_namespace: Some("default".into()),
        caller_namespace: Some("default".into()),
        generation: 1,
        provider: provider.into(),
        config,
        sandbox: None,
    }
}

pub fn rr(key: &str, property: Option<&str>, version: Option<&str>, meta: bool) -> RemoteRef {
    RemoteRef {
        key: key.into(),
        property: property.map(Into::into),
        version: version.map(Into::into),
        fetch_metadata: meta,
    }
}

/// One get-secret through a freshly opened client, as text.
pub async fn get(
    p: &WasmProvider,
    s: &StoreContext,
    r: RemoteRef,
) -> Result<String, ProviderError> {
    let (client, _) = p.open(s).await?;
    client
        .get_secret(&r)
        .await
        .map(|v| String::from_utf8_lossy(v.expose()).into_owned())
}
