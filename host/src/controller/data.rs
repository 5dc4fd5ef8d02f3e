//! Building the data map of an ExternalSecret
//! (docs/eso-behaviour.md#provider-errors-and-missing-secrets, docs/eso-behaviour.md#data-map):
//! every `dataFrom[]` in order, then every `data[]`; key conversion, validation, decoding,
//! rewrites; NotFound per
//! `deletionPolicy`.

use std::collections::{BTreeMap, HashMap};

use super::context::Context;
use super::error::Error;
use super::shared::NotBefore;
use super::stores;
use crate::crd::data::{
    ConversionStrategy, DecodingStrategy, ExternalSecretData, ExternalSecretDataFromRemoteRef,
    ExternalSecretDataRemoteRef, ExternalSecretRewrite, MetadataPolicy, NullBytePolicy,
    StoreGeneratorSourceRef, StoreSourceRef,
};
use crate::crd::{DeletionPolicy, ExternalSecret, SecretStoreRef, StoreKind};
use crate::provider::{
    FindRef, ProviderClient, ProviderError, RemoteRef, SecretMap, SecretProvider, StoreContext,
    StoreInfo,
};
use crate::redact::Redacted;
use crate::transform::Transformer;

/// The fetched map plus the notes for keys the provider did not have.
#[derive(Default)]
pub struct Fetched {
    pub data: BTreeMap<String, Redacted<Vec<u8>>>,
    /// `MissingProviderSecret` event messages.
    pub missing: Vec<String>,
    /// `dataFrom` indices (the generator state keys) that generated: their earlier
    /// generations are superseded.
    pub rotated: Vec<String>,
}

impl std::fmt::Debug for Fetched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetched")
            .field("data", &self.data)
            .field("missing", &self.missing)
            .field("rotated", &self.rotated)
            .finish()
    }
}

/// States the generators of one fetch returned, to keep once the target is written or clean up
/// when it is not ([`super::generators::commit`] / [`super::generators::rollback`]); filled
/// even when the fetch fails half-way.
pub type Pending = Vec<super::generators::Pending>;

/// Where generators come from: the cluster, or manifests given to `ampoule render`.
pub enum GeneratorSource<'a> {
    Cluster {
        client: &'a kube::Client,
        generator: &'a dyn ampoule_sandbox::generator::SecretGenerator,
    },
    Given {
        generator: &'a dyn ampoule_sandbox::generator::SecretGenerator,
        objects: &'a [serde_json::Value],
    },
    /// No generator can run (a clear error names the reference).
    None,
}

/// An open client, what the provider said about its store, and the metrics label of its provider.
type OpenedClient = (Box<dyn ProviderClient>, StoreInfo, String);

/// Where stores come from: the cluster (the controller), or one given store (`ampoule render`).
enum StoreSource<'a> {
    /// The fetches share calls that started no earlier than `not_before`.
    Cluster {
        ctx: &'a Context,
        not_before: NotBefore,
    },
    Given {
        provider: &'a dyn SecretProvider,
        store: StoreContext,
    },
}

/// Provider clients opened for one reconcile, one per store, and the generators it uses.
pub struct Clients<'a> {
    source: StoreSource<'a>,
    namespace: String,
    opened: HashMap<(StoreKind, String), OpenedClient>,
    generators: GeneratorSource<'a>,
}

impl<'a> Clients<'a> {
    /// The stores of `namespace` in the cluster; fetches share calls that started no earlier
    /// than `not_before`.
    pub fn new(ctx: &'a Context, namespace: &str, not_before: NotBefore) -> Self {
        Self {
            source: StoreSource::Cluster { ctx, not_before },
            namespace: namespace.into(),
            opened: HashMap::new(),
            generators: GeneratorSource::Cluster {
                client: &ctx.client,
                generator: ctx.generators.as_ref(),
            },
        }
    }

    /// Every store reference resolves to `store`, served by `provider` (no cluster).
    pub fn given(provider: &'a dyn SecretProvider, store: StoreContext) -> Self {
        Self {
            source: StoreSource::Given { provider, store },
            namespace: String::new(),
            opened: HashMap::new(),
            generators: GeneratorSource::None,
        }
    }

