//! Identical credential look-ups share one Kubernetes call.
//!
//! Every reconcile opens a fresh plugin instance, and opening resolves the store's credentials
//! (a Secret key, a ServiceAccount token …) through the apiserver. A thousand ExternalSecrets on
//! one store would read the same Secret a thousand times, and under load that read — not the
//! backend call — dominates a sync. [`SharedCredentials`] keeps each resolved value for a few
//! seconds, keyed by the whole [`StoreContext`] (store, generation, caller namespace) and the
//! request, so nothing is shared between stores or namespaces. Errors are never kept.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;

use super::single_flight::{Accept, Reuse, SingleFlight};
use crate::plugin::{CredentialRequest, CredentialResolver};
use crate::provider::{ProviderError, SecretValue, StoreContext};

/// How long a resolved credential is reused: a rotated credential is picked up this late.
pub const KEEP: Duration = Duration::from_secs(5);

/// The request as a key (its `Debug` form: names, namespaces, audiences — never a value).
type Key = (StoreContext, String);

/// See the module documentation.
pub struct SharedCredentials {
    inner: Arc<dyn CredentialResolver>,
    keep: Duration,
    /// Swept on every look-up (values expire after a few seconds).
    entries: SingleFlight<Key, SecretValue, ProviderError>,
}

impl SharedCredentials {
    pub fn new(inner: Arc<dyn CredentialResolver>, keep: Duration) -> Self {
        Self {
            inner,
            keep,
            entries: SingleFlight::new(Duration::ZERO),
        }
    }
}

impl CredentialResolver for SharedCredentials {
    fn resolve<'a>(
        &'a self,
        store: &'a StoreContext,
        request: &'a CredentialRequest,
    ) -> BoxFuture<'a, Result<SecretValue, ProviderError>> {
        Box::pin(async move {
            let key: Key = (store.clone(), format!("{request:?}"));
            let accept = Accept {
                join_since: None,
                reuse: Reuse::FinishedWithin(self.keep),
            };
            let (inner, s, r) = (self.inner.clone(), store.clone(), request.clone());
            self.entries
                .get(key, accept, move || {
                    async move { inner.resolve(&s, &r).await }.boxed()
                })
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::plugin::CredentialSource;
    use crate::provider::StoreKind;

    struct Counting(AtomicUsize);

    impl CredentialResolver for Counting {
        fn resolve<'a>(
            &'a self,
            store: &'a StoreContext,
            r: &'a CredentialRequest,
        ) -> BoxFuture<'a, Result<SecretValue, ProviderError>> {
            Box::pin(async move {
                let n = self.0.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                if r.name == "bad" {
                    return Err(ProviderError::Unauthorized("no".into()));
                }
                Ok(format!("{}/{}#{n}", store.name, r.name).into_bytes().into())
            })
        }
    }

    fn store(name: &str, caller: &str) -> StoreContext {
        StoreContext {
            kind: StoreKind::SecretStore,
            name: name.into(),
            store_namespace: Some(caller.into()),
            caller_namespace: Some(caller.into()),
            generation: 1,
            provider: "vault".into(),
            config: serde_json::json!({}),
            sandbox: None,
        }
    }

    fn request(name: &str) -> CredentialRequest {
        CredentialRequest {
            name: name.into(),
            source: CredentialSource::SecretKey {
                name: "token".into(),
                key: "token".into(),
                namespace: None,
            },
        }
    }

    async fn get(
        c: &SharedCredentials,
        s: &StoreContext,
        name: &str,
    ) -> Result<String, ProviderError> {
        let v = c.resolve(s, &request(name)).await?;
        Ok(String::from_utf8(v.expose().clone()).unwrap())
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_resolves_once_and_expires_after_keep() {
        let backend = Arc::new(Counting(AtomicUsize::new(0)));
        let c = SharedCredentials::new(backend.clone(), KEEP);
        let s = store("a", "ns");
        let burst = futures::future::join_all((0..50).map(|_| get(&c, &s, "token"))).await;
        assert!(burst.iter().all(|v| v.as_deref() == Ok("a/token#0")));
        assert_eq!(get(&c, &s, "token").await.unwrap(), "a/token#0");
        tokio::time::advance(KEEP).await;
        assert_eq!(get(&c, &s, "token").await.unwrap(), "a/token#1");
        assert_eq!(backend.0.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn stores_namespaces_and_errors_are_not_shared() {
        let backend = Arc::new(Counting(AtomicUsize::new(0)));
        let c = SharedCredentials::new(backend.clone(), KEEP);
        get(&c, &store("a", "ns1"), "token").await.unwrap();
        get(&c, &store("a", "ns2"), "token").await.unwrap();
        get(&c, &store("b", "ns1"), "token").await.unwrap();
        get(&c, &store("a", "ns1"), "other").await.unwrap();
        assert_eq!(backend.0.load(Ordering::SeqCst), 4);
        for _ in 0..2 {
            assert!(get(&c, &store("a", "ns1"), "bad").await.is_err());
        }
        assert_eq!(backend.0.load(Ordering::SeqCst), 6, "errors are not kept");
    }
}
