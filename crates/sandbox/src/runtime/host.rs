//! Per-store state (`Store<HostState>`) and the host side of the `ampoule:host` imports.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::bindings::ampoule::host::{cache, credentials, log, tls};
use super::bindings::ampoule::provider::types;
use super::kv::KvCache;
use crate::egress::http::EgressHooks;
use crate::identity::Identity;
use crate::provider::SecretValue;
use crate::seam::credentials::{ControllerIdentity, CredentialRequest, CredentialSource};

/// Captured stdout/stderr per store, and log bytes per store.
pub const STDIO_CAP: usize = 64 * 1024;
pub const LOG_BUDGET: usize = 64 * 1024;
const LOG_LINE_MAX: usize = 2048;
/// ConfigMap keys and controller-identity requests one `requested-credentials` call may add.
const ADDED_REQUESTS_MAX: usize = 16;

/// Caps linear memory and remembers that the cap was hit, so the error says so.
pub struct MemoryLimiter {
    pub cap: usize,
    pub hit: bool,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            self.hit = true;
            return Err(wasmtime::Error::msg(format!(
                "memory limit of {} bytes exceeded",
                self.cap
            )));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

pub struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) http: WasiHttpCtx,
    pub(crate) hooks: EgressHooks,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) scope: Arc<Identity>,
    pub(crate) credentials: BTreeMap<String, SecretValue>,
    /// `Some` only while the host runs `requested-credentials`: the ConfigMap keys and the
    /// controller identity the plugin adds with `credentials.request-config-map` and
    /// `credentials.request-controller-identity`.
    pub(crate) added_requests: Option<Vec<CredentialRequest>>,
    pub(crate) kv: Arc<KvCache>,
    pub(crate) log_budget: usize,
    pub(crate) stdout: MemoryOutputPipe,
    pub(crate) stderr: MemoryOutputPipe,
    pub(crate) stdio_seen: (usize, usize),
    /// Wall-clock deadline of the current export call.
    pub(crate) deadline: Instant,
    pub(crate) deadline_hit: bool,
}

impl HostState {
    pub(crate) fn new(
        hooks: EgressHooks,
        memory_cap: usize,
        scope: Arc<Identity>,
        credentials: BTreeMap<String, SecretValue>,
        kv: Arc<KvCache>,
    ) -> Self {
        let stdout = MemoryOutputPipe::new(STDIO_CAP);
        let stderr = MemoryOutputPipe::new(STDIO_CAP);
        // Deny by default: no preopens, no env, no args, no sockets, no name lookup.
        // `wasi:random/random` reads the OS CSPRNG (generators make secrets from it).
        let wasi = WasiCtx::builder()
            .secure_random(super::random::OsRandom::new())
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }))
            .build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            hooks,
            limiter: MemoryLimiter {
                cap: memory_cap,
                hit: false,
            },
            scope,
            credentials,
            added_requests: None,
            kv,
            log_budget: LOG_BUDGET,
            stdout,
            stderr,
            stdio_seen: (0, 0),
            deadline: Instant::now() + Duration::from_secs(3600),
            deadline_hit: false,
        }
    }

    /// Sends what the guest printed since the last call to the operator's log.
    pub(crate) fn flush_stdio(&mut self) {
        let scope = &self.scope;
        for (pipe, seen, stream) in [
            (&self.stdout, &mut self.stdio_seen.0, "stdout"),
            (&self.stderr, &mut self.stdio_seen.1, "stderr"),
        ] {
            let bytes = pipe.contents();
            if bytes.len() > *seen {
                let text = String::from_utf8_lossy(&bytes[*seen..]);
                for line in text.lines().filter(|l| !l.is_empty()) {
                    tracing::info!(store = %scope.store, digest = %scope.digest, stream, "plugin: {}", truncate(line));
                }
                *seen = bytes.len();
            }
        }
    }
}

