//! Shared by the controller tests: CRDs installed on the ground, a test-only provider whose
//! backend the test controls, and a controller running in-process for one namespace.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ampoule::controller::{self, Settings};
use ampoule::crd::ExternalSecret;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

pub mod bao;
pub mod cloud;
pub mod operator;
pub mod prometheus;
mod provider;

pub use provider::{Backend, TestProvider};

pub const WAIT: Duration = Duration::from_secs(30);

/// Applies Ampoule's CRDs to the ground (once per test binary) and waits until they are served.
pub async fn crds(client: &Client) {
    static DONE: OnceCell<()> = OnceCell::const_new();
    DONE.get_or_init(|| async {
        let api: Api<CustomResourceDefinition> = Api::all(client.clone());
        for crd in ampoule::crd::all() {
            let name = crd.name_any();
            api.patch(
                &name,
                &PatchParams::apply("ampoule-tests").force(),
                &Patch::Apply(&crd),
            )
            .await
            .unwrap();
            ground::eventually(WAIT, &format!("CRD {name} to be established"), || {
                let api = api.clone();
                let name = name.clone();
                async move {
                    let c = api.get(&name).await.ok()?;
                    c.status?
                        .conditions?
                        .iter()
                        .any(|c| c.type_ == "Established" && c.status == "True")
                        .then_some(())
                }
            })
            .await;
        }
    })
    .await;
}

/// A controller running in this test's runtime, watching one namespace.
pub struct Running {
    pub provider: Arc<TestProvider>,
    /// This controller's `--controller-class`; the test's stores name it, so controllers of
    /// other tests (some watch every namespace) leave them alone.
    pub class: String,
    pub client: Client,
    pub namespace: String,
    /// The metrics this controller records (its own registry).
    pub metrics: Arc<ampoule::metrics::Metrics>,
    settings: Settings,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a controller for a fresh namespace (`prefix-<random>`) with `settings` adjusted.
/// The real template component (embedded in the binary), one per test process, compiled once
/// (with the compiled-code cache under the user's cache folder) before it is handed out, so a
/// cold compile never counts against a test's wait for a sync.
pub async fn transformer() -> Arc<ampoule::plugin::WasmTransformer> {
    static SHARED: std::sync::OnceLock<Arc<ampoule::plugin::WasmTransformer>> =
        std::sync::OnceLock::new();
    let t = SHARED
        .get_or_init(|| {
            let sandbox = ampoule::plugin::Sandbox::new(ampoule::plugin::SandboxConfig {
                cache_dir: Some(ampoule::plugin::runtime::module_cache::default_cache_dir()),
                max_instances: 16,
                ..ampoule::plugin::SandboxConfig::default()
            })
            .expect("sandbox");
            Arc::new(ampoule::plugin::WasmTransformer::embedded(sandbox))
        })
        .clone();
    t.preload().await.expect("the template component loads");
    t
}

/// The embedded generator components (ESO's pure kinds), one per test process, compiled once.
pub async fn generators() -> Arc<dyn ampoule::plugin::generator::SecretGenerator> {
    static SHARED: OnceCell<Arc<ampoule::plugin::WasmGenerator>> = OnceCell::const_new();
    SHARED
        .get_or_init(|| async {
            let sandbox = ampoule::plugin::Sandbox::new(ampoule::plugin::SandboxConfig {
                cache_dir: Some(ampoule::plugin::runtime::module_cache::default_cache_dir()),
                max_instances: 16,
                ..ampoule::plugin::SandboxConfig::default()
            })
            .expect("sandbox");
            Arc::new(
                ampoule::plugin::WasmGenerator::with_embedded(
                    sandbox,
                    Arc::new(ampoule::plugin::NoCredentials),
                )
                .await
                .expect("the generator components load"),
            )
        })
        .await
        .clone()
}

pub async fn start(prefix: &str, adjust: impl FnOnce(&mut Settings)) -> Running {
    let g = ground::ground();
    let client = g.client().await;
    crds(&client).await;
    let namespace = g.namespace(prefix).await;
    let provider = Arc::new(TestProvider::default());
    let mut settings = Settings {
        namespace: Some(namespace.clone()),
        concurrent: 4,
        cluster_external_secrets: false,
        cluster_push_secrets: false,
        controller_class: unique("class"),
        ..Settings::default()
    };
    adjust(&mut settings);
    let class = settings.controller_class.clone();
    let metrics = Arc::new(ampoule::metrics::Metrics::new());
    let task = spawn(&client, &provider, &settings, &metrics).await;
    Running {
        provider,
        class,
        client,
        namespace,
        metrics,
        settings,
        task,
    }
}

/// A controller task (in this test's runtime) with the given parts.
async fn spawn(
    client: &Client,
    provider: &Arc<TestProvider>,
    settings: &Settings,
    metrics: &Arc<ampoule::metrics::Metrics>,
) -> tokio::task::JoinHandle<()> {
    let transformer = transformer().await;
    let generators = generators().await;
    let settings = settings.clone();
    {
        let (client, provider, metrics) = (client.clone(), provider.clone(), metrics.clone());
        tokio::spawn(async move {
            if let Err(e) = controller::run(
                client,
                provider,
                transformer,
                generators,
                settings,
                metrics,
                None,
            )
            .await
            {
                eprintln!("controller stopped: {e}");
            }
        })
    }
}

impl Running {
    /// Stops this controller and starts a new one on the same namespace, backend and settings,
    /// with fresh metrics (as an operator restart would).
    pub async fn restart(&mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
        self.metrics = Arc::new(ampoule::metrics::Metrics::new());
        self.task = spawn(&self.client, &self.provider, &self.settings, &self.metrics).await;
    }

