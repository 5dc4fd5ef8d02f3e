//! The wasmtime side: one Engine (Cranelift, component model, epochs, pooling), a 10 ms epoch
//! ticker, one Linker, compile-once-per-digest with wasmtime's on-disk cache, an `InstancePre`
//! per digest, and a fresh `Store` per reconcile.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, Linker, types::ComponentItem};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, UpdateDeadline,
};

use super::bindings::{SecretProviderCore, SecretProviderCorePre};
use super::host::HostState;
use super::kv::KvCache;
use super::module_cache::Digest;
use crate::egress::http::{Budget, EgressHooks, tls_config};
use crate::egress::policy::EgressPolicy;
use crate::egress::tls::{InstanceTls, TlsCache};
use crate::identity::Identity;
use crate::metrics::SandboxMetrics;
use crate::provider::SecretValue;
use crate::{ProviderInfo, SandboxError};

pub const TICK: Duration = Duration::from_millis(10);

/// Process-wide sandbox settings.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where compiled code is cached (pod-private). `None` → no disk cache.
    pub cache_dir: Option<PathBuf>,
    /// Concurrent instances (pool size).
    pub max_instances: u32,
    /// Largest linear memory any store may be granted.
    pub max_memory_bytes: u64,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            cache_dir: None,
            max_instances: 64,
            max_memory_bytes: 256 << 20,
        }
    }
}

/// A compiled, import-checked provider component.
pub struct Loaded {
    pub digest: Digest,
    pub info: ProviderInfo,
    pub(crate) pre: SecretProviderCorePre<HostState>,
}

/// A store and its instance made by [`Sandbox::instantiate`], kept until dropped.
pub struct Instantiated {
    _instance: crate::runtime::bindings::SecretProviderCore,
    _store: Store<HostState>,
}

pub struct Sandbox {
    engine: Engine,
    linker: Linker<HostState>,
    /// Transforms run in an engine of their own with fuel metering (a budget per call);
    /// providers do not pay for the instrumentation and are bounded by the epoch deadline.
    transform_engine: Engine,
    transform_linker: Linker<HostState>,
    config: SandboxConfig,
    stop: Arc<AtomicBool>,
    loaded: Mutex<HashMap<Digest, Arc<Loaded>>>,
    pub(crate) kv: Arc<KvCache>,
    /// The default TLS config (web PKI roots, no client certificate).
    pub(crate) tls: Arc<rustls::ClientConfig>,
    /// Configs built from plugins' own trust anchors and client identities.
    pub tls_cache: Arc<TlsCache>,
    pub metrics: Arc<SandboxMetrics>,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Transforms are fuel-metered, and their pool slots are reset by scanning for the pages the
/// last instance wrote (`PAGEMAP_SCAN`) and restoring those in place, up to this many bytes:
/// the default reset (memset the lowest MiB, `madvise` the rest, fault it back in) cost a
/// render more than the render itself. Resident memory per warm slot, at most.
const TRANSFORM_KEEP_RESIDENT: usize = 8 << 20;

/// Resident memory a provider pool slot keeps between instances, at most. Every slot a reconcile
/// used keeps this much, so it is small: provider instances are many and short-lived, and at 1 MiB
/// the slots held ~20-30 MiB more after a first sync of 1,000 ExternalSecrets and opening an
/// instance was slower (the reset wiped the whole MiB each time).
const PROVIDER_KEEP_RESIDENT: usize = 64 << 10;

fn engine_config(
    cfg: &SandboxConfig,
    pooling: bool,
    transform: bool,
) -> Result<Config, SandboxError> {
    let mut c = Config::new();
    c.strategy(wasmtime::Strategy::Cranelift)
        .wasm_component_model(true)
        .epoch_interruption(true)
        .consume_fuel(transform)
        .wasm_memory64(false)
        .parallel_compilation(true)
        .max_wasm_stack(1 << 20);
    if let Some(dir) = &cfg.cache_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| SandboxError::Engine(format!("cache dir {}: {e}", dir.display())))?;
        let mut cache = wasmtime::CacheConfig::new();
        cache.with_directory(dir);
        let cache =
            wasmtime::Cache::new(cache).map_err(|e| SandboxError::Engine(format!("cache: {e}")))?;
        c.cache(Some(cache));
    }
    if pooling {
        let n = cfg.max_instances;
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(n)
            .total_core_instances(n * 16)
            .total_memories(n * 4)
            .total_tables(n * 16)
            .total_stacks(n)
            .max_memories_per_component(4)
            .max_core_instances_per_component(64)
            .max_tables_per_component(32)
            .max_component_instance_size(10 << 20)
            .max_core_instance_size(10 << 20)
            .max_memory_size(cfg.max_memory_bytes as usize)
            .linear_memory_keep_resident(PROVIDER_KEEP_RESIDENT)
            .table_keep_resident(64 << 10);
        if transform {
            // `Auto`: kernels without the ioctl (< 6.7) keep the default reset.
            pool.pagemap_scan(wasmtime::Enabled::Auto)
                .linear_memory_keep_resident(TRANSFORM_KEEP_RESIDENT)
                .table_keep_resident(1 << 20);
        }
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Ok(c)
}