fn truncate(text: &str) -> &str {
    if text.len() <= LOG_LINE_MAX {
        return text;
    }
    let mut end = LOG_LINE_MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, message: String) {
        if self.log_budget == 0 {
            return;
        }
        let message = truncate(&message);
        self.log_budget = self.log_budget.saturating_sub(message.len());
        let (store, digest) = (&self.scope.store, &self.scope.digest);
        match level {
            log::Level::Trace => tracing::trace!(%store, %digest, "plugin: {message}"),
            log::Level::Debug => tracing::debug!(%store, %digest, "plugin: {message}"),
            log::Level::Info => tracing::info!(%store, %digest, "plugin: {message}"),
            log::Level::Warn => tracing::warn!(%store, %digest, "plugin: {message}"),
            log::Level::Error => tracing::error!(%store, %digest, "plugin: {message}"),
        }
    }
}

impl credentials::Host for HostState {
    fn get(&mut self, name: String) -> Result<Vec<u8>, String> {
        self.credentials
            .get(&name)
            .map(|v| v.expose().clone())
            .ok_or_else(|| {
                format!(
                    "credential {name:?} was not requested by requested-credentials for this config"
                )
            })
    }

    fn request_config_map(
        &mut self,
        name: String,
        source: credentials::ConfigMapKeyRef,
    ) -> Result<(), String> {
        if source.name.is_empty() || source.key.is_empty() {
            return Err("a ConfigMap reference needs a name and a key".to_owned());
        }
        let source = CredentialSource::ConfigMapKey {
            name: source.name,
            key: source.key,
            namespace: source.namespace,
        };
        self.add_request("request-config-map", name, source)
    }

    fn request_controller_identity(
        &mut self,
        name: String,
        source: credentials::ControllerIdentity,
    ) -> Result<(), String> {
        use credentials::ControllerIdentity as Wit;
        let identity = match source {
            Wit::Token(audiences) => ControllerIdentity::Token { audiences },
            Wit::AnnotatedToken(t) => ControllerIdentity::AnnotatedToken {
                audience_annotation: t.audience_annotation,
                default_audience: t.default_audience,
                audiences: t.audiences,
            },
            Wit::Annotation(key) => ControllerIdentity::Annotation { key },
            Wit::Environment(name) => ControllerIdentity::Environment { name },
        };
        self.add_request(
            "request-controller-identity",
            name,
            CredentialSource::Controller(identity),
        )
    }
}

impl HostState {
    /// One request added during `requested-credentials`, within [`ADDED_REQUESTS_MAX`].
    fn add_request(
        &mut self,
        call: &str,
        name: String,
        source: CredentialSource,
    ) -> Result<(), String> {
        let Some(requests) = self.added_requests.as_mut() else {
            return Err(format!(
                "{call} may only be called from requested-credentials"
            ));
        };
        if requests.len() >= ADDED_REQUESTS_MAX {
            return Err(format!(
                "at most {ADDED_REQUESTS_MAX} ConfigMap keys and controller-identity requests per config"
            ));
        }
        requests.push(CredentialRequest { name, source });
        Ok(())
    }
}

impl tls::Host for HostState {
    fn set_trust(&mut self, ca_pem: Vec<u8>) -> Result<(), String> {
        self.hooks.tls.set_trust(&ca_pem)
    }

    fn set_client_identity(&mut self, cert_pem: Vec<u8>, key_pem: Vec<u8>) -> Result<(), String> {
        let key = SecretValue::new(key_pem);
        self.hooks.tls.set_identity(&cert_pem, key.expose())
    }
}

impl cache::Host for HostState {
    fn get(&mut self, key: String) -> Option<Vec<u8>> {
        self.kv.get(&self.scope.cache_key, &key)
    }

    fn set(&mut self, key: String, value: Vec<u8>, ttl_seconds: u32) -> Result<(), String> {
        self.kv.set(
            &self.scope.cache_key,
            &key,
            value,
            Duration::from_secs(ttl_seconds.into()),
        )
    }

    fn delete(&mut self, key: String) {
        self.kv.delete(&self.scope.cache_key, &key)
    }
}

impl types::Host for HostState {}

impl super::bindings::transformer::wit::Host for HostState {}
