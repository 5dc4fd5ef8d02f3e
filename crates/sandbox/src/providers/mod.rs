//! [`WasmProvider`]: the controller's [`SecretProvider`] backed by sandboxed components.

mod client;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use futures::future::BoxFuture;

use crate::config::ProviderClassConfig;
use crate::egress::policy::{EgressPolicy, Rule};
use crate::identity::Identity;
use crate::provider::{
    Capabilities, ProviderClient, ProviderError, SecretProvider, StoreContext, StoreInfo, StoreKind,
};
use crate::runtime::bindings::ampoule::provider::types as wit;
use crate::runtime::{Loaded, Sandbox};
use crate::seam::credentials::{CredentialRequest, CredentialResolver, check_controller_identity};
use crate::{Digest, SandboxError};

use crate::runtime::runner::Runner;
use client::Inner;
pub use client::WasmClient;
pub(crate) use client::from_wit;

struct Binding {
    loaded: Arc<Loaded>,
    class: Option<Arc<ProviderClassConfig>>,
    /// The class's `settings` as the JSON the guest reads (`{}` without a class or settings).
    settings: Arc<str>,
}

/// What `validate-config`, `requested-egress` and `requested-credentials` answered for one
/// component, store config and class settings. The WIT declares the three free of I/O, so the
/// answer is kept and the calls run once per (digest, config, settings), not on every open.
struct Prepared {
    egress: Vec<Rule>,
    credentials: Vec<CredentialRequest>,
}

type PreparedKey = (Digest, String, Arc<str>);

/// Kept answers at most; past it the map starts over (each store config adds one entry, and a
/// changed config or digest makes a new key).
const PREPARED_MAX: usize = 4096;

/// A credential reference that can only be resolved for an ExternalSecret's namespace.
fn is_referent(ctx: &StoreContext, request: &CredentialRequest) -> bool {
    let named = request.source.namespace().is_some() || request.source.is_controller();
    ctx.kind == StoreKind::ClusterSecretStore && ctx.caller_namespace.is_none() && !named
}

/// Serves `spec.provider.<key>` from the component bound to that key.
pub struct WasmProvider {
    sandbox: Arc<Sandbox>,
    bindings: RwLock<HashMap<String, Binding>>,
    credentials: Arc<dyn CredentialResolver>,
    prepared: Mutex<HashMap<PreparedKey, Arc<Prepared>>>,
}

impl WasmProvider {
    pub fn new(sandbox: Arc<Sandbox>, credentials: Arc<dyn CredentialResolver>) -> Self {
        WasmProvider {
            sandbox,
            bindings: RwLock::default(),
            credentials,
            prepared: Mutex::default(),
        }
    }

