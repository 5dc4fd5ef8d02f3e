use super::*;

#[tokio::test(start_paused = true)]
async fn a_key_remembers_its_latest_request() {
    let q: WorkQueue<&str> = WorkQueue::default();
    let t0 = Instant::now();
    let at = |s: u64| t0 + Duration::from_secs(s);
    let later = |s: u64| tokio::time::advance(Duration::from_secs(s));
    // A refresh for later, then an event: the key is urgent now, requested at the event.
    q.add("a", Duration::from_secs(10), Priority::Normal);
    later(3).await;
    q.add("a", Duration::ZERO, Priority::Urgent);
    let t = q.take(false).await;
    assert_eq!((t.key, t.lane, t.requested), ("a", Priority::Urgent, at(3)));
    // An event while the key is in flight is remembered with its time.
    later(2).await;
    q.add("a", Duration::ZERO, Priority::Urgent);
    later(1).await;
    q.done(&"a");
    let t = q.take(true).await;
    assert_eq!(t.requested, at(5));
    assert_eq!(t.waited, Duration::ZERO);
    q.done(&"a");
    // A second event that changes neither due time nor lane still moves it forward.
    q.add("a", Duration::ZERO, Priority::Urgent);
    later(1).await;
    q.add("a", Duration::ZERO, Priority::Urgent);
    let t = q.take(false).await;
    assert_eq!((t.requested, t.waited), (at(7), Duration::from_secs(1)));
}

#[tokio::test(start_paused = true)]
async fn urgent_items_go_first_and_keys_are_deduplicated() {
    let q: WorkQueue<&str> = WorkQueue::default();
    q.add("refresh-1", Duration::ZERO, Priority::Normal);
    q.add("refresh-2", Duration::ZERO, Priority::Normal);
    q.add("new", Duration::ZERO, Priority::Urgent);
    q.add("new", Duration::ZERO, Priority::Normal);
    assert_eq!(q.len(), 3);
    assert_eq!(q.next().await, "new");
    assert_eq!(q.next().await, "refresh-1");
    assert_eq!(q.next().await, "refresh-2");
}

#[tokio::test(start_paused = true)]
async fn delays_are_honoured_and_earlier_wins() {
    let q: WorkQueue<&str> = WorkQueue::default();
    q.add("a", Duration::from_secs(60), Priority::Normal);
    q.add("a", Duration::from_secs(5), Priority::Normal);
    q.add("a", Duration::from_secs(90), Priority::Normal);
    let start = Instant::now();
    assert_eq!(q.next().await, "a");
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert!(q.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_key_in_flight_is_deferred_until_done() {
    let q: WorkQueue<&str> = WorkQueue::default();
    q.add("a", Duration::ZERO, Priority::Normal);
    assert_eq!(q.next().await, "a");
    q.add("a", Duration::ZERO, Priority::Urgent);
    assert!(q.is_empty(), "not queued twice while processing");
    q.done(&"a");
    assert_eq!(q.next().await, "a");
}

#[tokio::test(start_paused = true)]
async fn the_lane_of_a_key_is_reported() {
    let q: WorkQueue<&str> = WorkQueue::default();
    q.add("refresh", Duration::ZERO, Priority::Normal);
    q.add("new", Duration::ZERO, Priority::Urgent);
    assert_eq!(q.next_with_priority().await, ("new", Priority::Urgent));
    assert_eq!(q.next_with_priority().await, ("refresh", Priority::Normal));
}

#[tokio::test(start_paused = true)]
async fn urgent_only_workers_leave_refreshes_alone() {
    let q: std::sync::Arc<WorkQueue<&str>> = std::sync::Arc::default();
    q.add("refresh", Duration::ZERO, Priority::Normal);
    let urgent = tokio::spawn({
        let q = q.clone();
        async move { q.take(true).await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(
        !urgent.is_finished(),
        "a refresh is not taken by an urgent-only worker"
    );
    q.add("new", Duration::ZERO, Priority::Urgent);
    let taken = urgent.await.unwrap();
    assert_eq!(taken.key, "new");
    assert_eq!(taken.waited, Duration::ZERO);
    assert_eq!(q.take(false).await.key, "refresh");
}

#[tokio::test(start_paused = true)]
async fn a_refresh_added_while_only_urgent_workers_wait_still_wakes_a_worker() {
    let q: std::sync::Arc<WorkQueue<&str>> = std::sync::Arc::default();
    let general = tokio::spawn({
        let q = q.clone();
        async move { q.take(false).await }
    });
    let urgent = tokio::spawn({
        let q = q.clone();
        async move { q.take(true).await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    q.add("refresh", Duration::ZERO, Priority::Normal);
    let taken = tokio::time::timeout(Duration::from_secs(1), general)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((taken.key, taken.lane), ("refresh", Priority::Normal));
    assert!(!urgent.is_finished());
    urgent.abort();
}

#[tokio::test(start_paused = true)]
async fn forgotten_keys_are_skipped() {
    let q: WorkQueue<&str> = WorkQueue::default();
    q.add("gone", Duration::ZERO, Priority::Urgent);
    q.add("kept", Duration::from_secs(1), Priority::Normal);
    q.forget(&"gone");
    assert_eq!(q.next().await, "kept");
}
