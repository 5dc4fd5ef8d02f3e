//! The vault plugin in the sandbox against the ground's real OpenBao (kubernetes auth doing
//! TokenReview against the ground's apiserver), with the real KubeCredentials resolver.
//! PushSecret's writes too (plugin_vault/pushes.rs).
//! Every test uses its own namespace, KV paths, mounts and roles, so they run in parallel.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use ampoule::controller::credentials::KubeCredentials;
use ampoule::plugin::WasmProvider;
use ampoule::provider::{
    FindRef, ProviderClient, ProviderError, RemoteRef, SecretProvider, StoreContext, Validation,
};
use ground::{ground, run, run_with_input};
use plugin_common::port_of;
use serde_json::{Value, json};

mod common;
mod plugin_common;

#[path = "plugin_vault/logins.rs"]
mod logins;
#[path = "plugin_vault/pushes.rs"]
mod pushes;
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
    let kube = g.client().await;
    // The ceiling a loopback OpenBao needs.
    let class = plugin_common::loopback_class("vault", Value::Null, &[port_of(g.vault_addr())]);
    let creds = KubeCredentials::new(kube.clone());
    let p = plugin_common::provider(
        "ampoule_vault",
        "vault",
        creds,
        private_networks.then_some(class),
    )
    .await;
    Env {
        id: ns.clone(),
        ns,
        p,
        kube,
    }
}

impl Env {
    fn ctx(&self, config: Value) -> StoreContext {
        plugin_common::store_in("vault", &format!("{}-store", self.id), &self.ns, config)
    }

    async fn client(&self, config: Value) -> Result<Box<dyn ProviderClient>, ProviderError> {
        self.p.open(&self.ctx(config)).await.map(|(c, _)| c)
    }

    async fn secret(&self, name: &str, key: &str, value: &str) {
        plugin_common::create(&self.kube, &self.ns, "Secret", name, &[(key, value)]).await;
    }

    async fn service_account(&self, name: &str) {
        plugin_common::create(&self.kube, &self.ns, "ServiceAccount", name, &[]).await;
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
