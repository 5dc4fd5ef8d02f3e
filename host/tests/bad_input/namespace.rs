//! A namespace deleted while its ExternalSecrets are being synced: the namespace goes away (no
//! finalizer of ours holds it), the operator lets go of it, and a neighbour in another namespace
//! keeps syncing.

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, ListParams};
use serde_json::json;

use super::common::operator::Operated;
use super::common::{WAIT, apply};
use super::{assert_clean, copy, describe, es, fake_store, sync_times};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_deleted_mid_sync_is_let_go() {
    let client = super::common::operator::client().await;
    let g = ground::ground();
    let home = g.namespace("bad-ns-home").await;
    // Every namespace: the neighbour lives in another one than the victims.
    let mut op = Operated::start(&client, home, false);
    op.wait = WAIT * 2;
    let s = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    op.store(fake_store(&op, "n", &[s("n", "neighbour")])).await;
    op.apply(copy("neighbour", "n", "n")).await;
    op.synced("neighbour", "the neighbour's Secret").await;
    sync_times(&client, &op.ns, "neighbour", "warm-up", 3).await;
    let before = sync_times(&client, &op.ns, "neighbour", "before", 3).await;

    let victim = g.namespace("bad-ns-victim").await;
    let value = format!("victim-{:016x}", rand::random::<u64>());
    let mut store = fake_store(&op, "fake", &[s("k", &value)]);
    store["metadata"]["namespace"] = json!(victim);
    apply(&client, Some(&victim), store).await.unwrap();
    super::common::wait_store_ready(&client, "SecretStore", Some(&victim), "fake").await;
    // Forty ExternalSecrets, half with deletionPolicy Delete (they carry ESO's finalizer), a
    // quarter rendering a template; the namespace goes right after the last one is created,
    // while the operator is still syncing them.
    for i in 0..40 {
        let mut obj = copy(&format!("es-{i}"), "fake", "k");
        if i % 2 == 0 {
            obj["spec"]["target"] = json!({"deletionPolicy": "Delete"});
        }
        if i % 4 == 1 {
            obj["spec"]["target"] =
                json!({"template": {"data": {"v": "{{ .v | upper }}-{{ .v | sha256sum }}"}}});
        }
        apply(&client, Some(&victim), obj).await.unwrap();
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .delete(&victim, &Default::default())
        .await
        .unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &victim);
    let managed = ListParams::default().labels("reconcile.external-secrets.io/managed=true");
    let written = secrets.list(&managed).await.unwrap().items.len();
    let started = std::time::Instant::now();
    ground::eventually(
        WAIT * 3,
        "the victim namespace to be gone (its ExternalSecrets' finalizers released)",
        || async {
            namespaces
                .get_opt(&victim)
                .await
                .unwrap()
                .is_none()
                .then_some(())
        },
    )
    .await;
    println!(
        "victim namespace gone {:.1}s after its deletion ({written} of its 40 Secrets written when it began)",
        started.elapsed().as_secs_f64()
    );

    // The neighbour syncs as before; what the operator still does for the victim is bounded.
    let after = sync_times(&client, &op.ns, "neighbour", "after", 3).await;
    // Log lines inside a reconcile of one of the victim's ExternalSecrets.
    let reconciling = format!(".{victim}\",\"key\"");
    let mentions = || {
        std::fs::read_to_string(&op.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("\"es\":\"ExternalSecret") && l.contains(&reconciling))
            .count()
    };
    let settled = mentions();
    let later = sync_times(&client, &op.ns, "neighbour", "later", 5).await;
    assert_eq!(
        mentions(),
        settled,
        "the operator keeps working on the deleted namespace"
    );
    println!(
        "NEIGHBOUR force-sync → synced: before {}; after the deletion {}; later {}",
        describe(&before),
        describe(&after),
        describe(&later)
    );
    op.apply(es(
        "after-deletion",
        json!({"refreshInterval": "1h", "secretStoreRef": {"name": "n"},
            "data": [{"secretKey": "v", "remoteRef": {"key": "n"}}]}),
    ))
    .await;
    op.synced(
        "after-deletion",
        "a new ExternalSecret beside the neighbour",
    )
    .await;
    assert_clean(&op, &[&value]).await;
}
