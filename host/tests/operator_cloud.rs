//! Issue 8 end to end: the `ampoule run` binary with the embedded aws and gcp components, the seed
//! guide's `aws-secrets` / `rds-credentials` (IRSA: role from the ServiceAccount's annotation,
//! AssumeRoleWithWebIdentity at moto's STS) and `gcpsm-backend` / `cloudsql-credentials`
//! (workload identity at the GCP fake), unchanged but for the namespace, the controller class and
//! the ProviderClass settings that point the plugins at private servers on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "operator_cloud/gcp.rs"]
mod gcp;
#[path = "operator_cloud/support.rs"]
mod support;

use std::time::Duration;

use common::{WAIT, apply, crds, data, unique};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use serde_json::json;

use support::{AWS_CLASS, ClassGuard, Relay, force_sync, python, seed, wait_es, wait_secret};

/// The compiled-component cache the operators of these tests share.
fn cache() -> std::path::PathBuf {
    std::env::temp_dir().join("ampoule-test-cache")
}

const ROLE: &str = "arn:aws:iam::123456789012:role/external-secrets";
const WEB_IDENTITY: &str = "Action=AssumeRoleWithWebIdentity";

/// moto for Secrets Manager and SSM, STS through a relay that records the web identity calls.
async fn aws_ground(client: &kube::Client) -> (support::Server, Relay) {
    let moto = support::moto().await;
    let relay = Relay::start(moto.port).await;
    let settings = json!({"endpoints": {"secretsmanager": moto.url, "ssm": moto.url,
        "sts": format!("http://127.0.0.1:{}", relay.port)}});
    support::class(client, "aws", settings, &[moto.port, relay.port]).await;
    (moto, relay)
}