    /// Generators from `generators` (`ampoule render`), in `namespace`.
    pub fn with_generators(mut self, generators: GeneratorSource<'a>, namespace: &str) -> Self {
        self.generators = generators;
        self.namespace = namespace.into();
        self
    }

    /// Runs the generator `reference` names (ESO's `handleGenerateSecrets` before the rewrite).
    async fn generate(
        &self,
        reference: &crate::crd::data::GeneratorRef,
        key: &str,
    ) -> Result<super::generators::Generation, Error> {
        use super::generators;
        match &self.generators {
            GeneratorSource::Cluster { client, generator } => {
                let resolved =
                    generators::resolve_in_cluster(client, reference, &self.namespace).await?;
                generators::generate(*generator, resolved, key).await
            }
            GeneratorSource::Given { generator, objects } => {
                let object = objects
                    .iter()
                    .find(|o| {
                        o["kind"].as_str() == Some(reference.kind.as_str())
                            && o["metadata"]["name"].as_str() == Some(reference.name.as_str())
                    })
                    .ok_or_else(|| {
                        Error::Generator(format!(
                            "unable to get generator: {} {:?} is not in the file",
                            reference.kind.as_str(),
                            reference.name
                        ))
                    })?;
                let resolved = generators::resolve_object(reference, &self.namespace, object)?;
                generators::generate(*generator, resolved, key).await
            }
            GeneratorSource::None => Err(Error::Generator(format!(
                "generator {} {:?} cannot run here",
                reference.kind.as_str(),
                reference.name
            ))),
        }
    }

    async fn get(&mut self, r: &SecretStoreRef) -> Result<Counted<'_>, Error> {
        let key = (r.effective_kind(), r.name.clone());
        if !self.opened.contains_key(&key) {
            let (store, opened) = match &self.source {
                StoreSource::Cluster { ctx, not_before } => {
                    let (store, retry) = stores::resolve(ctx, &self.namespace, r).await?;
                    let opened = ctx.provider.open_with(&store, *not_before, retry).await;
                    (store, opened)
                }
                StoreSource::Given { provider, store } => {
                    (store.clone(), provider.open(store).await)
                }
            };
            let label = crate::metrics::provider_label(&store.provider, &store.config);
            let (client, info) = opened.map_err(|source| Error::Provider {
                context: format!(
                    "could not open a client for {} \"{}\"",
                    r.effective_kind().as_str(),
                    r.name
                ),
                source,
            })?;
            self.opened.insert(key.clone(), (client, info, label));
        }
        match self.opened.get(&key) {
            Some((client, _, label)) => Ok(Counted {
                client: client.as_ref(),
                label,
                metrics: match &self.source {
                    StoreSource::Cluster { ctx, .. } => Some(&ctx.metrics),
                    StoreSource::Given { .. } => None,
                },
            }),
            None => Err(Error::InvalidSpec(format!(
                "store \"{}\" could not be opened",
                r.name
            ))),
        }
    }
}

/// A client whose calls are counted in `externalsecret_provider_api_calls_count`.
struct Counted<'a> {
    client: &'a dyn ProviderClient,
    label: &'a str,
    /// The controllers' metrics (`None`: a render outside the cluster counts nothing).
    metrics: Option<&'a crate::metrics::Metrics>,
}

