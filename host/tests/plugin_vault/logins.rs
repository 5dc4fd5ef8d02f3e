//! Logins (kubernetes, appRole, userPass, jwt), token reuse, and the egress denial.

use super::*;

/// Accessors of live tokens issued for `role` among those not in `before`.
fn tokens_for_role(before: &[String], role: &str) -> Vec<String> {
    accessors()
        .into_iter()
        .filter(|a| !before.contains(a))
        .filter(|a| {
            let out = bao(&[
                "write",
                "-format=json",
                "auth/token/lookup-accessor",
                &format!("accessor={a}"),
            ]);
            let v: Value = serde_json::from_str(&out).unwrap();
            v["data"]["meta"]["role"] == json!(role)
        })
        .collect()
}

fn accessors() -> Vec<String> {
    serde_json::from_str(&bao(&["list", "-format=json", "auth/token/accessors"])).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_auth_logs_in_once_for_100_reconciles() {
    let e = env("vault-k8s", true).await;
    e.policy(&[&format!("secret/+/{}", e.id)]);
    e.service_account("reader").await;
    bao_write(
        &format!("auth/kubernetes/role/{}", e.id),
        json!({"bound_service_account_names": ["reader"],
        "bound_service_account_namespaces": [e.ns], "token_policies": [e.id], "token_ttl": "10m"}),
    );
    bao_write(
        &format!("secret/data/{}/db", e.id),
        json!({"data": {"password": "s3cr3t"}}),
    );
    let config = json!({"server": e.server(), "path": "secret", "auth": {"kubernetes": {
        "role": e.id, "serviceAccountRef": {"name": "reader"}}}});
    let before = accessors();
    let start = std::time::Instant::now();
    let key = prop(&format!("{}/db", e.id), "password");
    for _ in 0..100 {
        let c = e.client(config.clone()).await.unwrap();
        assert_eq!(text(&*c, &key).await, "s3cr3t");
    }
    eprintln!(
        "100 reconciles (open + get-secret) with kubernetes auth: {:?}",
        start.elapsed()
    );
    let issued = tokens_for_role(&before, &e.id);
    assert_eq!(
        issued.len(),
        1,
        "100 reconciles through fresh clients log in once"
    );
    // A cached token Vault revoked is noticed (lookup-self) and replaced by one new login.
    bao(&["token", "revoke", "-accessor", &issued[0]]);
    let c = e.client(config.clone()).await.unwrap();
    assert_eq!(text(&*c, &key).await, "s3cr3t");
    let reissued = tokens_for_role(&before, &e.id);
    assert_eq!(reissued.len(), 1);
    assert_ne!(reissued, issued);
    let c = e.client(config).await.unwrap();
    assert_eq!(c.validate().await.unwrap(), Validation::Valid);

    let wrong = json!({"server": e.server(), "path": "secret", "auth": {"kubernetes": {
        "role": "no-such-role", "serviceAccountRef": {"name": "reader"}}}});
    let err = e
        .client(wrong)
        .await
        .unwrap()
        .get_secret(&key)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert_eq!(err.category(), "unauthorized", "{msg}");
    assert!(msg.contains("no-such-role"), "Vault's own words: {msg}");
    assert!(!msg.contains("eyJ"), "no JWT in {msg}");
    ground().drop_namespace(&e.ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approle_userpass_and_jwt_logins() {
    let e = env("vault-logins", true).await;
    e.policy(&[&format!("secret/+/{}", e.id)]);
    bao_write(
        &format!("secret/data/{}/x", e.id),
        json!({"data": {"v": "ok"}}),
    );
    let key = prop(&format!("{}/x", e.id), "v");
    let (approle, userpass, jwt) = (
        format!("ar-{}", e.id),
        format!("up-{}", e.id),
        format!("jwt-{}", e.id),
    );
    bao(&["auth", "enable", &format!("-path={approle}"), "approle"]);
    bao_write(
        &format!("auth/{approle}/role/app"),
        json!({"token_policies": [e.id]}),
    );
    let role_id: Value = serde_json::from_str(&bao(&[
        "read",
        "-format=json",
        &format!("auth/{approle}/role/app/role-id"),
    ]))
    .unwrap();
    let secret_id: Value = serde_json::from_str(&bao_write(
        &format!("auth/{approle}/role/app/secret-id"),
        json!({}),
    ))
    .unwrap();
    e.secret(
        "approle",
        "secret-id",
        secret_id["data"]["secret_id"].as_str().unwrap(),
    )
    .await;
    let c = e.client(json!({"server": e.server(), "path": "secret", "auth": {"appRole": {"path": approle,
        "roleId": role_id["data"]["role_id"], "secretRef": {"name": "approle", "key": "secret-id"}}}})).await.unwrap();
    assert_eq!(text(&*c, &key).await, "ok");

    bao(&["auth", "enable", &format!("-path={userpass}"), "userpass"]);
    bao_write(
        &format!("auth/{userpass}/users/bob"),
        json!({"password": "hunter2-long", "token_policies": [e.id]}),
    );
    e.secret("bob", "password", "hunter2-long").await;
    let c = e
        .client(
            json!({"server": e.server(), "path": "secret", "auth": {"userPass": {"path": userpass,
        "username": "bob", "secretRef": {"name": "bob", "key": "password"}}}}),
        )
        .await
        .unwrap();
    assert_eq!(text(&*c, &key).await, "ok");
    e.secret("bad", "password", "wrong-password").await;
    let err = e
        .client(
            json!({"server": e.server(), "path": "secret", "auth": {"userPass": {"path": userpass,
        "username": "bob", "secretRef": {"name": "bad", "key": "password"}}}}),
        )
        .await
        .unwrap()
        .get_secret(&key)
        .await
        .unwrap_err();
    assert_eq!(err.category(), "unauthorized", "{err}");
    assert!(!err.to_string().contains("wrong-password"), "{err}");

    // jwt: OpenBao checks ServiceAccount tokens against the apiserver's signing key.
    let pem = std::fs::read_to_string(ground().dir.join("run/sa.pub")).unwrap();
    bao(&["auth", "enable", &format!("-path={jwt}"), "jwt"]);
    bao_write(
        &format!("auth/{jwt}/config"),
        json!({"jwt_validation_pubkeys": [pem]}),
    );
    bao_write(
        &format!("auth/{jwt}/role/sa"),
        json!({"role_type": "jwt", "user_claim": "sub",
        "bound_audiences": ["vault"], "token_policies": [e.id]}),
    );
    e.service_account("jwt-reader").await;
    let c = e.client(json!({"server": e.server(), "path": "secret", "auth": {"jwt": {"path": jwt, "role": "sa",
        "kubernetesServiceAccountToken": {"serviceAccountRef": {"name": "jwt-reader"}}}}})).await.unwrap();
    assert_eq!(text(&*c, &key).await, "ok");
    ground().drop_namespace(&e.ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_server_is_denied_without_private_networks() {
    let e = env("vault-deny", false).await;
    e.secret("vault-token", "token", "unused").await;
    let config = json!({"server": e.server(), "path": "secret",
                        "auth": {"tokenSecretRef": {"name": "vault-token", "key": "token"}}});
    let c = e.client(config).await.unwrap();
    let err = c.validate().await.unwrap_err();
    assert_eq!(err.category(), "forbidden", "{err}");
    assert!(
        err.to_string()
            .contains("denied by the sandbox egress policy"),
        "{err}"
    );
    let err = e
        .client(json!({"server": e.server(), "auth": {"ldap": {"username": "u"}}}))
        .await
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("ldap auth method is not supported"),
        "{err}"
    );
    ground().drop_namespace(&e.ns).await;
}