#[tokio::test]
async fn seed_aws_store_irsa_parameter_store_rotation_and_deletion_policies() {
    let _turn = AWS_CLASS.lock().await;
    let _class = ClassGuard("aws");
    let g = ground::ground();
    let client = g.client().await;
    crds(&client).await;
    let (moto, relay) = aws_ground(&client).await;
    python(&moto.url, "\
sm.create_secret(Name='production/rds/master', SecretString=json.dumps({'username': 'admin', 'password': 'rds-pass-1'}))
ssm.put_parameter(Name='/production/rds/endpoint', Value='db.internal:5432', Type='SecureString')
print('ok')");
    let ns = g.namespace("aws-seed").await;
    // IRSA: the role and a non-default token audience come from the ServiceAccount.
    support::service_account(
        &client,
        &ns,
        "external-secrets-sa",
        json!({
        "eks.amazonaws.com/role-arn": ROLE, "eks.amazonaws.com/audience": "ampoule-test-audience"}),
    )
    .await;
    let class = unique("aws-seed");
    let log = std::env::temp_dir().join(format!("{ns}.log"));
    let _op = common::operator(Some(&ns), &class, &cache(), &log);

    apply(
        &client,
        Some(&ns),
        seed("03-secretstore-aws-secrets.yaml", &ns, Some(&class)),
    )
    .await
    .unwrap();
    support::store_ready(&client, &ns, "aws-secrets").await;
    apply(
        &client,
        Some(&ns),
        seed("04-externalsecret-rds-credentials.yaml", &ns, None),
    )
    .await
    .unwrap();
    let s = wait_secret(
        &client,
        &ns,
        "rds-password",
        "the seed's rds-password Secret",
        |_| true,
    )
    .await;
    assert_eq!(data(&s)["password"], "rds-pass-1");

    // What reached STS: the annotated role, a token for the annotated audience of the seed's SA.
    let sent = relay.sent().join("\n");
    assert!(
        sent.contains(WEB_IDENTITY),
        "no AssumeRoleWithWebIdentity reached STS"
    );
    assert!(sent.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fexternal-secrets"));
    let token = sent
        .split("WebIdentityToken=")
        .nth(1)
        .unwrap()
        .split(['&', '\r', '\n'])
        .next()
        .unwrap();
    let claims = support::jwt_claims(token);
    assert_eq!(claims["aud"], json!(["ampoule-test-audience"]));
    assert_eq!(
        claims["sub"],
        json!(format!("system:serviceaccount:{ns}:external-secrets-sa"))
    );

    // A ParameterStore store like the seed's, and an ExternalSecret with deletionPolicy Delete.
    let mut ps = seed("03-secretstore-aws-secrets.yaml", &ns, Some(&class));
    ps["metadata"]["name"] = json!("aws-parameters");
    ps["spec"]["provider"]["aws"]["service"] = json!("ParameterStore");
    apply(&client, Some(&ns), ps).await.unwrap();
    support::store_ready(&client, &ns, "aws-parameters").await;
    apply(&client, Some(&ns), json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "rds-endpoint"},
        "spec": {"secretStoreRef": {"name": "aws-parameters"}, "data": [{"secretKey": "endpoint", "remoteRef": {"key": "/production/rds/endpoint"}}]}})).await.unwrap();
    apply(&client, Some(&ns), json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "rds-delete"},
        "spec": {"secretStoreRef": {"name": "aws-secrets"}, "target": {"deletionPolicy": "Delete"},
            "data": [{"secretKey": "password", "remoteRef": {"key": "production/rds/master", "property": "password"}}]}})).await.unwrap();
    let e = wait_secret(
        &client,
        &ns,
        "rds-endpoint",
        "the Parameter Store value",
        |_| true,
    )
    .await;
    assert_eq!(data(&e)["endpoint"], "db.internal:5432");
    wait_secret(
        &client,
        &ns,
        "rds-delete",
        "the Delete-policy Secret",
        |_| true,
    )
    .await;

    // Rotation: a new version in Secrets Manager, a forced sync, the Secret follows.
    python(
        &moto.url,
        "sm.put_secret_value(SecretId='production/rds/master', SecretString=json.dumps({'username': 'admin', 'password': 'rds-pass-2'}))",
    );
    force_sync(&client, &ns, "rds-credentials", "1").await;
    wait_secret(&client, &ns, "rds-password", "the rotated value", |s| {
        data(s)["password"] == "rds-pass-2"
    })
    .await;

    // The secret is deleted: Delete removes the target, Retain keeps it and reports the error.
    python(
        &moto.url,
        "sm.delete_secret(SecretId='production/rds/master', ForceDeleteWithoutRecovery=True)",
    );
    force_sync(&client, &ns, "rds-delete", "2").await;
    force_sync(&client, &ns, "rds-credentials", "2").await;
    wait_es(&client, &ns, "rds-delete", "True", "SecretDeleted").await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    ground::eventually(WAIT, "the Delete-policy Secret gone", || async {
        secrets
            .get_opt("rds-delete")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    wait_es(
        &client,
        &ns,
        "rds-credentials",
        "False",
        "SecretSyncedError",
    )
    .await;
    let kept = secrets.get("rds-password").await.unwrap();
    assert_eq!(
        data(&kept)["password"],
        "rds-pass-2",
        "Retain keeps the last value"
    );

    // A ServiceAccount without the role annotation: the store says which annotation is missing.
    support::service_account(&client, &ns, "no-role", json!({})).await;
    let mut bare = seed("03-secretstore-aws-secrets.yaml", &ns, Some(&class));
    bare["metadata"]["name"] = json!("no-role");
    bare["spec"]["provider"]["aws"]["auth"]["jwt"]["serviceAccountRef"]["name"] = json!("no-role");
    apply(&client, Some(&ns), bare).await.unwrap();
    ground::eventually(WAIT, "the store without a role Ready=False", || async {
        let st = common::get(&client, Some(&ns), "secretstores", "no-role").await?;
        let c = &st.data["status"]["conditions"][0];
        (c["status"] == "False" && c["reason"] == "InvalidProviderConfig").then_some(())
    })
    .await;
    let note = ground::eventually(WAIT, "a Warning event naming the annotation", || async {
        support::warnings(&client, &ns, "no-role")
            .await
            .into_iter()
            .find(|n| n.contains("eks.amazonaws.com/role-arn"))
    })
    .await;
    assert!(note.contains("\"no-role\""), "{note}");
    let text = support::visible_text(&client, &ns, &log).await;
    let signature = token.rsplit('.').next().unwrap();
    assert!(!text.contains(signature), "the ServiceAccount token leaked");
    for value in ["rds-pass-1", "rds-pass-2"] {
        assert!(!text.contains(value), "a secret value leaked");
    }
}

#[tokio::test]
async fn sts_and_token_requests_per_100_reconciles_through_the_operator() {
    let _turn = AWS_CLASS.lock().await;
    let _class = ClassGuard("aws");
    let g = ground::ground();
    let client = g.client().await;
    crds(&client).await;
    let (moto, relay) = aws_ground(&client).await;
    python(
        &moto.url,
        "sm.create_secret(Name='production/rds/master', SecretString=json.dumps({'password': 'p'}))",
    );
    let ns = g.namespace("aws-100").await;
    support::service_account(
        &client,
        &ns,
        "external-secrets-sa",
        json!({"eks.amazonaws.com/role-arn": ROLE}),
    )
    .await;
    let class = unique("aws-100");
    let log = std::env::temp_dir().join(format!("{ns}.log"));
    let _op = common::operator(Some(&ns), &class, &cache(), &log);
    apply(
        &client,
        Some(&ns),
        seed("03-secretstore-aws-secrets.yaml", &ns, Some(&class)),
    )
    .await
    .unwrap();
    support::store_ready(&client, &ns, "aws-secrets").await;
    let sts_before = relay.count(WEB_IDENTITY);
    let tokens_before =
        support::apiserver_requests(&client, "serviceaccounts", "token", "POST").await;
    let reads_before = support::apiserver_requests(&client, "serviceaccounts", "", "GET").await;
    for i in 0..100 {
        apply(&client, Some(&ns), json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": format!("rds-{i}")},
            "spec": {"refreshInterval": "1h", "secretStoreRef": {"name": "aws-secrets"},
                "data": [{"secretKey": "password", "remoteRef": {"key": "production/rds/master", "property": "password"}}]}})).await.unwrap();
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
    let sts = relay.count(WEB_IDENTITY);
    let tokens = support::apiserver_requests(&client, "serviceaccounts", "token", "POST").await
        - tokens_before;
    let reads =
        support::apiserver_requests(&client, "serviceaccounts", "", "GET").await - reads_before;
    println!(
        "REPORT aws irsa through the operator: AssumeRoleWithWebIdentity {} for store validation, {} for 100 ExternalSecrets; \
         apiserver TokenRequests {tokens}, ServiceAccount reads {reads} (whole apiserver, other tests included)",
        sts_before,
        sts - sts_before
    );
    assert_eq!(sts_before, 1, "validating the store assumes the role once");
    assert_eq!(
        sts, sts_before,
        "the credentials are cached per store: no STS call per reconcile"
    );
}

