//! `ampoule render`: the Secret the operator would write for an ExternalSecret, with no cluster.
//! The data comes from ESO's `fake` provider (a store file, or `--data` turned into one) run by
//! the embedded fake component; the same data pipeline and the same template component as the
//! controller shape it.
//!
//! For a PushSecret (a file with no ExternalSecret), what the operator would push where: the
//! source Secrets from the file, the same entry expansion and template as the controller, one
//! line per store and remote key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use clap::Args;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

use crate::controller::data::{Clients, fetch_from};
use crate::controller::target;
use crate::controller::template::{Lookup, shape_with};
use crate::crd::{ExternalSecret, StoreKind};
use crate::plugin::{NoCredentials, Sandbox, SandboxConfig, WasmProvider, WasmTransformer};
use crate::provider::StoreContext;

/// Flags of `ampoule render`.
#[derive(Debug, Clone, Args)]
pub struct RenderArgs {
    /// YAML with the ExternalSecret; it may also hold the ConfigMaps and Secrets its
    /// templateFrom reads and the (fake) store it references.
    #[arg(short = 'f', long = "filename")]
    pub file: PathBuf,
    /// Provider data as a JSON object: remote key → value (a string, or any JSON, which is
    /// served as its JSON text). Served by ESO's fake provider.
    #[arg(long, conflicts_with = "store")]
    pub data: Option<PathBuf>,
    /// A SecretStore or ClusterSecretStore YAML with `spec.provider.fake`.
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Left delimiter of template actions (ESO: --template-left-delimiter).
    #[arg(long, default_value = "{{")]
    pub template_left_delimiter: String,
    /// Right delimiter of template actions (ESO: --template-right-delimiter).
    #[arg(long, default_value = "}}")]
    pub template_right_delimiter: String,
}

