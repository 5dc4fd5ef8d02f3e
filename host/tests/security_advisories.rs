//! Issue 17, part 2: ESO's security advisories and multi-tenancy threats
//! (docs/eso-behaviour.md#reference-rules,
//! docs/eso-behaviour.md#store-conditions-and-referent-authentication,
//! docs/eso-behaviour.md#multi-tenancy-and-advisories) as end-to-end tests against the ground, with
//! the `ampoule run` binary. Each test plants a real object holding a known value where a tenant
//! must not reach it, tries to reach it the way the advisory did, and fails if the value arrives
//! anywhere: in a Secret of the tenant's namespace, in an event, a status, or the operator's log.
//!
//! - `credentials.rs`: a namespaced SecretStore never reads another namespace's credentials (auth
//!   `secretRef.namespace`, `serviceAccountRef.namespace`) or CA (`caProvider.namespace`,
//!   GHSA-wv26-88m5-6h59); a ClusterSecretStore's referent login of one namespace never serves
//!   another;
//! - `templates.rs`: templateFrom across namespaces, privileged templates (GHSA-fq7h-9x26-6j22)
//!   at admission and at reconcile, no `getSecretKey` (GHSA-77v3-r3jw-j2v2);
//! - `cluster.rs`: ClusterSecretStore `conditions` hold for ClusterExternalSecret fan-out;
//! - `ceiling.rs`: a store's `spec.sandbox` cannot widen its ProviderClass ceiling.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "security_advisories/ceiling.rs"]
mod ceiling;
#[path = "security_advisories/cluster.rs"]
mod cluster;
mod common;
#[path = "security_advisories/credentials.rs"]
mod credentials;
#[allow(dead_code)]
#[path = "plugin_vault_tls/server.rs"]
mod server;
#[path = "security_advisories/templates.rs"]
mod templates;

use common::operator::Operated;
use common::{WAIT, apply, data};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::api::events::v1::Event;
use kube::Client;
use kube::api::{Api, DynamicObject, PostParams};
use serde_json::{Value, json};

/// Deletes cluster-scoped objects (`kind/name` for kubectl) when dropped, however the test ends:
/// a failed test must not leave a ProviderClass, ClusterSecretStore or ClusterExternalSecret
/// acting on the shared ground.
pub struct Cleanup(pub Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = ground::ground()
            .command("kubectl")
            .args(["delete", "--ignore-not-found", "--wait=false"])
            .args(&self.0)
            .output();
    }
}

/// A value no test could produce by accident.
pub fn marker(what: &str) -> String {
    format!("{what}-{:016x}", rand::random::<u64>())
}

/// An operator watching one fresh namespace (`prefix-<random>`), after the ProviderClass the
/// Vault tests share (the same spec as operator_vault.rs: loopback egress, 10 s).
pub async fn operator(prefix: &str) -> Operated {
    let client = common::operator::client().await;
    vault_class(&client).await;
    let ns = ground::ground().namespace(prefix).await;
    let mut op = Operated::start(&client, ns, true);
    op.wait = WAIT * 2;
    op
}

pub async fn vault_class(client: &Client) {
    apply(client, None, json!({"apiVersion": "ampoule.dev/v1alpha1", "kind": "ProviderClass", "metadata": {"name": "vault"},
        "spec": {"provider": "vault", "sandbox": {"egress": {"privateNetworks": "Allow"}, "limits": {"timeout": "10s"}}}}))
        .await
        .unwrap();
}

pub fn es(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": name}, "spec": spec})
}

/// An ExternalSecret copying `property` of remote `key` from a store into its Secret `name`.
pub fn read(name: &str, store: &str, kind: &str, key: &str, property: &str) -> Value {
    es(
        name,
        json!({"refreshInterval": "1h", "secretStoreRef": {"name": store, "kind": kind},
            "data": [{"secretKey": "value", "remoteRef": {"key": key, "property": property}}]}),
    )
}

/// A Vault store (`kind` SecretStore or ClusterSecretStore) at `server`'s KV v2 mount `secret`,
/// with `extra` merged into `spec.provider.vault`.
pub fn vault_store(op: &Operated, kind: &str, name: &str, server: &str, extra: Value) -> Value {
    let mut vault = json!({"server": server, "path": "secret", "version": "v2"});
    for (k, v) in extra.as_object().unwrap() {
        vault[k] = v.clone();
    }
    json!({"apiVersion": "external-secrets.io/v1", "kind": kind, "metadata": {"name": name},
        "spec": {"controller": op.class, "provider": {"vault": vault}}})
}

/// The store's Ready condition once it is False: (reason, message).
pub async fn store_refused(op: &Operated, plural: &str, name: &str) -> (String, String) {
    let ns = (plural == "secretstores").then_some(op.ns.as_str());
    ground::eventually(op.wait, &format!("{plural}/{name} Ready=False"), || async {
        let obj = common::get(&op.client, ns, plural, name).await?;
        let c = condition(&obj)?;
        (c.0 == "False").then_some((c.1, c.2))
    })
    .await
}

/// The Ready condition of an object: (status, reason, message).
fn condition(obj: &DynamicObject) -> Option<(String, String, String)> {
    let c = obj.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?
        .clone();
    let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
    Some((s("status"), s("reason"), s("message")))
}

/// Fails if any value shows up in a Secret of the tenant's namespace (other than those named in
/// `allowed_in`), in the events of the tenant's and the `others` namespaces, in the statuses of the
/// tenant's stores and ExternalSecrets, or in the operator's log.
pub async fn assert_never_visible(
    op: &Operated,
    others: &[&str],
    values: &[&str],
    allowed_in: &[&str],
) {
    let mut text = op.visible_text().await;
    for ns in others {
        let events = Api::<Event>::namespaced(op.client.clone(), ns)
            .list(&Default::default())
            .await
            .unwrap();
        for e in events.items {
            text.push_str(&e.note.unwrap_or_default());
            text.push('\n');
        }
    }
    let secrets = op.secrets().list(&Default::default()).await.unwrap();
    for v in values {
        assert!(
            !text.contains(v),
            "{v} leaked into an event, a status or the operator log ({})",
            op.log.display()
        );
        for s in secrets
            .items
            .iter()
            .filter(|s| !allowed_in.contains(&s.metadata.name.as_deref().unwrap_or_default()))
        {
            assert!(
                !data(s).values().any(|d| d.contains(v)),
                "{v} reached Secret {:?} of the tenant's namespace",
                s.metadata.name
            );
        }
    }
}

/// Creates a Secret in `ns` holding `data`.
pub async fn secret_in(client: &Client, ns: &str, name: &str, data: &[(&str, &str)]) {
    let obj = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns},
        "stringData": data.iter().map(|(k, v)| ((*k).to_string(), json!(v))).collect::<serde_json::Map<_, _>>()});
    apply(client, Some(ns), obj).await.unwrap();
}

pub async fn service_account_in(client: &Client, ns: &str, name: &str) {
    let sa: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": ns}})).unwrap();
    Api::<ServiceAccount>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &sa)
        .await
        .unwrap();
}

/// The ground's OpenBao over its HTTP API, as root.
pub async fn bao(method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let g = ground::ground();
    let mut req = reqwest::Client::new()
        .request(method, format!("{}/v1/{path}", g.vault_addr()))
        .header("X-Vault-Token", g.vault_token());
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(status.is_success(), "OpenBao {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// A Secret of the tenant's namespace, if any.
pub async fn tenant_secret(op: &Operated, name: &str) -> Option<Secret> {
    op.secrets().get_opt(name).await.unwrap()
}
