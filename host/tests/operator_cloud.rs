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

use common::operator::{Operated, operated};
use common::{WAIT, data};
use serde_json::json;

use support::{Relay, python};

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

/// The seed's `aws-secrets` store, IRSA through a ServiceAccount with these annotations.
async fn seed_aws_store(op: &Operated, annotations: serde_json::Value) {
    support::service_account(op, "external-secrets-sa", annotations).await;
    op.store(op.seed("03-secretstore-aws-secrets.yaml")).await;
}

/// A SecretStore `name` with static keys from the Secret `secret` (keys `id` and `secret`).
fn static_key_store(op: &Operated, name: &str, region: &str, secret: &str) -> serde_json::Value {
    json!({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": name},
        "spec": {"controller": op.class, "provider": {"aws": {"service": "SecretsManager", "region": region, "auth": {"secretRef": {
            "accessKeyIDSecretRef": {"name": secret, "key": "id"}, "secretAccessKeySecretRef": {"name": secret, "key": "secret"}}}}}}})
}

/// A Secret holding an access key (`id`, `secret`).
fn key_secret(name: &str, id: &str, secret: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
        "stringData": {"id": id, "secret": secret}})
}

#[tokio::test]
async fn seed_aws_store_irsa_parameter_store_rotation_and_deletion_policies() {
    let _turn = support::aws_turn().await;
    let client = common::operator::client().await;
    let (moto, relay) = aws_ground(&client).await;
    python(&moto.url, "\
sm.create_secret(Name='production/rds/master', SecretString=json.dumps({'username': 'admin', 'password': 'rds-pass-1'}))
ssm.put_parameter(Name='/production/rds/endpoint', Value='db.internal:5432', Type='SecureString')
print('ok')");
    let op = operated(&client, "aws-seed").await;
    // IRSA: the role and a non-default token audience come from the ServiceAccount.
    seed_aws_store(
        &op,
        json!({
        "eks.amazonaws.com/role-arn": ROLE, "eks.amazonaws.com/audience": "ampoule-test-audience"}),
    )
    .await;
    op.apply(op.seed("04-externalsecret-rds-credentials.yaml"))
        .await;
    let s = op
        .synced("rds-password", "the seed's rds-password Secret")
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
        json!(format!(
            "system:serviceaccount:{}:external-secrets-sa",
            op.ns
        ))
    );

    // A ParameterStore store like the seed's, and an ExternalSecret with deletionPolicy Delete.
    let mut ps = op.seed("03-secretstore-aws-secrets.yaml");
    ps["metadata"]["name"] = json!("aws-parameters");
    ps["spec"]["provider"]["aws"]["service"] = json!("ParameterStore");
    op.store(ps).await;
    op.apply(json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "rds-endpoint"},
        "spec": {"secretStoreRef": {"name": "aws-parameters"}, "data": [{"secretKey": "endpoint", "remoteRef": {"key": "/production/rds/endpoint"}}]}})).await;
    op.apply(json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "rds-delete"},
        "spec": {"secretStoreRef": {"name": "aws-secrets"}, "target": {"deletionPolicy": "Delete"},
            "data": [{"secretKey": "password", "remoteRef": {"key": "production/rds/master", "property": "password"}}]}})).await;
    let e = op.synced("rds-endpoint", "the Parameter Store value").await;
    assert_eq!(data(&e)["endpoint"], "db.internal:5432");
    op.synced("rds-delete", "the Delete-policy Secret").await;

    // Rotation: a new version in Secrets Manager, a forced sync, the Secret follows.
    python(
        &moto.url,
        "sm.put_secret_value(SecretId='production/rds/master', SecretString=json.dumps({'username': 'admin', 'password': 'rds-pass-2'}))",
    );
    op.force_sync("rds-credentials", "1").await;
    op.secret("rds-password", "the rotated value", |s| {
        data(s)["password"] == "rds-pass-2"
    })
    .await;

    // The secret is deleted: Delete removes the target, Retain keeps it and reports the error.
    python(
        &moto.url,
        "sm.delete_secret(SecretId='production/rds/master', ForceDeleteWithoutRecovery=True)",
    );
    op.force_sync("rds-delete", "2").await;
    op.force_sync("rds-credentials", "2").await;
    op.wait_es("rds-delete", "True", "SecretDeleted").await;
    op.secret_gone("rds-delete", "the Delete-policy Secret gone")
        .await;
    op.wait_es("rds-credentials", "False", "SecretSyncedError")
        .await;
    let kept = op.secrets().get("rds-password").await.unwrap();
    assert_eq!(
        data(&kept)["password"],
        "rds-pass-2",
        "Retain keeps the last value"
    );

    // A ServiceAccount without the role annotation: the store says which annotation is missing.
    support::service_account(&op, "no-role", json!({})).await;
    let mut bare = op.seed("03-secretstore-aws-secrets.yaml");
    bare["metadata"]["name"] = json!("no-role");
    bare["spec"]["provider"]["aws"]["auth"]["jwt"]["serviceAccountRef"]["name"] = json!("no-role");
    op.apply(bare).await;
    ground::eventually(
        common::WAIT,
        "the store without a role Ready=False",
        || async {
            let st = common::get(&client, Some(&op.ns), "secretstores", "no-role").await?;
            let c = &st.data["status"]["conditions"][0];
            (c["status"] == "False" && c["reason"] == "InvalidProviderConfig").then_some(())
        },
    )
    .await;
    let note = op
        .warning(Some("no-role"), &["eks.amazonaws.com/role-arn"])
        .await;
    assert!(note.contains("\"no-role\""), "{note}");
    let text = op.visible_text().await;
    let signature = token.rsplit('.').next().unwrap();
    assert!(!text.contains(signature), "the ServiceAccount token leaked");
    for value in ["rds-pass-1", "rds-pass-2"] {
        assert!(!text.contains(value), "a secret value leaked");
    }
}