/// Every document of a YAML stream, as JSON.
fn documents(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for doc in serde_norway::Deserializer::from_str(&text) {
        let v: Value = serde::Deserialize::deserialize(doc)
            .with_context(|| format!("parsing {}", path.display()))?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

fn kind(v: &Value) -> &str {
    v["kind"].as_str().unwrap_or_default()
}

/// A Secret manifest as the API server stores it (`stringData` folded into `data`).
fn secret(mut v: Value) -> anyhow::Result<Secret> {
    if let Some(Value::Object(strings)) = v.get("stringData").cloned() {
        use base64::Engine;
        let data = v["data"].as_object().cloned().unwrap_or_default();
        let mut data = data;
        for (k, s) in strings {
            let text = s.as_str().unwrap_or_default().to_owned();
            data.insert(
                k,
                json!(base64::engine::general_purpose::STANDARD.encode(text)),
            );
        }
        v["data"] = Value::Object(data);
    }
    Ok(serde_json::from_value(v)?)
}

/// The fake store config for `--data`: every key with its value as text.
fn fake_from_data(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let data: BTreeMap<String, Value> = serde_json::from_str(&text)
        .with_context(|| format!("{} must be a JSON object of key → value", path.display()))?;
    let entries: Vec<Value> = data
        .into_iter()
        .map(|(key, value)| {
            let value = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            json!({"key": key, "value": value})
        })
        .collect();
    Ok(json!({"data": entries}))
}

/// The store every reference of the ExternalSecret resolves to.
fn store(args: &RenderArgs, docs: &[Value], namespace: &str) -> anyhow::Result<StoreContext> {
    if let Some(path) = &args.data {
        return Ok(StoreContext {
            kind: StoreKind::SecretStore,
            name: "render".into(),
            store_namespace: Some(namespace.into()),
            caller_namespace: Some(namespace.into()),
            generation: 1,
            provider: "fake".into(),
            config: fake_from_data(path)?,
            sandbox: None,
        });
    }
    let found;
    let doc = match &args.store {
        Some(path) => {
            found = documents(path)?;
            found.first()
        }
        None => docs
            .iter()
            .find(|d| matches!(kind(d), "SecretStore" | "ClusterSecretStore")),
    }
    .ok_or_else(|| anyhow!("no data: pass --data data.json or --store store.yaml"))?;
    let Some(config) = doc["spec"]["provider"].get("fake").cloned() else {
        bail!(
            "ampoule render runs without a cluster or network: the store must use spec.provider.fake \
             (or pass --data data.json)"
        );
    };
    let cluster = kind(doc) == "ClusterSecretStore";
    Ok(StoreContext {
        kind: if cluster {
            StoreKind::ClusterSecretStore
        } else {
            StoreKind::SecretStore
        },
        name: doc["metadata"]["name"]
            .as_str()
            .unwrap_or("render")
            .to_owned(),
        store_namespace: (!cluster).then(|| namespace.to_owned()),
        caller_namespace: Some(namespace.into()),
        generation: 1,
        provider: "fake".into(),
        config,
        sandbox: None,
    })
}

/// Renders and returns the Secret manifest (YAML) the operator would apply (for a PushSecret,
/// the pushes it would make).
pub async fn render(args: &RenderArgs) -> anyhow::Result<String> {
    let docs = documents(&args.file)?;
    let Some(es_doc) = docs.iter().find(|d| kind(d) == "ExternalSecret") else {
        if let Some(ps) = docs.iter().find(|d| kind(d) == "PushSecret") {
            return render_push(args, &docs, ps).await;
        }
        bail!(
            "{} holds no ExternalSecret or PushSecret",
            args.file.display()
        );
    };
    let mut es: ExternalSecret = serde_json::from_value(es_doc.clone())
        .with_context(|| format!("{} is not a valid ExternalSecret", args.file.display()))?;
    let namespace = es
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    es.metadata = ObjectMeta {
        namespace: Some(namespace.clone()),
        ..es.metadata
    };
    let config_maps: Vec<ConfigMap> = docs
        .iter()
        .filter(|d| kind(d) == "ConfigMap")
        .map(|d| serde_json::from_value(d.clone()))
        .collect::<Result<_, _>>()?;
    let secrets: Vec<Secret> = docs
        .iter()
        .filter(|d| kind(d) == "Secret")
        .map(|d| secret(d.clone()))
        .collect::<Result<_, _>>()?;
    let store = store(args, &docs, &namespace)?;

    let sandbox = Sandbox::new(SandboxConfig {
        cache_dir: Some(crate::plugin::runtime::module_cache::default_cache_dir()),
        max_instances: 4,
        ..SandboxConfig::default()
    })?;
    // Only the fake component is needed (a cold compile of every provider takes seconds).
    let provider = WasmProvider::new(sandbox.clone(), Arc::new(NoCredentials));
    let fake = crate::plugin::distribution::embedded::find("fake")
        .ok_or_else(|| anyhow!("this build embeds no fake component"))?;
    let digest = crate::plugin::Digest::parse(fake.digest)?;
    provider.bind(
        "fake",
        sandbox.load(fake.bytes.to_vec(), Some(digest)).await?,
        None,
    );
    let generators = Offline(
        crate::plugin::WasmGenerator::with_embedded(sandbox.clone(), Arc::new(NoCredentials))
            .await?,
    );
    let transformer = WasmTransformer::embedded(sandbox);
    let clients = Clients::given(&provider, store).with_generators(
        crate::controller::data::GeneratorSource::Given {
            generator: &generators,
            objects: &docs,
        },
        &namespace,
    );
    let mut pending = Vec::new();
    let fetched = fetch_from(clients, &transformer, &es, &mut pending).await?;
    for note in &fetched.missing {
        eprintln!("ampoule: warning: {note}");
    }
    let delimiters = (
        args.template_left_delimiter.clone(),
        args.template_right_delimiter.clone(),
    );
    let lookup = Lookup::Objects {
        config_maps: &config_maps,
        secrets: &secrets,
    };
    let shape = shape_with(&lookup, &transformer, &delimiters, &es, fetched.data).await?;
    let obj = target::rendered(&es, &shape);
    Ok(serde_norway::to_string(&obj)?)
}

/// The generators `ampoule render` runs: the pure kinds, which need no network or credentials.
struct Offline(crate::plugin::WasmGenerator);

/// The kinds that generate from nothing but randomness (and their spec).
const OFFLINE_KINDS: [&str; 4] = ["Password", "UUID", "Fake", "SSHKey"];

impl crate::plugin::generator::SecretGenerator for Offline {
    fn serves(&self, kind: &str) -> bool {
        OFFLINE_KINDS.contains(&kind) && self.0.serves(kind)
    }

    fn generate<'a>(
        &'a self,
        request: &'a crate::plugin::generator::GeneratorRequest,
    ) -> futures::future::BoxFuture<
        'a,
        Result<crate::plugin::generator::Generated, crate::provider::ProviderError>,
    > {
        if !OFFLINE_KINDS.contains(&request.kind.as_str()) {
            let kind = request.kind.clone();
            return Box::pin(async move {
                Err(crate::provider::ProviderError::InvalidConfig(format!(
                    "ampoule render runs without a cluster or network: a {kind} generator needs its backend (only {} generate offline)",
                    OFFLINE_KINDS.join(", ")
                )))
            });
        }
        self.0.generate(request)
    }

    fn cleanup<'a>(
        &'a self,
        request: &'a crate::plugin::generator::GeneratorRequest,
        state: &'a crate::plugin::generator::GeneratorState,
    ) -> futures::future::BoxFuture<'a, Result<(), crate::provider::ProviderError>> {
        self.0.cleanup(request, state)
    }
}

