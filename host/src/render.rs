//! `ampoule render`: the Secret the operator would write for an ExternalSecret, with no cluster.
//! The data comes from ESO's `fake` provider (a store file, or `--data` turned into one) run by
//! the embedded fake component; the same data pipeline and the same template component as the
//! controller shape it.

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

/// Renders and returns the Secret manifest (YAML) the operator would apply.
pub async fn render(args: &RenderArgs) -> anyhow::Result<String> {
    let docs = documents(&args.file)?;
    let es_doc = docs
        .iter()
        .find(|d| kind(d) == "ExternalSecret")
        .ok_or_else(|| anyhow!("{} holds no ExternalSecret", args.file.display()))?;
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
    let transformer = WasmTransformer::embedded(sandbox);
    let fetched = fetch_from(Clients::given(&provider, store), &transformer, &es).await?;
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
