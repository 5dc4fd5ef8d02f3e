//! The aws plugin in the sandbox against the ground's moto (Secrets Manager, SSM, STS), plus a
//! private moto with SigV4 verification on. Credentials come from an in-memory resolver (the
//! Kubernetes side is tested with the controller). PushSecret's writes in plugin_aws/pushes.rs.
//! Every test uses its own names.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

mod common;
mod plugin_common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use ampoule::plugin::WasmProvider;
use ampoule::provider::{FindRef, ProviderError, SecretProvider, StoreContext};
use common::cloud;
use ground::ground;
use serde_json::{Value, json};

use plugin_common::{Creds, get, port_of, rr};

fn static_creds(ak: &str, sk: &str) -> Creds {
    Creds(HashMap::from([
        ("access-key-id".into(), ak.as_bytes().to_vec()),
        ("secret-access-key".into(), sk.as_bytes().to_vec()),
    ]))
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", std::process::id(), rand_suffix())
}

fn rand_suffix() -> u64 {
    static N: AtomicUsize = AtomicUsize::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    t ^ (N.fetch_add(1, Ordering::Relaxed) as u64) << 40
}

async fn provider(creds: Creds, settings: Value, ports: &[u16]) -> WasmProvider {
    let class = plugin_common::loopback_class("aws", settings, ports);
    plugin_common::provider("ampoule_aws", "aws", creds, Some(class)).await
}

/// A provider with static keys at `endpoint` for Secrets Manager, SSM and STS.
async fn provider_at(endpoint: &str, ak: &str, sk: &str) -> WasmProvider {
    provider(
        static_creds(ak, sk),
        endpoints(endpoint),
        &[port_of(endpoint)],
    )
    .await
}

fn store(name: &str, config: Value) -> StoreContext {
    plugin_common::store_for("aws", name, config)
}

fn aws_config(service: &str, extra: Value) -> Value {
    let c = json!({"service": service, "region": "us-east-1", "auth": {"secretRef": {
        "accessKeyIDSecretRef": {"name": "aws", "key": "id"},
        "secretAccessKeySecretRef": {"name": "aws", "key": "secret"}}}});
    plugin_common::merged(c, extra)
}

fn endpoints(url: &str) -> Value {
    json!({"endpoints": {"secretsmanager": url, "ssm": url, "sts": url}})
}

/// Runs a boto3 script against `endpoint` (`P` is `key`); returns its stdout.
fn boto(endpoint: &str, key: &str, script: &str) -> String {
    cloud::python_with(endpoint, key, script)
}

#[path = "plugin_aws/cases.rs"]
mod cases;
#[path = "plugin_aws/pushes.rs"]
mod pushes;
