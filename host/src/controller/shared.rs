//! Identical fetches share one provider call (docs/architecture.md#single-flight).
//!
//! [`Shared`] wraps the [`SecretProvider`] the controller uses. Two reconciles asking the same
//! store (same [`StoreContext`]: kind, name, namespaces, generation, config) for the same
//! [`RemoteRef`] share one call when it started no earlier than the reconcile accepts
//! ([`NotBefore`], given to [`Shared::open_with`] and kept by the client it opens), in flight or
//! done. A periodic refresh accepts a value fetched in the second half of its refresh window
//! (`watch::workers::refresh_not_before`); a new, changed or failing object one whose fetch
//! started after it was queued, by its event or its failure (`watch::workers::work_once`, which
//! passes it to the reconcile). A thousand ExternalSecrets reading fifty keys cost about fifty
//! backend requests per window, and a fraction of a thousand at first sync. Errors are shared
//! with the callers already waiting but never stored.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::time::Instant;

use super::retry::Retry;
use super::single_flight::{Accept, Reuse, SingleFlight};
use crate::provider::{
    FindRef, Opened, ProviderClient, ProviderError, PushData, PushRemoteRef, RemoteRef, SecretMap,
    SecretProvider, SecretValue, StoreContext, Validation,
};

/// The oldest fetch a reconcile accepts: `NotBefore(None)`, any call in flight but no stored
/// value; `NotBefore(Some(t))`, a call that started at or after `t`, in flight or done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NotBefore(pub Option<Instant>);

/// How often stored values older than any reconcile accepts are dropped.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

#[derive(Clone)]
enum Fetched {
    One(SecretValue),
    Map(SecretMap),
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    store: StoreContext,
    remote: RemoteRef,
    map: bool,
}

type Cache = SingleFlight<Key, Fetched, ProviderError>;

/// See the module documentation.
pub struct Shared {
    inner: Arc<dyn SecretProvider>,
    cache: Arc<Cache>,
}

impl Shared {
    pub fn new(inner: Arc<dyn SecretProvider>) -> Self {
        Self {
            inner,
            cache: Arc::new(SingleFlight::new(SWEEP_EVERY)),
        }
    }

    /// Opens a client whose fetches share calls that started no earlier than `not_before`, and
    /// whose calls are retried as `retry` says (the store's `retrySettings`). A shared fetch is
    /// retried once for all who wait on it.
    pub async fn open_with(
        &self,
        store: &StoreContext,
        not_before: NotBefore,
        retry: Retry,
    ) -> Result<Opened, ProviderError> {
        let (client, info) = self.inner.open(store).await?;
        let client: Box<dyn ProviderClient> = Box::new(SharedClient {
            inner: Arc::from(client),
            store: store.clone(),
            cache: self.cache.clone(),
            not_before,
            retry,
        });
        Ok((client, info))
    }
}

/// A client opened this way shares only calls in flight ([`NotBefore`]`(None)`).
impl SecretProvider for Shared {
    fn open<'a>(&'a self, store: &'a StoreContext) -> BoxFuture<'a, Result<Opened, ProviderError>> {
        Box::pin(self.open_with(store, NotBefore::default(), Retry::default()))
    }
}

struct SharedClient {
    inner: Arc<dyn ProviderClient>,
    store: StoreContext,
    cache: Arc<Cache>,
    not_before: NotBefore,
    retry: Retry,
}

impl SharedClient {
    async fn fetch(&self, remote: &RemoteRef, map: bool) -> Result<Fetched, ProviderError> {
        let NotBefore(not_before) = self.not_before;
        let key = Key {
            store: self.store.clone(),
            remote: remote.clone(),
            map,
        };
        // Without a window: any call in flight, never a stored value; with one: a call started
        // in it, in flight or done.
        let accept = Accept {
            join_since: not_before,
            reuse: not_before.map_or(Reuse::Never, Reuse::StartedSince),
        };
        let (client, r, retry) = (self.inner.clone(), remote.clone(), self.retry);
        self.cache
            .get(key, accept, move || {
                async move {
                    retry
                        .run(|| async {
                            if map {
                                client.get_secret_map(&r).await.map(Fetched::Map)
                            } else {
                                client.get_secret(&r).await.map(Fetched::One)
                            }
                        })
                        .await
                }
                .boxed()
            })
            .await
    }
}

impl ProviderClient for SharedClient {
    fn validate(&self) -> BoxFuture<'_, Result<Validation, ProviderError>> {
        self.inner.validate()
    }

    fn get_secret<'a>(
        &'a self,
        r: &'a RemoteRef,
    ) -> BoxFuture<'a, Result<SecretValue, ProviderError>> {
        Box::pin(async move {
            match self.fetch(r, false).await? {
                Fetched::One(v) => Ok(v),
                Fetched::Map(_) => Err(ProviderError::Internal("shared fetch mix-up".into())),
            }
        })
    }

    fn get_secret_map<'a>(
        &'a self,
        r: &'a RemoteRef,
    ) -> BoxFuture<'a, Result<SecretMap, ProviderError>> {
        Box::pin(async move {
            match self.fetch(r, true).await? {
                Fetched::Map(m) => Ok(m),
                Fetched::One(_) => Err(ProviderError::Internal("shared fetch mix-up".into())),
            }
        })
    }

    fn get_all_secrets<'a>(
        &'a self,
        f: &'a FindRef,
    ) -> BoxFuture<'a, Result<SecretMap, ProviderError>> {
        Box::pin(self.retry.run(|| self.inner.get_all_secrets(f)))
    }

    fn push_secret<'a>(&'a self, data: &'a PushData) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(self.retry.run(|| self.inner.push_secret(data)))
    }

    fn delete_secret<'a>(
        &'a self,
        remote: &'a PushRemoteRef,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(self.retry.run(|| self.inner.delete_secret(remote)))
    }

    fn secret_exists<'a>(
        &'a self,
        remote: &'a PushRemoteRef,
    ) -> BoxFuture<'a, Result<bool, ProviderError>> {
        Box::pin(self.retry.run(|| self.inner.secret_exists(remote)))
    }
}

#[cfg(test)]
#[path = "shared_tests.rs"]
mod tests;
