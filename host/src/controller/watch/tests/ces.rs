//! The ClusterExternalSecret controller on the shared runtime, driven through the real context,
//! event handlers and worker turn (no apiserver: the client's address closes every connection):
//! which events queue which ClusterExternalSecrets, and how a reconcile is queued again.

use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use k8s_openapi::api::core::v1::Namespace;
use kube::core::PartialObjectMeta;
use kube::runtime::watcher::{self, Event};
use serde_json::json;

use super::Fixture;
use super::doubles::NoTemplates;
use crate::controller::cluster_external_secret::{self, plan};
use crate::controller::counting::Counting;
use crate::controller::watch::events::on_external_secrets;
use crate::crd::{ClusterExternalSecret, ExternalSecret};

fn events<K>(events: Vec<Event<K>>) -> impl Stream<Item = Result<Event<K>, watcher::Error>> {
    futures::stream::iter(events.into_iter().map(Ok::<_, watcher::Error>))
}

fn ces(name: &str, team: &str) -> ClusterExternalSecret {
    serde_json::from_value(json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ClusterExternalSecret",
        "metadata": {"name": name, "uid": format!("uid-{name}"), "generation": 1},
        "spec": {"namespaceSelectors": [{"matchLabels": {"team": team}}], "refreshTime": "1m",
            "externalSecretSpec": {"secretStoreRef": {"name": "s"}}}
    }))
    .unwrap()
}

fn namespace(name: &str, team: Option<&str>) -> PartialObjectMeta<Namespace> {
    let labels = team.map_or(json!({}), |t| json!({"team": t}));
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "labels": labels}
    }))
    .unwrap()
}

/// Everything queued now, sorted (each key taken and marked done).
async fn drain(f: &Fixture) -> Vec<String> {
    let queue = &f.ctx.cluster_external_secrets.queue;
    let mut names = Vec::new();
    while let Ok(name) = tokio::time::timeout(Duration::from_millis(50), queue.next()).await {
        queue.done(&name);
        names.push(name);
    }
    names.sort();
    names
}

fn fill(f: &mut Fixture, objects: Vec<ClusterExternalSecret>) {
    for c in objects {
        f._writers
            .cluster_external_secrets
            .apply_watcher_event(&Event::Apply(c));
    }
}

#[tokio::test]
async fn a_namespace_event_queues_only_the_cluster_external_secrets_selecting_it() {
    let mut f = Fixture::new(false).await;
    fill(&mut f, vec![ces("for-a", "a"), ces("for-b", "b")]);
    let ctx = f.ctx.clone();
    let on = |evs| cluster_external_secret::on_namespaces(ctx.clone(), events(evs));

    on(vec![
        Event::Init,
        Event::InitApply(namespace("x", Some("a"))),
        Event::InitApply(namespace("y", None)),
        Event::InitDone,
    ])
    .await;
    assert_eq!(drain(&f).await, vec!["for-a"], "listed: x is team a's");

    // The handler keeps what it saw per stream; replay the state, then the change.
    on(vec![
        Event::Apply(namespace("x", Some("a"))),
        Event::Apply(namespace("x", Some("b"))),
    ])
    .await;
    assert_eq!(
        drain(&f).await,
        vec!["for-a", "for-b"],
        "moved from a to b: both look"
    );

    on(vec![
        Event::Apply(namespace("y", None)),
        Event::Apply(namespace("y", None)),
    ])
    .await;
    assert!(
        drain(&f).await.is_empty(),
        "a namespace no one selects, unchanged"
    );

    on(vec![
        Event::Init,
        Event::InitApply(namespace("x", Some("b"))),
        Event::InitDone,
        // Relisted without x: deleted while the watch was down.
        Event::Init,
        Event::InitDone,
    ])
    .await;
    assert_eq!(
        drain(&f).await,
        vec!["for-b"],
        "the relist that misses x queues b's"
    );

    on(vec![Event::Delete(namespace("x", Some("a")))]).await;
    assert_eq!(drain(&f).await, vec!["for-a"]);
}

#[tokio::test]
async fn a_change_of_an_owned_external_secret_queues_its_owner_but_its_status_does_not() {
    let mut f = Fixture::new(false).await;
    fill(&mut f, vec![ces("owner", "a"), ces("other", "a")]);
    let mut es: ExternalSecret = serde_json::from_value(json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": "fanned", "namespace": super::NS, "generation": 1,
            "ownerReferences": [{"apiVersion": "external-secrets.io/v1", "kind": "ClusterExternalSecret",
                "name": "owner", "uid": "uid-owner", "controller": true}]},
        "spec": {"secretStoreRef": {"name": "s"}, "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]}
    }))
    .unwrap();
    let mut status_only = es.clone();
    status_only.status = Some(Default::default());
    on_external_secrets(
        f.ctx.clone(),
        events(vec![Event::Apply(es.clone()), Event::Apply(status_only)]),
    )
    .await;
    assert_eq!(drain(&f).await, vec!["owner"]);

    es.metadata.generation = Some(2);
    on_external_secrets(
        f.ctx.clone(),
        events(vec![Event::Apply(es.clone()), Event::Delete(es)]),
    )
    .await;
    assert_eq!(drain(&f).await, vec!["owner"], "changed, then deleted");
}

