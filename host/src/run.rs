//! `ampoule run`: flags (ESO's names where they apply), logging, the cluster client, the
//! provider sandbox, and the controllers.

use std::sync::Arc;
use std::time::Duration;

use clap::{ArgAction, Args};

use crate::controller::credentials::{ControllerAccount, KubeCredentials};
use crate::controller::shared_credentials::{self, SharedCredentials};
use crate::controller::{self, Settings, leader::LeaderElection};
use crate::plugin::TransformLimits;
use crate::provider::SecretProvider;

/// Flags of `ampoule run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Reconciles running at once per controller (ESO: --concurrent).
    #[arg(long, env = "AMPOULE_CONCURRENT", default_value_t = 32, value_parser = go_usize)]
    pub concurrent: usize,
    /// Serve only stores whose spec.controller is empty or equals this class.
    #[arg(long, env = "AMPOULE_CONTROLLER_CLASS", default_value = "default")]
    pub controller_class: String,
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "AMPOULE_NAMESPACE")]
    pub namespace: Option<String>,
    /// Hold a coordination.k8s.io Lease so only one replica reconciles.
    #[arg(long, env = "AMPOULE_ENABLE_LEADER_ELECTION", action = ArgAction::Set, value_parser = go_bool, num_args = 0..=1, default_value_t = false, default_missing_value = "true")]
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
    /// How long standbys wait before they take a lease its holder stopped renewing (Go duration).
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub leader_election_lease_duration: Duration,
    /// How long the leader keeps trying to renew its lease before it gives up and stops (Go
    /// duration; less than the lease duration).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub leader_election_renew_deadline: Duration,
    /// How often the lease is renewed, and how often standbys try to take it (Go duration).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub leader_election_retry_period: Duration,
    /// Requests a second to the Kubernetes API server (client-side token bucket, as client-go's:
    /// 0 is client-go's default of 5, a negative value no limit). Unset with `--client-burst`
    /// unset too: no limit (ESO's default is 50; see docs/eso-behaviour.md#flags-of-ampoule-run).
    #[arg(long, value_parser = go_float32, allow_negative_numbers = true)]
    pub client_qps: Option<f32>,
    /// Requests to the API server at once before `--client-qps` paces them (0: client-go's 10;
    /// ESO's 100 when only `--client-qps` is given).
    #[arg(long, value_parser = go_int, allow_negative_numbers = true)]
    pub client_burst: Option<i64>,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, env = "AMPOULE_METRICS_ADDR", default_value = ":8080")]
    pub metrics_addr: String,
    /// Serve /healthz and /readyz on this address too (ESO's health probe address; "0" or the
    /// metrics address: not again). Unset: only on the metrics address.
    #[arg(long)]
    pub live_addr: Option<String>,
    /// How long a watch of the apiserver may keep failing (unreachable, RBAC revoked) before
    /// /healthz fails and the kubelet restarts the container (Go duration).
    #[arg(long, env = "AMPOULE_HEALTHZ_WATCH_LIMIT", default_value = "2m", value_parser = parse_duration)]
    pub healthz_watch_limit: Duration,
    /// Log level: error, warn, info, debug or trace (or a tracing filter directive); ESO's dpanic,
    /// panic and fatal are error.
    #[arg(long, env = "AMPOULE_LOGLEVEL", default_value = "info")]
    pub loglevel: String,
    /// Refuse to sync an ExternalSecret whose store is not Ready.
    #[arg(long, action = ArgAction::Set, value_parser = go_bool, num_args = 0..=1, default_value_t = true, default_missing_value = "true")]
    pub enable_flood_gate: bool,
    /// Run the ClusterSecretStore reconciler (and honour ClusterSecretStore references).
    #[arg(long, action = ArgAction::Set, value_parser = go_bool, num_args = 0..=1, default_value_t = true, default_missing_value = "true")]
    pub enable_cluster_store_reconciler: bool,
    /// Run the ClusterExternalSecret reconciler.
    #[arg(long, action = ArgAction::Set, value_parser = go_bool, num_args = 0..=1, default_value_t = true, default_missing_value = "true")]
    pub enable_cluster_external_secret_reconciler: bool,
    /// Run the PushSecret reconciler.
    #[arg(long, action = ArgAction::Set, value_parser = go_bool, num_args = 0..=1, default_value_t = true, default_missing_value = "true")]
    pub enable_push_secret_reconciler: bool,
    /// Run the ClusterPushSecret reconciler.
    #[arg(long, action = ArgAction::Set, value_parser = go_bool, num_args = 0..=1, default_value_t = true, default_missing_value = "true")]
    pub enable_cluster_push_secret_reconciler: bool,
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
    /// Compile the embedded components in short-lived child processes (`ampoule compile`) that
    /// fill the module cache, then load them from it: the compiler's memory leaves with the
    /// child. The providers are compiled at start, the template component when a first template
    /// is rendered. false: compile in this process.
    #[arg(long, env = "AMPOULE_COMPILE_IN_CHILD", action = ArgAction::Set, value_parser = go_bool, num_args = 0..=1, default_value_t = true, default_missing_value = "true")]
    pub compile_in_child: bool,
    /// ESO's flags that do nothing here: accepted, and named in one warning each at start.
    #[command(flatten)]
    pub no_effect: crate::eso_flags::NoEffectFlags,
    /// The operator's own ServiceAccount, `NAMESPACE/NAME`: the identity of stores that name no
    /// credentials, where their ProviderClass sets spec.credentials.allowControllerIdentity.
    /// Default: the ServiceAccount of the Pod's mounted token.
    #[arg(long, env = "AMPOULE_CONTROLLER_SERVICE_ACCOUNT", value_parser = parse_account)]
    pub controller_service_account: Option<String>,
}

