//! Issue 20 (migration from ESO), item 2, end to end: stores that name no credentials
//! authenticate as the operator's own ServiceAccount, as in ESO, where their ProviderClass sets
//! `spec.credentials.allowControllerIdentity: true`. The `ampoule run` binary is told its
//! ServiceAccount with `--controller-service-account` (in a Pod it reads it from the mounted
//! token); the host requests that ServiceAccount's token (TokenRequest on the ground's
//! apiserver) and hands it to the plugin. Vault: OpenBao's kubernetes auth reviews the token
//! (a role bound to the operator's ServiceAccount only). AWS: AssumeRoleWithWebIdentity at
//! moto's STS through a relay that records the role and the token. Without the grant the store
//! is not Ready, its message and a Warning event name the field, and no Secret is written.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "operator_cloud/support.rs"]
#[allow(dead_code, unused_imports)]
mod support;

use std::process::Command;
use std::time::Duration;

use common::operator::Operated;
use common::{WAIT, data, get};
use serde_json::{Value, json};

/// The operator's ServiceAccount in each test's namespace.
const OPERATOR_SA: &str = "ampoule-operator";
const FIELD: &str = "spec.credentials.allowControllerIdentity";

/// A namespace with the operator's ServiceAccount (these annotations), and an operator for it
/// that knows that ServiceAccount as its own.
async fn operator_as_own_sa(
    client: &kube::Client,
    prefix: &str,
    annotations: Value,
    env: &[(&str, &str)],
) -> Operated {
    let ns = ground::ground().namespace(prefix).await;
    common::apply(
        client,
        Some(&ns),
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": OPERATOR_SA, "annotations": annotations}}),
    )
    .await
    .unwrap();
    let account = format!("{ns}/{OPERATOR_SA}");
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let mut op = Operated::start_with(client, ns, true, move |cmd| {
        cmd.args(["--controller-service-account", &account]);
        cmd.envs(env);
    });
    op.wait = WAIT * 2;
    op
}

/// The store's Ready condition: (status, reason, message).
async fn store_condition(op: &Operated, name: &str) -> Option<(String, String, String)> {
    let obj = get(&op.client, Some(&op.ns), "secretstores", name).await?;
    let c = obj.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?
        .clone();
    let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
    Some((s("status"), s("reason"), s("message")))
}

/// Waits until the store is not Ready with a message naming the grant; returns the message.
async fn refused(op: &Operated, store: &str) -> String {
    ground::eventually(
        Duration::from_secs(300),
        &format!("SecretStore {store} Ready=False naming {FIELD}"),
        || async {
            let (status, _, message) = store_condition(op, store).await?;
            (status == "False" && message.contains(FIELD)).then_some(message)
        },
    )
    .await
}

/// Calls the ground's OpenBao as root.
fn bao(method: &str, path: &str, body: Value) {
    let g = ground::ground();
    ground::run(Command::new("curl").args([
        "-fsS",
        "-X",
        method,
        "-H",
        &format!("X-Vault-Token: {}", g.vault_token()),
        &format!("{}/v1/{path}", g.vault_addr()),
        "--data",
        &body.to_string(),
    ]));
}

/// The `vault` ProviderClass every Vault operator test applies, with or without the grant.
async fn vault_class(client: &kube::Client, controller_identity: bool) {
    common::apply(client, None, json!({"apiVersion": "ampoule.dev/v1alpha1", "kind": "ProviderClass", "metadata": {"name": "vault"},
        "spec": {"provider": "vault", "credentials": {"allowControllerIdentity": controller_identity},
            "sandbox": {"egress": {"privateNetworks": "Allow"}, "limits": {"timeout": "10s"}}}}))
    .await
    .unwrap();
}

#[tokio::test]
async fn vault_kubernetes_auth_without_service_account_ref_is_the_operator_once_granted() {
    let client = common::operator::client().await;
    vault_class(&client, false).await;
    let op = operator_as_own_sa(&client, "ident-vault", json!({}), &[]).await;
    let ns = &op.ns;
    // A role bound to the operator's ServiceAccount only, reading secret/<ns>/*.
    let role = format!("operator-{ns}");
    bao(
        "PUT",
        &format!("sys/policies/acl/{role}"),
        json!({"policy": format!("path \"secret/data/{ns}/*\" {{ capabilities = [\"read\"] }}")}),
    );
    bao(
        "POST",
        &format!("auth/kubernetes/role/{role}"),
        json!({"bound_service_account_names": [OPERATOR_SA], "bound_service_account_namespaces": [ns],
            "token_policies": [role], "token_ttl": "1h"}),
    );
    bao(
        "POST",
        &format!("secret/data/{ns}/app"),
        json!({"data": {"password": "operator-pass"}}),
    );
    // ESO's first-documented kubernetes auth: a role, no serviceAccountRef, no secretRef.
    op.apply(json!({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "vault-own"},
        "spec": {"controller": op.class, "provider": {"vault": {"server": ground::ground().vault_addr(),
            "path": "secret", "version": "v2", "auth": {"kubernetes": {"mountPath": "kubernetes", "role": role}}}}}}))
        .await;
    op.apply(json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "app"},
        "spec": {"refreshInterval": "1h", "secretStoreRef": {"name": "vault-own"}, "target": {"name": "app-secret"},
            "data": [{"secretKey": "password", "remoteRef": {"key": format!("{ns}/app"), "property": "password"}}]}}))
        .await;

    // Not granted: the store is refused naming the field, a Warning says so, no Secret.
    let message = refused(&op, "vault-own").await;
    assert!(message.contains("ServiceAccount"), "{message}");
    op.warning(Some("vault-own"), &[FIELD]).await;
    op.wait_es("app", "False", "").await;
    assert!(
        op.secrets().get_opt("app-secret").await.unwrap().is_none(),
        "a refused store writes no Secret"
    );

    // Granted: the operator's own token logs in (the role admits no other ServiceAccount).
    vault_class(&client, true).await;
    op.store_ready("vault-own").await;
    op.force_sync("app", "1").await;
    let s = op
        .synced("app-secret", "the value read as the operator")
        .await;
    assert_eq!(data(&s)["password"], "operator-pass");
    let visible = op.visible_text().await;
    assert!(!visible.contains("operator-pass"), "the value leaked");
    vault_class(&client, false).await;
}

