//! Per-store TLS for the vault plugin against a TLS OpenBao started by each test (its own CA,
//! an ephemeral loopback port): `caBundle`, `caProvider` from a Secret and from a ConfigMap
//! (resolved by the real KubeCredentials on the ground's apiserver, with ESO's namespace rules),
//! and `auth.cert` login with a client certificate the host presents, reused across reconciles.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod plugin_common;
#[path = "plugin_vault_tls/server.rs"]
mod server;

use ampoule::controller::credentials::KubeCredentials;
use ampoule::plugin::WasmProvider;
use ampoule::provider::{
    ProviderClient, ProviderError, RemoteRef, SecretProvider, StoreContext, StoreKind, Validation,
};
use base64::Engine as _;
use ground::ground;
use serde_json::{Value, json};
use server::{ClientPki, TlsBao};

struct Env {
    ns: String,
    bao: TlsBao,
    p: WasmProvider,
    kube: kube::Client,
}

async fn env(prefix: &str) -> Env {
    let g = ground();
    let ns = g.namespace(prefix).await;
    let bao = tokio::task::spawn_blocking({
        let ns = ns.clone();
        move || TlsBao::start(&ns)
    })
    .await
    .unwrap();
    let kube = g.client().await;
    let class = plugin_common::loopback_class("vault", Value::Null, &[bao.port]);
    let creds = KubeCredentials::new(kube.clone());
    let p = plugin_common::provider("ampoule_vault", "vault", creds, Some(class)).await;
    Env { ns, bao, p, kube }
}

impl Env {
    fn ctx(&self, config: Value) -> StoreContext {
        plugin_common::store_in("vault", &format!("{}-store", self.ns), &self.ns, config)
    }

    async fn client(&self, config: Value) -> Result<Box<dyn ProviderClient>, ProviderError> {
        self.p.open(&self.ctx(config)).await.map(|(c, _)| c)
    }

    async fn secret(&self, ns: &str, name: &str, data: &[(&str, &str)]) {
        plugin_common::create(&self.kube, ns, "Secret", name, data).await;
    }

    async fn config_map(&self, ns: &str, name: &str, data: &[(&str, &str)]) {
        plugin_common::create(&self.kube, ns, "ConfigMap", name, data).await;
    }

    /// A KV v2 secret `<ns>/db` and a Secret `vault-token` holding the root token.
    async fn kv_and_token(&self) {
        self.bao.write(
            &format!("secret/data/{}/db", self.ns),
            json!({"data": {"password": "over-tls"}}),
        );
        self.secret(&self.ns, "vault-token", &[("token", &self.bao.root)])
            .await;
    }

    fn token_store(&self, extra: Value) -> Value {
        let config = json!({"server": self.bao.addr(), "path": "secret", "version": "v2",
            "auth": {"tokenSecretRef": {"name": "vault-token", "key": "token"}}});
        plugin_common::merged(config, extra)
    }

    async fn read(&self, config: Value) -> Result<String, ProviderError> {
        let c = self.client(config).await?;
        let value = c.get_secret(&password(&self.ns)).await?;
        Ok(String::from_utf8(value.expose().clone()).unwrap())
    }
}