    /// The controller's wall clock, which the test may move ([`ampoule::controller::clock`]).
    pub fn clock(&self) -> ampoule::controller::clock::Clock {
        self.settings.clock.clone()
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Server-side applies a YAML/JSON object (namespace filled in) as the test's field manager.
    pub async fn apply(&self, obj: Value) -> DynamicObject {
        apply(&self.client, Some(&self.namespace), obj)
            .await
            .unwrap()
    }

    /// A SecretStore `name` served by backend `name`, and waits for it to be Ready.
    pub async fn store(&self, name: &str) -> Arc<Backend> {
        let backend = self.provider.backend(&format!("{}/{name}", self.namespace));
        self.apply(json!({
            "apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": name},
            "spec": {"controller": self.class, "provider": {"test": {"backend": format!("{}/{name}", self.namespace)}}}
        }))
        .await;
        self.wait_store_ready("SecretStore", name).await;
        backend
    }

    /// Waits for a SecretStore in any namespace to be Ready.
    pub async fn wait_store_ready(&self, kind: &str, name: &str) {
        wait_store_ready(&self.client, kind, Some(&self.namespace), name).await;
    }

    pub async fn secret(&self, name: &str) -> Option<Secret> {
        self.api::<Secret>().get_opt(name).await.unwrap()
    }

    /// Waits until the Secret exists and `check` accepts it.
    pub async fn secret_where(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&Secret) -> bool,
    ) -> Secret {
        ground::eventually(WAIT, what, || async {
            self.secret(name).await.filter(|s| check(s))
        })
        .await
    }

    pub async fn es(&self, name: &str) -> ExternalSecret {
        self.api::<ExternalSecret>().get(name).await.unwrap()
    }

    /// Waits for the ExternalSecret's Ready condition to have this status and reason.
    pub async fn es_ready(&self, name: &str, status: &str, reason: &str) -> ExternalSecret {
        ground::eventually(
            WAIT,
            &format!("ExternalSecret {name} Ready={status} {reason}"),
            || async {
                let es = self.es(name).await;
                let c = es.status.as_ref()?.ready()?.clone();
                let s = serde_json::to_value(c.status).ok()?;
                (s == json!(status) && c.reason.as_deref() == Some(reason)).then_some(es)
            },
        )
        .await
    }

    /// Events about an object (core/v1 and events.k8s.io show the same; read events.k8s.io).
    pub async fn events(&self, name: &str) -> Vec<(String, String, String)> {
        let api: Api<k8s_openapi::api::events::v1::Event> =
            Api::namespaced(self.client.clone(), &self.namespace);
        let list = api.list(&Default::default()).await.unwrap();
        list.items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .map(|e| {
                (
                    e.type_.unwrap_or_default(),
                    e.reason.unwrap_or_default(),
                    e.note.unwrap_or_default(),
                )
            })
            .collect()
    }

