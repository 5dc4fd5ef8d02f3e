use std::sync::atomic::Ordering;

use super::*;
use crate::controller::counting::Counting;
use crate::provider::StoreKind;

/// The counting backend, answering after 50 ms so that concurrent fetches overlap.
fn slow() -> Counting {
    Counting {
        delay: Duration::from_millis(50),
        ..Counting::default()
    }
}

fn store(name: &str, caller: &str) -> StoreContext {
    StoreContext {
        kind: StoreKind::SecretStore,
        name: name.into(),
        store_namespace: Some(caller.into()),
        caller_namespace: Some(caller.into()),
        generation: 1,
        provider: "test".into(),
        config: serde_json::json!({}),
        sandbox: None,
    }
}

fn key(k: &str) -> RemoteRef {
    RemoteRef {
        key: k.into(),
        ..Default::default()
    }
}

/// Fetches `k` as a reconcile that accepts values fetched at most `age` ago (`None`: urgent).
async fn get(
    p: &Shared,
    s: &StoreContext,
    k: &str,
    age: Option<Duration>,
) -> Result<String, ProviderError> {
    let not_before = NotBefore(age.map(|a| Instant::now() - a));
    let (client, _) = p.open_with(s, not_before, Default::default()).await?;
    let v = client.get_secret(&key(k)).await?;
    Ok(String::from_utf8(v.expose().clone()).unwrap())
}

#[tokio::test(start_paused = true)]
async fn concurrent_identical_fetches_share_one_call() {
    let backend = slow();
    let calls = backend.calls.clone();
    let p = Shared::new(Arc::new(backend));
    let s = store("a", "ns");
    let got = futures::future::join_all((0..20).map(|_| get(&p, &s, "k", None))).await;
    assert!(got.iter().all(|v| v.as_deref() == Ok("k#0")), "{got:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Urgent reconciles (no window) never take a stored value.
    assert_eq!(get(&p, &s, "k", None).await.unwrap(), "k#1");
}

#[tokio::test(start_paused = true)]
async fn refreshes_reuse_a_value_fetched_since_their_last_sync_only() {
    let backend = slow();
    let calls = backend.calls.clone();
    let p = Shared::new(Arc::new(backend));
    let s = store("a", "ns");
    let minute = Some(Duration::from_secs(60));
    assert_eq!(get(&p, &s, "k", minute).await.unwrap(), "k#0");
    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(get(&p, &s, "k", minute).await.unwrap(), "k#0");
    assert_eq!(
        get(&p, &s, "k", Some(Duration::from_secs(10)))
            .await
            .unwrap(),
        "k#1"
    );
    tokio::time::advance(Duration::from_secs(61)).await;
    assert_eq!(get(&p, &s, "k", minute).await.unwrap(), "k#2");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn other_stores_namespaces_and_errors_are_never_shared() {
    let backend = slow();
    let calls = backend.calls.clone();
    let p = Shared::new(Arc::new(backend));
    let minute = Some(Duration::from_secs(60));
    get(&p, &store("a", "ns1"), "k", minute).await.unwrap();
    get(&p, &store("a", "ns2"), "k", minute).await.unwrap();
    get(&p, &store("b", "ns1"), "k", minute).await.unwrap();
    let mut changed = store("a", "ns1");
    changed.generation = 2;
    get(&p, &changed, "k", minute).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    for _ in 0..2 {
        assert_eq!(
            get(&p, &store("a", "ns1"), "missing", minute).await,
            Err(ProviderError::NotFound)
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 6, "errors are not stored");
}

#[tokio::test(start_paused = true)]
async fn a_call_that_started_before_the_event_is_not_joined() {
    let backend = slow();
    let calls = backend.calls.clone();
    let p = Shared::new(Arc::new(backend));
    let s = store("a", "ns");
    let ms = Duration::from_millis;
    // t=0: a call starts (it answers at t=50). t=20: an event asks for a value fetched from now
    // on, so it starts a call of its own. t=30: another, queued at t=15, joins that one.
    let first = get(&p, &s, "k", None);
    let second = async {
        tokio::time::sleep(ms(20)).await;
        get(&p, &s, "k", Some(Duration::ZERO)).await
    };
    let third = async {
        tokio::time::sleep(ms(30)).await;
        get(&p, &s, "k", Some(ms(15))).await
    };
    let (a, b, c) = futures::join!(first, second, third);
    assert_eq!(
        (a.unwrap(), b.unwrap(), c.unwrap()),
        ("k#0".into(), "k#1".into(), "k#1".into())
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // The first call, finishing first, did not store its older value as the later call's.
    assert_eq!(get(&p, &s, "k", Some(ms(60))).await.unwrap(), "k#1");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
