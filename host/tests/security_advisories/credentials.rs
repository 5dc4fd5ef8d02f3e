//! Credentials and CAs through Vault stores: a namespaced SecretStore follows no `namespace` of its
//! references (ESO's rule, docs/eso-behaviour.md#reference-rules), and referent authentication
//! keeps each namespace's login its own
//! (docs/eso-behaviour.md#store-conditions-and-referent-authentication).

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::Client;
use kube::api::Api;
use serde_json::json;

use super::common::operator::Operated;
use super::common::{WAIT, apply, data};
use super::{
    Cleanup, assert_never_visible, bao, marker, operator, read, secret_in, server,
    service_account_in, store_refused, vault_class, vault_store,
};

/// What the tenant must never see: in namespace `other`, a KV path `<other>/db` only a policy
/// of that namespace reads, a Vault token with that policy in Secret `vault-token`, and a
/// kubernetes-auth role bound to ServiceAccount `vault-reader` of `other` only.
struct Bait {
    other: String,
    kv: String,
    password: String,
    token: String,
    role: String,
}

async fn bait(client: &Client) -> Bait {
    use reqwest::Method;
    let other = ground::ground().namespace("adv-privileged").await;
    let kv = format!("{other}/db");
    let password = marker("cross-ns-password");
    bao(
        Method::POST,
        &format!("secret/data/{kv}"),
        Some(json!({"data": {"password": password}})),
    )
    .await;
    let policy = format!("adv-{other}");
    bao(
        Method::PUT,
        &format!("sys/policies/acl/{policy}"),
        Some(json!({"policy": format!(
        "path \"secret/data/{other}/*\" {{ capabilities = [\"read\"] }}")})),
    )
    .await;
    let created = bao(
        Method::POST,
        "auth/token/create",
        Some(json!({"policies": [policy], "ttl": "15m"})),
    )
    .await;
    let token = created["auth"]["client_token"].as_str().unwrap().to_owned();
    secret_in(client, &other, "vault-token", &[("token", &token)]).await;
    service_account_in(client, &other, "vault-reader").await;
    let role = format!("adv-{other}");
    bao(
        Method::POST,
        &format!("auth/kubernetes/role/{role}"),
        Some(json!({"bound_service_account_names": ["vault-reader"],
            "bound_service_account_namespaces": [other], "token_policies": [policy], "token_ttl": "10m"})),
    )
    .await;
    Bait {
        other,
        kv,
        password,
        token,
        role,
    }
}

/// The same references that a ClusterSecretStore may follow (its control ExternalSecret syncs,
/// so the bait is real) get a SecretStore nowhere: its own namespace is used, where the Secret
/// does not exist and the ServiceAccount of that name is not the one the role trusts.
#[tokio::test]
async fn a_secret_store_never_reads_credentials_of_another_namespace() {
    let op = operator("adv-creds").await;
    let bait = bait(&op.client).await;
    let addr = ground::ground().vault_addr().to_owned();
    // A ServiceAccount of the same name in the tenant's namespace, which the role does not trust.
    service_account_in(&op.client, &op.ns, "vault-reader").await;
    let by_token = json!({"auth": {"tokenSecretRef": {"name": "vault-token", "key": "token", "namespace": bait.other}}});
    let by_sa = json!({"auth": {"kubernetes": {"mountPath": "kubernetes", "role": bait.role,
        "serviceAccountRef": {"name": "vault-reader", "namespace": bait.other}}}});
    op.apply(vault_store(
        &op,
        "SecretStore",
        "by-token",
        &addr,
        by_token.clone(),
    ))
    .await;
    op.apply(vault_store(
        &op,
        "SecretStore",
        "by-sa",
        &addr,
        by_sa.clone(),
    ))
    .await;
    // Control: a ClusterSecretStore admitting only the tenant may name the namespace (ESO's rule).
    let control = format!("adv-control-{}", op.ns);
    let _cleanup = Cleanup(vec![format!(
        "clustersecretstores.external-secrets.io/{control}"
    )]);
    let mut css = vault_store(&op, "ClusterSecretStore", &control, &addr, by_token);
    css["spec"]["conditions"] = json!([{"namespaces": [op.ns]}]);
    apply(&op.client, None, css).await.unwrap();
    for (name, store, kind) in [
        ("via-token", "by-token", "SecretStore"),
        ("via-sa", "by-sa", "SecretStore"),
        ("control", control.as_str(), "ClusterSecretStore"),
    ] {
        op.apply(read(name, store, kind, &bait.kv, "password"))
            .await;
    }
    let s = op
        .secret(
            "control",
            "the control through the ClusterSecretStore",
            |_| true,
        )
        .await;
    assert_eq!(data(&s)["value"], bait.password, "the bait is real");

    // auth.tokenSecretRef.namespace: the tenant's own namespace is read, not the named one.
    let (reason, _) = store_refused(&op, "secretstores", "by-token").await;
    assert_eq!(reason, "InvalidProviderConfig");
    let note = op
        .warning(
            Some("by-token"),
            &[&format!("secret \"{}/vault-token\" not found", op.ns)],
        )
        .await;
    assert!(!note.contains(&bait.other), "{note}");
    // auth.kubernetes.serviceAccountRef.namespace: the token is minted for the tenant's own
    // ServiceAccount, which OpenBao refuses for the role bound to the other namespace.
    let (reason, _) = store_refused(&op, "secretstores", "by-sa").await;
    assert_eq!(reason, "InvalidProviderConfig");
    op.warning(Some("by-sa"), &["auth/kubernetes"]).await;
    for name in ["via-token", "via-sa"] {
        op.wait_es(name, "False", "SecretSyncedError").await;
        assert!(op.secrets().get_opt(name).await.unwrap().is_none());
    }
    assert_never_visible(
        &op,
        &[&bait.other],
        &[&bait.password, &bait.token],
        &["control"],
    )
    .await;
    ground::ground().drop_namespace(&bait.other).await;
}