#[tokio::test]
async fn static_keys_verified_by_moto_a_wrong_key_is_reported_without_key_material() {
    let _turn = AWS_CLASS.lock().await;
    let _class = ClassGuard("aws");
    let g = ground::ground();
    let client = g.client().await;
    crds(&client).await;
    let moto = support::moto().await;
    // Signature verification on from here (moto checks SigV4 and IAM policies for every call).
    let out = python(&moto.url, "\
sm.create_secret(Name='production/rds/master', SecretString=json.dumps({'password': 'verified-pass'}))
iam.create_user(UserName='eso')
iam.put_user_policy(UserName='eso', PolicyName='all', PolicyDocument=json.dumps({'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'*','Resource':'*'}]}))
k = iam.create_access_key(UserName='eso')['AccessKey']
urllib.request.urlopen(urllib.request.Request(EP + '/moto-api/reset-auth', data=b'0', method='POST', headers={'Content-Type':'text/plain'}))
print(k['AccessKeyId'], k['SecretAccessKey'])");
    let (ak, sk) = out.trim().split_once(' ').unwrap();
    let wrong = format!("wrong-{}", unique("secret-key"));
    let settings =
        json!({"endpoints": {"secretsmanager": moto.url, "ssm": moto.url, "sts": moto.url}});
    support::class(&client, "aws", settings, &[moto.port]).await;
    let ns = g.namespace("aws-sigv4").await;
    let class = unique("aws-sigv4");
    let log = std::env::temp_dir().join(format!("{ns}.log"));
    let _op = common::operator(Some(&ns), &class, &cache(), &log);
    for (name, secret) in [("good", sk), ("bad", wrong.as_str())] {
        apply(&client, Some(&ns), json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": format!("aws-{name}")},
            "stringData": {"access-key": ak, "secret-access-key": secret}})).await.unwrap();
        apply(&client, Some(&ns), json!({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": name},
            "spec": {"controller": class, "provider": {"aws": {"service": "SecretsManager", "region": "us-east-1", "auth": {"secretRef": {
                "accessKeyIDSecretRef": {"name": format!("aws-{name}"), "key": "access-key"},
                "secretAccessKeySecretRef": {"name": format!("aws-{name}"), "key": "secret-access-key"}}}}}}})).await.unwrap();
        support::store_ready(&client, &ns, name).await;
    }
    apply(
        &client,
        Some(&ns),
        support::external_secret("good", "good", "production/rds/master"),
    )
    .await
    .unwrap();
    let s = wait_secret(
        &client,
        &ns,
        "good",
        "the Secret synced with verified keys",
        |_| true,
    )
    .await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&data(&s)["value"]).unwrap(),
        json!({"password": "verified-pass"})
    );
    support::backend_reached(&client, &ns, &log, "bad", "SignatureDoesNotMatch").await;
    apply(
        &client,
        Some(&ns),
        support::external_secret("bad", "bad", "production/rds/master"),
    )
    .await
    .unwrap();
    let message = wait_es(&client, &ns, "bad", "False", "SecretSyncedError").await;
    let event = ground::eventually(WAIT, "a Warning event about the signature", || async {
        support::warnings(&client, &ns, "bad")
            .await
            .into_iter()
            .find(|n| n.contains("unauthorized") && n.contains("SignatureDoesNotMatch"))
    })
    .await;
    println!("wrong key: status {message:?}; event {event:?}");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    assert!(secrets.get_opt("bad").await.unwrap().is_none());
    let text = support::visible_text(&client, &ns, &log).await;
    assert!(!text.contains(&wrong), "the wrong secret key leaked");
    assert!(!text.contains(sk), "the secret key leaked");
    assert!(!text.contains("verified-pass"), "a secret value leaked");
}