fn password(ns: &str) -> RemoteRef {
    RemoteRef {
        key: format!("{ns}/db"),
        property: Some("password".into()),
        ..RemoteRef::default()
    }
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_bundle_is_trusted_and_without_it_the_issuer_is_unknown() {
    let e = env("vault-tls-bundle").await;
    e.kv_and_token().await;

    let trusted = e.token_store(json!({"caBundle": b64(&e.bao.ca_pem())}));
    assert_eq!(e.read(trusted.clone()).await.unwrap(), "over-tls");
    assert_eq!(
        e.p.sandbox().tls_cache.len(),
        1,
        "one config for this CA, built once"
    );
    assert_eq!(e.read(trusted).await.unwrap(), "over-tls");
    assert_eq!(e.p.sandbox().tls_cache.len(), 1, "reused, not rebuilt");

    // Without the bundle the server is checked against the web PKI roots only.
    let err = e.read(e.token_store(json!({}))).await.unwrap_err();
    let ProviderError::Unavailable(m) = &err else {
        panic!("expected unavailable, got {err:?}")
    };
    assert!(m.contains("UnknownIssuer"), "{m}");
    assert!(!m.contains(&e.bao.root), "no token in the error: {m}");

    // A CA that did not sign the server's certificate is not enough either: the bundle replaces
    // the roots (as ESO), it is not a hint.
    let other = ClientPki::new(&e.bao.dir, "other");
    let err = e
        .read(e.token_store(json!({"caBundle": b64(&other.ca_pem)})))
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("UnknownIssuer"), "{err:?}");

    // Garbage is refused before any request, with the field's name.
    let err = e
        .read(e.token_store(json!({"caBundle": b64("not a certificate")})))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::InvalidConfig(m) if m.contains("caBundle")),
        "{err:?}"
    );
    ground().drop_namespace(&e.ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_provider_reads_a_secret_or_a_config_map_in_the_store_namespace() {
    let e = env("vault-tls-caprov").await;
    e.kv_and_token().await;
    let ca = e.bao.ca_pem();
    e.secret(&e.ns, "vault-ca", &[("ca.crt", &ca)]).await;
    e.config_map(&e.ns, "vault-ca", &[("ca.pem", &ca)]).await;

    let from_secret =
        json!({"caProvider": {"type": "Secret", "name": "vault-ca", "key": "ca.crt"}});
    assert_eq!(
        e.read(e.token_store(from_secret)).await.unwrap(),
        "over-tls"
    );
    let from_cm = json!({"caProvider": {"type": "ConfigMap", "name": "vault-ca", "key": "ca.pem"}});
    assert_eq!(e.read(e.token_store(from_cm)).await.unwrap(), "over-tls");

    // A SecretStore never reads another namespace (GHSA-wv26-88m5-6h59): the named namespace is
    // ignored and the store's own is used, where this ConfigMap does not exist.
    let other = ground().namespace("vault-tls-other").await;
    e.config_map(&other, "elsewhere-ca", &[("ca.pem", &ca)])
        .await;
    let cross = json!({"caProvider": {"type": "ConfigMap", "name": "elsewhere-ca", "key": "ca.pem",
        "namespace": other}});
    let err = e.read(e.token_store(cross)).await.unwrap_err();
    let want = format!("configmap \"{}/elsewhere-ca\" not found", e.ns);
    assert!(
        matches!(&err, ProviderError::InvalidConfig(m) if m.contains(&want)),
        "{err:?}"
    );

    // A missing key names the object and the key.
    let bad_key = json!({"caProvider": {"type": "ConfigMap", "name": "vault-ca", "key": "nope"}});
    let err = e.read(e.token_store(bad_key)).await.unwrap_err();
    assert!(
        format!("{err:?}").contains("has no key \\\"nope\\\""),
        "{err:?}"
    );

    // A ClusterSecretStore must name the namespace (ESO's rule).
    let mut ctx = e.ctx(e.token_store(
        json!({"caProvider": {"type": "ConfigMap", "name": "vault-ca", "key": "ca.pem"}}),
    ));
    ctx.kind = StoreKind::ClusterSecretStore;
    ctx.store_namespace = None;
    let err = e.p.open(&ctx).await.err().unwrap();
    assert!(
        format!("{err:?}").contains("missing namespace on caProvider"),
        "{err:?}"
    );
    ground().drop_namespace(&other).await;
    ground().drop_namespace(&e.ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cert_auth_logs_in_once_and_a_foreign_certificate_is_unauthorized() {
    let e = env("vault-tls-cert").await;
    let mount = format!("cert-{}", e.ns);
    let pki = ClientPki::new(&e.bao.dir, "good");
    let foreign = ClientPki::new(&e.bao.dir, "foreign");
    e.bao.write(
        &format!("sys/policies/acl/{}", e.ns),
        json!({"policy": format!("path \"secret/data/{}/*\" {{ capabilities = [\"read\"] }}", e.ns)}),
    );
    e.bao
        .write(&format!("sys/auth/{mount}"), json!({"type": "cert"}));
    e.bao.write(
        &format!("auth/{mount}/certs/web"),
        json!({"certificate": pki.ca_pem, "token_policies": [e.ns], "token_ttl": "10m"}),
    );
    e.bao.write(
        &format!("secret/data/{}/db", e.ns),
        json!({"data": {"password": "over-tls"}}),
    );
    e.secret(
        &e.ns,
        "client",
        &[("tls.crt", &pki.cert_pem), ("tls.key", &pki.key_pem)],
    )
    .await;
    e.secret(
        &e.ns,
        "foreign",
        &[
            ("tls.crt", &foreign.cert_pem),
            ("tls.key", &foreign.key_pem),
        ],
    )
    .await;
    let store = |secret: &str| {
        json!({"server": e.bao.addr(), "path": "secret", "caBundle": b64(&e.bao.ca_pem()),
            "auth": {"cert": {"path": mount, "vaultRole": "web",
                "clientCert": {"name": secret, "key": "tls.crt"},
                "secretRef": {"name": secret, "key": "tls.key"}}}})
    };

    assert_eq!(e.bao.logins_at(&mount), 0);
    for _ in 0..5 {
        assert_eq!(e.read(store("client")).await.unwrap(), "over-tls");
    }
    assert_eq!(
        e.bao.logins_at(&mount),
        1,
        "five reconciles, one login: the token is reused from the host cache"
    );

    let err = e.read(store("foreign")).await.unwrap_err();
    let ProviderError::Unauthorized(m) = &err else {
        panic!("expected unauthorized, got {err:?}")
    };
    assert!(m.contains(&format!("auth/{mount}")), "{m}");
    assert!(!m.contains("PRIVATE KEY"), "{m}");
    assert_eq!(e.bao.logins_at(&mount), 1);

    // A ClusterSecretStore whose certificate references name no namespace (referent): validating
    // the store itself has no certificate to present and reports unknown; each ExternalSecret's
    // reconcile reads the certificate from its own namespace.
    let mut ctx = e.ctx(store("client"));
    ctx.kind = StoreKind::ClusterSecretStore;
    ctx.store_namespace = None;
    ctx.caller_namespace = None;
    let (client, _) = e.p.open(&ctx).await.unwrap();
    assert_eq!(client.validate().await.unwrap(), Validation::Unknown);
    ctx.caller_namespace = Some(e.ns.clone());
    let (client, _) = e.p.open(&ctx).await.unwrap();
    let value = client.get_secret(&password(&e.ns)).await.unwrap();
    assert_eq!(value.expose().as_slice(), b"over-tls");

    // A key that does not belong to the certificate is refused by the host, by name.
    e.secret(
        &e.ns,
        "mixed",
        &[("tls.crt", &pki.cert_pem), ("tls.key", &foreign.key_pem)],
    )
    .await;
    let err = e.read(store("mixed")).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::InvalidConfig(m) if m.contains("auth.cert") && m.contains("do not match")),
        "{err:?}"
    );
    ground().drop_namespace(&e.ns).await;
}
