//! [`WasmProvider`]: the controller's [`SecretProvider`] backed by sandboxed components.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use wasmtime::Store;
use wasmtime::component::ResourceAny;

use super::bindings::ampoule::provider::types as wit;
use super::bindings::{SecretProviderCore, guest};
use super::config::{ProviderClassConfig, SandboxSpec};
use super::host::{HostState, Scope};
use super::policy::{EgressPolicy, Rule};
use super::sandbox::{Loaded, Sandbox, TICK};
use super::{CredentialRequest, CredentialResolver, SandboxError};
use crate::provider::{
    Capabilities, FindRef, ProviderClient, ProviderError, RemoteRef, SecretMap, SecretProvider,
    SecretValue, StoreContext, StoreInfo, StoreKind, Validation,
};

struct Binding {
    loaded: Arc<Loaded>,
    class: Option<ProviderClassConfig>,
}

/// A credential reference that can only be resolved for an ExternalSecret's namespace.
fn is_referent(ctx: &StoreContext, request: &CredentialRequest) -> bool {
    let named = request.source.namespace().is_some();
    ctx.kind == StoreKind::ClusterSecretStore && ctx.caller_namespace.is_none() && !named
}

/// Serves `spec.provider.<key>` from the component bound to that key.
pub struct WasmProvider {
    sandbox: Arc<Sandbox>,
    bindings: RwLock<HashMap<String, Binding>>,
    credentials: Arc<dyn CredentialResolver>,
}

impl WasmProvider {
    pub fn new(sandbox: Arc<Sandbox>, credentials: Arc<dyn CredentialResolver>) -> Self {
        WasmProvider {
            sandbox,
            bindings: RwLock::default(),
            credentials,
        }
    }

    /// Loads every first-party component embedded in the binary and binds each to the key it
    /// serves, under the built-in ceiling (no ProviderClass).
    pub async fn with_embedded(
        sandbox: Arc<Sandbox>,
        credentials: Arc<dyn CredentialResolver>,
    ) -> Result<Self, SandboxError> {
        let provider = WasmProvider::new(sandbox.clone(), credentials);
        for plugin in super::embedded::PLUGINS {
            let loaded = sandbox
                .load(
                    plugin.bytes.to_vec(),
                    Some(
                        super::cache::Digest::parse(plugin.digest)
                            .map_err(|e| SandboxError::Engine(e.to_string()))?,
                    ),
                )
                .await?;
            provider.bind(plugin.name, loaded, None);
        }
        Ok(provider)
    }

    pub fn sandbox(&self) -> &Arc<Sandbox> {
        &self.sandbox
    }

    /// Serves `key` with `loaded` under `class` (its ceiling and settings; `None` → built-in ceiling).
    pub fn bind(&self, key: &str, loaded: Arc<Loaded>, class: Option<ProviderClassConfig>) {
        if let Ok(mut map) = self.bindings.write() {
            map.insert(key.to_owned(), Binding { loaded, class });
        }
    }

    pub fn unbind(&self, key: &str) {
        if let Ok(mut map) = self.bindings.write() {
            map.remove(key);
        }
    }

    /// The digest serving `key`, if any.
    pub fn digest(&self, key: &str) -> Option<String> {
        self.bindings
            .read()
            .ok()?
            .get(key)
            .map(|b| b.loaded.digest.to_string())
    }

    fn lookup(
        &self,
        key: &str,
    ) -> Result<(Arc<Loaded>, Option<ProviderClassConfig>), ProviderError> {
        let map = self
            .bindings
            .read()
            .map_err(|_| ProviderError::Internal("provider table poisoned".into()))?;
        let b = map.get(key).ok_or_else(|| {
            ProviderError::InvalidConfig(format!(
                "no plugin serves spec.provider.{key}: create a ProviderClass for it"
            ))
        })?;
        Ok((b.loaded.clone(), b.class.clone()))
    }