const ROLE: &str = "arn:aws:iam::123456789012:role/ampoule-operator";
const ENV_ROLE: &str = "arn:aws:iam::123456789012:role/from-aws-role-arn";

/// The `aws` class at a private moto, STS through a relay; returns both.
async fn aws_class(client: &kube::Client, grant: bool) -> (support::Server, support::Relay) {
    let moto = support::moto().await;
    let relay = support::Relay::start(moto.port).await;
    let settings = json!({"endpoints": {"secretsmanager": moto.url, "ssm": moto.url,
        "sts": format!("http://127.0.0.1:{}", relay.port)}});
    support::class_granting(client, "aws", settings, &[moto.port, relay.port], grant).await;
    (moto, relay)
}

/// What reached STS in AssumeRoleWithWebIdentity: the role and the token's claims.
fn web_identity(relay: &support::Relay) -> (String, Value) {
    let sent = relay.sent();
    let call = sent
        .iter()
        .find(|c| c.contains("Action=AssumeRoleWithWebIdentity"))
        .unwrap_or_else(|| panic!("no AssumeRoleWithWebIdentity reached STS"));
    let field = |name: &str| {
        let value = call.split(&format!("{name}=")).nth(1).unwrap();
        value.split(['&', '\r', '\n']).next().unwrap().to_owned()
    };
    let role = field("RoleArn").replace("%3A", ":").replace("%2F", "/");
    (role, support::jwt_claims(&field("WebIdentityToken")))
}

fn aws_store(op: &Operated) -> Value {
    // ESO's IRSA on the controller: no `auth` at all.
    json!({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "aws-own"},
        "spec": {"controller": op.class, "provider": {"aws": {"service": "SecretsManager", "region": "us-east-1"}}}})
}

fn aws_external_secret() -> Value {
    json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "db"},
        "spec": {"refreshInterval": "1h", "secretStoreRef": {"name": "aws-own"}, "target": {"name": "db-secret"},
            "data": [{"secretKey": "password", "remoteRef": {"key": "operator/db"}}]}})
}

#[tokio::test]
async fn aws_without_auth_assumes_the_operator_role_with_its_token_once_granted() {
    let _turn = support::aws_turn().await;
    let client = common::operator::client().await;
    let (moto, relay) = aws_class(&client, false).await;
    support::python(
        &moto.url,
        "sm.create_secret(Name='operator/db', SecretString='aws-operator-pass')\nprint('ok')",
    );
    let op = operator_as_own_sa(
        &client,
        "ident-aws",
        json!({"eks.amazonaws.com/role-arn": ROLE}),
        &[],
    )
    .await;
    op.apply(aws_store(&op)).await;
    op.apply(aws_external_secret()).await;

    refused(&op, "aws-own").await;
    // The event names the provider key, so the admin finds the class.
    op.warning(Some("aws-own"), &[FIELD, "\"aws\""]).await;
    op.wait_es("db", "False", "").await;
    assert!(op.secrets().get_opt("db-secret").await.unwrap().is_none());
    assert_eq!(
        relay.count("AssumeRoleWithWebIdentity"),
        0,
        "refused before STS"
    );

    support::class_granting(
        &client,
        "aws",
        json!({"endpoints": {"secretsmanager": moto.url, "ssm": moto.url,
            "sts": format!("http://127.0.0.1:{}", relay.port)}}),
        &[moto.port, relay.port],
        true,
    )
    .await;
    op.store_ready("aws-own").await;
    op.force_sync("db", "1").await;
    let s = op
        .synced("db-secret", "the value read as the operator")
        .await;
    assert_eq!(data(&s)["password"], "aws-operator-pass");
    // STS saw the annotated role and a token of the operator's ServiceAccount for STS.
    let (role, claims) = web_identity(&relay);
    assert_eq!(role, ROLE);
    assert_eq!(
        claims["sub"],
        json!(format!("system:serviceaccount:{}:{OPERATOR_SA}", op.ns))
    );
    assert_eq!(claims["aud"], json!(["sts.amazonaws.com"]));
}

