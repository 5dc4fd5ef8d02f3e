//! Loading a generator component: digest check, compile (wasmtime's disk cache), the sandbox's
//! import check, the provider linker, then `describe` on a deny-all instance.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::Component;

use super::bindings::SecretGeneratorCorePre;
use crate::egress::policy::EgressPolicy;
use crate::identity::Identity;
use crate::metrics::SandboxMetrics;
use crate::runtime::Sandbox;
use crate::runtime::host::HostState;
use crate::runtime::sandbox::check_imports;
use crate::{Digest, SandboxError};

/// A compiled, import-checked generator component and what it serves.
pub struct LoadedGenerator {
    pub digest: Digest,
    /// The kinds it serves (`describe`).
    pub kinds: Vec<String>,
    pub version: String,
    pub(crate) pre: SecretGeneratorCorePre<HostState>,
}

fn compile(
    sandbox: &Sandbox,
    bytes: &[u8],
    expected: Option<&Digest>,
) -> Result<(Digest, SecretGeneratorCorePre<HostState>), SandboxError> {
    let refuse = |e: SandboxError| {
        SandboxMetrics::inc(&sandbox.metrics.components_refused);
        e
    };
    let digest = Digest::of(bytes);
    if let Some(want) = expected
        && *want != digest
    {
        return Err(refuse(SandboxError::DigestMismatch {
            expected: want.to_string(),
            actual: digest.to_string(),
        }));
    }
    let component = Component::new(sandbox.engine(), bytes)
        .map_err(|e| refuse(SandboxError::Compile(format!("{e:#}"))))?;
    check_imports(sandbox.engine(), &component).map_err(refuse)?;
    let pre = sandbox
        .linker()
        .instantiate_pre(&component)
        .map_err(|e| refuse(SandboxError::Link(format!("{e:#}"))))?;
    let pre = SecretGeneratorCorePre::new(pre).map_err(|e| {
        refuse(SandboxError::NotAProvider(format!(
            "not an ampoule:provider/secret-generator component: {e:#}"
        )))
    })?;
    Ok((digest, pre))
}

pub(super) async fn load(
    sandbox: &Arc<Sandbox>,
    bytes: Vec<u8>,
    expected: Option<Digest>,
) -> Result<LoadedGenerator, SandboxError> {
    let this = sandbox.clone();
    let started = Instant::now();
    let (digest, pre) =
        tokio::task::spawn_blocking(move || compile(&this, &bytes, expected.as_ref()))
            .await
            .map_err(|e| SandboxError::Engine(format!("compile task: {e}")))??;
    sandbox
        .metrics
        .compile
        .observe(started.elapsed().as_secs_f64());
    let scope = Arc::new(Identity {
        store: "-".into(),
        provider: "generator".into(),
        digest: digest.to_string(),
        cache_key: String::new(),
    });
    let mut store = sandbox.store(
        Arc::new(EgressPolicy::deny_all()),
        scope,
        Default::default(),
    );
    store.data_mut().deadline = Instant::now() + Duration::from_secs(5);
    let call = async {
        let instance = pre.instantiate_async(&mut store).await?;
        instance
            .ampoule_provider_generator()
            .call_describe(&mut store)
            .await
    };
    let info = call.await.map_err(|e| {
        SandboxMetrics::inc(&sandbox.metrics.components_refused);
        SandboxError::NotAProvider(format!("generator describe failed: {e:#}"))
    })?;
    Ok(LoadedGenerator {
        digest,
        kinds: info.kinds,
        version: info.version,
        pre,
    })
}