/// Referent authentication (docs/eso-behaviour.md#store-conditions-and-referent-authentication): a
/// ClusterSecretStore whose ServiceAccount reference names no namespace logs in as each
/// ExternalSecret's own ServiceAccount. The login of one namespace (cached by the plugin for reuse)
/// must never serve another: the role trusts only the first namespace's ServiceAccount, so the
/// second namespace, reading the same path right after, is refused by OpenBao.
#[tokio::test]
async fn referent_authentication_never_lends_one_namespace_s_login_to_another() {
    use reqwest::Method;
    let client = super::common::operator::client().await;
    vault_class(&client).await;
    let g = ground::ground();
    let trusted = g.namespace("adv-referent-a").await;
    let mut op = Operated::start(&client, trusted.clone(), false);
    op.wait = WAIT * 2;
    let other = g.namespace("adv-referent-b").await;
    let password = marker("referent-password");
    bao(
        Method::POST,
        &format!("secret/data/{trusted}/db"),
        Some(json!({"data": {"password": password}})),
    )
    .await;
    let role = format!("adv-{trusted}");
    bao(
        Method::PUT,
        &format!("sys/policies/acl/{role}"),
        Some(json!({"policy": format!(
        "path \"secret/data/{trusted}/*\" {{ capabilities = [\"read\"] }}")})),
    )
    .await;
    bao(
        Method::POST,
        &format!("auth/kubernetes/role/{role}"),
        Some(json!({"bound_service_account_names": ["vault-reader"],
            "bound_service_account_namespaces": [trusted], "token_policies": [role], "token_ttl": "10m"})),
    )
    .await;
    for ns in [&trusted, &other] {
        service_account_in(&client, ns, "vault-reader").await;
    }
    let css = format!("adv-referent-{trusted}");
    let _cleanup = Cleanup(vec![format!(
        "clustersecretstores.external-secrets.io/{css}"
    )]);
    let mut store = vault_store(
        &op,
        "ClusterSecretStore",
        &css,
        g.vault_addr(),
        json!({"auth": {"kubernetes": {"mountPath": "kubernetes", "role": role,
            "serviceAccountRef": {"name": "vault-reader"}}}}),
    );
    store["spec"]["conditions"] = json!([{"namespaces": [trusted, other]}]);
    apply(&client, None, store).await.unwrap();
    let key = format!("{trusted}/db");
    let obj = read("db", &css, "ClusterSecretStore", &key, "password");
    op.apply(obj.clone()).await;
    let s = op
        .secret("db", "the trusted namespace's own login", |_| true)
        .await;
    assert_eq!(data(&s)["value"], password);
    apply(&client, Some(&other), obj).await.unwrap();
    let note = ground::eventually(op.wait, "the other namespace refused", || async {
        let events = Api::<Event>::namespaced(client.clone(), &other)
            .list(&Default::default())
            .await
            .ok()?;
        events.items.into_iter().find_map(|e| {
            let note = e.note.unwrap_or_default();
            (e.type_.as_deref() == Some("Warning") && note.contains("auth/kubernetes"))
                .then_some(note)
        })
    })
    .await;
    assert!(note.contains("403"), "{note}");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &other);
    assert!(secrets.get_opt("db").await.unwrap().is_none());
    assert_never_visible(&op, &[&other], &[&password], &["db"]).await;
}

