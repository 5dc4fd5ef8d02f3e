//! The aws plugin in the sandbox against the ground's moto (Secrets Manager, SSM, STS), plus a
//! private moto with SigV4 verification on. Credentials come from an in-memory resolver (the
//! Kubernetes side is tested with the controller). Every test uses its own names.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

mod plugin_common;

use std::collections::HashMap;
use std::io::Write;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ampoule::plugin::{ProviderClassConfig, Sandbox, SandboxConfig, WasmProvider};
use ampoule::provider::{FindRef, ProviderError, SecretProvider, StoreContext};
use ground::ground;
use serde_json::{Value, json};

use plugin_common::{Creds, get, rr};

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

fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

async fn provider(creds: Creds, settings: Value, ports: &[u16]) -> WasmProvider {
    let dir = std::env::temp_dir().join(format!("ampoule-test-cache-{}", std::process::id()));
    let sb = Sandbox::new(SandboxConfig {
        cache_dir: Some(dir),
        ..SandboxConfig::default()
    })
    .unwrap();
    let path = format!("{}/ampoule_aws.wasm", ampoule::plugin::embedded::BUILD_DIR);
    let loaded = sb.load(std::fs::read(&path).unwrap(), None).await.unwrap();
    let p = WasmProvider::new(sb, Arc::new(creds));
    let allow: Vec<Value> = ports
        .iter()
        .map(|p| json!({"host": "127.0.0.1", "ports": [p]}))
        .collect();
    let class: ProviderClassConfig = serde_json::from_value(json!({
        "provider": "aws", "settings": settings,
        "sandbox": {"egress": {"allow": allow, "privateNetworks": "Allow"}}
    }))
    .unwrap();
    p.bind("aws", loaded, Some(class));
    p
}

fn store(name: &str, config: Value) -> StoreContext {
    plugin_common::store_for("aws", name, config)
}

fn aws_config(service: &str, extra: Value) -> Value {
    let mut c = json!({"service": service, "region": "us-east-1", "auth": {"secretRef": {
        "accessKeyIDSecretRef": {"name": "aws", "key": "id"},
        "secretAccessKeySecretRef": {"name": "aws", "key": "secret"}}}});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

fn endpoints(url: &str) -> Value {
    json!({"endpoints": {"secretsmanager": url, "ssm": url, "sts": url}})
}

/// Runs a boto3 script against `endpoint` with the ground's Python; returns its stdout.
fn boto(endpoint: &str, key: &str, script: &str) -> String {
    let mut child = ground()
        .python()
        .args(["-", endpoint, key])
        .env("AWS_ACCESS_KEY_ID", "ground")
        .env("AWS_SECRET_ACCESS_KEY", "ground-secret")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let prelude = "import sys, json, boto3\nep, P = sys.argv[1], sys.argv[2]\n\
        sm = boto3.client('secretsmanager', endpoint_url=ep, region_name='us-east-1')\n\
        ssm = boto3.client('ssm', endpoint_url=ep, region_name='us-east-1')\n\
        iam = boto3.client('iam', endpoint_url=ep, region_name='us-east-1')\n";
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{prelude}{script}").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "boto3 script failed");
    String::from_utf8(out.stdout).unwrap()
}

#[path = "plugin_aws/cases.rs"]
mod cases;
