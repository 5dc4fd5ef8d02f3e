//! `ampoule plugin test COMPONENT --store store.yaml [--case cases.yaml] [--repeat N]`: the
//! component loaded in the real sandbox, bound to the store's provider key with a ProviderClass
//! ceiling that grants loopback to the backend's port only, the store's `spec.sandbox` on top
//! (the policy the operator would give it), credentials resolved with ESO's namespace rules
//! from the case file's Secrets, and every case checked against its expectation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde_json::json;

mod expect;

use super::backend::{self, Backend};
use super::cases::{self, Call, Case, CaseFile, Store};
use crate::controller::credentials::namespace_for;
use crate::plugin::{
    CredentialRequest, CredentialResolver, CredentialSource, Loaded, ProviderClassConfig, Sandbox,
    SandboxConfig, WasmProvider,
};
use crate::provider::{ProviderClient, ProviderError, SecretProvider, SecretValue, StoreContext};
use crate::redact::Redacted;
pub use expect::kind;
use expect::{Outcome, check};

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error(transparent)]
    Cases(#[from] cases::CasesError),
    #[error("read component {path}: {source}")]
    ReadComponent {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("load component {path}: {source}")]
    Load {
        path: PathBuf,
        source: crate::plugin::SandboxError,
    },
    #[error("start the backend: {0}")]
    Backend(String),
    #[error("sandbox: {0}")]
    Sandbox(String),
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub component: PathBuf,
    pub store: PathBuf,
    /// Default: `cases.yaml` next to the store file.
    pub cases: Option<PathBuf>,
    /// Runs of each case (timings are their p50).
    pub repeat: usize,
    /// The sandbox's compiled-code cache.
    pub cache_dir: Option<PathBuf>,
}

/// The outcome of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub name: String,
    /// `None`: passed; else why not.
    pub failure: Option<String>,
    /// p50 of the case's runs (open + call).
    pub p50: Duration,
    /// Whether the case is a `get` of a value (its runs count for the open + get figure).
    pub is_get: bool,
}

/// Every case's outcome, and what the run measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub provider: String,
    pub digest: String,
    pub size: usize,
    pub load: Duration,
    pub results: Vec<CaseResult>,
    /// p50 of open + get-secret over every run of every `get` case that expects a value.
    pub open_get_p50: Option<Duration>,
    pub runs: usize,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.failure.is_none())
    }

    /// The lines `ampoule plugin test` prints.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "component {} ({} bytes) serving {:?}, loaded in {:.1} ms",
            self.digest,
            self.size,
            self.provider,
            ms(self.load)
        )];
        for r in &self.results {
            let time = format!("{:.2} ms", ms(r.p50));
            out.push(match &r.failure {
                None => format!("ok   {} ({time})", r.name),
                Some(why) => format!("FAIL {}: {why} ({time})", r.name),
            });
        }
        let failed = self.results.iter().filter(|r| r.failure.is_some()).count();
        out.push(format!(
            "{} passed, {failed} failed",
            self.results.len() - failed
        ));
        if let Some(p50) = self.open_get_p50 {
            out.push(format!(
                "open + get p50 {:.2} ms over {} runs",
                ms(p50),
                self.runs
            ));
        }
        out
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Resolves Secret keys from the case file's `secrets` (`namespace/name` → data), in the
/// namespace ESO's rules pick; anything else needs a cluster.
#[derive(Default)]
struct MapCredentials {
    secrets: Mutex<BTreeMap<String, BTreeMap<String, String>>>,
}

impl CredentialResolver for MapCredentials {
    fn resolve<'a>(
        &'a self,
        store: &'a StoreContext,
        request: &'a CredentialRequest,
    ) -> BoxFuture<'a, Result<SecretValue, ProviderError>> {
        Box::pin(async move {
            let CredentialSource::SecretKey { name, key, .. } = &request.source else {
                return Err(ProviderError::InvalidConfig(format!(
                    "credential {:?}: `ampoule plugin test` resolves Secret keys only; test \
                     ServiceAccount tokens, annotations and ConfigMaps against a cluster",
                    request.name
                )));
            };
            let ns = namespace_for(store, request.source.namespace())?;
            let what = format!("secret \"{ns}/{name}\"");
            let secrets = self
                .secrets
                .lock()
                .map_err(|_| ProviderError::Internal("credentials lock".into()))?;
            let data = secrets.get(&format!("{ns}/{name}")).ok_or_else(|| {
                ProviderError::InvalidConfig(format!(
                    "{what} not found (add it under `secrets:` in the case file)"
                ))
            })?;
            let value = data.get(key).ok_or_else(|| {
                ProviderError::InvalidConfig(format!("{what} has no key \"{key}\""))
            })?;
            Ok(Redacted::new(value.clone().into_bytes()))
        })
    }
}

struct Runner {
    provider: WasmProvider,
    loaded: Arc<Loaded>,
    creds: Arc<MapCredentials>,
    store: Store,
    file: CaseFile,
}

impl Runner {
    fn context(&self, case: &Case) -> StoreContext {
        let s = &self.store;
        StoreContext {
            kind: s.kind,
            name: s.name.clone(),
            store_namespace: s.namespace.clone(),
            caller_namespace: Some(s.namespace.clone().unwrap_or_else(|| "default".into())),
            generation: 1,
            provider: s.provider.clone(),
            config: case.config.clone().unwrap_or_else(|| s.config.clone()),
            sandbox: s.sandbox.clone().map(Arc::new),
        }
    }

