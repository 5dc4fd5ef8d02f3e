//! Cluster-wide behaviour on the ground's apiserver: CEL admission with ESO's messages, the seed
//! guide's manifests, ClusterSecretStore conditions, ClusterExternalSecret fan-out, leader
//! election, and `ampoule run`'s errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use ampoule::controller::leader::LeaderElection;
use common::{WAIT, apply, crds, data, start, unique};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

fn es(spec: Value) -> Value {
    json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "x"}, "spec": spec})
}

#[tokio::test]
async fn cel_rules_reject_with_esos_messages() {
    let g = ground::ground();
    let client = g.client().await;
    crds(&client).await;
    let ns = g.namespace("cel").await;
    let data = json!([{"secretKey": "k", "remoteRef": {"key": "k"}}]);
    let store = json!({"name": "s"});
    let cases = [
        (
            es(json!({"secretStoreRef": store})),
            "either data or dataFrom should be specified",
        ),
        (
            es(
                json!({"secretStoreRef": store, "data": data, "target": {"creationPolicy": "Merge", "deletionPolicy": "Delete"}}),
            ),
            "deletionPolicy=Delete must not be used when the controller doesn't own the secret. Please set creationPolicy=Owner",
        ),
        (
            es(
                json!({"secretStoreRef": store, "data": data, "target": {"creationPolicy": "None", "deletionPolicy": "Merge"}}),
            ),
            "deletionPolicy=Merge must not be used with creationPolicy=None",
        ),
        (
            es(
                json!({"secretStoreRef": store, "dataFrom": [{"extract": {"key": "a"}, "find": {"path": "b"}}]}),
            ),
            "extract, find, or generatorRef cannot be set at the same time",
        ),
        (
            es(
                json!({"secretStoreRef": store, "data": [{"secretKey": "k", "remoteRef": {"key": "a"}}, {"secretKey": "k", "remoteRef": {"key": "b"}}]}),
            ),
            "duplicate secretKey",
        ),
        (
            es(
                json!({"secretStoreRef": store, "data": [{"secretKey": "bad/key", "remoteRef": {"key": "a"}}]}),
            ),
            "spec.data[0].secretKey",
        ),
        (
            es(
                json!({"secretStoreRef": store, "data": data, "target": {"template": {"type": "bootstrap.kubernetes.io/token"}}}),
            ),
            "template.type=\"bootstrap.kubernetes.io/token\" is not allowed",
        ),
        (
            es(
                json!({"secretStoreRef": store, "data": data, "target": {"template": {"templateFrom": [{"literal": "a: b", "target": "Spec"}]}}}),
            ),
            "templateFrom target=\"Spec\" is not allowed when targeting a Secret",
        ),
    ];
    for (obj, message) in cases {
        let err = apply(&client, Some(&ns), obj.clone())
            .await
            .expect_err(&format!("{obj} must be rejected"));
        let kube::Error::Api(status) = err else {
            panic!("expected an API error for {obj}")
        };
        assert_eq!(status.code, 422, "{status:?}");
        assert!(
            status.message.contains(message),
            "{obj}\nwanted: {message}\ngot: {}",
            status.message
        );
    }
    // Duplicate keys are fine when deletionPolicy is not Retain (ESO's rule).
    let dup = es(
        json!({"secretStoreRef": store, "target": {"deletionPolicy": "Delete"},
        "data": [{"secretKey": "k", "remoteRef": {"key": "a"}}, {"secretKey": "k", "remoteRef": {"key": "b"}}]}),
    );
    apply(&client, Some(&ns), dup).await.unwrap();
    g.drop_namespace(&ns).await;
}