fn parse_account(text: &str) -> Result<String, String> {
    ControllerAccount::parse(text)
        .map(|_| text.trim().to_owned())
        .ok_or_else(|| "expected NAMESPACE/NAME".to_string())
}

/// Where a Pod's ServiceAccount token is mounted.
const MOUNTED_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// The ServiceAccount a mounted token names (its `sub`, `system:serviceaccount:NS:NAME`). Read
/// once at start, only for the name: the token itself never reaches a plugin.
fn mounted_account(token: &str) -> Option<ControllerAccount> {
    use base64::Engine as _;
    let payload = token.trim().split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let rest = claims["sub"]
        .as_str()?
        .strip_prefix("system:serviceaccount:")?;
    let (ns, name) = rest.split_once(':')?;
    ControllerAccount::parse(&format!("{ns}/{name}"))
}

impl RunArgs {
    /// The operator's ServiceAccount: the flag, else the mounted token's; with its identity
    /// environment.
    pub fn controller_account(&self) -> Option<ControllerAccount> {
        let flag = self.controller_service_account.as_deref();
        let account = flag.and_then(ControllerAccount::parse).or_else(|| {
            let token = std::fs::read_to_string(MOUNTED_TOKEN).ok()?;
            mounted_account(&token)
        });
        account.map(ControllerAccount::with_process_environment)
    }
}

/// The sandbox settings of `ampoule run`, which `ampoule compile` shares so that what it caches
/// is what `run` looks up (the cache key covers the engine configuration).
pub fn sandbox_config() -> crate::plugin::SandboxConfig {
    crate::plugin::SandboxConfig {
        cache_dir: Some(crate::plugin::runtime::module_cache::default_cache_dir()),
        ..Default::default()
    }
}

use crate::eso_flags::{go_bool, go_int};

/// A Go float32 flag value.
fn go_float32(text: &str) -> Result<f32, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a number"))
}