#[tokio::test]
async fn a_status_only_cluster_external_secret_update_queues_nothing() {
    let f = Fixture::new(false).await;
    let c = ces("fan", "a");
    let mut with_status = c.clone();
    with_status.status = Some(plan::status("fan", vec![], vec![]));
    cluster_external_secret::on_objects(
        f.ctx.clone(),
        events(vec![Event::InitApply(c.clone()), Event::Apply(with_status)]),
    )
    .await;
    assert_eq!(drain(&f).await, vec!["fan"]);
    let mut forced = c.clone();
    forced.metadata.annotations = Some(
        [(
            cluster_external_secret::FORCE_SYNC.to_owned(),
            "now".to_owned(),
        )]
        .into(),
    );
    cluster_external_secret::on_objects(
        f.ctx.clone(),
        events(vec![Event::Apply(c.clone()), Event::Apply(forced)]),
    )
    .await;
    assert_eq!(drain(&f).await, vec!["fan"], "force-sync");
}

/// A reconcile that cannot write its status fails and comes back after its backoff (1 s, then
/// 2 s); one with nothing to write comes back after the refresh time, not sooner.
#[tokio::test]
async fn a_failed_reconcile_backs_off_and_a_successful_one_waits_for_the_refresh_time() {
    let mut f = Fixture::new(false).await;
    // Selects nothing in the cache; its status is not written yet (the write fails).
    fill(&mut f, vec![ces("fan", "nobody")]);
    let queue = &f.ctx.cluster_external_secrets.queue;
    queue.add(
        "fan".into(),
        Duration::ZERO,
        crate::controller::queue::Priority::Urgent,
    );
    let started = tokio::time::Instant::now();
    cluster_external_secret::work_once(&f.ctx).await;
    assert!(f.api_connections() > 0, "the status write was tried");
    assert_eq!(queue.len(), 1, "queued again");
    cluster_external_secret::work_once(&f.ctx).await;
    let first_retry = started.elapsed();
    assert!(
        first_retry >= Duration::from_millis(900),
        "retried after about 1 s, not at once: {first_retry:?}"
    );
    cluster_external_secret::work_once(&f.ctx).await;
    let second_retry = started.elapsed() - first_retry;
    assert!(
        second_retry >= Duration::from_millis(1900),
        "then 2 s: {second_retry:?}"
    );

    // Its status is already what a reconcile finds: no call, next turn after the refresh time.
    let mut settled = ces("fan", "nobody");
    settled.status = Some(plan::status("fan", vec![], vec![]));
    f._writers
        .cluster_external_secrets
        .apply_watcher_event(&Event::Apply(settled));
    let calls = f.api_connections();
    queue.add(
        "fan".into(),
        Duration::ZERO,
        crate::controller::queue::Priority::Urgent,
    );
    cluster_external_secret::work_once(&f.ctx).await;
    assert_eq!(f.api_connections(), calls, "nothing to write");
    assert_eq!(queue.len(), 1);
    assert!(
        tokio::time::timeout(Duration::from_millis(500), queue.next())
            .await
            .is_err(),
        "not due before the refresh time (1m)"
    );

    // Gone from the cache: dropped.
    f._writers
        .cluster_external_secrets
        .apply_watcher_event(&Event::Delete(ces("fan", "nobody")));
    queue.add(
        "fan".into(),
        Duration::ZERO,
        crate::controller::queue::Priority::Urgent,
    );
    cluster_external_secret::work_once(&f.ctx).await;
    assert_eq!(f.api_connections(), calls);
    assert!(queue.is_empty());
}

/// Both watches the ClusterExternalSecret controller adds report to `/healthz` like the others:
/// against an apiserver that closes every connection, they show up as failing.
#[tokio::test]
async fn the_cluster_external_secret_and_namespace_watches_report_their_health() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let closing = tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            drop(conn);
        }
    });
    let client = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    let settings = crate::controller::Settings {
        namespace: Some(super::NS.into()),
        cluster_external_secrets: true,
        ..Default::default()
    };
    let (_ctx, watches) = crate::controller::watch::start(
        client,
        Arc::new(Counting::default()),
        Arc::new(NoTemplates),
        Arc::new(crate::controller::generators::NoGenerators),
        settings,
        Arc::new(crate::metrics::Metrics::new()),
        None,
        Arc::default(),
    );
    let health = crate::health::global();
    let reported = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let failing = health.failing_watches();
            if ["ClusterExternalSecret", "Namespace"]
                .iter()
                .all(|k| failing.iter().any(|f| f == k))
            {
                return failing;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    watches.abort();
    closing.abort();
    let failing = reported.expect("both watches reported failing");
    assert!(failing.iter().any(|f| f == "ExternalSecret"), "{failing:?}");
}
