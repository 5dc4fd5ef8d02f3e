//! A test backend for the controller's unit tests: it counts its calls, answers key `k` with
//! `k#<call number>` after `delay`, `missing` with NotFound, and everything with Unavailable
//! when `failing`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;

use crate::provider::{
    FindRef, Opened, ProviderClient, ProviderError, RemoteRef, SecretMap, SecretProvider,
    SecretValue, StoreContext, StoreInfo, Validation,
};

/// See the module documentation.
#[derive(Clone, Default)]
pub(crate) struct Counting {
    pub(crate) calls: Arc<AtomicUsize>,
    pub(crate) failing: bool,
    pub(crate) delay: Duration,
}

impl SecretProvider for Counting {
    fn open<'a>(&'a self, _: &'a StoreContext) -> BoxFuture<'a, Result<Opened, ProviderError>> {
        let client = self.clone();
        Box::pin(async move {
            Ok((
                Box::new(client) as Box<dyn ProviderClient>,
                StoreInfo::default(),
            ))
        })
    }
}

impl ProviderClient for Counting {
    fn validate(&self) -> BoxFuture<'_, Result<Validation, ProviderError>> {
        Box::pin(async { Ok(Validation::Valid) })
    }
    fn get_secret<'a>(
        &'a self,
        r: &'a RemoteRef,
    ) -> BoxFuture<'a, Result<SecretValue, ProviderError>> {
        Box::pin(async move {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            if self.failing {
                return Err(ProviderError::Unavailable("backend down".into()));
            }
            if r.key == "missing" {
                return Err(ProviderError::NotFound);
            }
            Ok(format!("{}#{n}", r.key).into_bytes().into())
        })
    }
    fn get_secret_map<'a>(
        &'a self,
        _: &'a RemoteRef,
    ) -> BoxFuture<'a, Result<SecretMap, ProviderError>> {
        Box::pin(async { Ok(SecretMap::new()) })
    }
    fn get_all_secrets<'a>(
        &'a self,
        _: &'a FindRef,
    ) -> BoxFuture<'a, Result<SecretMap, ProviderError>> {
        Box::pin(async { Ok(SecretMap::new()) })
    }
}