/// A Go int flag that must not be negative.
fn go_usize(text: &str) -> Result<usize, String> {
    usize::try_from(go_int(text)?).map_err(|_| format!("{text:?} must not be negative"))
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = crate::crd::duration::parse(text).map_err(|e| format!("{e}"))?;
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

    /// The client-side rate limit of `--client-qps` and `--client-burst` (none: unlimited).
    pub fn client_rate(&self) -> anyhow::Result<Option<crate::rate_limit::Rate>> {
        // Neither given: no limit. One given: the other takes ESO's default (50/s, burst 100).
        match (self.client_qps, self.client_burst) {
            (None, None) => Ok(None),
            (qps, burst) => {
                crate::rate_limit::Rate::from_flags(qps.unwrap_or(50.0), burst.unwrap_or(100))
            }
        }
        .map_err(anyhow::Error::msg)
    }

    /// The leader election of `--enable-leader-election` and its timing flags, for `identity`.
    pub fn leader_election(&self, identity: String) -> anyhow::Result<Option<LeaderElection>> {
        if !self.enable_leader_election {
            return Ok(None);
        }
        let ns = self
            .leader_election_namespace
            .clone()
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .unwrap_or_else(|| "default".into());
        LeaderElection::new(ns, self.leader_election_id.clone(), identity)
            .with_timing(
                self.leader_election_lease_duration,
                self.leader_election_renew_deadline,
                self.leader_election_retry_period,
            )
            .map(Some)
            .map_err(anyhow::Error::msg)
    }

    pub fn settings(&self) -> Settings {
        Settings {
            controller_class: self.controller_class.clone(),
            namespace: self.namespace.clone().filter(|n| !n.is_empty()),
            concurrent: self.concurrent.max(1),
            flood_gate: self.enable_flood_gate,
            cluster_stores: self.enable_cluster_store_reconciler,
            cluster_external_secrets: self.enable_cluster_external_secret_reconciler,
            push_secrets: self.enable_push_secret_reconciler,
            cluster_push_secrets: self.enable_cluster_push_secret_reconciler,
            store_requeue_interval: self.store_requeue_interval,
            template_delimiters: (
                self.template_left_delimiter.clone(),
                self.template_right_delimiter.clone(),
            ),
            clock: crate::controller::clock::Clock::default(),
        }
    }
}

/// Compiles `components` into `cache_dir` in a child process running this binary's `compile`,
/// and waits for it. A failure is logged and otherwise ignored: the sandbox then compiles in
/// this process, as it does with no cache.
async fn compile_in_child(cache_dir: std::path::PathBuf, components: &[&str]) {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            tracing::warn!("cannot find this executable ({e}); compiling in process");
            return;
        }
    };
    match crate::plugin::distribution::warm::compile_in_child(&exe, &cache_dir, components).await {
        Ok(elapsed) => tracing::info!(
            ?components,
            seconds = elapsed.as_secs_f64(),
            "compiled in a child process"
        ),
        Err(e) => tracing::warn!("{e}; compiling in process"),
    }
}

/// The embedded providers and generators, which `ampoule run` loads at start.
fn provider_names() -> Vec<&'static str> {
    use crate::plugin::distribution::embedded::{GENERATORS, PLUGINS};
    PLUGINS
        .iter()
        .chain(GENERATORS.iter())
        .map(|p| p.name)
        .collect()
}

/// The compiler's own crates, whose debug output (every function of every component it
/// compiles, hundreds of MB for one cold start) says nothing about secrets or controllers.
const COMPILER_TARGETS: &[&str] = &[
    "cranelift_codegen",
    "cranelift_frontend",
    "regalloc2",
    "wasmtime_cranelift",
    "wasmtime_environ",
];

/// The filter of `--loglevel level`: that level for everything, the compiler's crates at most
/// `info` (RUST_LOG can still ask for them).
fn log_directives(level: &str) -> String {
    let mut directives = level.to_owned();
    if matches!(level, "debug" | "trace") {
        for target in COMPILER_TARGETS {
            directives.push_str(&format!(",{target}=info"));
        }
    }
    directives
}