impl Counted<'_> {
    fn record<T>(
        &self,
        call: &'static str,
        result: &Result<T, ProviderError>,
        started: std::time::Instant,
    ) {
        let Some(metrics) = self.metrics else {
            return;
        };
        let duration = crate::metrics::CallLabels {
            provider: self.label.to_string(),
            call,
        };
        metrics
            .provider_call_duration
            .get_or_create(&duration)
            .observe(started.elapsed().as_secs_f64());
        let status = match result {
            Ok(_) | Err(ProviderError::NotFound) => crate::metrics::Outcome::success,
            Err(_) => crate::metrics::Outcome::error,
        };
        let labels = crate::metrics::ApiCallLabels {
            provider: self.label.to_string(),
            call,
            status,
        };
        metrics.provider_calls.get_or_create(&labels).inc();
    }

    async fn get_secret(
        &self,
        r: &RemoteRef,
    ) -> Result<crate::provider::SecretValue, ProviderError> {
        let started = std::time::Instant::now();
        let result = self.client.get_secret(r).await;
        self.record("GetSecret", &result, started);
        result
    }

    async fn get_secret_map(
        &self,
        r: &RemoteRef,
    ) -> Result<crate::provider::SecretMap, ProviderError> {
        let started = std::time::Instant::now();
        let result = self.client.get_secret_map(r).await;
        self.record("GetSecretMap", &result, started);
        result
    }

    async fn get_all_secrets(
        &self,
        f: &FindRef,
    ) -> Result<crate::provider::SecretMap, ProviderError> {
        let started = std::time::Instant::now();
        let result = self.client.get_all_secrets(f).await;
        self.record("GetAllSecrets", &result, started);
        result
    }
}

fn remote_ref(r: &ExternalSecretDataRemoteRef) -> RemoteRef {
    RemoteRef {
        key: r.key.clone(),
        property: r.property.clone().filter(|p| !p.is_empty()),
        version: r.version.clone().filter(|v| !v.is_empty()),
        fetch_metadata: r.metadata_policy == Some(MetadataPolicy::Fetch),
    }
}

/// Fetches and shapes everything `es` asks for. A NotFound is skipped (and noted) unless
/// `deletionPolicy` is Retain; any other error aborts, so partial data is never written.
///
/// Fetches share provider calls that started no earlier than `not_before`.
pub async fn fetch(
    ctx: &Context,
    es: &ExternalSecret,
    not_before: NotBefore,
    pending: &mut Pending,
) -> Result<Fetched, Error> {
    let namespace = es.metadata.namespace.clone().unwrap_or_default();
    let clients = Clients::new(ctx, &namespace, not_before);
    fetch_from(clients, ctx.transformer.as_ref(), es, pending).await
}

/// [`fetch`] with the stores from `clients` and rewrite transforms by `transformer`.
pub async fn fetch_from(
    mut clients: Clients<'_>,
    transformer: &dyn Transformer,
    es: &ExternalSecret,
    pending: &mut Pending,
) -> Result<Fetched, Error> {
    let default_store = es.spec.secret_store_ref.clone().unwrap_or_default();
    let retain = es.spec.target.deletion_policy == DeletionPolicy::Retain;
    let mut out = Fetched::default();

    for (i, from) in es.spec.data_from.iter().enumerate() {
        if let Some(StoreGeneratorSourceRef::GeneratorRef(g)) = &from.source_ref {
            let context = |m: String| {
                format!("error processing spec.dataFrom[{i}].sourceRef.generatorRef, err: {m}")
            };
            let generation = clients
                .generate(g, &i.to_string())
                .await
                .map_err(|e| match e {
                    Error::Unsupported(m) => Error::Unsupported(context(m)),
                    Error::InvalidSpec(m) => Error::InvalidSpec(context(m)),
                    other => Error::Generator(context(other.to_string())),
                })?;
            out.rotated.push(i.to_string());
            pending.extend(generation.pending);
            let map = if from.rewrite.is_empty() {
                generation.data
            } else {
                rewrite(transformer, generation.data, &from.rewrite, i).await?
            };
            out.data.extend(validate_keys(map)?);
            continue;
        }
        let store = data_from_store(from, i, &default_store)?;
        let client = clients.get(&store).await?;
        let (request, shaping) = data_from_request(from, i)?;
        let result = match &request {
            Request::Extract(r) => client.get_secret_map(r).await,
            Request::Find(f) => client.get_all_secrets(f).await,
        };
        let Some(map) = found(
            result,
            retain,
            &mut out.missing,
            || format!("secret does not exist at provider using spec.dataFrom[{i}]"),
            || format!("error processing spec.dataFrom[{i}]"),
        )?
        else {
            continue;
        };
        let map = data_from_keys(transformer, map, from, shaping, i).await?;
        out.data.extend(data_from_values(map, shaping, i)?);
    }

    for (i, d) in es.spec.data.iter().enumerate() {
        let store = data_store(d, i, &default_store)?;
        let client = clients.get(&store).await?;
        let key = &d.remote_ref.key;
        let Some(value) = found(
            client.get_secret(&remote_ref(&d.remote_ref)).await,
            retain,
            &mut out.missing,
            || format!("secret does not exist at provider using spec.data[{i}] (key={key})"),
            || format!("error processing spec.data[{i}] (key: {key})"),
        )?
        else {
            continue;
        };
        let v = data_value(value.into_inner(), d, i)?;
        out.data.insert(d.secret_key.clone(), Redacted::new(v));
    }
    Ok(out)
}

