//! `ampoule run`: flags (ESO's names where they apply), logging, the cluster client, the
//! provider sandbox, and the controllers.

use std::sync::Arc;
use std::time::Duration;

use clap::{ArgAction, Args};

use crate::controller::credentials::KubeCredentials;
use crate::controller::shared_credentials::{self, SharedCredentials};
use crate::controller::{self, Settings, leader::LeaderElection};
use crate::plugin::TransformLimits;
use crate::provider::SecretProvider;

/// Flags of `ampoule run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Reconciles running at once per controller (ESO: --concurrent).
    #[arg(long, env = "AMPOULE_CONCURRENT", default_value_t = 32)]
    pub concurrent: usize,
    /// Serve only stores whose spec.controller is empty or equals this class.
    #[arg(long, env = "AMPOULE_CONTROLLER_CLASS", default_value = "default")]
    pub controller_class: String,
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "AMPOULE_NAMESPACE")]
    pub namespace: Option<String>,
    /// Hold a coordination.k8s.io Lease so only one replica reconciles.
    #[arg(long, env = "AMPOULE_ENABLE_LEADER_ELECTION", action = ArgAction::Set, num_args = 0..=1, default_value_t = false, default_missing_value = "true")]
    pub enable_leader_election: bool,
    /// Namespace of the leader election Lease (default: $POD_NAMESPACE, else "default").
    #[arg(long, env = "AMPOULE_LEADER_ELECTION_NAMESPACE")]
    pub leader_election_namespace: Option<String>,
    /// Name of the leader election Lease.
    #[arg(
        long,
        env = "AMPOULE_LEADER_ELECTION_ID",
        default_value = "ampoule-controller"
    )]
    pub leader_election_id: String,
    /// Address of the /metrics, /healthz and /readyz endpoints.
    #[arg(long, env = "AMPOULE_METRICS_ADDR", default_value = ":8080")]
    pub metrics_addr: String,
    /// Log level: error, warn, info, debug or trace (or a tracing filter directive).
    #[arg(long, env = "AMPOULE_LOGLEVEL", default_value = "info")]
    pub loglevel: String,
    /// Refuse to sync an ExternalSecret whose store is not Ready.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value_t = true, default_missing_value = "true")]
    pub enable_flood_gate: bool,
    /// Run the ClusterSecretStore reconciler (and honour ClusterSecretStore references).
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value_t = true, default_missing_value = "true")]
    pub enable_cluster_store_reconciler: bool,
    /// Run the ClusterExternalSecret reconciler.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value_t = true, default_missing_value = "true")]
    pub enable_cluster_external_secret_reconciler: bool,
    /// How often stores that set no refreshInterval are validated (Go duration).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub store_requeue_interval: Duration,
    /// Left delimiter of template actions (ESO: --template-left-delimiter).
    #[arg(long, default_value = "{{")]
    pub template_left_delimiter: String,
    /// Right delimiter of template actions (ESO: --template-right-delimiter).
    #[arg(long, default_value = "}}")]
    pub template_right_delimiter: String,
    /// Wasm fuel one template render may use (about one unit per instruction). sprig's RSA
    /// generators need more than the default: genCA about 2e10, genPrivateKey "rsa" over 1.2e11.
    #[arg(long, env = "AMPOULE_TEMPLATE_FUEL", default_value_t = TransformLimits::default().fuel)]
    pub template_fuel: u64,
    /// Wall-clock limit of one template render (Go duration).
    #[arg(long, env = "AMPOULE_TEMPLATE_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub template_timeout: Duration,
    /// Compile the embedded components in a short-lived child process (`ampoule compile`) that
    /// fills the module cache, then load them from it: the compiler's memory (about 80 MiB on a
    /// cold cache) leaves with the child. false: compile in this process.
    #[arg(long, env = "AMPOULE_COMPILE_IN_CHILD", action = ArgAction::Set, num_args = 0..=1, default_value_t = true, default_missing_value = "true")]
    pub compile_in_child: bool,
}