/// Initialises JSON logs at `level` (RUST_LOG overrides). ESO's zap levels dpanic, panic and
/// fatal, which have no tracing counterpart, log errors.
pub fn init_logging(level: &str) {
    let level = match level {
        "dpanic" | "panic" | "fatal" => "error",
        other => other,
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(log_directives(level)))
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
    crate::eso_flags::warn_given(&args.no_effect);
    let rate = args.client_rate()?;
    let identity = std::env::var("POD_NAME")
        .ok()
        .unwrap_or_else(|| format!("ampoule-{:08x}", rand::random::<u32>()));
    let leader = args.leader_election(identity)?;
    let stop = StopSignals::listen();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = kube::Config::infer().await.map_err(|e| {
        anyhow::anyhow!(
            "cannot load a Kubernetes configuration (KUBECONFIG, ~/.kube/config or in-cluster): {e}"
        )
    })?;
    let client = crate::rate_limit::kube_client(config, rate)
        .map_err(|e| anyhow::anyhow!("cannot build a Kubernetes client: {e}"))?;
    match rate {
        Some(rate) => tracing::info!(
            qps = rate.qps,
            burst = rate.burst,
            "Kubernetes client rate limit"
        ),
        None => tracing::info!("Kubernetes client requests are not rate limited"),
    }
    // Served from the start: /healthz answers while the components load, /readyz says 503 and
    // why until they are loaded and the caches are synced.
    crate::health::global().set_watch_limit(args.healthz_watch_limit);
    let metrics = Arc::new(crate::metrics::Metrics::new());
    let admin = crate::admin::serve(&args.metrics_addr, metrics.clone()).await?;
    tracing::info!(addr = %admin, "serving /metrics, /healthz and /readyz");
    if let Some(live) = args
        .live_addr
        .as_deref()
        .filter(|live| *live != "0" && *live != args.metrics_addr)
    {
        let live = crate::admin::serve_probes(live).await?;
        tracing::info!(addr = %live, "serving /healthz and /readyz");
    }
    // The providers are compiled in a child while the preflight checks run; the template
    // component, in a child of its own, only when a first template is rendered.
    let sandbox_config = sandbox_config();
    let child_cache = sandbox_config
        .cache_dir
        .clone()
        .filter(|_| args.compile_in_child);
    let providers_compiled = child_cache
        .clone()
        .map(|dir| tokio::spawn(async move { compile_in_child(dir, &provider_names()).await }));
    controller::preflight(&client, args.namespace.as_deref()).await?;
    if let Some(compiled) = providers_compiled
        && let Err(e) = compiled.await
    {
        tracing::warn!("the provider compile task failed ({e}); compiling in process");
    }

    let sandbox = crate::plugin::Sandbox::new(sandbox_config)?;
    metrics.register_sandbox(&sandbox.metrics);
    // Identical credential look-ups (every reconcile opens a fresh plugin instance) share one
    // Kubernetes call for a few seconds.
    let account = args.controller_account();
    tracing::info!(
        service_account = ?account.as_ref().map(|a| format!("{}/{}", a.namespace, a.name)),
        "the operator's own identity (for ProviderClasses that allow it)"
    );
    let credentials = Arc::new(SharedCredentials::new(
        Arc::new(KubeCredentials::new(client.clone()).with_controller(account)),
        shared_credentials::KEEP,
    ));
    let generators: Arc<dyn crate::plugin::generator::SecretGenerator> = Arc::new(
        crate::plugin::WasmGenerator::with_embedded(sandbox.clone(), credentials.clone()).await?,
    );
    let wasm =
        Arc::new(crate::plugin::WasmProvider::with_embedded(sandbox.clone(), credentials).await?);
    // The template component is compiled when a first template is rendered: an operator whose
    // ExternalSecrets use no templates never spends the memory.
    let transformer = crate::plugin::WasmTransformer::embedded(sandbox.clone())
        .with_limits(args.template_limits());
    // The template component is loaded on first use, by design: the providers are what every
    // reconcile needs.
    crate::health::global().set_components_loaded();
    let transformer = Arc::new(match child_cache {
        Some(dir) => transformer.before_compile(Arc::new(move || {
            let dir = dir.clone();
            Box::pin(async move { compile_in_child(dir, &["template"]).await })
        })),
        None => transformer,
    });
    let (changed, changes) = tokio::sync::mpsc::unbounded_channel();
    let classes = crate::controller::provider_class::Classes::new(
        client.clone(),
        sandbox,
        wasm.clone(),
        changed,
    );
    classes.sync_once().await.map_err(|e| {
        anyhow::anyhow!("cannot list ProviderClasses (are Ampoule's CRDs installed?): {e}")
    })?;
    let class_health = classes.health();
    tokio::spawn(classes.run());

    tracing::info!(metrics = %admin, namespace = ?args.namespace, concurrent = args.concurrent, "ampoule is running");
    let provider: Arc<dyn SecretProvider> = wasm;
    let parts = controller::Parts {
        client,
        provider,
        transformer,
        generators,
        settings: args.settings(),
        metrics,
        leader,
        provider_changes: Some(changes),
        class_health,
    };
    controller::run_until(parts, stop.received())
        .await
        .map_err(Into::into)
}