/// The store `spec.dataFrom[i]` reads (`default` unless it names one); a generator is no store.
fn data_from_store(
    from: &ExternalSecretDataFromRemoteRef,
    i: usize,
    default: &SecretStoreRef,
) -> Result<SecretStoreRef, Error> {
    match &from.source_ref {
        Some(StoreGeneratorSourceRef::StoreRef(r)) => Ok(r.clone()),
        Some(StoreGeneratorSourceRef::GeneratorRef(g)) => Err(Error::InvalidSpec(format!(
            "spec.dataFrom[{i}].sourceRef.generatorRef ({:?} \"{}\") reads no store",
            g.kind, g.name
        ))),
        None => Ok(default.clone()),
    }
}

/// The store `spec.data[i]` reads (`default` unless it names one); generators are refused.
fn data_store(
    d: &ExternalSecretData,
    i: usize,
    default: &SecretStoreRef,
) -> Result<SecretStoreRef, Error> {
    match &d.source_ref {
        Some(StoreSourceRef::StoreRef(r)) => Ok(r.clone()),
        Some(StoreSourceRef::GeneratorRef(_)) => Err(Error::Unsupported(format!(
            "spec.data[{i}].sourceRef.generatorRef is deprecated and not supported"
        ))),
        None => Ok(default.clone()),
    }
}

/// What a `spec.dataFrom[]` asks the provider for.
#[derive(Debug, Clone, PartialEq)]
enum Request {
    /// `extract`: one secret's properties.
    Extract(RemoteRef),
    /// `find`: every secret matching.
    Find(FindRef),
}

/// How a `spec.dataFrom[]`'s keys and values are made into Secret data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shaping {
    conversion: Option<ConversionStrategy>,
    decoding: Option<DecodingStrategy>,
    null_bytes: Option<NullBytePolicy>,
}

/// The request of `spec.dataFrom[i]` and how its answer is shaped.
fn data_from_request(
    from: &ExternalSecretDataFromRemoteRef,
    i: usize,
) -> Result<(Request, Shaping), Error> {
    if let Some(extract) = &from.extract {
        Ok((
            Request::Extract(remote_ref(extract)),
            Shaping {
                conversion: extract.conversion_strategy,
                decoding: extract.decoding_strategy,
                null_bytes: extract.null_byte_policy,
            },
        ))
    } else if let Some(find) = &from.find {
        Ok((
            Request::Find(FindRef {
                path: find.path.clone(),
                name_regexp: find.name.as_ref().and_then(|n| n.regexp.clone()),
                tags: find.tags.clone(),
            }),
            Shaping {
                conversion: find.conversion_strategy,
                decoding: find.decoding_strategy,
                null_bytes: find.null_byte_policy,
            },
        ))
    } else {
        Err(Error::InvalidSpec(format!(
            "spec.dataFrom[{i}] sets neither extract nor find"
        )))
    }
}

/// A provider answer: the value; `None` for a NotFound that is skipped (unless `retain`), with
/// the note `missing` in `notes`; any other error (and a NotFound under `retain`) with `context`.
fn found<T>(
    result: Result<T, ProviderError>,
    retain: bool,
    notes: &mut Vec<String>,
    missing: impl FnOnce() -> String,
    context: impl FnOnce() -> String,
) -> Result<Option<T>, Error> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(ProviderError::NotFound) if !retain => {
            notes.push(missing());
            Ok(None)
        }
        Err(source) => Err(Error::Provider {
            context: context(),
            source,
        }),
    }
}

