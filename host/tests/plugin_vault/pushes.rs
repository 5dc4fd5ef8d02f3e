//! PushSecret on KV v2 and v1: property merge, whole-Secret push, no write when nothing changed
//! (counted at a relay in front of OpenBao), refusal of secrets not managed by external-secrets,
//! secret-exists, delete, checkAndSet, and the store's egress narrowing writes away.

use common::cloud::Relay;
use plugin_common::{push, remote};

use super::*;

/// The test's env with a read/write policy, its token, and a provider that reaches OpenBao
/// through a relay counting the requests: (env, relay, server URL through the relay).
async fn writer(prefix: &str, globs: &[&str]) -> (Env, Relay, String) {
    let mut e = env(prefix, true).await;
    let rules: String = globs
        .iter()
        .map(|g| {
            format!(
                "path \"{g}\" {{ capabilities = [\"create\", \"read\", \"update\", \"delete\", \"list\"] }}\n"
            )
        })
        .collect();
    bao_write(
        &format!("sys/policies/acl/{}", e.id),
        json!({"policy": rules}),
    );
    e.token_secret().await;
    let vault = port_of(ground().vault_addr());
    let relay = Relay::start(vault).await;
    let class = plugin_common::loopback_class("vault", Value::Null, &[vault, relay.port]);
    let creds = KubeCredentials::new(e.kube.clone());
    e.p = plugin_common::provider("ampoule_vault", "vault", creds, Some(class)).await;
    let server = format!("http://127.0.0.1:{}", relay.port);
    (e, relay, server)
}

fn token_auth() -> Value {
    json!({"tokenSecretRef": {"name": "vault-token", "key": "token"}})
}

/// Requests with this method that reached OpenBao through the relay.
fn calls(relay: &Relay, method: &str) -> usize {
    relay.count(&format!("{method} /v1/"))
}

/// (GET, PUT, DELETE) requests so far.
fn counts(relay: &Relay) -> (usize, usize, usize) {
    (
        calls(relay, "GET"),
        calls(relay, "PUT"),
        calls(relay, "DELETE"),
    )
}