#[tokio::test]
async fn aws_without_auth_takes_the_role_from_the_operators_aws_role_arn() {
    let _turn = support::aws_turn().await;
    let client = common::operator::client().await;
    let (moto, relay) = aws_class(&client, true).await;
    support::python(
        &moto.url,
        "sm.create_secret(Name='operator/db', SecretString='env-pass')\nprint('ok')",
    );
    // As ESO's SDK: AWS_ROLE_ARN (what the IRSA webhook sets) over the annotation, and the
    // annotated audience for the token.
    let op = operator_as_own_sa(
        &client,
        "ident-awsenv",
        json!({"eks.amazonaws.com/role-arn": ROLE, "eks.amazonaws.com/audience": "ampoule-irsa"}),
        &[("AWS_ROLE_ARN", ENV_ROLE)],
    )
    .await;
    op.store(aws_store(&op)).await;
    op.apply(aws_external_secret()).await;
    let s = op
        .synced("db-secret", "the value read as the operator")
        .await;
    assert_eq!(data(&s)["password"], "env-pass");
    let (role, claims) = web_identity(&relay);
    assert_eq!(role, ENV_ROLE);
    assert_eq!(claims["aud"], json!(["ampoule-irsa"]));
}

const GSA: &str = "ampoule-operator@my-project.iam.gserviceaccount.com";

#[tokio::test]
async fn gcp_without_auth_is_the_operators_workload_identity_once_granted() {
    let _turn = support::gcp_turn().await;
    let client = common::operator::client().await;
    let fake = support::gcp_fake().await;
    let relay = support::Relay::start(fake.port).await;
    let ep = format!("http://127.0.0.1:{}", relay.port);
    // The cluster stands in for the GKE metadata server ESO asks.
    let settings = json!({"endpoints": {"secretmanager": ep, "sts": ep, "securetoken": ep, "iamcredentials": ep, "oauth2": ep},
        "workloadIdentity": {"clusterName": "ops", "clusterLocation": "europe-west1"}});
    support::class_granting(&client, "gcpsm", settings, &[relay.port], true).await;
    support::python(
        &fake.url,
        "gcp('POST', '/v1/projects/my-project/secrets?secretId=db', {'replication': {'automatic': {}}})
gcp('POST', '/v1/projects/my-project/secrets/db:addVersion', {'payload': {'data': base64.b64encode(b'gcp-operator-pass').decode()}})
print('ok')",
    );
    let op = operator_as_own_sa(
        &client,
        "ident-gcp",
        json!({"iam.gke.io/gcp-service-account": GSA}),
        &[],
    )
    .await;
    // ESO's workload identity of the controller: no `auth` at all.
    op.store(json!({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "gcp-own"},
        "spec": {"controller": op.class, "provider": {"gcpsm": {"projectID": "my-project"}}}}))
        .await;
    op.apply(json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "db"},
        "spec": {"refreshInterval": "1h", "secretStoreRef": {"name": "gcp-own"}, "target": {"name": "db-secret"},
            "data": [{"secretKey": "password", "remoteRef": {"key": "db"}}]}}))
        .await;
    let s = op
        .synced("db-secret", "the value read as the operator")
        .await;
    assert_eq!(data(&s)["password"], "gcp-operator-pass");

    // The identity binding exchange carried the operator's token for the project's pool and
    // the cluster the class names; the annotated GSA was impersonated.
    let sent = relay.sent();
    let binding = sent
        .iter()
        .find(|c| c.contains("/v1/identitybindingtoken"))
        .expect("no identity binding exchange");
    let at = binding.find("/v1/identitybindingtoken").unwrap();
    let request = &binding[at..];
    let body = &request[request.find("\r\n\r\n").unwrap() + 4..];
    // The first JSON value after the headers (past a chunk size; a kept-alive connection
    // carries more requests).
    let body = &body[body.find('{').unwrap()..];
    let body: Value = serde_json::Deserializer::from_str(body)
        .into_iter::<Value>()
        .next()
        .unwrap()
        .unwrap();
    let subject = body["subjectToken"].as_str().unwrap();
    let claims = support::jwt_claims(subject);
    assert_eq!(
        claims["sub"],
        json!(format!("system:serviceaccount:{}:{OPERATOR_SA}", op.ns))
    );
    assert_eq!(claims["aud"], json!(["my-project.svc.id.goog"]));
    assert!(
        body["audience"]
            .as_str()
            .unwrap()
            .ends_with("/locations/europe-west1/clusters/ops"),
        "{body}"
    );
    assert!(
        sent.iter().any(|c| c.contains(&format!(
            "/serviceAccounts/{}:generateAccessToken",
            GSA.replace('@', "%40")
        ))),
        "the annotated GSA was not impersonated"
    );
}