/// The keys of `spec.dataFrom[i]`'s map: converted (no rewrite) or rewritten, then validated.
async fn data_from_keys(
    transformer: &dyn Transformer,
    map: SecretMap,
    from: &ExternalSecretDataFromRemoteRef,
    shaping: Shaping,
    i: usize,
) -> Result<SecretMap, Error> {
    let map = if from.rewrite.is_empty() {
        let strategy = shaping.conversion.unwrap_or_default();
        if let Some(key) = collision(map.keys(), strategy) {
            return Err(Error::Decode(format!(
                "error processing spec.dataFrom[{i}]: secret name collision during conversion: {key}"
            )));
        }
        convert_keys(map, strategy)
    } else {
        rewrite(transformer, map, &from.rewrite, i).await?
    };
    validate_keys(map)
}

/// The values of `spec.dataFrom[i]`'s map, decoded and checked for NUL bytes.
fn data_from_values(
    map: SecretMap,
    shaping: Shaping,
    i: usize,
) -> Result<BTreeMap<String, Redacted<Vec<u8>>>, Error> {
    map.into_iter()
        .map(|(k, v)| {
            let v = decode(v.into_inner(), shaping.decoding.unwrap_or_default()).map_err(|e| {
                Error::Decode(format!(
                    "error processing spec.dataFrom[{i}] (key: {k}): {e}"
                ))
            })?;
            check_null_bytes(&v, shaping.null_bytes, || {
                format!("spec.dataFrom[{i}] (key: {k})")
            })?;
            Ok((k, Redacted::new(v)))
        })
        .collect()
}

/// The value of `spec.data[i]`, decoded and checked for NUL bytes.
fn data_value(value: Vec<u8>, d: &ExternalSecretData, i: usize) -> Result<Vec<u8>, Error> {
    let key = &d.remote_ref.key;
    let v = decode(value, d.remote_ref.decoding_strategy.unwrap_or_default())
        .map_err(|e| Error::Decode(format!("error processing spec.data[{i}] (key: {key}): {e}")))?;
    check_null_bytes(&v, d.remote_ref.null_byte_policy, || {
        format!("spec.data[{i}] (key: {key})")
    })?;
    Ok(v)
}

/// `dataFrom[].rewrite`, applied in order: `regexp` (Go's `ReplaceAllString`, `$1` expands),
/// `transform` (a template per key, rendered by the template component) and `merge` (JSON objects
/// merged, see [`merge`]).
async fn rewrite(
    transformer: &dyn Transformer,
    mut map: SecretMap,
    rules: &[ExternalSecretRewrite],
    i: usize,
) -> Result<SecretMap, Error> {
    for (j, rule) in rules.iter().enumerate() {
        match rule {
            ExternalSecretRewrite::Regexp(r) => {
                map = rewrite_regexp(map, &r.source, &r.target).map_err(|e| {
                    Error::InvalidSpec(format!(
                        "spec.dataFrom[{i}].rewrite[{j}].regexp.source: {e}"
                    ))
                })?;
            }
            ExternalSecretRewrite::Transform(t) => {
                let keys: Vec<String> = map.keys().cloned().collect();
                let renamed = transformer
                    .rewrite_keys(t.template.clone(), keys.clone())
                    .await
                    .map_err(|e| {
                        Error::Template(format!(
                            "error processing spec.dataFrom[{i}].rewrite[{j}]: {e}"
                        ))
                    })?;
                let mut old = map;
                map = BTreeMap::new();
                for (from, to) in keys.iter().zip(renamed) {
                    if let Some(v) = old.remove(from) {
                        map.insert(to, v);
                    }
                }
            }
            ExternalSecretRewrite::Merge(m) => {
                map = merge::merge(m, map).map_err(|e| {
                    Error::InvalidSpec(format!("spec.dataFrom[{i}].rewrite[{j}].merge: {e}"))
                })?;
            }
        }
    }
    Ok(map)
}

mod keys;
mod merge;

use keys::{check_null_bytes, collision, convert_keys, rewrite_regexp};
pub use keys::{convert_key, decode, validate_keys};

#[cfg(test)]
mod tests;