    /// Loads every first-party component embedded in the binary and binds each to the key it
    /// serves, under the built-in ceiling (no ProviderClass).
    pub async fn with_embedded(
        sandbox: Arc<Sandbox>,
        credentials: Arc<dyn CredentialResolver>,
    ) -> Result<Self, SandboxError> {
        let provider = WasmProvider::new(sandbox.clone(), credentials);
        for plugin in crate::distribution::embedded::PLUGINS {
            let loaded = sandbox
                .load(
                    plugin.bytes.to_vec(),
                    Some(
                        crate::Digest::parse(plugin.digest)
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
        let settings = class
            .as_ref()
            .map(|c| &c.settings)
            .filter(|s| !s.is_null())
            .map_or_else(|| "{}".to_owned(), |s| s.to_string())
            .into();
        let binding = Binding {
            loaded,
            class: class.map(Arc::new),
            settings,
        };
        if let Ok(mut map) = self.bindings.write() {
            map.insert(key.to_owned(), binding);
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

    #[allow(clippy::type_complexity)]
    fn lookup(
        &self,
        key: &str,
    ) -> Result<(Arc<Loaded>, Option<Arc<ProviderClassConfig>>, Arc<str>), ProviderError> {
        let map = self
            .bindings
            .read()
            .map_err(|_| ProviderError::Internal("provider table poisoned".into()))?;
        let b = map.get(key).ok_or_else(|| {
            ProviderError::InvalidConfig(format!(
                "no plugin serves spec.provider.{key}: create a ProviderClass for it"
            ))
        })?;
        Ok((b.loaded.clone(), b.class.clone(), b.settings.clone()))
    }

    async fn open_client(
        &self,
        ctx: &StoreContext,
    ) -> Result<(WasmClient, StoreInfo), ProviderError> {
        let (loaded, class, settings) = self.lookup(&ctx.provider)?;
        let config = ctx.config.to_string();
        let ceiling = class.as_ref().map(|c| &c.sandbox);
        let start_policy = EgressPolicy::new(Vec::new(), ceiling, ctx.sandbox.as_deref())
            .map_err(|e| ProviderError::InvalidConfig(e.to_string()))?;
        let timeout = start_policy.limits.timeout;
        let mut store = self.sandbox.store(
            Arc::new(start_policy),
            identity(ctx, &loaded),
            BTreeMap::new(),
        );
        let mut runner = Runner {
            store: &mut store,
            timeout,
            metrics: &self.sandbox.metrics,
        };
        let pre = loaded.pre.clone();
        let instance = runner
            .run(|s| Box::pin(async move { pre.instantiate_async(s).await }))
            .await?;
        let guest = instance.ampoule_provider_provider().clone();
        let key = (loaded.digest.clone(), config.clone(), settings.clone());
        let prepared = match self.prepared_answer(&key) {
            Some(p) => p,
            None => {
                let p = Arc::new(prepare(&mut runner, &guest, &config, &settings).await?);
                self.keep_prepared(key, p.clone());
                p
            }
        };

        let policy = EgressPolicy::new(prepared.egress.clone(), ceiling, ctx.sandbox.as_deref())
            .map_err(|e| ProviderError::InvalidConfig(e.to_string()))?;
        let granted = policy.granted();
        let memory = policy.limits.memory_bytes;
        let allowed = class
            .as_ref()
            .is_some_and(|c| c.credentials.allow_controller_identity);
        check_controller_identity(&prepared.credentials, allowed, &ctx.provider)?;
        let creds = self.resolve_credentials(ctx, &prepared.credentials).await?;
        {
            let state = runner.store.data_mut();
            state.hooks.policy = Arc::new(policy);
            state.limiter.cap = state.limiter.cap.min(memory as usize);
            state.credentials = creds;
        }
        let wit_ctx = wit_context(ctx, &settings);
        let client = runner
            .run(|s| Box::pin(async move { guest.client().call_open(s, &config, &wit_ctx).await }))
            .await?
            .map_err(from_wit)?;
        let info = StoreInfo {
            capabilities: Some(capabilities(&loaded)),
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

impl WasmProvider {
    /// The values of the credentials the config asked for, resolved by the controller.
    async fn resolve_credentials(
        &self,
        ctx: &StoreContext,
        requests: &[CredentialRequest],
    ) -> Result<BTreeMap<String, crate::provider::SecretValue>, ProviderError> {
        let mut creds = BTreeMap::new();
        for request in requests {
            if is_referent(ctx, request) {
                // ESO's referent authentication: a ClusterSecretStore reference without a
                // namespace resolves in each ExternalSecret's namespace; while the store itself
                // is validated there is none, so the plugin gets no value (and reports unknown).
                continue;
            }
            let value = self.credentials.resolve(ctx, request).await?;
            creds.insert(request.name.clone(), value);
        }
        Ok(creds)
    }

    fn prepared_answer(&self, key: &PreparedKey) -> Option<Arc<Prepared>> {
        self.prepared.lock().ok()?.get(key).cloned()
    }

    fn keep_prepared(&self, key: PreparedKey, prepared: Arc<Prepared>) {
        if let Ok(mut map) = self.prepared.lock() {
            if map.len() >= PREPARED_MAX {
                map.clear();
            }
            map.insert(key, prepared);
        }
    }
}

/// Asks a fresh instance what the config is worth: `validate-config`, then the egress and the
/// credentials it needs (with the ConfigMap keys `requested-credentials` adds through
/// `ampoule:host/credentials.request-config-map`). Errors are never kept.
async fn prepare(
    runner: &mut Runner<'_>,
    guest: &crate::runtime::bindings::guest::Guest,
    config: &str,
    settings: &str,
) -> Result<Prepared, ProviderError> {
    let (g1, g2, g3) = (guest.clone(), guest.clone(), guest.clone());
    let (c1, c2, c3) = (config.to_owned(), config.to_owned(), config.to_owned());
    let settings = settings.to_owned();
    runner
        .run(|s| Box::pin(async move { g1.call_validate_config(s, &c1).await }))
        .await?
        .map_err(from_wit)?;
    let requested = runner
        .run(|s| Box::pin(async move { g2.call_requested_egress(s, &c2, &settings).await }))
        .await?
        .map_err(from_wit)?;
    runner.store.data_mut().added_requests = Some(Vec::new());
    let wanted = runner
        .run(|s| Box::pin(async move { g3.call_requested_credentials(s, &c3).await }))
        .await?
        .map_err(from_wit)?;
    let config_maps = runner
        .store
        .data_mut()
        .added_requests
        .take()
        .unwrap_or_default();
    Ok(Prepared {
        egress: requested.iter().map(rule_from_wit).collect(),
        credentials: wanted
            .into_iter()
            .map(CredentialRequest::from)
            .chain(config_maps)
            .collect(),
    })
}

/// Who the instance runs for: logs name the store, the cache is scoped to the store's
/// generation and the digest.
fn identity(ctx: &StoreContext, loaded: &Loaded) -> Arc<Identity> {
    let namespace = ctx.store_namespace.as_deref();
    Arc::new(Identity {
        store: format!(
            "{}/{}/{}",
            ctx.kind.as_str(),
            namespace.unwrap_or("-"),
            ctx.name
        ),
        provider: ctx.provider.clone(),
        digest: loaded.digest.to_string(),
        cache_key: format!(
            "{}/{}/{}@{}#{}",
            ctx.kind.as_str(),
            namespace.unwrap_or(""),
            ctx.name,
            ctx.generation,
            loaded.digest
        ),
    })
}

/// The store as the guest's `client.open` sees it.
fn wit_context(ctx: &StoreContext, settings: &str) -> wit::StoreContext {
    wit::StoreContext {
        kind: match ctx.kind {
            StoreKind::SecretStore => wit::StoreKind::SecretStore,
            StoreKind::ClusterSecretStore => wit::StoreKind::ClusterSecretStore,
        },
        name: ctx.name.clone(),
        store_namespace: ctx.store_namespace.clone(),
        caller_namespace: ctx.caller_namespace.clone(),
        settings: settings.to_owned(),
    }
}

fn capabilities(loaded: &Loaded) -> Capabilities {
    match (loaded.info.read, loaded.info.write) {
        (true, true) => Capabilities::ReadWrite,
        (false, true) => Capabilities::WriteOnly,
        _ => Capabilities::ReadOnly,
    }
}

pub(crate) fn rule_from_wit(r: &wit::EgressRule) -> Rule {
    Rule::from_allow(&crate::config::AllowRule {
        host: r.host.clone(),
        schemes: r.schemes.clone(),
        ports: r.ports.clone(),
        methods: r.methods.clone(),
        path_prefixes: r.path_prefixes.clone(),
    })
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
            self.sandbox
                .metrics
                .open
                .get_or_create(&label)
                .observe(started.elapsed().as_secs_f64());
            Ok((Box::new(client) as Box<dyn ProviderClient>, info))
        })
    }
}