/// The sandbox settings of `ampoule run`, which `ampoule compile` shares so that what it caches
/// is what `run` looks up (the cache key covers the engine configuration).
pub fn sandbox_config() -> crate::plugin::SandboxConfig {
    crate::plugin::SandboxConfig {
        cache_dir: Some(crate::plugin::cache::default_cache_dir()),
        ..Default::default()
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let d: kube::core::Duration = text.parse().map_err(|e| format!("{e}"))?;
    crate::controller::refresh::to_std(d).ok_or_else(|| "a negative duration".to_string())
}

impl RunArgs {
    /// Limits of one template render: `--template-fuel` and `--template-timeout`, the rest as
    /// [`TransformLimits::default`].
    pub fn template_limits(&self) -> TransformLimits {
        TransformLimits {
            fuel: self.template_fuel,
            timeout: self.template_timeout,
            ..TransformLimits::default()
        }
    }

    pub fn settings(&self) -> Settings {
        Settings {
            controller_class: self.controller_class.clone(),
            namespace: self.namespace.clone().filter(|n| !n.is_empty()),
            concurrent: self.concurrent.max(1),
            flood_gate: self.enable_flood_gate,
            cluster_stores: self.enable_cluster_store_reconciler,
            cluster_external_secrets: self.enable_cluster_external_secret_reconciler,
            store_requeue_interval: self.store_requeue_interval,
            template_delimiters: (
                self.template_left_delimiter.clone(),
                self.template_right_delimiter.clone(),
            ),
        }
    }
}

/// Starts this binary's `compile` in a child process. `None` (logged) when it cannot start: the
/// sandbox then compiles in this process, as it does with no cache.
fn compile_in_child(cache_dir: &std::path::Path) -> Option<crate::plugin::warm::ChildCompile> {
    let started = std::env::current_exe()
        .map_err(|e| format!("cannot find this executable: {e}"))
        .and_then(|exe| {
            crate::plugin::warm::compile_in_child(&exe, cache_dir).map_err(|e| e.to_string())
        });
    match started {
        Ok(child) => Some(child),
        Err(e) => {
            tracing::warn!("{e}; compiling in process");
            None
        }
    }
}

/// Waits for the child's end and logs it.
async fn child_finished(
    finished: tokio::task::JoinHandle<Result<Duration, crate::plugin::warm::ChildError>>,
) {
    match finished.await {
        Ok(Ok(elapsed)) => tracing::info!(
            seconds = elapsed.as_secs_f64(),
            "module cache filled by a child process"
        ),
        Ok(Err(e)) => tracing::warn!("{e}; compiling in process"),
        Err(e) => tracing::warn!("compile child task: {e}; compiling in process"),
    }
}

/// Initialises JSON logs at `level` (RUST_LOG overrides).
pub fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .try_init();
}

/// Runs the operator until it is stopped: the embedded components plus the cluster's
/// ProviderClasses in the sandbox, credentials through the Kubernetes API, every controller.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    init_logging(&args.loglevel);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = kube::Config::infer().await.map_err(|e| {
        anyhow::anyhow!(
            "cannot load a Kubernetes configuration (KUBECONFIG, ~/.kube/config or in-cluster): {e}"
        )
    })?;
    let client = kube::Client::try_from(config)
        .map_err(|e| anyhow::anyhow!("cannot build a Kubernetes client: {e}"))?;
    // The child compiles while the preflight checks run; the providers are loaded once it has
    // cached them, the template component once it has exited.
    let sandbox_config = sandbox_config();
    let child = match (&sandbox_config.cache_dir, args.compile_in_child) {
        (Some(dir), true) => compile_in_child(dir),
        _ => None,
    };
    controller::preflight(&client, args.namespace.as_deref()).await?;
    let template_ready: futures::future::BoxFuture<'static, ()> = match child {
        Some(child) => {
            let _ = child.providers.await;
            Box::pin(child_finished(child.finished))
        }
        None => Box::pin(std::future::ready(())),
    };

    let sandbox = crate::plugin::Sandbox::new(sandbox_config)?;
    crate::metrics::register_sandbox(sandbox.metrics.clone());
    // Identical credential look-ups (every reconcile opens a fresh plugin instance) share one
    // Kubernetes call for a few seconds.
    let credentials = Arc::new(SharedCredentials::new(
        Arc::new(KubeCredentials::new(client.clone())),
        shared_credentials::KEEP,
    ));
    let wasm =
        Arc::new(crate::plugin::WasmProvider::with_embedded(sandbox.clone(), credentials).await?);
    let transformer = Arc::new(
        crate::plugin::WasmTransformer::embedded(sandbox.clone())
            .with_limits(args.template_limits())
            .compile_after(template_ready),
    );
    {
        // Compile the template component off the reconcile path; a failure here is reported
        // by the first template render that needs it.
        let t = transformer.clone();
        tokio::spawn(async move {
            if let Err(e) = t.preload().await {
                tracing::error!("cannot load the template component: {e}");
            }
        });
    }
    let (changed, changes) = tokio::sync::mpsc::unbounded_channel();
    let mut classes = crate::controller::provider_class::Classes::new(
        client.clone(),
        sandbox,
        wasm.clone(),
        changed,
    );
    classes.sync_once().await.map_err(|e| {
        anyhow::anyhow!("cannot list ProviderClasses (are Ampoule's CRDs installed?): {e}")
    })?;
    tokio::spawn(classes.run());

    let leader = args.enable_leader_election.then(|| {
        let ns = args
            .leader_election_namespace
            .clone()
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .unwrap_or_else(|| "default".into());
        let identity = std::env::var("POD_NAME")
            .ok()
            .unwrap_or_else(|| format!("ampoule-{:08x}", rand::random::<u32>()));
        LeaderElection::new(ns, args.leader_election_id.clone(), identity)
    });
    let admin = crate::admin::serve(&args.metrics_addr).await?;
    tracing::info!(metrics = %admin, namespace = ?args.namespace, concurrent = args.concurrent, "ampoule is running");
    let provider: Arc<dyn SecretProvider> = wasm;
    let parts = controller::Parts {
        client,
        provider,
        transformer,
        settings: args.settings(),
        leader,
        provider_changes: Some(changes),
    };
    controller::run_until(parts, stop_signal())
        .await
        .map_err(Into::into)
}

/// SIGTERM (what Kubernetes sends a pod it stops) or SIGINT (Ctrl-C).
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let terminate = async {
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM ({e}); only Ctrl-C stops cleanly");
                std::future::pending::<()>().await;
            }
        }
    };
    let which = tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        () = terminate => "SIGTERM",
    };
    tracing::info!(signal = which, "stopping");
}
