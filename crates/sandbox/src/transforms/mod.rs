//! [`WasmTransformer`]: template transforms run by the template component (plugins/template,
//! world `ampoule:transform/transformer`) in the sandbox — a fresh instance per call, no egress,
//! no credentials, a fuel budget, a memory cap, a deadline and an output size cap.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::sync::OnceCell;
use wasmtime::component::Component;

use crate::SandboxError;
use crate::distribution::embedded;
use crate::egress::policy::EgressPolicy;
use crate::identity::Identity;
use crate::provider::SecretValue;
use crate::runtime::Sandbox;
use crate::runtime::bindings::transformer::{Transformer as Bindings, TransformerPre, wit};
use crate::runtime::host::HostState;
use crate::runtime::module_cache::Digest;
use crate::runtime::runner::Runner;
use crate::transform::{
    Decoding, RenderRequest, Rendered, Scope as TemplateScope, Target, TransformError, Transformer,
};

/// Limits of one transform call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransformLimits {
    /// Wasm fuel per call (about one unit per instruction).
    pub fuel: u64,
    pub memory_bytes: usize,
    pub timeout: Duration,
    /// Total bytes of rendered keys and values.
    pub output_bytes: usize,
}

impl Default for TransformLimits {
    fn default() -> Self {
        TransformLimits {
            fuel: 2_000_000_000,
            memory_bytes: 64 << 20,
            timeout: Duration::from_secs(5),
            output_bytes: 1 << 20,
        }
    }
}

/// A compiled, import-checked transform component.
pub struct LoadedTransform {
    pub digest: Digest,
    pub(crate) pre: TransformerPre<HostState>,
}

/// Imports a transform may have: WASI 0.2 without network or HTTP (the standard library links
/// some of it; the context grants nothing) and the host's log.
fn check_transform_imports(
    engine: &wasmtime::Engine,
    component: &Component,
) -> Result<(), SandboxError> {
    const ALLOWED: &[&str] = &[
        "wasi:io/",
        "wasi:clocks/",
        "wasi:random/",
        "wasi:cli/",
        "wasi:filesystem/",
        "ampoule:host/log@0.1.",
        "ampoule:transform/types@0.1.",
    ];
    for (name, _) in component.component_type().imports(engine) {
        let wasi_ok = name.starts_with("wasi:") && name.contains("@0.2.");
        let ok = ALLOWED.iter().any(|p| name.starts_with(p))
            && (wasi_ok || name.starts_with("ampoule:"));
        if !ok {
            return Err(SandboxError::UnsupportedImport(format!(
                "{name} (a template transform may import only WASI 0.2 without sockets or HTTP, and ampoule:host/log)"
            )));
        }
    }
    Ok(())
}

impl Sandbox {
    /// Compiles a transform component (disk-cached like providers) and checks its imports and
    /// exports. CPU-heavy: call from a blocking thread.
    pub fn compile_transform(&self, bytes: &[u8]) -> Result<LoadedTransform, SandboxError> {
        let digest = Digest::of(bytes);
        let (engine, linker) = self.transform_engine();
        let component =
            Component::new(engine, bytes).map_err(|e| SandboxError::Compile(format!("{e:#}")))?;
        check_transform_imports(engine, &component)?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| SandboxError::Link(format!("{e:#}")))?;
        let pre = TransformerPre::new(pre).map_err(|e| {
            SandboxError::NotAProvider(format!(
                "not an ampoule:transform/transformer component: {e:#}"
            ))
        })?;
        Ok(LoadedTransform { digest, pre })
    }
}

/// What [`WasmTransformer::before_compile`] runs.
pub type BeforeCompile = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

/// Runs template transforms in the sandbox. The component is compiled on first use (or by
/// [`WasmTransformer::preload`]) and instantiated fresh for every call.
pub struct WasmTransformer {
    sandbox: Arc<Sandbox>,
    bytes: &'static [u8],
    loaded: OnceCell<Arc<LoadedTransform>>,
    limits: TransformLimits,
    /// Run before compiling: `ampoule run` compiles the component into the module cache in a
    /// child process (`ampoule compile template`), so this process only loads it from there.
    before_compile: Option<BeforeCompile>,
}

impl WasmTransformer {
    /// The template component embedded in the binary.
    pub fn embedded(sandbox: Arc<Sandbox>) -> Self {
        WasmTransformer {
            sandbox,
            bytes: embedded::TRANSFORM.bytes,
            loaded: OnceCell::new(),
            limits: TransformLimits::default(),
            before_compile: None,
        }
    }

