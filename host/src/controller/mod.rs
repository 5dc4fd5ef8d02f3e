//! The controllers: ExternalSecret, SecretStore/ClusterSecretStore, ClusterExternalSecret,
//! PushSecret, ClusterPushSecret.
//!
//! Watches feed keyed work queues ([`queue::WorkQueue`]); `--concurrent` workers reconcile
//! ExternalSecrets (never-synced and changed objects first), a few workers validate stores and
//! a few reconcile ClusterExternalSecrets.
//! Managed Secrets are watched as metadata only (never every Secret's data).

pub mod backoff;
pub mod class_health;
pub mod clock;
pub mod cluster_external_secret;
pub mod cluster_push_secret;
pub mod context;
#[cfg(test)]
mod counting;
pub mod credentials;
pub mod data;
pub mod error;
pub mod external_secret;
pub mod finalizers;
pub mod generators;
pub mod hash;
pub mod leader;
pub mod provider_class;
pub mod push_secret;
pub mod queue;
pub mod recorder;
pub mod refresh;
pub mod retry;
pub mod secret_store;
pub mod shared;
pub mod shared_credentials;
pub mod single_flight;
pub mod status;
pub mod stores;
pub mod sync_window;
pub mod target;
pub mod template;
mod watch;

use std::sync::Arc;

use kube::Client;
use kube::api::{Api, ListParams};

pub use context::{Context, Settings};

use crate::crd::ExternalSecret;
use crate::metrics::Metrics;
use crate::provider::SecretProvider;
use crate::transform::Transformer;
use ampoule_sandbox::generator::SecretGenerator;

/// Why the controllers could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(
        "the external-secrets.io CRDs are not installed in this cluster (install them with \
         `ampoule crd | kubectl apply --server-side -f -` or the Helm chart)"
    )]
    CrdsMissing,
    #[error("cannot reach the Kubernetes API server: {0}")]
    Unreachable(#[source] kube::Error),
    #[error("leader election failed: {0}")]
    Leader(#[source] kube::Error),
    #[error("lost the leader election lease")]
    LostLease,
}

impl From<leader::LeaseLost> for RunError {
    fn from(e: leader::LeaseLost) -> Self {
        match e {
            leader::LeaseLost::Renewal(e) => RunError::Leader(e),
            leader::LeaseLost::TakenOver => RunError::LostLease,
        }
    }
}

/// Checks that the cluster answers and serves ESO's API, with a clear error when not.
pub async fn preflight(client: &Client, namespace: Option<&str>) -> Result<(), RunError> {
    let api: Api<ExternalSecret> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    match api.list_metadata(&ListParams::default().limit(1)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Err(RunError::CrdsMissing),
        Err(e) => Err(RunError::Unreachable(e)),
    }
}

/// Runs every controller until the process is stopped (or the leader lease is lost).
pub async fn run(
    client: Client,
    provider: Arc<dyn SecretProvider>,
    transformer: Arc<dyn Transformer>,
    generators: Arc<dyn SecretGenerator>,
    settings: Settings,
    metrics: Arc<Metrics>,
    leader: Option<leader::LeaderElection>,
) -> Result<(), RunError> {
    preflight(&client, settings.namespace.as_deref()).await?;
    let parts = Parts {
        client,
        provider,
        transformer,
        generators,
        settings,
        metrics,
        leader,
        provider_changes: None,
        class_health: Arc::default(),
    };
    run_until(parts, std::future::pending()).await
}

/// [`run`] without its [`preflight`] (the caller has done it), plus a channel of provider keys
/// whose component or ceiling changed (ProviderClass events): stores using such a key are
/// validated again at once.
#[allow(clippy::too_many_arguments)]
pub async fn run_with(
    client: Client,
    provider: Arc<dyn SecretProvider>,
    transformer: Arc<dyn Transformer>,
    generators: Arc<dyn SecretGenerator>,
    settings: Settings,
    metrics: Arc<Metrics>,
    leader: Option<leader::LeaderElection>,
    provider_changes: Option<tokio::sync::mpsc::UnboundedReceiver<String>>,
) -> Result<(), RunError> {
    let parts = Parts {
        client,
        provider,
        transformer,
        generators,
        settings,
        metrics,
        leader,
        provider_changes,
        class_health: Arc::default(),
    };
    run_until(parts, std::future::pending()).await
}

/// What the controllers run with (the arguments of [`run_with`]).
pub struct Parts {
    pub client: Client,
    pub provider: Arc<dyn SecretProvider>,
    pub transformer: Arc<dyn Transformer>,
    /// ESO's generators.
    pub generators: Arc<dyn SecretGenerator>,
    pub settings: Settings,
    /// Where the controllers' metrics go (the registry the admin server exposes).
    pub metrics: Arc<Metrics>,
    pub leader: Option<leader::LeaderElection>,
    pub provider_changes: Option<tokio::sync::mpsc::UnboundedReceiver<String>>,
    /// What the ProviderClass controller found wrong with classes
    /// ([`provider_class::Classes::health`]); the stores of their keys show it.
    pub class_health: Arc<class_health::ClassHealth>,
}

/// How long a clean stop waits for Normal events still being sent.
pub const EVENT_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a clean stop waits for the apiserver to take the released lease (both limits stay
/// well inside a pod's default 30 s grace period).
pub const LEASE_RELEASE: std::time::Duration = std::time::Duration::from_secs(5);

/// [`run_with`] until `stop` resolves; then a clean stop: no new reconciles, the Normal events in
/// flight sent (at most [`EVENT_DRAIN`]), the leader lease released so another replica takes
/// over at once.
pub async fn run_until(
    parts: Parts,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), RunError> {
    let (ctx, watches) = watch::start(
        parts.client.clone(),
        parts.provider,
        parts.transformer,
        parts.generators,
        parts.settings,
        parts.metrics,
        parts.provider_changes,
        parts.class_health,
    );
    let mut stop = std::pin::pin!(stop);
    let lease = match parts.leader {
        Some(election) => tokio::select! {
            held = election.acquire(&parts.client) => Some(held.map_err(RunError::Leader)?),
            () = &mut stop => {
                watches.abort();
                return Ok(());
            }
        },
        None => None,
    };
    let work = async {
        let workers = watch::workers(ctx.clone());
        match &lease {
            Some(lease) => tokio::select! {
                lost = lease.hold() => lost.map_err(RunError::from),
                () = workers => Ok(()),
            },
            None => {
                workers.await;
                Ok(())
            }
        }
    };
    let (result, stopped) = tokio::select! {
        result = work => (result, false),
        () = &mut stop => (Ok(()), true),
    };
    watches.abort();
    if stopped {
        let unsent = context::drain_events(&ctx.event_slots, EVENT_DRAIN).await;
        if unsent > 0 {
            tracing::warn!(unsent, "stopping with Normal events still unsent");
        }
        if let Some(lease) = &lease {
            match tokio::time::timeout(LEASE_RELEASE, lease.release()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "could not release the leader lease"),
                Err(_) => tracing::warn!("the apiserver did not answer the lease release in time"),
            }
        }
    }
    result
}
