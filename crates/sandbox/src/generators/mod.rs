//! [`WasmGenerator`]: the controller's [`SecretGenerator`] backed by sandboxed generator
//! components (world `ampoule:provider/secret-generator`, wit/generator.wit).
//!
//! A generation runs like a provider's store open (providers/mod.rs): a fresh Store and instance
//! under the [`Sandbox`]'s memory cap and deadline, `validate-spec`, `requested-egress` and
//! `requested-credentials` answered once per (digest, kind, spec, settings), the egress the
//! component requests narrowed by the bound ceiling (nothing requested → nothing leaves), the
//! credentials resolved by the controller's [`CredentialResolver`] and handed over through
//! `ampoule:host/credentials`, then one `generate` or `cleanup` call.

mod bindings;
mod load;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use futures::future::BoxFuture;

use crate::config::ProviderClassConfig;
use crate::egress::policy::{EgressPolicy, Rule};
use crate::identity::Identity;
use crate::provider::{ProviderError, SecretValue};
use crate::providers::{from_wit, rule_from_wit};
use crate::runtime::Sandbox;
use crate::runtime::runner::Runner;
use crate::seam::credentials::{CredentialRequest, CredentialResolver, check_controller_identity};
use crate::seam::generator::{Generated, GeneratorRequest, GeneratorState, SecretGenerator};
use crate::{Digest, SandboxError};

use bindings::guest;
pub use load::LoadedGenerator;

struct Binding {
    loaded: Arc<LoadedGenerator>,
    class: Option<Arc<ProviderClassConfig>>,
    /// The class's `settings` as JSON (`{}` without a class or settings).
    settings: Arc<str>,
}

/// The answers of the three calls the WIT declares free of I/O, kept per key.
struct Prepared {
    egress: Vec<Rule>,
    credentials: Vec<CredentialRequest>,
}

/// (digest, kind, spec, settings).
type PreparedKey = (Digest, String, String, Arc<str>);

/// Kept answers at most; past it the map starts over.
const PREPARED_MAX: usize = 4096;

/// Serves generator kinds from the components bound to them.
pub struct WasmGenerator {
    sandbox: Arc<Sandbox>,
    bindings: RwLock<HashMap<String, Binding>>,
    credentials: Arc<dyn CredentialResolver>,
    prepared: Mutex<HashMap<PreparedKey, Arc<Prepared>>>,
}

/// One instance ready for `generate` or `cleanup`.
struct Session {
    store: wasmtime::Store<crate::runtime::host::HostState>,
    guest: guest::Guest,
    timeout: std::time::Duration,
    granted: Vec<String>,
    digest: String,
    settings: Arc<str>,
}

impl WasmGenerator {
    pub fn new(sandbox: Arc<Sandbox>, credentials: Arc<dyn CredentialResolver>) -> Self {
        WasmGenerator {
            sandbox,
            bindings: RwLock::default(),
            credentials,
            prepared: Mutex::default(),
        }
    }

    /// Loads every first-party generator component embedded in the binary and binds each kind
    /// it serves under the built-in ceiling (no class: only the hosts the component requests
    /// for a spec, public addresses only).
    pub async fn with_embedded(
        sandbox: Arc<Sandbox>,
        credentials: Arc<dyn CredentialResolver>,
    ) -> Result<Self, SandboxError> {
        let generator = WasmGenerator::new(sandbox, credentials);
        for component in crate::distribution::embedded::GENERATORS {
            let digest =
                Digest::parse(component.digest).map_err(|e| SandboxError::Engine(e.to_string()))?;
            let loaded = generator
                .load(component.bytes.to_vec(), Some(digest))
                .await?;
            for kind in loaded.kinds.clone() {
                generator.bind(&kind, loaded.clone(), None);
            }
        }
        Ok(generator)
    }

    /// Compiles (once per digest, off the async threads), checks imports and exports, and asks
    /// the component which kinds it serves.
    pub async fn load(
        &self,
        bytes: Vec<u8>,
        expected: Option<Digest>,
    ) -> Result<Arc<LoadedGenerator>, SandboxError> {
        load::load(&self.sandbox, bytes, expected)
            .await
            .map(Arc::new)
    }