    async fn once(&self, case: &Case) -> Outcome {
        if let Call::Describe(_) = case.call {
            return Outcome::Described(self.loaded.info.name.clone());
        }
        let secrets = case
            .secrets
            .clone()
            .unwrap_or_else(|| self.file.secrets.clone());
        if let Ok(mut current) = self.creds.secrets.lock() {
            *current = secrets;
        }
        let ctx = self.context(case);
        let client: Box<dyn ProviderClient> = match self.provider.open(&ctx).await {
            Ok((client, _)) => client,
            Err(e) => return Outcome::Failed(e),
        };
        let result = match &case.call {
            Call::Describe(_) | Call::ValidateConfig(_) => Ok(Outcome::Opened),
            Call::Validate(_) => client.validate().await.map(Outcome::Validated),
            Call::Get(r) => client.get_secret(&r.to_ref()).await.map(Outcome::Value),
            Call::GetMap(r) => client.get_secret_map(&r.to_ref()).await.map(Outcome::Map),
            Call::Find(f) => client.get_all_secrets(&f.to_ref()).await.map(Outcome::Map),
        };
        result.unwrap_or_else(Outcome::Failed)
    }
}

/// The ceiling a ProviderClass for `provider` would set: loopback to `port` only (none: no egress).
fn class_for(provider: &str, port: Option<u16>) -> Result<ProviderClassConfig, HarnessError> {
    let egress = match port {
        Some(p) => {
            json!({"allow": [{"host": "127.0.0.1", "ports": [p]}], "privateNetworks": "Allow"})
        }
        None => json!({"allow": [], "privateNetworks": "Deny"}),
    };
    serde_json::from_value(json!({"provider": provider, "sandbox": {"egress": egress}}))
        .map_err(|e| HarnessError::Sandbox(format!("ProviderClass: {e}")))
}

fn port_of(url: &str) -> Option<u16> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    authority.rsplit_once(':')?.1.parse().ok()
}

/// Runs every case of the case file against the component.
pub async fn run(options: &Options) -> Result<Report, HarnessError> {
    let cases_path = options.cases.clone().unwrap_or_else(|| {
        options
            .store
            .parent()
            .unwrap_or(Path::new("."))
            .join("cases.yaml")
    });
    let file = cases::load_cases(&cases_path)?;
    let base = cases_path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let (_served, url): (Option<Backend>, Option<String>) = match &file.backend {
        None => (None, None),
        Some(spec) => match (&spec.serve, &spec.url) {
            (Some(path), None) => {
                let path = base.join(path);
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| HarnessError::Backend(format!("{}: {e}", path.display())))?;
                let data = backend::Data::from_json(&text, spec.token.clone())
                    .map_err(|e| HarnessError::Backend(format!("{}: {e}", path.display())))?;
                let served = backend::start(data, 0)
                    .await
                    .map_err(|e| HarnessError::Backend(e.to_string()))?;
                let url = served.url();
                (Some(served), Some(url))
            }
            (None, Some(url)) => (None, Some(url.clone())),
            _ => {
                return Err(HarnessError::Backend(
                    "backend: give either `serve` or `url`".into(),
                ));
            }
        },
    };
    let port = match &url {
        Some(u) => Some(port_of(u).ok_or_else(|| {
            HarnessError::Backend(format!("backend url {u:?} has no explicit port"))
        })?),
        None => None,
    };
    let store = cases::load_store(&options.store, url.as_deref())?;
    let bytes =
        std::fs::read(&options.component).map_err(|source| HarnessError::ReadComponent {
            path: options.component.clone(),
            source,
        })?;
    let size = bytes.len();
    let sandbox = Sandbox::new(SandboxConfig {
        cache_dir: options.cache_dir.clone(),
        ..SandboxConfig::default()
    })
    .map_err(|e| HarnessError::Sandbox(e.to_string()))?;
    let started = Instant::now();
    let loaded = sandbox
        .load(bytes, None)
        .await
        .map_err(|source| HarnessError::Load {
            path: options.component.clone(),
            source,
        })?;
    let load = started.elapsed();
    let creds = Arc::new(MapCredentials::default());
    let provider = WasmProvider::new(sandbox, creds.clone());
    provider.bind(
        &store.provider,
        loaded.clone(),
        Some(class_for(&store.provider, port)?),
    );
    let runner = Runner {
        provider,
        loaded: loaded.clone(),
        creds,
        store,
        file,
    };
    let mut results = Vec::new();
    let mut get_times = Vec::new();
    for case in &runner.file.cases {
        let mut times = Vec::new();
        let mut failure = None;
        for _ in 0..options.repeat.max(1) {
            let started = Instant::now();
            let outcome = runner.once(case).await;
            times.push(started.elapsed());
            if let Err(why) = check(&case.expect, &outcome) {
                failure = Some(why);
                break;
            }
        }
        times.sort();
        let is_get = matches!(case.call, Call::Get(_)) && case.expect.error.is_none();
        if is_get && failure.is_none() {
            get_times.extend(times.iter().copied());
        }
        results.push(CaseResult {
            name: case.name.clone(),
            failure,
            p50: times[times.len() / 2],
            is_get,
        });
    }
    get_times.sort();
    Ok(Report {
        provider: runner.store.provider.clone(),
        digest: loaded.digest.to_string(),
        size,
        load,
        results,
        open_get_p50: get_times.get(get_times.len() / 2).copied(),
        runs: get_times.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_of_urls() {
        assert_eq!(port_of("http://127.0.0.1:8080"), Some(8080));
        assert_eq!(port_of("http://127.0.0.1:8080/x"), Some(8080));
        assert_eq!(port_of("http://127.0.0.1/x"), None);
    }
}