#[tokio::test]
async fn egress_denied_when_the_region_needs_a_host_outside_the_grant() {
    let _turn = AWS_CLASS.lock().await;
    let _class = ClassGuard("aws");
    let g = ground::ground();
    let client = g.client().await;
    crds(&client).await;
    let moto = support::moto().await;
    // No endpoint settings: the store's region needs secretsmanager.eu-west-3.amazonaws.com; the
    // ceiling grants moto's port on loopback only.
    support::class(&client, "aws", json!({}), &[moto.port]).await;
    let ns = g.namespace("aws-egress").await;
    let class = unique("aws-egress");
    let log = std::env::temp_dir().join(format!("{ns}.log"));
    let _op = common::operator(Some(&ns), &class, &cache(), &log);
    apply(
        &client,
        Some(&ns),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "aws"},
        "stringData": {"id": "ground", "secret": "ground-secret"}}),
    )
    .await
    .unwrap();
    apply(&client, Some(&ns), json!({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "paris"},
        "spec": {"controller": class, "provider": {"aws": {"service": "SecretsManager", "region": "eu-west-3", "auth": {"secretRef": {
            "accessKeyIDSecretRef": {"name": "aws", "key": "id"}, "secretAccessKeySecretRef": {"name": "aws", "key": "secret"}}}}}}})).await.unwrap();
    support::store_ready(&client, &ns, "paris").await;
    support::backend_reached(&client, &ns, &log, "paris", "egress denied").await;
    apply(
        &client,
        Some(&ns),
        support::external_secret("paris", "paris", "x"),
    )
    .await
    .unwrap();
    wait_es(&client, &ns, "paris", "False", "SecretSyncedError").await;
    let event = ground::eventually(WAIT, "a Warning event about the egress denial", || async {
        support::warnings(&client, &ns, "paris")
            .await
            .into_iter()
            .find(|n| n.contains("denied by the sandbox egress policy"))
    })
    .await;
    assert!(
        event.contains("eu-west-3"),
        "the event names the host: {event}"
    );
}