/// `bao kv get` of a KV v2 secret's data, `None` when it is gone.
fn kv2(mount: &str, path: &str) -> Option<Value> {
    let out = ground()
        .command("bao")
        .args([
            "kv",
            "get",
            "-format=json",
            &format!("-mount={mount}"),
            path,
        ])
        .output()
        .unwrap();
    if !out.status.success() {
        return None;
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    Some(v["data"]["data"].clone())
}

fn kv2_custom_metadata(mount: &str, path: &str) -> Option<Value> {
    let out = ground()
        .command("bao")
        .args([
            "kv",
            "metadata",
            "get",
            "-format=json",
            &format!("-mount={mount}"),
            path,
        ])
        .output()
        .unwrap();
    if !out.status.success() {
        return None;
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    Some(v["data"]["custom_metadata"].clone())
}

/// `bao read` of a KV v1 secret, `None` when it is gone.
fn kv1(path: &str) -> Option<Value> {
    let out = ground()
        .command("bao")
        .args(["read", "-format=json", path])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| serde_json::from_slice::<Value>(&out.stdout).unwrap()["data"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv2_push_merge_whole_unchanged_unmanaged_exists_and_delete() {
    let (e, relay, server) = writer(
        "vault-push2",
        &["secret/data/vault-push2-*", "secret/metadata/vault-push2-*"],
    )
    .await;
    let c = e
        .client(json!({"server": server, "path": "secret", "version": "v2", "auth": token_auth()}))
        .await
        .unwrap();
    let app = format!("{}/app", e.id);

    // First push of one key: read (404), metadata label, data.
    let before = counts(&relay);
    c.push_secret(&push(&app, Some("user"), "admin", None))
        .await
        .unwrap();
    let first = counts(&relay);
    println!(
        "vault kv2 first push: GET {} PUT {} DELETE {}",
        first.0 - before.0,
        first.1 - before.1,
        first.2 - before.2
    );
    assert_eq!((first.1 - before.1, first.2 - before.2), (2, 0));
    assert_eq!(kv2("secret", &app), Some(json!({"user": "admin"})));
    assert_eq!(
        kv2_custom_metadata("secret", &app),
        Some(json!({"managed-by": "external-secrets"}))
    );

    // The same value again: reads only.
    c.push_secret(&push(&app, Some("user"), "admin", None))
        .await
        .unwrap();
    let again = counts(&relay);
    println!(
        "vault kv2 unchanged re-push: GET {} PUT {}",
        again.0 - first.0,
        again.1 - first.1
    );
    assert_eq!(again.1, first.1, "no write when nothing changed");
    assert_eq!(again.0 - first.0, 2, "data and metadata read");

    // Another property merges into the managed secret (one data write, no metadata write).
    c.push_secret(&push(&app, Some("pass"), "p1", None))
        .await
        .unwrap();
    assert_eq!(counts(&relay).1 - again.1, 1);
    assert_eq!(
        kv2("secret", &app),
        Some(json!({"user": "admin", "pass": "p1"}))
    );

    // A whole-Secret push writes the object; the same object in another order writes nothing.
    let whole = format!("{}/whole", e.id);
    c.push_secret(&push(&whole, None, r#"{"a":"1","b":"2"}"#, None))
        .await
        .unwrap();
    assert_eq!(kv2("secret", &whole), Some(json!({"a": "1", "b": "2"})));
    let w = counts(&relay);
    c.push_secret(&push(&whole, None, r#"{"b":"2","a":"1"}"#, None))
        .await
        .unwrap();
    assert_eq!(counts(&relay).1, w.1);
    c.push_secret(&push(&whole, None, r#"{"a":"1"}"#, None))
        .await
        .unwrap();
    assert_eq!(kv2("secret", &whole), Some(json!({"a": "1"})));
    let err = c
        .push_secret(&push(&whole, None, "not-json-s3cr3t", None))
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("s3cr3t"), "{err}");

    // A secret someone else wrote is refused, without its value in the message; delete leaves it.
    let foreign = format!("{}/foreign", e.id);
    bao(&["kv", "put", "-mount=secret", &foreign, "x=theirs"]);
    let f = counts(&relay);
    let err = c
        .push_secret(&push(&foreign, Some("x"), "mine", None))
        .await
        .unwrap_err();
    assert_eq!(err.category(), "forbidden", "{err}");
    assert!(
        err.to_string().contains("not managed by external-secrets"),
        "{err}"
    );
    assert!(
        !err.to_string().contains("theirs") && !err.to_string().contains("mine"),
        "{err}"
    );
    c.delete_secret(&remote(&foreign, None)).await.unwrap();
    assert_eq!(counts(&relay).1, f.1);
    assert_eq!(counts(&relay).2, f.2);
    assert_eq!(kv2("secret", &foreign), Some(json!({"x": "theirs"})));

    // secret-exists (updatePolicy IfNotExists).
    let exists = |k: &str, p: Option<&str>| {
        let r = remote(k, p);
        let c = &c;
        async move { c.secret_exists(&r).await.unwrap() }
    };
    assert!(exists(&app, None).await);
    assert!(exists(&app, Some("user")).await);
    assert!(!exists(&app, Some("nope")).await);
    assert!(!exists(&format!("{}/missing", e.id), None).await);

    // Delete a property, then the last one (the secret goes), then a whole secret.
    c.delete_secret(&remote(&app, Some("pass"))).await.unwrap();
    assert_eq!(kv2("secret", &app), Some(json!({"user": "admin"})));
    c.delete_secret(&remote(&app, Some("user"))).await.unwrap();
    assert_eq!(kv2("secret", &app), None);
    assert_eq!(kv2_custom_metadata("secret", &app), None);
    c.delete_secret(&remote(&whole, None)).await.unwrap();
    assert_eq!(kv2_custom_metadata("secret", &whole), None);
    // Gone already: fine.
    c.delete_secret(&remote(&whole, None)).await.unwrap();
    ground().drop_namespace(&e.ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv2_check_and_set_carries_the_version() {
    let (e, _relay, server) = writer("vault-cas", &["cas-vault-cas-*"]).await;
    let mount = format!("cas-{}", e.id);
    bao(&["secrets", "enable", &format!("-path={mount}"), "kv-v2"]);
    bao_write(&format!("{mount}/config"), json!({"cas_required": true}));
    let cfg = |cas: bool| {
        json!({"server": server, "path": mount, "version": "v2", "auth": token_auth(),
               "checkAndSet": {"required": cas}})
    };
    let c = e.client(cfg(true)).await.unwrap();
    c.push_secret(&push("db", Some("user"), "u1", None))
        .await
        .unwrap();
    c.push_secret(&push("db", Some("user"), "u2", None))
        .await
        .unwrap();
    c.push_secret(&push("db", Some("pass"), "p", None))
        .await
        .unwrap();
    assert_eq!(kv2(&mount, "db"), Some(json!({"user": "u2", "pass": "p"})));
    c.delete_secret(&remote("db", Some("pass"))).await.unwrap();
    assert_eq!(kv2(&mount, "db"), Some(json!({"user": "u2"})));
    // Without checkAndSet the mount refuses the write: the option is what made it pass.
    let plain = e.client(cfg(false)).await.unwrap();
    let err = plain
        .push_secret(&push("db", Some("user"), "u3", None))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("check-and-set"), "{err}");
    assert_eq!(kv2(&mount, "db"), Some(json!({"user": "u2"})));
    ground().drop_namespace(&e.ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv1_push_keeps_the_label_in_the_secret() {
    let (e, relay, server) = writer("vault-push1", &["kv1-vault-push1-*"]).await;
    let mount = format!("kv1-{}", e.id);
    bao(&[
        "secrets",
        "enable",
        &format!("-path={mount}"),
        "-version=1",
        "kv",
    ]);
    let c = e
        .client(json!({"server": server, "path": mount, "version": "v1", "auth": token_auth()}))
        .await
        .unwrap();
    let before = counts(&relay);
    c.push_secret(&push("app", Some("user"), "admin", None))
        .await
        .unwrap();
    let first = counts(&relay);
    println!(
        "vault kv1 first push: GET {} PUT {}",
        first.0 - before.0,
        first.1 - before.1
    );
    assert_eq!(first.1 - before.1, 1);
    assert_eq!(
        kv1(&format!("{mount}/app")),
        Some(json!({"user": "admin", "custom_metadata": {"managed-by": "external-secrets"}}))
    );
    c.push_secret(&push("app", Some("user"), "admin", None))
        .await
        .unwrap();
    let again = counts(&relay);
    println!(
        "vault kv1 unchanged re-push: GET {} PUT {}",
        again.0 - first.0,
        again.1 - first.1
    );
    assert_eq!(again.1, first.1);
    c.push_secret(&push("app", Some("pass"), "p", None))
        .await
        .unwrap();
    // A whole-Secret push equal to what is there (the label aside) writes nothing.
    let w = counts(&relay);
    c.push_secret(&push("app", None, r#"{"pass":"p","user":"admin"}"#, None))
        .await
        .unwrap();
    assert_eq!(counts(&relay).1, w.1);
    bao_write(&format!("{mount}/foreign"), json!({"x": "y"}));
    let err = c
        .push_secret(&push("foreign", None, r#"{"x":"z"}"#, None))
        .await
        .unwrap_err();
    assert_eq!(err.category(), "forbidden", "{err}");
    assert!(c.secret_exists(&remote("app", Some("pass"))).await.unwrap());
    c.delete_secret(&remote("app", Some("pass"))).await.unwrap();
    assert_eq!(
        kv1(&format!("{mount}/app")),
        Some(json!({"user": "admin", "custom_metadata": {"managed-by": "external-secrets"}}))
    );
    c.delete_secret(&remote("app", Some("user"))).await.unwrap();
    assert_eq!(kv1(&format!("{mount}/app")), None);
    assert!(!c.secret_exists(&remote("app", None)).await.unwrap());
    c.delete_secret(&remote("foreign", None)).await.unwrap();
    assert_eq!(kv1(&format!("{mount}/foreign")), Some(json!({"x": "y"})));
    // checkAndSet is refused on KV v1, before anything is sent.
    let cas = e
        .client(
            json!({"server": server, "path": mount, "version": "v1", "auth": token_auth(),
                        "checkAndSet": {"required": true}}),
        )
        .await;
    assert!(
        matches!(&cas, Err(ProviderError::InvalidConfig(m)) if m.contains("checkAndSet")),
        "{:?}",
        cas.err()
    );
    ground().drop_namespace(&e.ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_sandbox_allowing_only_reads_denies_the_push() {
    let (e, relay, server) = writer(
        "vault-ro",
        &["secret/data/vault-ro-*", "secret/metadata/vault-ro-*"],
    )
    .await;
    let key = format!("{}/app", e.id);
    bao(&["kv", "put", "-mount=secret", &key, "user=old"]);
    bao(&[
        "kv",
        "metadata",
        "put",
        "-mount=secret",
        "-custom-metadata=managed-by=external-secrets",
        &key,
    ]);
    let ctx = plugin_common::only_methods(
        e.ctx(json!({"server": server, "path": "secret", "version": "v2", "auth": token_auth()})),
        relay.port,
        &["GET", "LIST"],
    );
    let (c, _) = e.p.open(&ctx).await.unwrap();
    assert_eq!(text(&*c, &prop(&key, "user")).await, "old");
    let err = c
        .push_secret(&push(&key, Some("user"), "new", None))
        .await
        .unwrap_err();
    plugin_common::assert_egress_denied(&err);
    let err = c.delete_secret(&remote(&key, None)).await.unwrap_err();
    plugin_common::assert_egress_denied(&err);
    assert_eq!(counts(&relay).1, 0, "no write reached OpenBao");
    assert_eq!(counts(&relay).2, 0);
    assert_eq!(kv2("secret", &key), Some(json!({"user": "old"})));
    ground().drop_namespace(&e.ns).await;
}