/// The pushes a PushSecret would make: `pushes[]` of store, remote key, property, source key,
/// value (text, or `valueBase64` for bytes that are not UTF-8) and metadata.
async fn render_push(args: &RenderArgs, docs: &[Value], doc: &Value) -> anyhow::Result<String> {
    use crate::controller::push_secret::{Renamer, plan, shape_with};
    use crate::controller::stores::selector_matches;
    use crate::crd::PushSecret;
    use crate::provider::SecretValue;
    use base64::Engine;

    let mut ps: PushSecret = serde_json::from_value(doc.clone())
        .with_context(|| format!("{} is not a valid PushSecret", args.file.display()))?;
    let namespace = ps
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    ps.metadata.namespace = Some(namespace.clone());
    let in_namespace = |d: &Value| {
        d["metadata"]["namespace"]
            .as_str()
            .is_none_or(|n| n == namespace)
    };
    let secrets: Vec<Secret> = docs
        .iter()
        .filter(|d| kind(d) == "Secret" && in_namespace(d))
        .map(|d| secret(d.clone()))
        .collect::<Result<_, _>>()?;
    let config_maps: Vec<ConfigMap> = docs
        .iter()
        .filter(|d| kind(d) == "ConfigMap")
        .map(|d| serde_json::from_value(d.clone()))
        .collect::<Result<_, _>>()?;
    let selector = ps.spec.selector.secret.clone().unwrap_or_default();
    let sources: Vec<&Secret> = match (&selector.name, &selector.selector) {
        (Some(name), _) => vec![
            secrets
                .iter()
                .find(|s| s.metadata.name.as_deref() == Some(name.as_str()))
                .ok_or_else(|| {
                    anyhow!(
                        "the source Secret {name:?} is not in {}",
                        args.file.display()
                    )
                })?,
        ],
        (None, Some(sel)) => secrets
            .iter()
            .filter(|s| {
                selector_matches(sel, s.metadata.labels.as_ref().unwrap_or(&BTreeMap::new()))
            })
            .collect(),
        (None, None) => bail!(
            "ampoule render reads PushSecret sources from the file: selector.secret is required"
        ),
    };
    let targets = push_targets(&ps, docs, &namespace);
    let sandbox = Sandbox::new(SandboxConfig {
        cache_dir: Some(crate::plugin::runtime::module_cache::default_cache_dir()),
        max_instances: 4,
        ..SandboxConfig::default()
    })?;
    let transformer = WasmTransformer::embedded(sandbox);
    let delimiters = (
        args.template_left_delimiter.clone(),
        args.template_right_delimiter.clone(),
    );
    let lookup = Lookup::Objects {
        config_maps: &config_maps,
        secrets: &secrets,
    };
    plan::check_data_to_refs(&ps).map_err(|e| anyhow!(e))?;
    plan::check_data_to_matches(&ps, &targets).map_err(|e| anyhow!(e))?;
    let mut pushes = Vec::new();
    for source in sources {
        let data: plan::Data = source
            .data
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, SecretValue::new(v.0)))
            .collect();
        let data = shape_with(&lookup, &transformer, &delimiters, &ps, data)
            .await
            .map_err(|e| anyhow!(e))?;
        for target in &targets {
            let entries = plan::entries(&ps, target, &data, &Renamer(&transformer))
                .await
                .map_err(|e| anyhow!(e))?;
            for entry in entries {
                let write = plan::push_data(&entry, &data).map_err(|e| anyhow!(e))?;
                let mut line = json!({
                    "store": plan::store_key(target.kind, &target.name),
                    "remoteKey": write.remote.remote_key,
                });
                if let Some(p) = &write.remote.property {
                    line["property"] = json!(p);
                }
                if let Some(k) = &entry.data.match_.secret_key {
                    line["secretKey"] = json!(k);
                }
                match std::str::from_utf8(write.value.expose()) {
                    Ok(text) => line["value"] = json!(text),
                    Err(_) => {
                        line["valueBase64"] = json!(
                            base64::engine::general_purpose::STANDARD.encode(write.value.expose())
                        );
                    }
                }
                if let Some(m) = &entry.data.metadata {
                    line["metadata"] = m.clone();
                }
                pushes.push(line);
            }
        }
    }
    let out = json!({
        "updatePolicy": ps.spec.update_policy,
        "deletionPolicy": ps.spec.deletion_policy,
        "pushes": pushes,
    });
    Ok(serde_norway::to_string(&out)?)
}