/// SIGTERM (what Kubernetes sends a pod it stops) and SIGINT (Ctrl-C), listened for from the
/// start of `run`: a signal that arrives while the operator starts is kept (rather than killing
/// the process), and the controllers stop cleanly as soon as they are running.
struct StopSignals {
    terminate: Option<tokio::signal::unix::Signal>,
    interrupt: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn listen() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(stream) => Some(stream),
            Err(e) => {
                tracing::warn!("cannot listen for {name} ({e}); it will not stop ampoule cleanly");
                None
            }
        };
        StopSignals {
            terminate: listen(SignalKind::terminate(), "SIGTERM"),
            interrupt: listen(SignalKind::interrupt(), "SIGINT"),
        }
    }

    /// Resolves at the first of the two signals.
    async fn received(self) {
        async fn next(stream: Option<tokio::signal::unix::Signal>) {
            match stream {
                Some(mut stream) => {
                    stream.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        let which = tokio::select! {
            () = next(self.terminate) => "SIGTERM",
            () = next(self.interrupt) => "SIGINT",
        };
        crate::health::global().set_stopping();
        tracing::info!(signal = which, "stopping");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--loglevel debug` is the operator's debug log, not the compiler's: a cold start wrote
    /// 650 MB of Cranelift output at debug level.
    #[test]
    fn debug_logs_leave_the_compiler_at_info() {
        use tracing::level_filters::LevelFilter;
        assert_eq!(log_directives("info"), "info");
        let filter = tracing_subscriber::EnvFilter::try_new(log_directives("debug")).unwrap();
        assert_eq!(filter.max_level_hint(), Some(LevelFilter::DEBUG));
        let directives = log_directives("trace");
        for target in COMPILER_TARGETS {
            assert!(
                directives.contains(&format!("{target}=info")),
                "{directives}"
            );
        }
        // What reaches the log at debug level.
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        let sink = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "cranelift_codegen::machinst", "lowering");
            tracing::info!(target: "wasmtime_cranelift", "compiled");
            tracing::debug!(target: "ampoule::controller", "reconciled");
        });
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("lowering"), "{text}");
        assert!(
            text.contains("compiled") && text.contains("reconciled"),
            "{text}"
        );
    }

    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_mounted_token_names_the_service_account() {
        use base64::Engine as _;
        let claims = serde_json::json!({"sub": "system:serviceaccount:ampoule-system:ampoule", "aud": ["https://kubernetes.default.svc"]});
        let payload =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes());
        let account = mounted_account(&format!("e30.{payload}.sig\n")).unwrap();
        assert_eq!(
            (account.namespace.as_str(), account.name.as_str()),
            ("ampoule-system", "ampoule")
        );
        assert_eq!(mounted_account("not-a-jwt"), None);
        let user = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"admin"}"#);
        assert_eq!(mounted_account(&format!("e30.{user}.sig")), None);
    }
}
