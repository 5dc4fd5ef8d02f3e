//! The GCP half of operator_cloud.rs: the seed's `gcpsm-backend` with workload identity (the
//! GSA from the ServiceAccount's `iam.gke.io/gcp-service-account` annotation) at a private fake.

use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use serde_json::{Value, json};

use crate::common::{self, WAIT, apply, crds, data, unique};
use crate::support::{self, ClassGuard, python, seed};

fn stats(endpoint: &str) -> Value {
    let out = python(endpoint, "print(json.dumps(gcp('GET', '/fake/stats')))");
    serde_json::from_str(out.trim()).unwrap()
}

fn delta(after: &Value, before: &Value, kind: &str) -> u64 {
    after[kind].as_u64().unwrap_or(0) - before[kind].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn seed_gcpsm_backend_with_workload_identity_and_token_calls_per_100_reconciles() {
    let g = ground::ground();
    let client = g.client().await;
    crds(&client).await;
    let fake = support::gcp_fake().await;
    let ep = &fake.url;
    let _class = ClassGuard("gcpsm");
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
    let ns = g.namespace("gcp-seed").await;
    support::service_account(
        &client,
        &ns,
        "external-secrets-sa",
        json!({"iam.gke.io/gcp-service-account": "external-secrets@my-project.iam.gserviceaccount.com"}),
    )
    .await;
    let class = unique("gcp-seed");
    let log = std::env::temp_dir().join(format!("{ns}.log"));
    let _op = common::operator(Some(&ns), &class, &crate::cache(), &log);
    apply(
        &client,
        Some(&ns),
        seed("05-secretstore-gcpsm-backend.yaml", &ns, Some(&class)),
    )
    .await
    .unwrap();
    support::store_ready(&client, &ns, "gcpsm-backend").await;
    apply(
        &client,
        Some(&ns),
        seed("06-externalsecret-cloudsql-credentials.yaml", &ns, None),
    )
    .await
    .unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let s = ground::eventually(WAIT, "the seed's cloudsql-creds Secret", || async {
        secrets.get_opt("cloudsql-creds").await.unwrap()
    })
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
    support::force_sync(&client, &ns, "cloudsql-credentials", "1").await;
    ground::eventually(WAIT, "the rotated password", || async {
        let s = secrets.get_opt("cloudsql-creds").await.unwrap()?;
        (data(&s)["password"] == "sql-pass-2").then_some(())
    })
    .await;

    let before = stats(ep);
    for i in 0..100 {
        apply(&client, Some(&ns), json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": format!("sql-{i}")},
            "spec": {"refreshInterval": "1h", "secretStoreRef": {"name": "gcpsm-backend"},
                "data": [{"secretKey": "password", "remoteRef": {"key": "cloudsql-password"}}]}})).await.unwrap();
    }
    ground::eventually(Duration::from_secs(120), "100 more Secrets", || async {
        let list = secrets
            .list(
                &kube::api::ListParams::default()
                    .labels("reconcile.external-secrets.io/managed=true"),
            )
            .await
            .ok()?;
        (list.items.len() == 101).then_some(())
    })
    .await;
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
    let text = support::visible_text(&client, &ns, &log).await;
    assert!(!text.contains("ya29."), "an access token leaked");
    for value in ["sql-pass-1", "sql-pass-2"] {
        assert!(!text.contains(value), "a secret value leaked");
    }
}
