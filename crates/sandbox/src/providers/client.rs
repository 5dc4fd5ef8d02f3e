//! [`WasmClient`]: one opened client, serving [`ProviderClient`] calls from its own Store.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use wasmtime::Store;
use wasmtime::component::ResourceAny;

use crate::provider::{
    FindRef, ProviderClient, ProviderError, PushData, PushRemoteRef, RemoteRef, SecretMap,
    SecretValue, Validation,
};
use crate::runtime::bindings::ampoule::provider::types as wit;
use crate::runtime::bindings::{SecretProviderCore, guest};
use crate::runtime::host::HostState;
use crate::runtime::runner::{CallFuture, Runner};

pub(crate) fn from_wit(e: wit::ProviderError) -> ProviderError {
    match e {
        wit::ProviderError::NotFound(_) => ProviderError::NotFound,
        wit::ProviderError::Unauthorized(m) => ProviderError::Unauthorized(m),
        wit::ProviderError::Forbidden(m) => ProviderError::Forbidden(m),
        wit::ProviderError::InvalidConfig(m) => ProviderError::InvalidConfig(m),
        wit::ProviderError::RateLimited(r) => ProviderError::RateLimited {
            message: r.message,
            retry_after_secs: r.retry_after_secs.map(u64::from),
        },
        wit::ProviderError::Unavailable(m) => ProviderError::Unavailable(m),
        wit::ProviderError::Internal(m) => ProviderError::Internal(m),
    }
}

pub(super) struct Inner {
    pub(super) store: Store<HostState>,
    pub(super) instance: SecretProviderCore,
    pub(super) client: ResourceAny,
    /// Set after a trap: the instance is poisoned and the client must be reopened.
    pub(super) dead: Option<String>,
}

/// One opened client: a Store, an instance and the guest's `client` resource.
pub struct WasmClient {
    pub(super) inner: tokio::sync::Mutex<Inner>,
    pub(super) timeout: Duration,
    pub(super) metrics: Arc<crate::metrics::SandboxMetrics>,
}

impl WasmClient {
    async fn call<R: Send>(
        &self,
        f: impl for<'s> FnOnce(
            &'s mut Store<HostState>,
            guest::Guest,
            ResourceAny,
        ) -> CallFuture<'s, Result<R, wit::ProviderError>>
        + Send,
    ) -> Result<R, ProviderError> {
        let mut guard = self.inner.lock().await;
        let inner = &mut *guard;
        if let Some(why) = &inner.dead {
            return Err(ProviderError::Unavailable(format!(
                "plugin instance failed earlier: {why}"
            )));
        }
        let g = inner.instance.ampoule_provider_provider().clone();
        let client = inner.client;
        let outcome = {
            let mut runner = Runner {
                store: &mut inner.store,
                timeout: self.timeout,
                metrics: &self.metrics,
            };
            runner.run(|s| f(s, g, client)).await
        };
        match outcome {
            Ok(r) => r.map_err(from_wit),
            Err(e) => {
                inner.dead = Some(e.to_string());
                Err(e.into())
            }
        }
    }

    /// [`Self::call`] of an export that takes `arg`, boxed for [`ProviderClient`]; `map` turns
    /// the guest's answer into the trait's type.
    fn call_with<'a, A: Send + 'a, R: Send + 'a, T: 'a>(
        &'a self,
        arg: A,
        map: fn(R) -> T,
        export: impl for<'s> FnOnce(
            &'s mut Store<HostState>,
            guest::Guest,
            ResourceAny,
            A,
        ) -> CallFuture<'s, Result<R, wit::ProviderError>>
        + Send
        + 'a,
    ) -> BoxFuture<'a, Result<T, ProviderError>> {
        Box::pin(async move {
            self.call(move |s, g, c| export(s, g, c, arg))
                .await
                .map(map)
        })
    }
}

fn wit_ref(r: &RemoteRef) -> wit::SecretRef {
    wit::SecretRef {
        key: r.key.clone(),
        property: r.property.clone(),
        version: r.version.clone(),
        fetch_metadata: r.fetch_metadata,
    }
}

fn to_map(pairs: Vec<(String, Vec<u8>)>) -> SecretMap {
    pairs
        .into_iter()
        .map(|(k, v)| (k, SecretValue::new(v)))
        .collect()
}

impl ProviderClient for WasmClient {
    fn validate(&self) -> BoxFuture<'_, Result<Validation, ProviderError>> {
        Box::pin(async move {
            let v = self
                .call(|s, g, c| Box::pin(async move { g.client().call_validate(s, c).await }))
                .await?;
            Ok(match v {
                wit::Validation::Valid => Validation::Valid,
                wit::Validation::Unknown => Validation::Unknown,
            })
        })
    }

    fn get_secret<'a>(
        &'a self,
        r: &'a RemoteRef,
    ) -> BoxFuture<'a, Result<SecretValue, ProviderError>> {
        self.call_with(wit_ref(r), SecretValue::new, |s, g, c, req| {
            Box::pin(async move { g.client().call_get_secret(s, c, &req).await })
        })
    }

    fn get_secret_map<'a>(
        &'a self,
        r: &'a RemoteRef,
    ) -> BoxFuture<'a, Result<SecretMap, ProviderError>> {
        self.call_with(wit_ref(r), to_map, |s, g, c, req| {
            Box::pin(async move { g.client().call_get_secret_map(s, c, &req).await })
        })
    }

    fn get_all_secrets<'a>(
        &'a self,
        f: &'a FindRef,
    ) -> BoxFuture<'a, Result<SecretMap, ProviderError>> {
        let query = wit::FindQuery {
            path: f.path.clone(),
            name_regexp: f.name_regexp.clone(),
            tags: f.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        };
        self.call_with(query, to_map, |s, g, c, query| {
            Box::pin(async move { g.client().call_get_all_secrets(s, c, &query).await })
        })
    }

    fn push_secret<'a>(&'a self, data: &'a PushData) -> BoxFuture<'a, Result<(), ProviderError>> {
        let req = wit::PushRequest {
            remote_key: data.remote.remote_key.clone(),
            property: data.remote.property.clone(),
            value: data.value.expose().clone(),
            metadata: data.metadata.clone(),
        };
        self.call_with(
            req,
            |()| (),
            |s, g, c, req| Box::pin(async move { g.client().call_push_secret(s, c, &req).await }),
        )
    }

    fn delete_secret<'a>(
        &'a self,
        remote: &'a PushRemoteRef,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        let arg = (remote.remote_key.clone(), remote.property.clone());
        self.call_with(
            arg,
            |()| (),
            |s, g, c, (key, property)| {
                Box::pin(async move {
                    g.client()
                        .call_delete_secret(s, c, &key, property.as_deref())
                        .await
                })
            },
        )
    }

    fn secret_exists<'a>(
        &'a self,
        remote: &'a PushRemoteRef,
    ) -> BoxFuture<'a, Result<bool, ProviderError>> {
        let arg = (remote.remote_key.clone(), remote.property.clone());
        self.call_with(
            arg,
            |b| b,
            |s, g, c, (key, property)| {
                Box::pin(async move {
                    g.client()
                        .call_secret_exists(s, c, &key, property.as_deref())
                        .await
                })
            },
        )
    }
}
