//! Identical fetches share one provider call (DESIGN.md §5).
//!
//! [`Shared`] wraps the [`SecretProvider`] the controller uses. Two reconciles asking the same
//! store (same [`StoreContext`]: kind, name, namespaces, generation, config) for the same
//! [`RemoteRef`] share one call when it started no earlier than the reconcile accepts
//! ([`NOT_BEFORE`]), in flight or done. A periodic refresh accepts a value fetched in the second
//! half of its refresh window (`watch::workers::refresh_not_before`); a new, changed or failing
//! object one whose fetch started after it was queued, by its event or its failure
//! (`watch::workers::work_once`). A thousand ExternalSecrets reading fifty keys cost about fifty
//! backend requests per window, and a fraction of a thousand at first sync. Errors are shared
//! with the callers already waiting but never stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared as SharedFuture};
use tokio::time::Instant;

use crate::provider::{
    FindRef, Opened, ProviderClient, ProviderError, RemoteRef, SecretMap, SecretProvider,
    SecretValue, StoreContext, Validation,
};

tokio::task_local! {
    /// The oldest fetch the current reconcile accepts (`None`: any call in flight, no stored
    /// value).
    pub static NOT_BEFORE: Option<Instant>;
}

#[derive(Clone)]
enum Fetched {
    One(SecretValue),
    Map(SecretMap),
}

type Call = SharedFuture<BoxFuture<'static, Result<Fetched, ProviderError>>>;

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    store: StoreContext,
    remote: RemoteRef,
    map: bool,
}

/// A call in flight (with its number), or its value; both with the time the call started.
enum Entry {
    InFlight(Instant, u64, Call),
    Done(Instant, Fetched),
}

#[derive(Default)]
struct Cache {
    entries: HashMap<Key, Entry>,
    /// The oldest age asked for: stored values older than it are dropped by [`Cache::sweep`].
    longest: Duration,
    swept: Option<Instant>,
    /// Numbers the calls, so a finished call updates only its own entry.
    calls: u64,
}

impl Cache {
    fn sweep(&mut self, now: Instant) {
        if self
            .swept
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(30))
        {
            return;
        }
        self.swept = Some(now);
        let keep = self.longest;
        self.entries.retain(|_, e| match e {
            Entry::InFlight(..) => true,
            Entry::Done(at, _) => now.duration_since(*at) <= keep,
        });
    }
}

/// See the module documentation.
pub struct Shared {
    inner: Arc<dyn SecretProvider>,
    cache: Arc<Mutex<Cache>>,
}

impl Shared {
    pub fn new(inner: Arc<dyn SecretProvider>) -> Self {
        Self {
            inner,
            cache: Arc::default(),
        }
    }
}

impl SecretProvider for Shared {
    fn open<'a>(&'a self, store: &'a StoreContext) -> BoxFuture<'a, Result<Opened, ProviderError>> {
        Box::pin(async move {
            let (client, info) = self.inner.open(store).await?;
            let client: Box<dyn ProviderClient> = Box::new(SharedClient {
                inner: Arc::from(client),
                store: store.clone(),
                cache: self.cache.clone(),
            });
            Ok((client, info))
        })
    }
}

struct SharedClient {
    inner: Arc<dyn ProviderClient>,
    store: StoreContext,
    cache: Arc<Mutex<Cache>>,
}

impl SharedClient {
    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn fetch(&self, remote: &RemoteRef, map: bool) -> Result<Fetched, ProviderError> {
        let not_before = NOT_BEFORE.try_with(|w| *w).ok().flatten();
        let key = Key {
            store: self.store.clone(),
            remote: remote.clone(),
            map,
        };
        let (call, id) = {
            let mut cache = self.lock();
            let now = Instant::now();
            if let Some(t) = not_before {
                cache.longest = cache.longest.max(now.saturating_duration_since(t));
            }
            cache.sweep(now);
            match cache.entries.get(&key) {
                Some(Entry::InFlight(at, id, call)) if not_before.is_none_or(|t| *at >= t) => {
                    (call.clone(), *id)
                }
                Some(Entry::Done(at, value)) if not_before.is_some_and(|t| *at >= t) => {
                    return Ok(value.clone());
                }
                _ => {
                    let (client, r) = (self.inner.clone(), remote.clone());
                    let call: Call = async move {
                        if map {
                            client.get_secret_map(&r).await.map(Fetched::Map)
                        } else {
                            client.get_secret(&r).await.map(Fetched::One)
                        }
                    }
                    .boxed()
                    .shared();
                    cache.calls += 1;
                    let id = cache.calls;
                    cache
                        .entries
                        .insert(key.clone(), Entry::InFlight(now, id, call.clone()));
                    (call, id)
                }
            }
        };
        let result = call.await;
        let mut cache = self.lock();
        if let Some(Entry::InFlight(started, current, _)) = cache.entries.get(&key)
            && *current == id
        {
            match &result {
                Ok(value) => {
                    let started = *started;
                    cache
                        .entries
                        .insert(key, Entry::Done(started, value.clone()));
                }
                Err(_) => {
                    cache.entries.remove(&key);
                }
            }
        }
        result
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
        self.inner.get_all_secrets(f)
    }
}

#[cfg(test)]
#[path = "shared_tests.rs"]
mod tests;