#[tokio::test]
async fn every_seed_manifest_applies_unchanged() {
    let g = ground::ground();
    crds(&g.client().await).await;
    let dir = g.repo.join("tests/fixtures/seed");
    for ns in ["production", "team-alpha"] {
        let _ = g
            .command("kubectl")
            .args(["create", "namespace", ns])
            .output();
    }
    // Server-side dry run: the apiserver validates (schema, CEL) and defaults every object exactly
    // as for a real apply, but nothing persists, so no running operator ever tries to reach the
    // seed's Vault, AWS or Google endpoints (which are not on this machine).
    let apply = |path: &std::path::Path, json: bool| {
        let mut cmd = g.command("kubectl");
        cmd.args([
            "apply",
            "--server-side",
            "--dry-run=server",
            "--field-manager=seed-test",
        ]);
        if json {
            cmd.args(["-o", "json"]);
        }
        ground::run(cmd.arg("-f").arg(path))
    };
    let out = apply(&dir, false);
    for name in [
        "secretstore.external-secrets.io/vault-backend",
        "clustersecretstore.external-secrets.io/vault-cluster-backend",
        "externalsecret.external-secrets.io/api-gateway-secrets",
        "externalsecret.external-secrets.io/connection-string",
        "externalsecret.external-secrets.io/shared-secrets",
    ] {
        assert!(out.contains(name), "{name} not applied:\n{out}");
    }
    // Defaults of the reference materialise; the object is served as the version it was written in.
    let es = apply(&dir.join("04-externalsecret-rds-credentials.yaml"), true);
    let es: Value = serde_json::from_str(&es).unwrap();
    assert_eq!(es["apiVersion"], "external-secrets.io/v1beta1");
    assert_eq!(es["spec"]["target"]["creationPolicy"], "Owner");
    assert_eq!(es["spec"]["target"]["deletionPolicy"], "Retain");
    assert_eq!(es["spec"]["refreshInterval"], "5m");
    let crd = ground::run(g.command("kubectl").args([
        "get",
        "crd",
        "externalsecrets.external-secrets.io",
        "-o",
        "json",
    ]));
    let crd: Value = serde_json::from_str(&crd).unwrap();
    for version in crd["spec"]["versions"].as_array().unwrap() {
        let columns: Vec<&str> = version["additionalPrinterColumns"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        for column in ["StoreType", "Store", "Refresh Interval", "Status", "Ready"] {
            assert!(
                columns.contains(&column),
                "printer column {column} missing: {columns:?}"
            );
        }
    }
}

/// Two namespaces, each with its own controller; one ClusterSecretStore admitting only the first.
#[tokio::test]
async fn cluster_store_conditions_admit_and_deny_namespaces() {
    let class = unique("css");
    let allowed = start("css-allowed", |s| s.controller_class = class.clone()).await;
    let denied = start("css-denied", |s| s.controller_class = class.clone()).await;
    let backend_name = format!("css/{class}");
    for run in [&allowed, &denied] {
        run.provider
            .backend(&backend_name)
            .set("shared", "from-css");
    }
    apply(
        &allowed.client,
        None,
        json!({
            "apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore", "metadata": {"name": class},
            "spec": {"controller": class, "provider": {"test": {"backend": backend_name}},
                     "conditions": [{"namespaces": [allowed.namespace]}, {"namespaceRegexes": ["^never-"]}]}
        }),
    )
    .await
    .unwrap();
    allowed.wait_store_ready("ClusterSecretStore", &class).await;
    let obj = json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "from-css"},
        "spec": {"secretStoreRef": {"name": class, "kind": "ClusterSecretStore"}, "data": [{"secretKey": "k", "remoteRef": {"key": "shared"}}]}});
    allowed.apply(obj.clone()).await;
    denied.apply(obj).await;
    allowed.es_ready("from-css", "True", "SecretSynced").await;
    assert_eq!(
        data(&allowed.secret("from-css").await.unwrap())["k"],
        "from-css"
    );
    denied
        .es_ready("from-css", "False", "SecretSyncedError")
        .await;
    let wanted = format!(
        "using cluster store \"{class}\" is not allowed from namespace \"{}\": denied by spec.condition",
        denied.namespace
    );
    ground::eventually(WAIT, "the denial event", || async {
        denied
            .events("from-css")
            .await
            .into_iter()
            .find(|e| e.2.contains(&wanted))
    })
    .await;
    assert!(denied.secret("from-css").await.is_none());
    let _ = Api::<ampoule::crd::ClusterSecretStore>::all(allowed.client.clone())
        .delete(&class, &Default::default())
        .await;
}