#[tokio::test]
async fn sts_and_token_requests_per_100_reconciles_through_the_operator() {
    let _turn = support::aws_turn().await;
    let client = common::operator::client().await;
    let (moto, relay) = aws_ground(&client).await;
    python(
        &moto.url,
        "sm.create_secret(Name='production/rds/master', SecretString=json.dumps({'password': 'p'}))",
    );
    let op = operated(&client, "aws-100").await;
    seed_aws_store(&op, json!({"eks.amazonaws.com/role-arn": ROLE})).await;
    let sts_before = relay.count(WEB_IDENTITY);
    let tokens_before =
        support::apiserver_requests(&client, "serviceaccounts", "token", "POST").await;
    let reads_before = support::apiserver_requests(&client, "serviceaccounts", "", "GET").await;
    for i in 0..100 {
        op.apply(json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": format!("rds-{i}")},
            "spec": {"refreshInterval": "1h", "secretStoreRef": {"name": "aws-secrets"},
                "data": [{"secretKey": "password", "remoteRef": {"key": "production/rds/master", "property": "password"}}]}})).await;
    }
    op.managed_secrets(100, "100 Secrets").await;
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
    let _turn = support::aws_turn().await;
    let client = common::operator::client().await;
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
    let wrong = format!("wrong-{}", common::unique("secret-key"));
    let settings =
        json!({"endpoints": {"secretsmanager": moto.url, "ssm": moto.url, "sts": moto.url}});
    support::class(&client, "aws", settings, &[moto.port]).await;
    let op = operated(&client, "aws-sigv4").await;
    for (name, secret) in [("good", sk), ("bad", wrong.as_str())] {
        let keys = format!("aws-{name}");
        op.apply(key_secret(&keys, ak, secret)).await;
        op.store(static_key_store(&op, name, "us-east-1", &keys))
            .await;
    }
    op.apply(support::external_secret(
        "good",
        "good",
        "production/rds/master",
    ))
    .await;
    let s = op
        .synced("good", "the Secret synced with verified keys")
        .await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&data(&s)["value"]).unwrap(),
        json!({"password": "verified-pass"})
    );
    support::backend_reached(&op, "bad", "SignatureDoesNotMatch").await;
    op.apply(support::external_secret(
        "bad",
        "bad",
        "production/rds/master",
    ))
    .await;
    let message = op.wait_es("bad", "False", "SecretSyncedError").await;
    let event = op
        .warning(Some("bad"), &["unauthorized", "SignatureDoesNotMatch"])
        .await;
    println!("wrong key: status {message:?}; event {event:?}");
    assert!(op.secrets().get_opt("bad").await.unwrap().is_none());
    let text = op.visible_text().await;
    assert!(!text.contains(&wrong), "the wrong secret key leaked");
    assert!(!text.contains(sk), "the secret key leaked");
    assert!(!text.contains("verified-pass"), "a secret value leaked");
}

