//! Issue 6 end to end: the `ampoule run` binary, the embedded Vault component in the sandbox
//! (a ProviderClass allows loopback egress: the ground's OpenBao is on 127.0.0.1), OpenBao's
//! kubernetes auth doing TokenReview against the ground's apiserver, and the seed guide's
//! manifests with only the server address (and namespaces) changed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{WAIT, apply, crds, data, unique};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use serde_json::{Value, json};

/// The compiled-component cache the operators of these tests share.
fn cache() -> std::path::PathBuf {
    std::env::temp_dir().join("ampoule-test-cache")
}

/// The ProviderClass every Vault test shares (cluster-scoped, never deleted).
async fn vault_class(client: &kube::Client) {
    apply(client, None, json!({"apiVersion": "ampoule.dev/v1alpha1", "kind": "ProviderClass", "metadata": {"name": "vault"},
        "spec": {"provider": "vault", "sandbox": {"egress": {"privateNetworks": "Allow"}, "limits": {"timeout": "10s"}}}})).await.unwrap();
}

fn bao(addr: &str, token: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "-X",
        method,
        "-H",
        &format!("X-Vault-Token: {token}"),
        &format!("{addr}/v1/{path}"),
    ]);
    if let Some(b) = body {
        cmd.args(["--data", &b.to_string()]);
    }
    let out = ground::run(&mut cmd);
    if out.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&out).unwrap_or(Value::Null)
    }
}

/// The seed's YAML with the Vault address, namespaces and controller class substituted.
fn seed(g: &ground::Ground, file: &str, addr: &str, ns: &str, class: Option<&str>) -> Value {
    let text = std::fs::read_to_string(g.repo.join("tests/fixtures/seed").join(file))
        .unwrap()
        .replace("https://vault.company.com:8200", addr)
        .replace("namespace: production", &format!("namespace: {ns}"))
        .replace("namespace: team-alpha", &format!("namespace: {ns}"));
    let mut v: Value = serde_norway::from_str(&text).unwrap();
    if let Some(class) = class {
        v["spec"]["controller"] = json!(class);
    }
    v
}

async fn wait_secret(
    client: &kube::Client,
    ns: &str,
    name: &str,
    what: &str,
    check: impl Fn(&Secret) -> bool,
) -> Secret {
    common::wait_secret_within(client, ns, name, WAIT * 2, what, check).await
}

async fn es_reason(client: &kube::Client, ns: &str, name: &str) -> Option<(String, String)> {
    let es = common::get(client, Some(ns), "externalsecrets", name).await?;
    let c = es.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?
        .clone();
    Some((
        c["status"].as_str()?.to_string(),
        c["reason"].as_str()?.to_string(),
    ))
}

async fn bind_role(
    g: &ground::Ground,
    client: &kube::Client,
    ns: &str,
    role: &str,
    policy_path: &str,
) {
    let (addr, root) = (g.vault_addr(), g.vault_token());
    let _ = g
        .command("kubectl")
        .args(["-n", ns, "create", "serviceaccount", "external-secrets-sa"])
        .output();
    let _ = client;
    bao(
        addr,
        root,
        "PUT",
        &format!("sys/policies/acl/{role}"),
        Some(
            json!({"policy": format!("path \"secret/data/{policy_path}/*\" {{ capabilities = [\"read\"] }}\npath \"secret/metadata/{policy_path}/*\" {{ capabilities = [\"read\", \"list\"] }}")}),
        ),
    );
    bao(
        addr,
        root,
        "POST",
        &format!("auth/kubernetes/role/{role}"),
        Some(
            json!({"bound_service_account_names": ["external-secrets-sa"], "bound_service_account_namespaces": [ns], "token_policies": [role], "token_ttl": "1h"}),
        ),
    );
}