    async fn open_client(
        &self,
        ctx: &StoreContext,
    ) -> Result<(WasmClient, StoreInfo), ProviderError> {
        let (loaded, class) = self.lookup(&ctx.provider)?;
        let config = ctx.config.to_string();
        let settings = class
            .as_ref()
            .map(|c| &c.settings)
            .filter(|s| !s.is_null())
            .map_or_else(|| "{}".to_owned(), |s| s.to_string());
        let store_sandbox: Option<SandboxSpec> = ctx
            .sandbox
            .clone()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| ProviderError::InvalidConfig(format!("spec.sandbox: {e}")))?;
        let ceiling = class.as_ref().map(|c| &c.sandbox);
        let start_policy = EgressPolicy::new(Vec::new(), ceiling, store_sandbox.as_ref())
            .map_err(|e| ProviderError::InvalidConfig(e.to_string()))?;
        let timeout = start_policy.limits.timeout;
        let scope = Arc::new(Scope {
            store: format!(
                "{}/{}/{}",
                ctx.kind.as_str(),
                ctx.store_namespace.as_deref().unwrap_or("-"),
                ctx.name
            ),
            provider: ctx.provider.clone(),
            digest: loaded.digest.to_string(),
            cache_key: format!(
                "{}/{}/{}@{}#{}",
                ctx.kind.as_str(),
                ctx.store_namespace.as_deref().unwrap_or(""),
                ctx.name,
                ctx.generation,
                loaded.digest
            ),
        });
        let mut store = self
            .sandbox
            .store(Arc::new(start_policy), scope, BTreeMap::new());
        let mut runner = Runner {
            store: &mut store,
            timeout,
            metrics: &self.sandbox.metrics,
        };
        let pre = loaded.pre.clone();
        let instance = runner
            .run(|s| Box::pin(async move { pre.instantiate_async(s).await }))
            .await?;
        let g = instance.ampoule_provider_provider().clone();
        let (g1, g2, g3, g4) = (g.clone(), g.clone(), g.clone(), g);
        let (c1, c2, c3) = (config.clone(), config.clone(), config.clone());
        runner
            .run(|s| Box::pin(async move { g1.call_validate_config(s, &c1).await }))
            .await?
            .map_err(from_wit)?;
        let requested = runner
            .run(|s| Box::pin(async move { g2.call_requested_egress(s, &c2, &settings).await }))
            .await?
            .map_err(from_wit)?;
        runner.store.data_mut().config_map_requests = Some(Vec::new());
        let wanted = runner
            .run(|s| Box::pin(async move { g3.call_requested_credentials(s, &c3).await }))
            .await?
            .map_err(from_wit)?;
        let config_maps = runner
            .store
            .data_mut()
            .config_map_requests
            .take()
            .unwrap_or_default();

        let rules = requested.iter().map(rule_from_wit).collect();
        let policy = EgressPolicy::new(rules, ceiling, store_sandbox.as_ref())
            .map_err(|e| ProviderError::InvalidConfig(e.to_string()))?;
        let granted = policy.granted();
        let memory = policy.limits.memory_bytes;
        let mut creds = BTreeMap::new();
        let requests = wanted.into_iter().map(CredentialRequest::from);
        for request in requests.chain(config_maps) {
            if is_referent(ctx, &request) {
                // ESO's referent authentication: a ClusterSecretStore reference without a
                // namespace resolves in each ExternalSecret's namespace; while the store itself
                // is validated there is none, so the plugin gets no value (and reports unknown).
                continue;
            }
            let value = self.credentials.resolve(ctx, &request).await?;
            creds.insert(request.name, value);
        }
        {
            let state = runner.store.data_mut();
            state.hooks.policy = Arc::new(policy);
            state.limiter.cap = state.limiter.cap.min(memory as usize);
            state.credentials = creds;
        }
        let wit_ctx = wit::StoreContext {
            kind: match ctx.kind {
                StoreKind::SecretStore => wit::StoreKind::SecretStore,
                StoreKind::ClusterSecretStore => wit::StoreKind::ClusterSecretStore,
            },
            name: ctx.name.clone(),
            store_namespace: ctx.store_namespace.clone(),
            caller_namespace: ctx.caller_namespace.clone(),
            settings: class
                .as_ref()
                .map(|c| &c.settings)
                .filter(|s| !s.is_null())
                .map_or_else(|| "{}".to_owned(), |s| s.to_string()),
        };
        let client = runner
            .run(|s| Box::pin(async move { g4.client().call_open(s, &config, &wit_ctx).await }))
            .await?
            .map_err(from_wit)?;
        let info = StoreInfo {
            capabilities: Some(match (loaded.info.read, loaded.info.write) {
                (true, true) => Capabilities::ReadWrite,
                (false, true) => Capabilities::WriteOnly,
                _ => Capabilities::ReadOnly,
            }),
            digest: Some(loaded.digest.to_string()),
            granted_egress: granted,
        };
        let inner = Inner {
            store,
            instance,
            client,
            dead: None,
        };
        Ok((
            WasmClient {
                inner: tokio::sync::Mutex::new(inner),
                timeout,
                metrics: self.sandbox.metrics.clone(),
            },
            info,
        ))
    }
}