    /// Runs `hook` before the component is compiled, on first use or [`Self::preload`]; again
    /// before the next attempt if compiling failed.
    pub fn before_compile(mut self, hook: BeforeCompile) -> Self {
        self.before_compile = Some(hook);
        self
    }

    pub fn with_limits(mut self, limits: TransformLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Compiles the component now (off the reconcile path).
    pub async fn preload(&self) -> Result<Arc<LoadedTransform>, SandboxError> {
        self.loaded
            .get_or_try_init(|| async {
                if let Some(hook) = &self.before_compile {
                    hook().await;
                }
                let sandbox = self.sandbox.clone();
                let bytes = self.bytes;
                let started = Instant::now();
                let loaded = tokio::task::spawn_blocking(move || sandbox.compile_transform(bytes))
                    .await
                    .map_err(|e| SandboxError::Engine(format!("compile task: {e}")))??;
                self.sandbox
                    .metrics
                    .compile
                    .observe(started.elapsed().as_secs_f64());
                Ok(Arc::new(loaded))
            })
            .await
            .cloned()
    }

    /// Runs one export on a fresh instance under the limits; returns its result and the fuel
    /// it consumed.
    async fn call<R: Send + 'static>(
        &self,
        what: &'static str,
        f: impl for<'s> FnOnce(
            &'s mut wasmtime::Store<HostState>,
            Bindings,
        ) -> BoxFuture<'s, wasmtime::Result<Result<R, String>>>
        + Send,
    ) -> Result<R, TransformError> {
        let sandbox_err = |e: SandboxError| TransformError::Sandbox(e.to_string());
        let loaded = self.preload().await.map_err(sandbox_err)?;
        let policy = EgressPolicy::deny_all();
        let scope = Arc::new(Identity {
            store: format!("transform/{what}"),
            provider: "template".into(),
            digest: loaded.digest.to_string(),
            cache_key: String::new(),
        });
        let mut store =
            self.sandbox
                .transform_store(Arc::new(policy), scope, self.limits.memory_bytes);
        store
            .set_fuel(self.limits.fuel)
            .map_err(|e| TransformError::Sandbox(format!("fuel: {e}")))?;
        let mut runner = Runner {
            store: &mut store,
            timeout: self.limits.timeout,
            metrics: &self.sandbox.metrics,
        };
        let pre = loaded.pre.clone();
        let instance = runner
            .run(|s| Box::pin(async move { pre.instantiate_async(s).await }))
            .await
            .map_err(sandbox_err)?;
        let outcome = runner.run(|s| f(s, instance)).await;
        let used = self
            .limits
            .fuel
            .saturating_sub(store.get_fuel().unwrap_or(0));
        self.sandbox.metrics.transform_fuel.observe(used as f64);
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(template)) => Err(TransformError::Template(template)),
            // The trap's text is a wasm backtrace: of no use to whoever reads the condition.
            Err(SandboxError::Trap(_)) if used >= self.limits.fuel => {
                Err(TransformError::Sandbox(format!(
                    "the template exceeded its fuel budget of {} instructions",
                    self.limits.fuel
                )))
            }
            Err(e) => Err(sandbox_err(e)),
        }
    }

    fn check_size<'a>(
        &self,
        sizes: impl Iterator<Item = usize> + 'a,
    ) -> Result<(), TransformError> {
        let total: usize = sizes.sum();
        if total > self.limits.output_bytes {
            return Err(TransformError::Template(format!(
                "rendered output is {total} bytes, over the limit of {} bytes",
                self.limits.output_bytes
            )));
        }
        Ok(())
    }
}

fn now_and_seed() -> (i64, Vec<u8>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    (now, rand::random::<[u8; 32]>().to_vec())
}

