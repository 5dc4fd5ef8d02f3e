//! Test doubles: a backend that counts its calls, and a renderer for objects without templates.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::BoxFuture;

use crate::provider::{
    FindRef, Opened, ProviderClient, ProviderError, RemoteRef, SecretMap, SecretProvider,
    SecretValue, StoreContext, StoreInfo, Validation,
};
use crate::transform::{RenderRequest, Rendered, TransformError, Transformer};

/// A backend that counts its calls; it answers every key with `v`, or fails when `failing`.
pub(super) struct Counting {
    pub(super) calls: Arc<AtomicUsize>,
    pub(super) failing: bool,
}

struct CountingClient {
    calls: Arc<AtomicUsize>,
    failing: bool,
}

impl SecretProvider for Counting {
    fn open<'a>(&'a self, _: &'a StoreContext) -> BoxFuture<'a, Result<Opened, ProviderError>> {
        let client = CountingClient {
            calls: self.calls.clone(),
            failing: self.failing,
        };
        Box::pin(async move {
            Ok((
                Box::new(client) as Box<dyn ProviderClient>,
                StoreInfo::default(),
            ))
        })
    }
}

impl ProviderClient for CountingClient {
    fn validate(&self) -> BoxFuture<'_, Result<Validation, ProviderError>> {
        Box::pin(async { Ok(Validation::Valid) })
    }
    fn get_secret<'a>(
        &'a self,
        _: &'a RemoteRef,
    ) -> BoxFuture<'a, Result<SecretValue, ProviderError>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.failing {
                return Err(ProviderError::Unavailable("backend down".into()));
            }
            Ok(b"v".to_vec().into())
        })
    }
    fn get_secret_map<'a>(
        &'a self,
        _: &'a RemoteRef,
    ) -> BoxFuture<'a, Result<SecretMap, ProviderError>> {
        Box::pin(async { Err(ProviderError::Internal("not used by these tests".into())) })
    }
    fn get_all_secrets<'a>(
        &'a self,
        _: &'a FindRef,
    ) -> BoxFuture<'a, Result<SecretMap, ProviderError>> {
        Box::pin(async { Err(ProviderError::Internal("not used by these tests".into())) })
    }
}

/// The ExternalSecrets of these tests have no templates: a render is a test failure.
pub(super) struct NoTemplates;

impl Transformer for NoTemplates {
    fn render(&self, _: RenderRequest) -> BoxFuture<'_, Result<Rendered, TransformError>> {
        Box::pin(async {
            Err(TransformError::Sandbox(
                "no templates in these tests".into(),
            ))
        })
    }
    fn rewrite_keys(
        &self,
        _: String,
        _: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<String>, TransformError>> {
        Box::pin(async {
            Err(TransformError::Sandbox(
                "no templates in these tests".into(),
            ))
        })
    }
}