impl Sandbox {
    /// Builds the engine (pooling, falling back to on-demand when the address space cannot be
    /// reserved), the linker and the epoch ticker.
    pub fn new(config: SandboxConfig) -> Result<Arc<Sandbox>, SandboxError> {
        let new_engine = |transform: bool| -> Result<Engine, SandboxError> {
            match Engine::new(&engine_config(&config, true, transform)?) {
                Ok(e) => Ok(e),
                Err(err) => {
                    tracing::warn!(
                        "pooling allocator unavailable ({err}); using on-demand allocation"
                    );
                    Engine::new(&engine_config(&config, false, transform)?)
                        .map_err(|e| SandboxError::Engine(e.to_string()))
                }
            }
        };
        let engine = new_engine(false)?;
        let transform_engine = new_engine(true)?;
        let link = |r: wasmtime::Result<()>| r.map_err(|e| SandboxError::Engine(e.to_string()));
        let mut linker = Linker::new(&engine);
        link(wasmtime_wasi::p2::add_to_linker_async(&mut linker))?;
        link(wasmtime_wasi_http::p2::add_only_http_to_linker_async(
            &mut linker,
        ))?;
        link(SecretProviderCore::add_to_linker::<_, HasSelf<HostState>>(
            &mut linker,
            |s| s,
        ))?;
        // Transforms: WASI with the deny-by-default context and the log; no HTTP.
        let mut transform_linker = Linker::new(&transform_engine);
        link(wasmtime_wasi::p2::add_to_linker_async(
            &mut transform_linker,
        ))?;
        link(super::bindings::transformer::Transformer::add_to_linker::<
            _,
            HasSelf<HostState>,
        >(&mut transform_linker, |s| s))?;
        let stop = Arc::new(AtomicBool::new(false));
        let (weak, flag) = (engine.weak(), stop.clone());
        let weak_transform = transform_engine.weak();
        std::thread::Builder::new()
            .name("ampoule-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    match (weak.upgrade(), weak_transform.upgrade()) {
                        (Some(engine), Some(transform)) => {
                            engine.increment_epoch();
                            transform.increment_epoch();
                        }
                        _ => break,
                    }
                }
            })
            .map_err(|e| SandboxError::Engine(format!("epoch ticker: {e}")))?;
        let tls = tls_config().map_err(|e| SandboxError::Engine(format!("tls: {e}")))?;
        Ok(Arc::new(Sandbox {
            engine,
            linker,
            transform_engine,
            transform_linker,
            config,
            stop,
            loaded: Mutex::new(HashMap::new()),
            kv: Arc::default(),
            tls,
            tls_cache: Arc::default(),
            metrics: Arc::default(),
        }))
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker of provider-world components (WASI, `wasi:http`, `ampoule:host`); generator
    /// components have the same imports and link with it.
    pub(crate) fn linker(&self) -> &Linker<HostState> {
        &self.linker
    }

    /// The fuel-metered engine and its linker, for transform components.
    pub(crate) fn transform_engine(&self) -> (&Engine, &Linker<HostState>) {
        (&self.transform_engine, &self.transform_linker)
    }

    /// A component already loaded under `digest`.
    pub fn get(&self, digest: &Digest) -> Option<Arc<Loaded>> {
        self.loaded.lock().ok()?.get(digest).cloned()
    }

    /// Verifies the digest, compiles (or loads from the disk cache), checks imports and exports.
    /// CPU-heavy and synchronous: [`Self::load`] runs it on a blocking thread.
    pub fn compile(
        &self,
        bytes: &[u8],
        expected: Option<&Digest>,
    ) -> Result<(Digest, SecretProviderCorePre<HostState>), SandboxError> {
        let refuse = |e: SandboxError| {
            SandboxMetrics::inc(&self.metrics.components_refused);
            e
        };
        let digest = Digest::of(bytes);
        if let Some(want) = expected
            && *want != digest
        {
            return Err(refuse(SandboxError::DigestMismatch {
                expected: want.to_string(),
                actual: digest.to_string(),
            }));
        }
        let component = Component::new(&self.engine, bytes)
            .map_err(|e| refuse(SandboxError::Compile(format!("{e:#}"))))?;
        check_imports(&self.engine, &component).map_err(refuse)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| refuse(SandboxError::Link(format!("{e:#}"))))?;
        let pre = SecretProviderCorePre::new(pre)
            .map_err(|e| refuse(SandboxError::NotAProvider(format!("{e:#}"))))?;
        Ok((digest, pre))
    }

    /// Loads a component once per digest: compile off the async threads, then `describe`.
    pub async fn load(
        self: &Arc<Self>,
        bytes: Vec<u8>,
        expected: Option<Digest>,
    ) -> Result<Arc<Loaded>, SandboxError> {
        let known = expected.clone().or_else(|| Some(Digest::of(&bytes)));
        if let Some(hit) = known.as_ref().and_then(|d| self.get(d))
            && Digest::of(&bytes) == hit.digest
        {
            self.metrics.cache_hits.inc();
            return Ok(hit);
        }
        let this = self.clone();
        let started = std::time::Instant::now();
        let (digest, pre) =
            tokio::task::spawn_blocking(move || this.compile(&bytes, expected.as_ref()))
                .await
                .map_err(|e| SandboxError::Engine(format!("compile task: {e}")))??;
        self.metrics
            .compile
            .observe(started.elapsed().as_secs_f64());
        let mut loaded = Loaded {
            digest: digest.clone(),
            info: ProviderInfo::default(),
            pre,
        };
        loaded.info = self
            .describe(&loaded)
            .await
            .inspect_err(|_| SandboxMetrics::inc(&self.metrics.components_refused))?;
        let loaded = Arc::new(loaded);
        if let Ok(mut map) = self.loaded.lock() {
            map.insert(digest, loaded.clone());
        }
        Ok(loaded)
    }

    async fn describe(&self, loaded: &Loaded) -> Result<ProviderInfo, SandboxError> {
        let policy = Arc::new(EgressPolicy::deny_all());
        let scope = Arc::new(Identity {
            store: "-".into(),
            provider: "-".into(),
            digest: loaded.digest.to_string(),
            cache_key: String::new(),
        });
        let mut store = self.store(policy, scope, Default::default());
        store.data_mut().deadline = Instant::now() + Duration::from_secs(5);
        let call = async {
            let instance = loaded.pre.instantiate_async(&mut store).await?;
            instance
                .ampoule_provider_provider()
                .call_describe(&mut store)
                .await
        };
        let info = call
            .await
            .map_err(|e| SandboxError::NotAProvider(format!("describe failed: {e:#}")))?;
        use super::bindings::ampoule::provider::types::Capabilities;
        Ok(ProviderInfo {
            name: info.name,
            version: info.version,
            read: info.capabilities.contains(Capabilities::READ),
            write: info.capabilities.contains(Capabilities::WRITE),
        })
    }

    /// A fresh store and instance of `loaded` under `policy`, with no guest call: what opening a
    /// client costs before its first call (the sandbox benchmark times it). Dropping the result
    /// gives the instance's slot back to the pool.
    pub async fn instantiate(
        &self,
        loaded: &Loaded,
        policy: Arc<EgressPolicy>,
        identity: Arc<Identity>,
    ) -> Result<Instantiated, SandboxError> {
        let mut store = self.store(policy, identity, Default::default());
        let instance = loaded
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| SandboxError::Trap(e.to_string()))?;
        Ok(Instantiated {
            _instance: instance,
            _store: store,
        })
    }

    /// A fresh store for one reconcile of one store.
    pub(crate) fn store(
        &self,
        policy: Arc<EgressPolicy>,
        scope: Arc<Identity>,
        credentials: std::collections::BTreeMap<String, SecretValue>,
    ) -> Store<HostState> {
        let memory = policy.limits.memory_bytes.min(self.config.max_memory_bytes) as usize;
        self.new_store(&self.engine, policy, scope, credentials, memory)
    }

    /// A fresh store of the transform engine: no credentials, the given memory cap; the caller
    /// sets the fuel budget (a new store has none).
    pub(crate) fn transform_store(
        &self,
        policy: Arc<EgressPolicy>,
        scope: Arc<Identity>,
        memory: usize,
    ) -> Store<HostState> {
        let memory = memory.min(self.config.max_memory_bytes as usize);
        self.new_store(
            &self.transform_engine,
            policy,
            scope,
            Default::default(),
            memory,
        )
    }

    fn new_store(
        &self,
        engine: &Engine,
        policy: Arc<EgressPolicy>,
        scope: Arc<Identity>,
        credentials: std::collections::BTreeMap<String, SecretValue>,
        memory: usize,
    ) -> Store<HostState> {
        let hooks = EgressHooks {
            policy,
            budget: Arc::new(Budget::default()),
            scope: scope.clone(),
            metrics: self.metrics.clone(),
            tls: InstanceTls::new(self.tls.clone(), self.tls_cache.clone()),
        };
        let state = HostState::new(hooks, memory, scope, credentials, self.kv.clone());
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            if Instant::now() >= ctx.data().deadline {
                ctx.data_mut().deadline_hit = true;
                return Err(wasmtime::Error::msg("deadline exceeded"));
            }
            Ok(UpdateDeadline::Yield(1))
        });
        store
    }
}