fn rule_from_wit(r: &wit::EgressRule) -> Rule {
    Rule::from_allow(&super::config::AllowRule {
        host: r.host.clone(),
        schemes: r.schemes.clone(),
        ports: r.ports.clone(),
        methods: r.methods.clone(),
        path_prefixes: r.path_prefixes.clone(),
    })
}

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

/// Runs export calls with the deadline (epoch callback + outer tokio timeout) and turns traps
/// into clear errors.
/// Runs guest calls under the store's deadline and maps traps to [`SandboxError`]s.
pub(crate) struct Runner<'a> {
    pub(crate) store: &'a mut Store<HostState>,
    pub(crate) timeout: Duration,
    pub(crate) metrics: &'a super::metrics::SandboxMetrics,
}

type CallFuture<'s, R> = BoxFuture<'s, wasmtime::Result<R>>;

impl Runner<'_> {
    pub(crate) async fn run<R>(
        &mut self,
        f: impl for<'s> FnOnce(&'s mut Store<HostState>) -> CallFuture<'s, R>,
    ) -> Result<R, SandboxError> {
        use super::metrics::SandboxMetrics as M;
        M::inc(&self.metrics.calls);
        let state = self.store.data_mut();
        state.deadline = Instant::now() + self.timeout;
        state.deadline_hit = false;
        let outcome = tokio::time::timeout(self.timeout + TICK * 2, f(&mut *self.store)).await;
        self.store.data_mut().flush_stdio();
        let state = self.store.data();
        let err = match outcome {
            Ok(Ok(value)) => return Ok(value),
            Err(_) => SandboxError::Deadline(self.timeout),
            Ok(Err(_)) if state.limiter.hit => SandboxError::MemoryLimit(state.limiter.cap as u64),
            Ok(Err(_)) if state.deadline_hit => SandboxError::Deadline(self.timeout),
            Ok(Err(e)) => SandboxError::Trap(format!("{e:#}")),
        };
        M::inc(&self.metrics.call_errors);
        M::inc(match err {
            SandboxError::Deadline(_) => &self.metrics.deadline_exceeded,
            SandboxError::MemoryLimit(_) => &self.metrics.memory_limit,
            _ => &self.metrics.traps,
        });
        tracing::warn!(store = %state.scope.store, digest = %state.scope.digest, "plugin call failed: {err}");
        Err(err)
    }
}

struct Inner {
    store: Store<HostState>,
    instance: SecretProviderCore,
    client: ResourceAny,
    /// Set after a trap: the instance is poisoned and the client must be reopened.
    dead: Option<String>,
}

/// One opened client: a Store, an instance and the guest's `client` resource.
pub struct WasmClient {
    inner: tokio::sync::Mutex<Inner>,
    timeout: Duration,
    metrics: Arc<super::metrics::SandboxMetrics>,
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
        let req = wit_ref(r);
        Box::pin(async move {
            self.call(move |s, g, c| {
                Box::pin(async move { g.client().call_get_secret(s, c, &req).await })
            })
            .await
            .map(SecretValue::new)
        })
    }

    fn get_secret_map<'a>(
        &'a self,
        r: &'a RemoteRef,
    ) -> BoxFuture<'a, Result<SecretMap, ProviderError>> {
        let req = wit_ref(r);
        Box::pin(async move {
            self.call(move |s, g, c| {
                Box::pin(async move { g.client().call_get_secret_map(s, c, &req).await })
            })
            .await
            .map(to_map)
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
        Box::pin(async move {
            self.call(move |s, g, c| {
                Box::pin(async move { g.client().call_get_all_secrets(s, c, &query).await })
            })
            .await
            .map(to_map)
        })
    }
}

impl SecretProvider for WasmProvider {
    fn open<'a>(
        &'a self,
        store: &'a StoreContext,
    ) -> BoxFuture<'a, Result<(Box<dyn ProviderClient>, StoreInfo), ProviderError>> {
        Box::pin(async move {
            let started = std::time::Instant::now();
            let (client, info) = self.open_client(store).await?;
            let label = crate::metrics::ProviderLabel {
                provider: store.provider.clone(),
            };
            crate::metrics::global()
                .plugin_open
                .get_or_create(&label)
                .observe(started.elapsed().as_secs_f64());
            Ok((Box::new(client) as Box<dyn ProviderClient>, info))
        })
    }
}
