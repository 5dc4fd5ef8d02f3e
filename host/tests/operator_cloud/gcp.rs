//! The GCP half of operator_cloud.rs: the seed's `gcpsm-backend` with workload identity (the
//! GSA from the ServiceAccount's `iam.gke.io/gcp-service-account` annotation) at a private fake.

use serde_json::{Value, json};

use crate::common::data;
use crate::common::operator::operated;
use crate::support::{self, python};

fn stats(endpoint: &str) -> Value {
    let out = python(endpoint, "print(json.dumps(gcp('GET', '/fake/stats')))");
    serde_json::from_str(out.trim()).unwrap()
}

fn delta(after: &Value, before: &Value, kind: &str) -> u64 {
    after[kind].as_u64().unwrap_or(0) - before[kind].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn seed_gcpsm_backend_with_workload_identity_and_token_calls_per_100_reconciles() {
    let _turn = support::gcp_turn().await;
    let client = crate::common::operator::client().await;
    let fake = support::gcp_fake().await;
    let ep = &fake.url;
    let settings = json!({"endpoints": {"secretmanager": ep, "sts": ep, "securetoken": ep, "iamcredentials": ep, "oauth2": ep}});
    support::class(&client, "gcpsm", settings, &[fake.port]).await;
    python(
        ep,
        "\
for name, value in [('cloudsql-username', b'cloudsql-admin'), ('cloudsql-password', b'sql-pass-1')]:
    gcp('POST', '/v1/projects/my-project/secrets?secretId=' + name, {'replication': {'automatic': {}}})
    gcp('POST', '/v1/projects/my-project/secrets/' + name + ':addVersion', {'payload': {'data': base64.b64encode(value).decode()}})
print('ok')",
    );
    let op = operated(&client, "gcp-seed").await;
    support::service_account(
        &op,
        "external-secrets-sa",
        json!({"iam.gke.io/gcp-service-account": "external-secrets@my-project.iam.gserviceaccount.com"}),
    )
    .await;
    op.store(op.seed("05-secretstore-gcpsm-backend.yaml")).await;
    op.apply(op.seed("06-externalsecret-cloudsql-credentials.yaml"))
        .await;
    let s = op
        .synced("cloudsql-creds", "the seed's cloudsql-creds Secret")
        .await;
    assert_eq!(data(&s)["username"], "cloudsql-admin");
    assert_eq!(data(&s)["password"], "sql-pass-1");
    // One identity binding exchange and one impersonation of the annotated GSA.
    let first = stats(ep);
    assert_eq!(
        (
            first["identitybinding"].as_u64(),
            first["iamcredentials"].as_u64()
        ),
        (Some(1), Some(1)),
        "{first}"
    );

    // Rotation: a new version, a forced sync.
    python(
        ep,
        "gcp('POST', '/v1/projects/my-project/secrets/cloudsql-password:addVersion', {'payload': {'data': base64.b64encode(b'sql-pass-2').decode()}})",
    );
    op.force_sync("cloudsql-credentials", "1").await;
    op.secret("cloudsql-creds", "the rotated password", |s| {
        data(s)["password"] == "sql-pass-2"
    })
    .await;

    let before = stats(ep);
    for i in 0..100 {
        op.apply(json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": format!("sql-{i}")},
            "spec": {"refreshInterval": "1h", "secretStoreRef": {"name": "gcpsm-backend"},
                "data": [{"secretKey": "password", "remoteRef": {"key": "cloudsql-password"}}]}})).await;
    }
    op.managed_secrets(101, "100 more Secrets").await;
    let after = stats(ep);
    let (binding, iam) = (
        delta(&after, &before, "identitybinding"),
        delta(&after, &before, "iamcredentials"),
    );
    println!(
        "REPORT gcp workload identity through the operator: first sync identitybinding 1 iamcredentials 1; \
         100 ExternalSecrets: identitybinding {binding} iamcredentials {iam}"
    );
    assert_eq!(
        (binding, iam),
        (0, 0),
        "the access token is cached per store"
    );
    let text = op.visible_text().await;
    assert!(!text.contains("ya29."), "an access token leaked");
    for value in ["sql-pass-1", "sql-pass-2"] {
        assert!(!text.contains(value), "a secret value leaked");
    }
}

/// A PushSecret end to end through the binary and the gcpsm component, with the seed's
/// workload-identity store: the secret is created labelled `managed-by: external-secrets` with a
/// version holding the value, and deleted with the PushSecret (`deletionPolicy: Delete`).
#[tokio::test]
async fn a_push_secret_to_secret_manager_end_to_end() {
    let _turn = support::gcp_turn().await;
    let client = crate::common::operator::client().await;
    let fake = support::gcp_fake().await;
    let ep = &fake.url;
    let settings = json!({"endpoints": {"secretmanager": ep, "sts": ep, "securetoken": ep, "iamcredentials": ep, "oauth2": ep}});
    support::class(&client, "gcpsm", settings, &[fake.port]).await;
    let op = operated(&client, "gcp-push").await;
    support::service_account(
        &op,
        "external-secrets-sa",
        json!({"iam.gke.io/gcp-service-account": "external-secrets@my-project.iam.gserviceaccount.com"}),
    )
    .await;
    op.store(op.seed("05-secretstore-gcpsm-backend.yaml")).await;
    op.apply(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
        "stringData": {"password": "from-kubernetes"}}),
    )
    .await;
    let remote = format!("{}-db-password", op.ns);
    op.apply(json!({"apiVersion": "external-secrets.io/v1alpha1", "kind": "PushSecret", "metadata": {"name": "to-gcp"},
        "spec": {"deletionPolicy": "Delete", "secretStoreRefs": [{"name": "gcpsm-backend"}],
            "selector": {"secret": {"name": "db"}},
            "data": [{"match": {"secretKey": "password", "remoteRef": {"remoteKey": remote}}}]}}))
        .await;
    let read = |remote: &str| {
        let out = python(
            ep,
            &format!(
                "try:\n    s = gcp('GET', '/v1/projects/my-project/secrets/{remote}')\n    v = gcp('GET', '/v1/projects/my-project/secrets/{remote}/versions/latest:access')\n    print(json.dumps({{'labels': s.get('labels', {{}}), 'value': base64.b64decode(v['payload']['data']).decode()}}))\nexcept Exception:\n    print('null')"
            ),
        );
        serde_json::from_str::<Value>(out.trim()).unwrap_or(Value::Null)
    };
    let got = ground::eventually(
        crate::common::WAIT * 2,
        "the pushed secret in Secret Manager",
        || async {
            let v = read(&remote);
            (v["value"] == "from-kubernetes").then_some(v)
        },
    )
    .await;
    assert_eq!(got["labels"]["managed-by"], "external-secrets", "{got}");

    kube::Api::<ampoule::crd::PushSecret>::namespaced(op.client.clone(), &op.ns)
        .delete("to-gcp", &Default::default())
        .await
        .unwrap();
    ground::eventually(crate::common::WAIT, "the pushed secret deleted", || async {
        read(&remote).is_null().then_some(())
    })
    .await;
}