    pub async fn wait_event(&self, name: &str, reason: &str) -> (String, String, String) {
        ground::eventually(WAIT, &format!("event {reason} on {name}"), || async {
            self.events(name).await.into_iter().find(|e| e.1 == reason)
        })
        .await
    }
}

/// Waits for a SecretStore (in `namespace`) or ClusterSecretStore to be Ready.
pub async fn wait_store_ready(client: &Client, kind: &str, namespace: Option<&str>, name: &str) {
    let (ns, plural) = if kind == "SecretStore" {
        (namespace, "secretstores")
    } else {
        (None, "clustersecretstores")
    };
    ground::eventually(WAIT, &format!("{kind} {name} Ready"), || async move {
        let obj = get(client, ns, plural, name).await?;
        (ready(&obj)? == "True").then_some(())
    })
    .await;
}

/// A child process killed (and reaped) when the test ends, however it ends.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `ampoule run` binary for `class` (and `namespace`, if any) against the ground, its
/// stdout and stderr in `log`, its compiled-component cache in `cache`.
pub fn operator(
    namespace: Option<&str>,
    class: &str,
    cache: &std::path::Path,
    log: &std::path::Path,
) -> Killed {
    operator_with(namespace, class, cache, log, |_| {})
}

/// [`operator`], its command adjusted by `adjust` (more flags, environment) before it starts.
pub fn operator_with(
    namespace: Option<&str>,
    class: &str,
    cache: &std::path::Path,
    log: &std::path::Path,
    adjust: impl FnOnce(&mut std::process::Command),
) -> Killed {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ampoule"));
    cmd.args([
        "run",
        "--controller-class",
        class,
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    cmd.args(["--concurrent", "8", "--loglevel", "debug"]);
    if let Some(ns) = namespace {
        cmd.args(["--namespace", ns]);
    }
    adjust(&mut cmd);
    let out = std::fs::File::create(log).unwrap();
    let err = out.try_clone().unwrap();
    let child = cmd
        .env("KUBECONFIG", ground::ground().kubeconfig())
        .env("AMPOULE_CACHE_DIR", cache)
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap();
    Killed(child)
}

pub use ground::free_port;

/// Pushes `file` with `ampoule plugin push` to `reference` (a tag) and returns the manifest
/// digest it printed, to pin a ProviderClass by.
pub fn push(file: &std::path::Path, reference: &str) -> String {
    let pushed = ground::run(
        std::process::Command::new(env!("CARGO_BIN_EXE_ampoule"))
            .args(["plugin", "push"])
            .arg(file)
            .arg(reference),
    );
    let digest = pushed.trim().rsplit('@').next().unwrap().to_owned();
    assert!(digest.starts_with("sha256:"), "{pushed}");
    digest
}

/// The ` ```sh ` blocks of a guide in docs/ as (step, script): each block starts with
/// `# step: NAME`; a block in a list item loses its fence's indentation.
pub fn guide_steps(doc: &str) -> Vec<(String, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs")
        .join(doc);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = Vec::new();
    let mut block: Option<Vec<String>> = None;
    let mut indent = 0;
    for line in text.lines() {
        let trimmed = line.trim_start();
        match (&mut block, trimmed) {
            (None, "```sh") => {
                indent = line.len() - trimmed.len();
                block = Some(Vec::new());
            }
            (Some(lines), "```") => {
                let step = lines[0]
                    .strip_prefix("# step: ")
                    .unwrap_or_else(|| panic!("a sh block without `# step:`: {lines:?}"));
                out.push((step.to_owned(), lines[1..].join("\n")));
                block = None;
            }
            (Some(lines), _) => lines.push(line.get(indent..).unwrap_or_default().to_owned()),
            (None, _) => {}
        }
    }
    out
}

/// Decoded `.data` of a Secret.
pub fn data(s: &Secret) -> BTreeMap<String, String> {
    s.data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()))
        .collect()
}

pub fn ready(obj: &DynamicObject) -> Option<String> {
    obj.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?["status"]
        .as_str()
        .map(str::to_string)
}

