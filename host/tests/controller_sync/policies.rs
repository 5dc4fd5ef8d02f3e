//! Target policies: merge into a foreign Secret, orphan and none, deletion policies when the
//! remote secret disappears, garbage collection, immutable targets, and ownership conflicts.

use super::*;

#[tokio::test]
async fn merge_keeps_foreign_keys_and_waits_for_a_missing_secret() {
    let (run, backend) = with_backend("es-merge", &[("mine", "m")]).await;
    run.apply(es("merge-missing", json!({"secretStoreRef": {"name": "backend"}, "target": {"name": "absent", "creationPolicy": "Merge"}, "data": [{"secretKey": "mine", "remoteRef": {"key": "mine"}}]}))).await;
    let es_missing = run.es_ready("merge-missing", "True", "SecretMissing").await;
    assert_eq!(
        es_missing
            .status
            .unwrap()
            .ready()
            .unwrap()
            .message
            .as_deref(),
        Some("secret will not be created due to CreationPolicy=Merge")
    );
    assert!(run.secret("absent").await.is_none());

    let shared = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("shared".into()),
            ..Default::default()
        },
        string_data: Some(BTreeMap::from([("foreign".to_string(), "f".to_string())])),
        ..Default::default()
    };
    run.api::<Secret>()
        .create(&PostParams::default(), &shared)
        .await
        .unwrap();
    run.apply(es("merge", json!({"secretStoreRef": {"name": "backend"}, "target": {"name": "shared", "creationPolicy": "Merge"}, "data": [{"secretKey": "mine", "remoteRef": {"key": "mine"}}]}))).await;
    let s = run
        .secret_where("shared", "our key merged in", |s| {
            data(s).contains_key("mine")
        })
        .await;
    assert_eq!(
        data(&s),
        BTreeMap::from([("foreign".into(), "f".into()), ("mine".into(), "m".into())])
    );
    assert!(
        s.owner_references().is_empty(),
        "Merge never takes ownership"
    );
    assert!(
        !s.labels()
            .contains_key("reconcile.external-secrets.io/created-by")
    );
    assert_eq!(
        s.annotations()["reconcile.external-secrets.io/data-hash"],
        data_hash(&s),
        "hash covers the merged data"
    );

    // deletionPolicy Merge: the remote key goes away → our key is removed, the Secret stays.
    run.apply(es("merge", json!({"secretStoreRef": {"name": "backend"}, "target": {"name": "shared", "creationPolicy": "Merge", "deletionPolicy": "Merge"}, "data": [{"secretKey": "mine", "remoteRef": {"key": "mine"}}]}))).await;
    backend.remove("mine");
    annotate(&run, "merge", "force-sync", "1").await;
    let s = run
        .secret_where("shared", "our key removed, foreign key kept", |s| {
            !data(s).contains_key("mine")
        })
        .await;
    assert_eq!(data(&s), BTreeMap::from([("foreign".into(), "f".into())]));
}

