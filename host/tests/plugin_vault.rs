//! The vault plugin in the sandbox against the ground's real OpenBao (kubernetes auth doing
//! TokenReview against the ground's apiserver), with the real KubeCredentials resolver.
//! Every test uses its own namespace, KV paths, mounts and roles, so they run in parallel.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::sync::Arc;

use ampoule::controller::credentials::KubeCredentials;
use ampoule::plugin::{ProviderClassConfig, Sandbox, SandboxConfig, WasmProvider};
use ampoule::provider::{
    FindRef, ProviderClient, ProviderError, RemoteRef, SecretProvider, StoreContext, StoreKind,
    Validation,
};
use ground::{ground, run, run_with_input};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::{Api, ObjectMeta, PostParams};
use serde_json::{Value, json};

#[path = "plugin_vault/logins.rs"]
mod logins;
#[path = "plugin_vault/reads.rs"]
mod reads;

fn bao(args: &[&str]) -> String {
    run(ground().command("bao").args(args))
}

/// `bao write PATH -` with a JSON body on stdin.
fn bao_write(path: &str, body: Value) -> String {
    run_with_input(
        ground()
            .command("bao")
            .args(["write", "-format=json", path, "-"]),
        body.to_string().as_bytes(),
    )
}

fn port() -> u16 {
    ground()
        .vault_addr()
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

/// The `vault` ProviderClass a loopback OpenBao needs.
fn class() -> ProviderClassConfig {
    serde_json::from_value(json!({"provider": "vault", "sandbox": {"egress": {
        "allow": [{"host": "127.0.0.1", "ports": [port()]}], "privateNetworks": "Allow"}}}))
    .unwrap()
}

struct Env {
    ns: String,
    /// Unique KV path prefix, policy and role name.
    id: String,
    p: WasmProvider,
    kube: kube::Client,
}

async fn env(prefix: &str, private_networks: bool) -> Env {
    let g = ground();
    let ns = g.namespace(prefix).await;
    let dir = std::env::temp_dir().join(format!("ampoule-vault-test-cache-{}", std::process::id()));
    let sb = Sandbox::new(SandboxConfig {
        cache_dir: Some(dir),
        ..SandboxConfig::default()
    })
    .unwrap();
    let path = format!(
        "{}/ampoule_vault.wasm",
        ampoule::plugin::embedded::BUILD_DIR
    );
    let loaded = sb.load(std::fs::read(&path).unwrap(), None).await.unwrap();
    let kube = g.client().await;
    let p = WasmProvider::new(sb, Arc::new(KubeCredentials::new(kube.clone())));
    p.bind("vault", loaded, private_networks.then(class));
    Env {
        id: ns.clone(),
        ns,
        p,
        kube,
    }
}

impl Env {
    fn ctx(&self, config: Value) -> StoreContext {
        StoreContext {
            kind: StoreKind::SecretStore,
            name: format!("{}-store", self.id),
            store_namespace: Some(self.ns.clone()),
            caller_namespace: Some(self.ns.clone()),
            generation: 1,
            provider: "vault".into(),
            config,
            sandbox: None,
        }
    }

    async fn client(&self, config: Value) -> Result<Box<dyn ProviderClient>, ProviderError> {
        self.p.open(&self.ctx(config)).await.map(|(c, _)| c)
    }

    async fn secret(&self, name: &str, key: &str, value: &str) {
        let s = Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            string_data: Some([(key.to_owned(), value.to_owned())].into()),
            ..Default::default()
        };
        Api::<Secret>::namespaced(self.kube.clone(), &self.ns)
            .create(&PostParams::default(), &s)
            .await
            .unwrap();
    }

    async fn service_account(&self, name: &str) {
        let sa = ServiceAccount {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        Api::<ServiceAccount>::namespaced(self.kube.clone(), &self.ns)
            .create(&PostParams::default(), &sa)
            .await
            .unwrap();
    }

    /// A policy named after the test that reads and lists everything under these globs.
    fn policy(&self, mounts: &[&str]) {
        let rules: String = mounts
            .iter()
            .map(|m| format!("path \"{m}/*\" {{ capabilities = [\"read\", \"list\"] }}\n"))
            .collect();
        bao_write(
            &format!("sys/policies/acl/{}", self.id),
            json!({"policy": rules}),
        );
    }

    /// A token with the test's policy, stored in a Secret `vault-token`.
    async fn token_secret(&self) {
        let out = bao(&[
            "token",
            "create",
            "-format=json",
            "-ttl=10m",
            &format!("-policy={}", self.id),
        ]);
        let token: Value = serde_json::from_str(&out).unwrap();
        self.secret(
            "vault-token",
            "token",
            token["auth"]["client_token"].as_str().unwrap(),
        )
        .await;
    }

    fn server(&self) -> String {
        ground().vault_addr().trim_end_matches('/').to_owned()
    }
}

fn r(key: &str) -> RemoteRef {
    RemoteRef {
        key: key.into(),
        ..RemoteRef::default()
    }
}

fn prop(key: &str, property: &str) -> RemoteRef {
    RemoteRef {
        property: Some(property.into()),
        ..r(key)
    }
}

async fn text(c: &dyn ProviderClient, r: &RemoteRef) -> String {
    String::from_utf8(c.get_secret(r).await.unwrap().expose().clone()).unwrap()
}