#[tokio::test]
async fn egress_denied_when_the_region_needs_a_host_outside_the_grant() {
    let _turn = support::aws_turn().await;
    let client = common::operator::client().await;
    let moto = support::moto().await;
    // No endpoint settings: the store's region needs secretsmanager.eu-west-3.amazonaws.com; the
    // ceiling grants moto's port on loopback only.
    support::class(&client, "aws", json!({}), &[moto.port]).await;
    let op = operated(&client, "aws-egress").await;
    op.apply(key_secret("aws", "ground", "ground-secret")).await;
    op.store(static_key_store(&op, "paris", "eu-west-3", "aws"))
        .await;
    support::backend_reached(&op, "paris", "egress denied").await;
    op.apply(support::external_secret("paris", "paris", "x"))
        .await;
    op.wait_es("paris", "False", "SecretSyncedError").await;
    let event = op
        .warning(Some("paris"), &["denied by the sandbox egress policy"])
        .await;
    assert!(
        event.contains("eu-west-3"),
        "the event names the host: {event}"
    );
}

/// ESO's documented Secrets Manager PushSecret with metadata
/// (docs/snippets/aws-sm-push-secret-with-metadata.yaml), names aside, end to end through the
/// binary and the aws component against moto: value, description and tags (plus ESO's
/// `managed-by`), no write when nothing changed, and deletion with the PushSecret.
#[tokio::test]
async fn esos_secrets_manager_push_secret_example_end_to_end() {
    let _turn = support::aws_turn().await;
    let client = common::operator::client().await;
    let (moto, _relay) = aws_ground(&client).await;
    let op = operated(&client, "aws-push").await;
    op.apply(key_secret("aws", "ground", "ground-secret")).await;
    op.store(static_key_store(
        &op,
        "teamb-secret-store",
        "us-east-1",
        "aws",
    ))
    .await;
    op.apply(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "my-secret"},
        "stringData": {"key1": "pushed-from-kubernetes"}}),
    )
    .await;
    let remote = format!("{}-my-first-parameter-3", op.ns);
    op.apply(json!({"apiVersion": "external-secrets.io/v1alpha1", "kind": "PushSecret", "metadata": {"name": "pushsecret-example"},
        "spec": {
            "deletionPolicy": "Delete",
            "refreshInterval": "1h0m0s",
            "secretStoreRefs": [{"name": "teamb-secret-store", "kind": "SecretStore"}],
            "selector": {"secret": {"name": "my-secret"}},
            "data": [{
                "match": {"secretKey": "key1", "remoteRef": {"remoteKey": remote}},
                "metadata": {"apiVersion": "kubernetes.external-secrets.io/v1alpha1", "kind": "PushSecretMetadata",
                    "spec": {"secretPushFormat": "string",
                        "description": "secret 'managed-by:secret-manager' from 'secret-store:teamb-secret-store'",
                        "tags": {"secret-store": "teamb-secret-store", "refresh-interval": "1h"}}},
            }],
        }}))
        .await;
    let ps = ground::eventually(WAIT * 2, "the PushSecret Ready", || async {
        let ps =
            common::get_v1alpha1(&op.client, &op.ns, "pushsecrets", "pushsecret-example").await;
        (common::ready(&ps).as_deref() == Some("True")).then_some(ps)
    })
    .await;
    assert!(
        ps.data["status"]["syncedPushSecrets"]["SecretStore/teamb-secret-store"][&remote]
            .is_object(),
        "{}",
        ps.data["status"]
    );
    let described = python(
        &moto.url,
        &format!(
            "d = sm.describe_secret(SecretId='{remote}')\n\
             v = sm.get_secret_value(SecretId='{remote}')\n\
             print(json.dumps({{'value': v.get('SecretString'), 'description': d.get('Description'),\n\
               'tags': {{t['Key']: t['Value'] for t in d.get('Tags', [])}}}}))"
        ),
    );
    let described: serde_json::Value = serde_json::from_str(described.trim()).unwrap();
    assert_eq!(described["value"], "pushed-from-kubernetes");
    assert_eq!(
        described["description"],
        "secret 'managed-by:secret-manager' from 'secret-store:teamb-secret-store'"
    );
    assert_eq!(described["tags"]["managed-by"], "external-secrets");
    assert_eq!(described["tags"]["secret-store"], "teamb-secret-store");

    kube::Api::<ampoule::crd::PushSecret>::namespaced(op.client.clone(), &op.ns)
        .delete("pushsecret-example", &Default::default())
        .await
        .unwrap();
    ground::eventually(WAIT, "the pushed secret deleted from Secrets Manager", || async {
        let out = python(
            &moto.url,
            &format!(
                "try:\n    d = sm.describe_secret(SecretId='{remote}')\n    print('deleted' if d.get('DeletedDate') else 'there')\nexcept sm.exceptions.ResourceNotFoundException:\n    print('deleted')"
            ),
        );
        (out.trim() == "deleted").then_some(())
    })
    .await;
}