#[tokio::test]
async fn seed_vault_store_and_externalsecret_sync_rotate_and_retain() {
    let g = ground::ground();
    let client = g.client().await;
    crds(&client).await;
    vault_class(&client).await;
    let ns = g.namespace("vault-seed").await;
    let class = unique("vault");
    // The seed's paths, made unique per run: api-gateway/database → <ns>/api-gateway/database.
    let (addr, root) = (g.vault_addr(), g.vault_token());
    bind_role(g, &client, &ns, &format!("external-secrets-{ns}"), &ns).await;
    bao(
        addr,
        root,
        "POST",
        &format!("secret/data/{ns}/api-gateway/database"),
        Some(json!({"data": {"password": "db-pass-1"}})),
    );
    bao(
        addr,
        root,
        "POST",
        &format!("secret/data/{ns}/api-gateway/external-service"),
        Some(json!({"data": {"api_key": "key-1"}})),
    );
    let log = std::env::temp_dir().join(format!("{ns}.log"));
    let _op = common::operator(Some(&ns), &class, &cache(), &log);

    let mut store = seed(
        g,
        "01-secretstore-vault-backend.yaml",
        addr,
        &ns,
        Some(&class),
    );
    store["spec"]["provider"]["vault"]["auth"]["kubernetes"]["role"] =
        json!(format!("external-secrets-{ns}"));
    apply(&client, Some(&ns), store).await.unwrap();
    let mut es = seed(
        g,
        "02-externalsecret-api-gateway-secrets.yaml",
        addr,
        &ns,
        None,
    );
    for item in es["spec"]["data"].as_array_mut().unwrap() {
        let key = item["remoteRef"]["key"].as_str().unwrap().to_string();
        item["remoteRef"]["key"] = json!(format!("{ns}/{key}"));
    }
    apply(&client, Some(&ns), es).await.unwrap();
    let s = wait_secret(
        &client,
        &ns,
        "api-gateway-credentials",
        "the seed's Secret",
        |_| true,
    )
    .await;
    assert_eq!(data(&s)["database-password"], "db-pass-1");
    assert_eq!(data(&s)["api-key"], "key-1");
    let store_status = common::get(&client, Some(&ns), "secretstores", "vault-backend")
        .await
        .unwrap();
    assert_eq!(
        store_status.data["status"]["conditions"][0]["reason"],
        "Valid"
    );
    assert!(
        store_status.data["status"]["plugin"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );

    // The seed's connection-string ExternalSecret with its template, rendered by the sandboxed
    // template component: only the rendered key lands in the Secret (mergePolicy Replace).
    bao(
        addr,
        root,
        "POST",
        &format!("secret/data/{ns}/database/postgresql"),
        Some(
            json!({"data": {"username": "app", "password": "pg-pass", "host": "db.internal", "port": "5432", "database": "orders"}}),
        ),
    );
    let mut conn = seed(
        g,
        "09-externalsecret-connection-string.yaml",
        addr,
        &ns,
        None,
    );
    conn["spec"]["dataFrom"][0]["extract"]["key"] = json!(format!("{ns}/database/postgresql"));
    apply(&client, Some(&ns), conn).await.unwrap();
    let c = wait_secret(
        &client,
        &ns,
        "database-connection",
        "the rendered connection string",
        |_| true,
    )
    .await;
    assert_eq!(
        data(&c).into_iter().collect::<Vec<_>>(),
        vec![(
            "connection-string".to_string(),
            "postgresql://app:pg-pass@db.internal:5432/orders?sslmode=require\n".to_string()
        )]
    );
    assert_eq!(c.type_.as_deref(), Some("Opaque"));

    // Rotation: change the value in OpenBao, force-sync, the Secret follows.
    bao(
        addr,
        root,
        "POST",
        &format!("secret/data/{ns}/api-gateway/database"),
        Some(json!({"data": {"password": "db-pass-2"}})),
    );
    common::force_sync(&client, &ns, "api-gateway-secrets", "1").await;
    wait_secret(
        &client,
        &ns,
        "api-gateway-credentials",
        "the rotated value",
        |s| data(s)["database-password"] == "db-pass-2",
    )
    .await;

    // Key deleted in OpenBao with deletionPolicy Retain: Secret kept, Ready=False.
    bao(
        addr,
        root,
        "DELETE",
        &format!("secret/metadata/{ns}/api-gateway/external-service"),
        None,
    );
    common::force_sync(&client, &ns, "api-gateway-secrets", "2").await;
    ground::eventually(WAIT, "Ready=False after the key was deleted", || async {
        (es_reason(&client, &ns, "api-gateway-secrets").await?
            == ("False".into(), "SecretSyncedError".into()))
            .then_some(())
    })
    .await;
    let s = wait_secret(
        &client,
        &ns,
        "api-gateway-credentials",
        "the Secret kept",
        |_| true,
    )
    .await;
    assert_eq!(data(&s)["api-key"], "key-1", "Retain keeps the last value");
}

#[tokio::test]
async fn seed_cluster_store_serves_another_namespace_and_a_wrong_role_is_reported_without_tokens() {
    let g = ground::ground();
    let client = g.client().await;
    crds(&client).await;
    vault_class(&client).await;
    let (addr, root) = (g.vault_addr(), g.vault_token());
    let infra = g.namespace("vault-infra").await; // stands in for the seed's flux-system
    let team = g.namespace("vault-team").await; // stands in for team-alpha
    let class = unique("vault-css");
    let role = format!("cluster-external-secrets-{infra}");
    bind_role(g, &client, &infra, &role, &infra).await;
    bao(
        addr,
        root,
        "POST",
        &format!("secret/data/{infra}/shared/api-tokens"),
        Some(json!({"data": {"service-account-token": "shared-token-value"}})),
    );
    let log = std::env::temp_dir().join(format!("{team}.log"));
    let _op = common::operator(None, &class, &cache(), &log);

    let css_name = unique("vault-cluster-backend");
    let mut css = seed(
        g,
        "07-clustersecretstore-vault-cluster-backend.yaml",
        addr,
        &infra,
        Some(&class),
    );
    css["metadata"]["name"] = json!(css_name);
    css["spec"]["provider"]["vault"]["auth"]["kubernetes"]["role"] = json!(role);
    css["spec"]["provider"]["vault"]["auth"]["kubernetes"]["serviceAccountRef"]["namespace"] =
        json!(infra);
    apply(&client, None, css).await.unwrap();
    let mut es = seed(
        g,
        "08-externalsecret-shared-secrets.yaml",
        addr,
        &team,
        None,
    );
    es["spec"]["secretStoreRef"]["name"] = json!(css_name);
    es["spec"]["data"][0]["remoteRef"]["key"] = json!(format!("{infra}/shared/api-tokens"));
    apply(&client, Some(&team), es).await.unwrap();
    let s = wait_secret(
        &client,
        &team,
        "shared-credentials",
        "the ClusterSecretStore's Secret in another namespace",
        |_| true,
    )
    .await;
    assert_eq!(data(&s)["api-token"], "shared-token-value");

    // A store with a wrong role: Ready=False with Vault's error in a Warning event, no token anywhere.
    let bad = format!("bad-{}", unique("role"));
    let _ = g
        .command("kubectl")
        .args([
            "-n",
            &team,
            "create",
            "serviceaccount",
            "external-secrets-sa",
        ])
        .output();
    apply(&client, Some(&team), json!({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "wrong-role"},
        "spec": {"controller": class, "provider": {"vault": {"server": addr, "path": "secret", "version": "v2",
            "auth": {"kubernetes": {"mountPath": "kubernetes", "role": bad, "serviceAccountRef": {"name": "external-secrets-sa"}}}}}}})).await.unwrap();
    apply(&client, Some(&team), json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "denied"},
        "spec": {"secretStoreRef": {"name": "wrong-role"}, "data": [{"secretKey": "k", "remoteRef": {"key": "x", "property": "y"}}]}})).await.unwrap();
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), &team);
    let note = ground::eventually(WAIT, "a Warning event with Vault's error", || async {
        let list = events.list(&Default::default()).await.ok()?;
        list.items
            .into_iter()
            .filter(|e| e.type_.as_deref() == Some("Warning"))
            .filter_map(|e| e.note)
            .find(|n| n.contains("invalid role name"))
    })
    .await;
    ground::eventually(WAIT, "the ExternalSecret Ready=False", || async {
        (es_reason(&client, &team, "denied").await?.0 == "False").then_some(())
    })
    .await;
    let store = common::get(&client, Some(&team), "secretstores", "wrong-role")
        .await
        .unwrap();
    let es = common::get(&client, Some(&team), "externalsecrets", "denied")
        .await
        .unwrap();
    let all_events: Vec<String> = events
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|e| e.note)
        .collect();
    let logs = std::fs::read_to_string(&log).unwrap_or_default();
    // A JWT: base64url JSON header and payload (a list `continue` token is one segment).
    let jwt = regex::Regex::new(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.").unwrap();
    for (what, text) in [
        ("event", note.clone()),
        ("events", all_events.join("\n")),
        ("store status", store.data["status"].to_string()),
        ("es status", es.data["status"].to_string()),
        ("operator log", logs),
    ] {
        assert!(!jwt.is_match(&text), "a JWT leaked into the {what}");
        assert!(
            !text.contains(root),
            "the root token leaked into the {what}"
        );
        assert!(
            !text.contains("shared-token-value"),
            "a secret value leaked into the {what}"
        );
        assert!(!regex_token(&text), "a Vault token leaked into the {what}");
    }
    let _ = Api::<ampoule::crd::ClusterSecretStore>::all(client)
        .delete(&css_name, &Default::default())
        .await;
}