#[tokio::test]
async fn orphan_and_none_policies() {
    let (run, _) = with_backend("es-orphan", &[("k", "v")]).await;
    for (name, policy) in [("orphan", "Orphan"), ("none", "None")] {
        run.apply(read_k(name, json!({"target": {"creationPolicy": policy}})))
            .await;
    }
    run.es_ready("orphan", "True", "SecretSynced").await;
    run.es_ready("none", "True", "SecretSynced").await;
    let s = run.secret("orphan").await.unwrap();
    assert!(s.owner_references().is_empty());
    assert!(
        !s.labels()
            .contains_key("reconcile.external-secrets.io/created-by")
    );
    assert_eq!(s.labels()["reconcile.external-secrets.io/managed"], "true");
    assert!(
        run.secret("none").await.is_none(),
        "creationPolicy None writes nothing"
    );
    // Orphan: deleting the ExternalSecret leaves the Secret.
    run.api::<ampoule::crd::ExternalSecret>()
        .delete("orphan", &DeleteParams::default())
        .await
        .unwrap();
    ground::eventually(WAIT, "the ExternalSecret to be gone", || async {
        run.api::<ampoule::crd::ExternalSecret>()
            .get_opt("orphan")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    assert!(run.secret("orphan").await.is_some());
}

#[tokio::test]
async fn deletion_policies_when_the_remote_secret_disappears() {
    let (run, backend) = with_backend("es-deletion", &[("a", "1"), ("b", "2")]).await;
    run.apply(es("del", json!({"secretStoreRef": {"name": "backend"}, "target": {"deletionPolicy": "Delete"}, "data": [{"secretKey": "a", "remoteRef": {"key": "a"}}]}))).await;
    run.apply(es("ret", json!({"secretStoreRef": {"name": "backend"}, "target": {"deletionPolicy": "Retain"}, "data": [{"secretKey": "b", "remoteRef": {"key": "b"}}]}))).await;
    run.es_ready("del", "True", "SecretSynced").await;
    run.es_ready("ret", "True", "SecretSynced").await;
    let del = run.es("del").await;
    assert!(
        del.finalizers()
            .iter()
            .any(|f| f == "externalsecrets.external-secrets.io/externalsecret-cleanup")
    );

    backend.remove("a");
    backend.remove("b");
    annotate(&run, "del", "force-sync", "1").await;
    annotate(&run, "ret", "force-sync", "1").await;
    let es = run.es_ready("del", "True", "SecretDeleted").await;
    assert_eq!(
        es.status.unwrap().ready().unwrap().message.as_deref(),
        Some("secret deleted due to DeletionPolicy=Delete")
    );
    ground::eventually(WAIT, "the Delete target to be deleted", || async {
        run.secret("del").await.is_none().then_some(())
    })
    .await;
    run.wait_event("del", "Deleted").await;
    // Retain: NotFound is an error, the Secret stays.
    run.es_ready("ret", "False", "SecretSyncedError").await;
    assert_eq!(data(&run.secret("ret").await.unwrap())["b"], "2");

    // deletionPolicy Delete + finalizer: deleting the ExternalSecret removes its finalizer.
    run.api::<ampoule::crd::ExternalSecret>()
        .delete("del", &DeleteParams::default())
        .await
        .unwrap();
    ground::eventually(
        WAIT,
        "the ExternalSecret with a finalizer to go away",
        || async {
            run.api::<ampoule::crd::ExternalSecret>()
                .get_opt("del")
                .await
                .unwrap()
                .is_none()
                .then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn owner_targets_are_garbage_collected_with_their_externalsecret() {
    let (run, _) = with_backend("es-gc", &[("k", "v")]).await;
    synced(&run, "gc", json!({})).await;
    run.api::<ampoule::crd::ExternalSecret>()
        .delete("gc", &DeleteParams::foreground())
        .await
        .unwrap();
    ground::eventually(WAIT, "the owned Secret to be garbage-collected", || async {
        run.secret("gc").await.is_none().then_some(())
    })
    .await;
}

#[tokio::test]
async fn immutable_targets_are_never_rewritten() {
    let (run, backend) = with_backend("es-immutable", &[("k", "v1")]).await;
    synced(&run, "imm", json!({"target": {"immutable": true}})).await;
    let before = run.secret("imm").await.unwrap();
    assert_eq!(before.immutable, Some(true));
    backend.set("k", "v2");
    annotate(&run, "imm", "force-sync", "1").await;
    let es = run.es_ready("imm", "False", "SecretSyncedError").await;
    assert_eq!(
        es.status.unwrap().ready().unwrap().message.as_deref(),
        Some("could not update secret, target is immutable")
    );
    assert_eq!(run.secret("imm").await.unwrap().data, before.data);
}

#[tokio::test]
async fn a_secret_owned_by_another_externalsecret_is_refused() {
    let (run, _) = with_backend("es-foreign", &[("k", "v")]).await;
    synced(&run, "first", json!({"target": {"name": "contested"}})).await;
    run.apply(es("second", json!({"secretStoreRef": {"name": "backend"}, "target": {"name": "contested"}, "data": [{"secretKey": "other", "remoteRef": {"key": "k"}}]}))).await;
    let es = run.es_ready("second", "False", "SecretSyncedError").await;
    assert_eq!(
        es.status.unwrap().ready().unwrap().message.as_deref(),
        Some("target is owned by another ExternalSecret")
    );
    assert!(!data(&run.secret("contested").await.unwrap()).contains_key("other"));
}