/// GHSA-wv26-88m5-6h59 (CVE-2026-42875): `caProvider.namespace` on a namespaced store read a
/// ConfigMap of another namespace. A TLS OpenBao whose CA lives only in another namespace (as a
/// ConfigMap and as a Secret): a SecretStore naming that namespace cannot establish trust; a
/// ClusterSecretStore (the control) can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_provider_namespace_of_a_secret_store_is_not_followed() {
    let op = operator("adv-ca").await;
    let other = ground::ground().namespace("adv-ca-owner").await;
    let bao = tokio::task::spawn_blocking({
        let id = op.ns.clone();
        move || server::TlsBao::start(&id)
    })
    .await
    .unwrap();
    let password = marker("behind-tls");
    bao.write(
        &format!("secret/data/{}/db", op.ns),
        json!({"data": {"password": password}}),
    );
    let ca = bao.ca_pem();
    secret_in(&op.client, &op.ns, "bao-token", &[("token", &bao.root)]).await;
    secret_in(&op.client, &other, "bao-ca", &[("ca.crt", &ca)]).await;
    apply(
        &op.client,
        Some(&other),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "bao-ca"}, "data": {"ca.pem": ca}}),
    )
    .await
    .unwrap();
    let auth = |ns: Option<&str>| {
        let mut r = json!({"name": "bao-token", "key": "token"});
        if let Some(ns) = ns {
            r["namespace"] = json!(ns);
        }
        json!({"tokenSecretRef": r})
    };
    let cm = json!({"type": "ConfigMap", "name": "bao-ca", "key": "ca.pem", "namespace": other});
    let sec = json!({"type": "Secret", "name": "bao-ca", "key": "ca.crt", "namespace": other});
    for (name, ca) in [("ca-from-cm", &cm), ("ca-from-secret", &sec)] {
        op.apply(vault_store(
            &op,
            "SecretStore",
            name,
            &bao.addr(),
            json!({"caProvider": ca, "auth": auth(None)}),
        ))
        .await;
    }
    let control = format!("adv-ca-control-{}", op.ns);
    let _cleanup = Cleanup(vec![format!(
        "clustersecretstores.external-secrets.io/{control}"
    )]);
    let mut css = vault_store(
        &op,
        "ClusterSecretStore",
        &control,
        &bao.addr(),
        json!({"caProvider": cm, "auth": auth(Some(&op.ns))}),
    );
    css["spec"]["conditions"] = json!([{"namespaces": [op.ns]}]);
    apply(&op.client, None, css).await.unwrap();
    let key = format!("{}/db", op.ns);
    for (name, store, kind) in [
        ("via-cm", "ca-from-cm", "SecretStore"),
        ("via-secret", "ca-from-secret", "SecretStore"),
        ("control", control.as_str(), "ClusterSecretStore"),
    ] {
        op.apply(read(name, store, kind, &key, "password")).await;
    }
    let s = op
        .secret("control", "the control trusting the CA it may read", |_| {
            true
        })
        .await;
    assert_eq!(data(&s)["value"], password, "the CA is the right one");

    for (store, what) in [("ca-from-cm", "configmap"), ("ca-from-secret", "secret")] {
        let (reason, _) = store_refused(&op, "secretstores", store).await;
        assert_eq!(reason, "InvalidProviderConfig", "{store}");
        op.warning(
            Some(store),
            &[&format!("{what} \"{}/bao-ca\" not found", op.ns)],
        )
        .await;
    }
    for name in ["via-cm", "via-secret"] {
        op.wait_es(name, "False", "SecretSyncedError").await;
        assert!(op.secrets().get_opt(name).await.unwrap().is_none());
    }
    assert_never_visible(
        &op,
        &[&other],
        &[&password, &bao.root],
        &["control", "bao-token"],
    )
    .await;
    ground::ground().drop_namespace(&other).await;
}