/// The stores a PushSecret names (labels from the file's store manifests, when there) or
/// selects among the file's stores.
fn push_targets(
    ps: &crate::crd::PushSecret,
    docs: &[Value],
    namespace: &str,
) -> Vec<crate::controller::push_secret::plan::Target> {
    use crate::controller::push_secret::plan::Target;
    use crate::controller::stores::selector_matches;
    let stores: Vec<(StoreKind, String, BTreeMap<String, String>)> = docs
        .iter()
        .filter_map(|d| {
            let kind = match kind(d) {
                "SecretStore" => StoreKind::SecretStore,
                "ClusterSecretStore" => StoreKind::ClusterSecretStore,
                _ => return None,
            };
            if kind == StoreKind::SecretStore
                && d["metadata"]["namespace"]
                    .as_str()
                    .is_some_and(|n| n != namespace)
            {
                return None;
            }
            let name = d["metadata"]["name"].as_str()?.to_owned();
            let labels =
                serde_json::from_value(d["metadata"]["labels"].clone()).unwrap_or_default();
            Some((kind, name, labels))
        })
        .collect();
    let mut out: BTreeMap<(StoreKind, String), Target> = BTreeMap::new();
    for r in &ps.spec.secret_store_refs {
        match (&r.name, &r.label_selector) {
            (_, Some(sel)) => {
                for (kind, name, labels) in &stores {
                    if *kind == r.kind && selector_matches(sel, labels) {
                        out.insert(
                            (*kind, name.clone()),
                            Target {
                                kind: *kind,
                                name: name.clone(),
                                labels: labels.clone(),
                            },
                        );
                    }
                }
            }
            (Some(name), None) => {
                let labels = stores
                    .iter()
                    .find(|(k, n, _)| *k == r.kind && n == name)
                    .map(|(_, _, l)| l.clone())
                    .unwrap_or_default();
                out.insert(
                    (r.kind, name.clone()),
                    Target {
                        kind: r.kind,
                        name: name.clone(),
                        labels,
                    },
                );
            }
            (None, None) => {}
        }
    }
    out.into_values().collect()
}
