//! Shared by the plugin tests (plugin_aws, plugin_gcp, plugin_vault, plugin_vault_tls,
//! plugin_sandbox): a first-party component loaded into a fresh sandbox, a credential resolver
//! serving fixed values by name, store contexts, remote refs, and one get-secret through a fresh
//! client, and PushSecret's requests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::Arc;

use ampoule::plugin::{
    CredentialRequest, CredentialResolver, ProviderClassConfig, Sandbox, SandboxConfig,
    WasmProvider,
};
use ampoule::provider::{
    ProviderError, PushData, PushRemoteRef, RemoteRef, SecretProvider, SecretValue, StoreContext,
    StoreKind,
};
use futures::future::BoxFuture;
use serde_json::{Value, json};

/// Credentials by the name the plugin requests them under.
pub struct Creds(pub HashMap<String, Vec<u8>>);

impl CredentialResolver for Creds {
    fn resolve<'a>(
        &'a self,
        _: &'a StoreContext,
        r: &'a CredentialRequest,
    ) -> BoxFuture<'a, Result<SecretValue, ProviderError>> {
        let v = self.0.get(&r.name).cloned();
        Box::pin(async move {
            v.map(SecretValue::new)
                .ok_or_else(|| ProviderError::InvalidConfig(format!("no {}", r.name)))
        })
    }
}

/// A component crates/sandbox/build.rs built (`ampoule_aws`, `ampoule_test_hostile`, …).
pub fn component(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/{name}.wasm",
        ampoule::plugin::distribution::embedded::BUILD_DIR
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A sandbox with its compiled-code cache in the build's temporary folder, shared by every test
/// process and run (wasmtime writes cache entries atomically).
pub fn sandbox() -> Arc<Sandbox> {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("module-cache");
    Sandbox::new(SandboxConfig {
        cache_dir: Some(dir),
        ..SandboxConfig::default()
    })
    .unwrap()
}

/// A provider serving `key` with `component` in a fresh [`sandbox`], credentials from `creds`.
pub async fn provider(
    component_name: &str,
    key: &str,
    creds: impl CredentialResolver + 'static,
    class: Option<ProviderClassConfig>,
) -> WasmProvider {
    let sb = sandbox();
    let loaded = sb.load(component(component_name), None).await.unwrap();
    let p = WasmProvider::new(sb, Arc::new(creds));
    p.bind(key, loaded, class);
    p
}

/// A ProviderClass for `provider` with `settings` (unless null) whose egress ceiling allows
/// these ports on loopback, private networks included.
pub fn loopback_class(provider: &str, settings: Value, ports: &[u16]) -> ProviderClassConfig {
    let allow: Vec<Value> = ports
        .iter()
        .map(|p| json!({"host": "127.0.0.1", "ports": [p]}))
        .collect();
    serde_json::from_value(json!({"provider": provider, "settings": settings,
        "sandbox": {"egress": {"allow": allow, "privateNetworks": "Allow"}}}))
    .unwrap()
}

/// `base` with the top-level fields of `extra` set.
pub fn merged(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

/// The port of a URL like `http://127.0.0.1:8200/`.
pub fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

/// A SecretStore in `ns` serving `provider` with `config`.
pub fn store_in(provider: &str, name: &str, ns: &str, config: Value) -> StoreContext {
    StoreContext {
        kind: StoreKind::SecretStore,
        name: name.into(),
        store_namespace: Some(ns.into()),
        caller_namespace: Some(ns.into()),
        generation: 1,
        provider: provider.into(),
        config,
        sandbox: None,
    }
}

/// A SecretStore in `default` serving `provider` with `config`.
pub fn store_for(provider: &str, name: &str, config: Value) -> StoreContext {
    store_in(provider, name, "default", config)
}

pub fn rr(key: &str, property: Option<&str>, version: Option<&str>, meta: bool) -> RemoteRef {
    RemoteRef {
        key: key.into(),
        property: property.map(Into::into),
        version: version.map(Into::into),
        fetch_metadata: meta,
    }
}

/// One get-secret through a freshly opened client, as text.
pub async fn get(
    p: &WasmProvider,
    s: &StoreContext,
    r: RemoteRef,
) -> Result<String, ProviderError> {
    let (client, _) = p.open(s).await?;
    client
        .get_secret(&r)
        .await
        .map(|v| String::from_utf8_lossy(v.expose()).into_owned())
}

/// Asserts that the host denied a request the plugin made (before DNS: the plugin sees wasi:http's
/// denial as Forbidden).
pub fn assert_egress_denied(err: &ProviderError) {
    assert!(
        matches!(err, ProviderError::Forbidden(m) if m.contains("denied by the sandbox egress policy")),
        "{err:?}"
    );
}

/// Creates a Secret (these `stringData` entries), a ConfigMap (these `data` entries) or another
/// core object without entries (a ServiceAccount) `name` in `ns`.
pub async fn create(kube: &kube::Client, ns: &str, kind: &str, name: &str, data: &[(&str, &str)]) {
    let entries: serde_json::Map<String, Value> = data
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let field = if kind == "Secret" {
        "stringData"
    } else {
        "data"
    };
    let mut obj = json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}});
    if !entries.is_empty() {
        obj[field] = Value::Object(entries);
    }
    let gvk = kube::api::GroupVersionKind::gvk("", "v1", kind);
    let ar = kube::api::ApiResource::from_gvk(&gvk);
    kube::Api::<kube::api::DynamicObject>::namespaced_with(kube.clone(), ns, &ar)
        .create(
            &kube::api::PostParams::default(),
            &serde_json::from_value(obj).unwrap(),
        )
        .await
        .unwrap();
}

/// PushSecret's `data[].match.remoteRef`.
pub fn remote(key: &str, property: Option<&str>) -> PushRemoteRef {
    PushRemoteRef {
        remote_key: key.into(),
        property: property.map(Into::into),
    }
}

/// One PushSecret `data[]` entry: `value` written at `key` (`property`), with `metadata` JSON.
pub fn push(key: &str, property: Option<&str>, value: &str, metadata: Option<Value>) -> PushData {
    PushData {
        remote: remote(key, property),
        value: SecretValue::new(value.as_bytes().to_vec()),
        metadata: metadata.map(|m| m.to_string()),
    }
}

/// `s` with a `spec.sandbox` whose egress allows only `methods` to 127.0.0.1:`port`.
pub fn only_methods(mut s: StoreContext, port: u16, methods: &[&str]) -> StoreContext {
    let spec = json!({"egress": {"allow": [{"host": "127.0.0.1", "ports": [port], "methods": methods}],
        "privateNetworks": "Allow"}});
    s.sandbox = Some(Arc::new(serde_json::from_value(spec).unwrap()));
    s
}