fn to_wit(req: RenderRequest) -> wit::RenderRequest {
    let pairs = |m: BTreeMap<String, String>| m.into_iter().collect::<Vec<_>>();
    let (now, seed) = now_and_seed();
    wit::RenderRequest {
        data: req
            .data
            .into_iter()
            .map(|(k, v)| (k, v.into_inner()))
            .collect(),
        sources: req
            .sources
            .into_iter()
            .map(|s| wit::Source {
                target: match s.target {
                    Target::Data => wit::Target::Data,
                    Target::Labels => wit::Target::Labels,
                    Target::Annotations => wit::Target::Annotations,
                },
                decoding: match s.decoding {
                    Decoding::None => wit::Decoding::None,
                    Decoding::Base64 => wit::Decoding::Base64,
                    Decoding::Base64Url => wit::Decoding::Base64url,
                    Decoding::Auto => wit::Decoding::Auto,
                },
                items: s
                    .items
                    .into_iter()
                    .map(|i| wit::Item {
                        key: i.key,
                        text: i.text.into_inner(),
                        scope: match i.scope {
                            TemplateScope::Values => wit::Scope::Values,
                            TemplateScope::KeysAndValues => wit::Scope::KeysAndValues,
                        },
                    })
                    .collect(),
            })
            .collect(),
        data_templates: pairs(req.data_templates),
        label_templates: pairs(req.label_templates),
        annotation_templates: pairs(req.annotation_templates),
        left_delimiter: req.delimiters.0,
        right_delimiter: req.delimiters.1,
        now_unix_nanos: now,
        seed,
    }
}

impl Transformer for WasmTransformer {
    fn render(&self, request: RenderRequest) -> BoxFuture<'_, Result<Rendered, TransformError>> {
        Box::pin(async move {
            let req = to_wit(request);
            let out = self
                .call("render", move |s, i| {
                    Box::pin(
                        async move { i.ampoule_transform_transform().call_render(s, &req).await },
                    )
                })
                .await?;
            self.check_size(
                out.data
                    .iter()
                    .map(|(k, v)| k.len() + v.len())
                    .chain(out.labels.iter().map(|(k, v)| k.len() + v.len()))
                    .chain(out.annotations.iter().map(|(k, v)| k.len() + v.len())),
            )?;
            Ok(Rendered {
                data: out
                    .data
                    .into_iter()
                    .map(|(k, v)| (k, SecretValue::new(v)))
                    .collect(),
                labels: out.labels.into_iter().collect(),
                annotations: out.annotations.into_iter().collect(),
            })
        })
    }

    fn rewrite_keys(
        &self,
        template: String,
        keys: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<String>, TransformError>> {
        Box::pin(async move {
            let (now, seed) = now_and_seed();
            let out = self
                .call("rewrite", move |s, i| {
                    Box::pin(async move {
                        i.ampoule_transform_transform()
                            .call_rewrite_keys(s, &template, &keys, now, &seed)
                            .await
                    })
                })
                .await?;
            self.check_size(out.iter().map(String::len))?;
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::SandboxConfig;

    fn request(template: &str, data: &[(&str, &str)]) -> RenderRequest {
        RenderRequest {
            data: data
                .iter()
                .map(|(k, v)| (k.to_string(), SecretValue::new(v.as_bytes().to_vec())))
                .collect(),
            data_templates: BTreeMap::from([("out".to_string(), template.to_string())]),
            delimiters: ("{{".into(), "}}".into()),
            ..RenderRequest::default()
        }
    }

    /// One pool slot, so every render reuses the memory the previous one wrote: small and large
    /// working sets (restored in place, or past the in-place budget and partly decommitted) must
    /// each leave the next instance exactly as fresh as a new one.
    #[tokio::test]
    async fn a_reused_slot_starts_every_render_fresh() {
        let sandbox = Sandbox::new(SandboxConfig {
            cache_dir: Some(crate::runtime::module_cache::default_cache_dir()),
            max_instances: 1,
            ..SandboxConfig::default()
        })
        .unwrap();
        let t = WasmTransformer::embedded(sandbox);
        let heavy = [
            (r#"{{ repeat 1000000 "ab" | len }}"#, "2000000"),
            (r#"{{ repeat 6000000 "ab" | len }}"#, "12000000"),
        ];
        for (i, (template, want)) in heavy.iter().cycle().take(4).enumerate() {
            let secret = format!("s3cr3t-{i}");
            let out = t
                .render(request(
                    "{{ .user }}:{{ .secret }}",
                    &[("user", "app"), ("secret", &secret)],
                ))
                .await
                .unwrap();
            assert_eq!(out.data["out"].expose(), format!("app:{secret}").as_bytes());
            let out = t.render(request(template, &[])).await.unwrap();
            assert_eq!(out.data["out"].expose(), want.as_bytes());
            // Nothing of the previous render's data survives into the next instance.
            let err = t
                .render(request("{{ .secret }}", &[("user", "app")]))
                .await
                .unwrap_err();
            assert!(
                matches!(&err, TransformError::Template(m) if m.contains("secret")),
                "{err:?}"
            );
        }
    }
}