/// OpenBao service tokens look like `s.` / `hvs.` + 24 or more base62 characters.
fn regex_token(text: &str) -> bool {
    regex::Regex::new(r"\b(hvs|s)\.[A-Za-z0-9]{24,}")
        .unwrap()
        .is_match(text)
}

#[tokio::test]
async fn openbao_outage_backs_off_keeps_the_secret_and_recovers() {
    let g = ground::ground();
    let client = g.client().await;
    crds(&client).await;
    vault_class(&client).await;
    let ns = g.namespace("vault-outage").await;
    let class = unique("vault-outage");
    // A private OpenBao dev server this test may stop (the shared one serves the other tests).
    let port = common::free_port();
    let addr = format!("http://127.0.0.1:{port}");
    let root = "outage-root";
    let start = || {
        common::Killed(
            Command::new(g.dir.join("bin/bao"))
                .args([
                    "server",
                    "-dev",
                    &format!("-dev-root-token-id={root}"),
                    &format!("-dev-listen-address=127.0.0.1:{port}"),
                ])
                .env("HOME", std::env::temp_dir())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let up = || async {
        ground::eventually(WAIT, "the private OpenBao", || async {
            Command::new("curl")
                .args(["-fsS", &format!("{addr}/v1/sys/health")])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|_| ())
        })
        .await
    };
    let bao_proc = start();
    up().await;
    bao(
        &addr,
        root,
        "POST",
        "secret/data/app",
        Some(json!({"data": {"password": "before-outage"}})),
    );
    apply(&client, Some(&ns), json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bao-token"}, "stringData": {"token": root}})).await.unwrap();
    let log = std::env::temp_dir().join(format!("{ns}.log"));
    let _op = common::operator(Some(&ns), &class, &cache(), &log);
    apply(&client, Some(&ns), json!({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "private"},
        "spec": {"controller": class, "provider": {"vault": {"server": addr, "path": "secret", "version": "v2",
            "auth": {"tokenSecretRef": {"name": "bao-token", "key": "token"}}}}}})).await.unwrap();
    apply(&client, Some(&ns), json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "app"},
        "spec": {"refreshInterval": "2s", "secretStoreRef": {"name": "private"}, "data": [{"secretKey": "password", "remoteRef": {"key": "app", "property": "password"}}]}})).await.unwrap();
    let before = wait_secret(&client, &ns, "app", "the first sync", |s| {
        data(s).get("password").map(String::as_str) == Some("before-outage")
    })
    .await;

    drop(bao_proc); // outage
    ground::eventually(WAIT, "Ready=False during the outage", || async {
        (es_reason(&client, &ns, "app").await?.0 == "False").then_some(())
    })
    .await;
    let during: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let during = during.get("app").await.unwrap();
    assert_eq!(
        during.metadata.resource_version, before.metadata.resource_version,
        "the Secret is untouched during the outage"
    );

    let _bao_again = start(); // back (a dev server starts empty: write the value again)
    up().await;
    bao(
        &addr,
        root,
        "POST",
        "secret/data/app",
        Some(json!({"data": {"password": "after-outage"}})),
    );
    wait_secret(&client, &ns, "app", "recovery after the outage", |s| {
        data(s).get("password").map(String::as_str) == Some("after-outage")
    })
    .await;
}