/// Every import must be WASI 0.2 or `ampoule:*@0.1`; anything else is refused by name (all of
/// them, comma-separated, so an author sees every one at once).
pub fn check_imports(engine: &Engine, component: &Component) -> Result<(), SandboxError> {
    let unsupported = unsupported_imports(engine, component);
    if unsupported.is_empty() {
        Ok(())
    } else {
        Err(SandboxError::UnsupportedImport(unsupported.join(", ")))
    }
}

/// The imports of `component` the sandbox does not provide, in the component's order.
pub fn unsupported_imports(engine: &Engine, component: &Component) -> Vec<String> {
    const WASI: &[&str] = &[
        "wasi:io/",
        "wasi:clocks/",
        "wasi:random/",
        "wasi:cli/",
        "wasi:filesystem/",
        "wasi:sockets/",
        "wasi:http/types@",
        "wasi:http/outgoing-handler@",
    ];
    const OURS: &[&str] = &[
        "ampoule:host/log@",
        "ampoule:host/credentials@",
        "ampoule:host/cache@",
        "ampoule:host/tls@",
        "ampoule:provider/types@",
    ];
    component
        .component_type()
        .imports(engine)
        .filter(|(name, item)| match &item.ty {
            ComponentItem::ComponentInstance(_) => {
                !((WASI.iter().any(|p| name.starts_with(p)) && name.contains("@0.2."))
                    || (OURS.iter().any(|p| name.starts_with(p)) && name.contains("@0.1.")))
            }
            _ => true,
        })
        .map(|(name, _)| name.to_owned())
        .collect()
}