    /// Serves `kind` with `loaded` under `class` (its egress ceiling, limits and settings;
    /// `None` → the built-in ceiling).
    pub fn bind(
        &self,
        kind: &str,
        loaded: Arc<LoadedGenerator>,
        class: Option<ProviderClassConfig>,
    ) {
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
            map.insert(kind.to_owned(), binding);
        }
    }

    pub fn unbind(&self, kind: &str) {
        if let Ok(mut map) = self.bindings.write() {
            map.remove(kind);
        }
    }

    /// The kinds bound now, sorted.
    pub fn kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self
            .bindings
            .read()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        kinds.sort();
        kinds
    }

    #[allow(clippy::type_complexity)]
    fn lookup(
        &self,
        kind: &str,
    ) -> Result<
        (
            Arc<LoadedGenerator>,
            Option<Arc<ProviderClassConfig>>,
            Arc<str>,
        ),
        ProviderError,
    > {
        let map = self
            .bindings
            .read()
            .map_err(|_| ProviderError::Internal("generator table poisoned".into()))?;
        let b = map.get(kind).ok_or_else(|| {
            ProviderError::InvalidConfig(format!("no generator component serves kind {kind}"))
        })?;
        Ok((b.loaded.clone(), b.class.clone(), b.settings.clone()))
    }

    /// A fresh instance of the kind's component with the egress and credentials `request`'s
    /// spec needs.
    async fn open(&self, request: &GeneratorRequest) -> Result<Session, ProviderError> {
        let (loaded, class, settings) = self.lookup(&request.kind)?;
        let spec = request.spec.to_string();
        let ceiling = class.as_ref().map(|c| &c.sandbox);
        let start_policy = EgressPolicy::new(Vec::new(), ceiling, None)
            .map_err(|e| ProviderError::InvalidConfig(e.to_string()))?;
        let timeout = start_policy.limits.timeout;
        let mut store = self.sandbox.store(
            Arc::new(start_policy),
            identity(request, &loaded),
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
        let guest = instance.ampoule_provider_generator().clone();
        let key = (
            loaded.digest.clone(),
            request.kind.clone(),
            spec.clone(),
            settings.clone(),
        );
        let prepared = match self.prepared_answer(&key) {
            Some(p) => p,
            None => {
                let p =
                    Arc::new(prepare(&mut runner, &guest, &request.kind, &spec, &settings).await?);
                self.keep_prepared(key, p.clone());
                p
            }
        };
        let policy = EgressPolicy::new(prepared.egress.clone(), ceiling, None)
            .map_err(|e| ProviderError::InvalidConfig(e.to_string()))?;
        let granted = policy.granted();
        let memory = policy.limits.memory_bytes;
        let allowed = class
            .as_ref()
            .is_some_and(|c| c.credentials.allow_controller_identity);
        check_controller_identity(&prepared.credentials, allowed, &request.kind)?;
        let creds = self
            .resolve_credentials(request, &prepared.credentials)
            .await?;
        {
            let state = store.data_mut();
            state.hooks.policy = Arc::new(policy);
            state.limiter.cap = state.limiter.cap.min(memory as usize);
            state.credentials = creds;
        }
        Ok(Session {
            store,
            guest,
            timeout,
            granted,
            digest: loaded.digest.to_string(),
            settings,
        })
    }

    async fn resolve_credentials(
        &self,
        request: &GeneratorRequest,
        wanted: &[CredentialRequest],
    ) -> Result<BTreeMap<String, SecretValue>, ProviderError> {
        let mut creds = BTreeMap::new();
        if wanted.is_empty() {
            return Ok(creds);
        }
        let ctx = request.credential_context();
        for want in wanted {
            let value = self.credentials.resolve(&ctx, want).await?;
            creds.insert(want.name.clone(), value);
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

    async fn generate_now(&self, request: &GeneratorRequest) -> Result<Generated, ProviderError> {
        let mut session = self.open(request).await?;
        let ctx = wit_context(request, &session.settings);
        let (guest, kind, spec) = (
            session.guest.clone(),
            request.kind.clone(),
            request.spec.to_string(),
        );
        let mut runner = Runner {
            store: &mut session.store,
            timeout: session.timeout,
            metrics: &self.sandbox.metrics,
        };
        let out = runner
            .run(|s| Box::pin(async move { guest.call_generate(s, &kind, &spec, &ctx).await }))
            .await?
            .map_err(from_wit)?;
        let mut data = BTreeMap::new();
        for (key, value) in out.data {
            if data.insert(key.clone(), SecretValue::new(value)).is_some() {
                return Err(ProviderError::Internal(format!(
                    "generator returned key {key:?} twice"
                )));
            }
        }
        Ok(Generated {
            data,
            state: out.state.map(GeneratorState::new),
            digest: session.digest,
            granted_egress: session.granted,
        })
    }

    async fn cleanup_now(
        &self,
        request: &GeneratorRequest,
        state: &GeneratorState,
    ) -> Result<(), ProviderError> {
        let mut session = self.open(request).await?;
        let ctx = wit_context(request, &session.settings);
        let (guest, kind, spec, state) = (
            session.guest.clone(),
            request.kind.clone(),
            request.spec.to_string(),
            state.expose().clone(),
        );
        let mut runner = Runner {
            store: &mut session.store,
            timeout: session.timeout,
            metrics: &self.sandbox.metrics,
        };
        runner
            .run(|s| {
                Box::pin(async move { guest.call_cleanup(s, &kind, &spec, &state, &ctx).await })
            })
            .await?
            .map_err(from_wit)
    }
}

/// Asks a fresh instance what the spec is worth: `validate-spec`, then the egress and the
/// credentials it needs (with the ConfigMap keys added through `request-config-map`). Errors
/// are never kept.
async fn prepare(
    runner: &mut Runner<'_>,
    guest: &guest::Guest,
    kind: &str,
    spec: &str,
    settings: &str,
) -> Result<Prepared, ProviderError> {
    let (g1, g2, g3) = (guest.clone(), guest.clone(), guest.clone());
    let (k1, k2, k3) = (kind.to_owned(), kind.to_owned(), kind.to_owned());
    let (s1, s2, s3) = (spec.to_owned(), spec.to_owned(), spec.to_owned());
    let settings = settings.to_owned();
    runner
        .run(|s| Box::pin(async move { g1.call_validate_spec(s, &k1, &s1).await }))
        .await?
        .map_err(from_wit)?;
    let requested = runner
        .run(|s| Box::pin(async move { g2.call_requested_egress(s, &k2, &s2, &settings).await }))
        .await?
        .map_err(from_wit)?;
    runner.store.data_mut().added_requests = Some(Vec::new());
    let wanted = runner
        .run(|s| Box::pin(async move { g3.call_requested_credentials(s, &k3, &s3).await }))
        .await;
    let config_maps = runner
        .store
        .data_mut()
        .added_requests
        .take()
        .unwrap_or_default();
    let wanted = wanted?.map_err(from_wit)?;
    Ok(Prepared {
        egress: requested.iter().map(rule_from_wit).collect(),
        credentials: wanted
            .into_iter()
            .map(CredentialRequest::from)
            .chain(config_maps)
            .collect(),
    })
}

/// Who the instance runs for: logs name the generator, the cache is scoped to its generation
/// and the digest.
fn identity(request: &GeneratorRequest, loaded: &LoadedGenerator) -> Arc<Identity> {
    let who = format!("{}/{}/{}", request.kind, request.namespace, request.name);
    Arc::new(Identity {
        store: format!("generator/{who}"),
        provider: format!("generator:{}", request.kind),
        digest: loaded.digest.to_string(),
        cache_key: format!("generator/{who}@{}#{}", request.generation, loaded.digest),
    })
}

fn wit_context(request: &GeneratorRequest, settings: &str) -> guest::GeneratorContext {
    guest::GeneratorContext {
        namespace: request.namespace.clone(),
        settings: settings.to_owned(),
    }
}

impl SecretGenerator for WasmGenerator {
    fn serves(&self, kind: &str) -> bool {
        self.bindings
            .read()
            .map(|m| m.contains_key(kind))
            .unwrap_or(false)
    }

    fn generate<'a>(
        &'a self,
        request: &'a GeneratorRequest,
    ) -> BoxFuture<'a, Result<Generated, ProviderError>> {
        Box::pin(self.generate_now(request))
    }

    fn cleanup<'a>(
        &'a self,
        request: &'a GeneratorRequest,
        state: &'a GeneratorState,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(self.cleanup_now(request, state))
    }
}