#[tokio::test]
async fn one_hundred_externalsecrets_time_to_secret() {
    let g = ground::ground();
    let client = g.client().await;
    crds(&client).await;
    vault_class(&client).await;
    let ns = g.namespace("vault-100").await;
    let class = unique("vault-100");
    let (addr, root) = (g.vault_addr(), g.vault_token());
    bind_role(g, &client, &ns, &format!("es100-{ns}"), &ns).await;
    for i in 0..100 {
        bao(
            addr,
            root,
            "POST",
            &format!("secret/data/{ns}/k{i}"),
            Some(json!({"data": {"v": format!("value-{i}")}})),
        );
    }
    let log = std::env::temp_dir().join(format!("{ns}.log"));
    let _op = common::operator(Some(&ns), &class, &cache(), &log);
    apply(&client, Some(&ns), json!({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "vault"},
        "spec": {"controller": class, "provider": {"vault": {"server": addr, "path": "secret", "version": "v2",
            "auth": {"kubernetes": {"role": format!("es100-{ns}"), "serviceAccountRef": {"name": "external-secrets-sa"}}}}}}})).await.unwrap();
    common::wait_store_ready(&client, "SecretStore", Some(&ns), "vault").await;
    let started = Instant::now();
    for i in 0..100 {
        apply(&client, Some(&ns), json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": format!("es{i}")},
            "spec": {"secretStoreRef": {"name": "vault"}, "data": [{"secretKey": "v", "remoteRef": {"key": format!("{ns}/k{i}"), "property": "v"}}]}})).await.unwrap();
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    ground::eventually(Duration::from_secs(120), "100 Secrets", || async {
        let list = secrets
            .list(
                &kube::api::ListParams::default()
                    .labels("reconcile.external-secrets.io/managed=true"),
            )
            .await
            .ok()?;
        (list.items.len() == 100).then_some(())
    })
    .await;
    // A figure for the issue note, not a pass/fail threshold.
    println!(
        "BENCH vault: 100 ExternalSecrets created → 100 Secrets in {:.2}s",
        started.elapsed().as_secs_f64()
    );
}