#[tokio::test]
async fn cluster_external_secret_fans_out_to_selected_namespaces() {
    let run = start("ces", |s| {
        s.namespace = None;
        s.controller_class = unique("ces-class");
        s.cluster_external_secrets = true;
    })
    .await;
    let g = ground::ground();
    let label = unique("ces-team");
    let namespaces: Vec<String> =
        futures::future::join_all((0..2).map(|_| g.namespace("ces-target"))).await;
    let api: Api<Namespace> = Api::all(run.client.clone());
    for ns in &namespaces {
        api.patch(
            ns,
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"labels": {"ces-test": label}}})),
        )
        .await
        .unwrap();
    }
    let name = unique("fan");
    apply(
        &run.client,
        None,
        json!({
            "apiVersion": "external-secrets.io/v1", "kind": "ClusterExternalSecret", "metadata": {"name": name, "annotations": {"external-secrets.io/force-sync": "1"}},
            "spec": {
                "externalSecretName": "fanned",
                "externalSecretMetadata": {"labels": {"from": "ces"}},
                "namespaceSelectors": [{"matchLabels": {"ces-test": label}}],
                "refreshTime": "1m",
                "externalSecretSpec": {"secretStoreRef": {"name": "s"}, "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]}
            }
        }),
    )
    .await
    .unwrap();
    let ces_api: Api<ampoule::crd::ClusterExternalSecret> = Api::all(run.client.clone());
    let status = ground::eventually(WAIT, "provisioned namespaces in the status", || async {
        let ces = ces_api.get(&name).await.ok()?;
        let st = ces.status?;
        (st.provisioned_namespaces.len() == 2).then_some(st)
    })
    .await;
    let mut sorted = namespaces.clone();
    sorted.sort();
    assert_eq!(status.provisioned_namespaces, sorted);
    assert_eq!(status.external_secret_name.as_deref(), Some("fanned"));
    for ns in &namespaces {
        let es = Api::<ampoule::crd::ExternalSecret>::namespaced(run.client.clone(), ns)
            .get("fanned")
            .await
            .unwrap();
        assert_eq!(es.labels()["from"], "ces");
        assert_eq!(
            es.annotations()["external-secrets.io/force-sync"],
            "1",
            "force-sync propagates"
        );
        assert_eq!(es.owner_references()[0].name, name);
    }
    // Deselect one namespace: its ExternalSecret goes away.
    api.patch(
        &namespaces[0],
        &PatchParams::default(),
        &Patch::Merge(&json!({"metadata": {"labels": {"ces-test": null}}})),
    )
    .await
    .unwrap();
    let first = namespaces[0].clone();
    ground::eventually(
        WAIT,
        "the deselected namespace's ExternalSecret to be deleted",
        || async {
            Api::<ampoule::crd::ExternalSecret>::namespaced(run.client.clone(), &first)
                .get_opt("fanned")
                .await
                .unwrap()
                .is_none()
                .then_some(())
        },
    )
    .await;
    let _ = ces_api.delete(&name, &Default::default()).await;
}

#[tokio::test]
async fn leader_election_hands_over_when_the_leader_stops() {
    let g = ground::ground();
    let client = g.client().await;
    let ns = g.namespace("lease").await;
    let lease = unique("lease");
    let quick = |id: &str| LeaderElection {
        lease_duration: Duration::from_secs(2),
        renew_deadline: Duration::from_secs(1),
        retry: Duration::from_millis(200),
        ..LeaderElection::new(ns.clone(), lease.clone(), id.into())
    };
    let first = quick("first").acquire(&client).await.unwrap();
    let holding = tokio::spawn(async move { first.hold().await });
    let second = tokio::spawn({
        let client = client.clone();
        let election = quick("second");
        async move { election.acquire(&client).await.map(|_| ()) }
    });
    // While the first renews, the second waits.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !second.is_finished(),
        "the lease must not be taken from a live leader"
    );
    holding.abort();
    tokio::time::timeout(WAIT, second)
        .await
        .expect("second acquires after expiry")
        .unwrap()
        .unwrap();
    let held: Lease = Api::namespaced(client, &ns).get(&lease).await.unwrap();
    let spec = held.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("second"));
    assert_eq!(spec.lease_transitions, Some(1));
    g.drop_namespace(&ns).await;
}

#[test]
fn run_reports_an_unreachable_cluster_clearly() {
    let dir = std::env::temp_dir().join(unique("kubeconfig"));
    std::fs::create_dir_all(&dir).unwrap();
    let port = common::free_port();
    let kubeconfig = dir.join("config");
    std::fs::write(&kubeconfig, format!("apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{port}', insecure-skip-tls-verify: true}}}}]\nusers: [{{name: u, user: {{token: t}}}}]\ncontexts: [{{name: c, context: {{cluster: c, user: u}}}}]\ncurrent-context: c\n")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ampoule"))
        .args(["run", "--metrics-addr", "127.0.0.1:0"])
        .env("KUBECONFIG", &kubeconfig)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot reach the Kubernetes API server"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