/// An external-secrets.io/v1 resource by its plural, for dynamic reads.
pub fn eso_resource(plural: &str) -> kube::api::ApiResource {
    kube::api::ApiResource {
        group: "external-secrets.io".into(),
        version: "v1".into(),
        api_version: "external-secrets.io/v1".into(),
        kind: String::new(),
        plural: plural.into(),
    }
}

pub async fn get(
    client: &Client,
    ns: Option<&str>,
    plural: &str,
    name: &str,
) -> Option<DynamicObject> {
    let ar = eso_resource(plural);
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    api.get_opt(name).await.ok().flatten()
}

/// An external-secrets.io/v1alpha1 object (PushSecret …) by its plural, read as it is stored.
pub async fn get_v1alpha1(client: &Client, ns: &str, plural: &str, name: &str) -> DynamicObject {
    let ar = kube::api::ApiResource {
        group: "external-secrets.io".into(),
        version: "v1alpha1".into(),
        api_version: "external-secrets.io/v1alpha1".into(),
        kind: String::new(),
        plural: plural.into(),
    };
    Api::<DynamicObject>::namespaced_with(client.clone(), ns, &ar)
        .get(name)
        .await
        .unwrap()
}

/// Server-side applies any object given as JSON.
pub async fn apply(
    client: &Client,
    namespace: Option<&str>,
    mut obj: Value,
) -> Result<DynamicObject, kube::Error> {
    let api_version = obj["apiVersion"].as_str().unwrap_or_default().to_string();
    let kind = obj["kind"].as_str().unwrap_or_default().to_string();
    let (group, version) = api_version
        .split_once('/')
        .unwrap_or(("", api_version.as_str()));
    let gvk = kube::core::GroupVersionKind::gvk(group, version, &kind);
    let discovery = kube::discovery::pinned_kind(client, &gvk).await?;
    let (ar, caps) = discovery;
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let api: Api<DynamicObject> = if caps.scope == kube::discovery::Scope::Namespaced {
        let ns = namespace
            .or(obj["metadata"]["namespace"].as_str())
            .unwrap_or("default")
            .to_string();
        obj["metadata"]["namespace"] = json!(ns);
        Api::namespaced_with(client.clone(), &ns, &ar)
    } else {
        Api::all_with(client.clone(), &ar)
    };
    api.patch(
        &name,
        &PatchParams::apply("ampoule-tests").force(),
        &Patch::Apply(&obj),
    )
    .await
}

static COUNTER: OnceLock<AtomicUsize> = OnceLock::new();

/// `GET http://127.0.0.1:<port><path>` with a 2 s timeout: the status and body, or `None` when
/// nothing answered (the probes and metrics endpoints of an operator process).
pub async fn http_probe(http: &reqwest::Client, port: u16, path: &str) -> Option<(u16, String)> {
    let resp = http
        .get(format!("http://127.0.0.1:{port}{path}"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    Some((
        resp.status().as_u16(),
        resp.text().await.unwrap_or_default(),
    ))
}

/// A name unique within this test binary.
pub fn unique(prefix: &str) -> String {
    let n = COUNTER
        .get_or_init(|| AtomicUsize::new(0))
        .fetch_add(1, Ordering::SeqCst);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// Waits up to `within` until Secret `name` exists in `ns` and `check` accepts it.
pub async fn wait_secret_within(
    client: &Client,
    ns: &str,
    name: &str,
    within: Duration,
    what: &str,
    check: impl Fn(&Secret) -> bool,
) -> Secret {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    ground::eventually(within, what, || async {
        api.get_opt(name).await.unwrap().filter(|s| check(s))
    })
    .await
}

/// Forces a sync of an ExternalSecret (ESO: any annotation change; `force-sync` by convention).
pub async fn force_sync(client: &Client, ns: &str, name: &str, value: &str) {
    let api: Api<ExternalSecret> = Api::namespaced(client.clone(), ns);
    api.patch(
        name,
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&json!({"metadata": {"annotations": {"force-sync": value}}})),
    )
    .await
    .unwrap();
}

/// Deletes the named ProviderClasses when dropped, so a failing test leaves none behind.
pub struct DeleteClasses(pub Vec<String>);

impl Drop for DeleteClasses {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let _ = ground::ground()
            .command("kubectl")
            .args([
                "delete",
                "providerclass",
                "--ignore-not-found",
                "--wait=false",
            ])
            .args(&self.0)
            .output();
    }
}
