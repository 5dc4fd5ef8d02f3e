//! A keyed work queue with two priorities, per-key deduplication and no concurrent processing
//! of one key.
//!
//! Objects that were never synced or whose spec/metadata changed go in the urgent lane and are
//! taken before refreshes and retries, so new ExternalSecrets are synced promptly even while
//! thousands of refreshes are due. Workers that take only urgent keys
//! ([`WorkQueue::take`] with `only_urgent`) are never busy with a refresh, so a new object does not wait
//! for one to finish either.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::metrics::runtime::{Controller, QueueGauges, QueueMetrics};

/// Which lane an item waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// New, changed or drifted objects.
    Urgent,
    /// Periodic refreshes and retries.
    Normal,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    due: Instant,
    priority: Priority,
    seq: u64,
    /// When the key was last added (its latest event).
    requested: Instant,
}

/// A key taken from the queue ([`WorkQueue::take`]).
#[derive(Debug, Clone)]
pub struct Taken<K> {
    pub key: K,
    /// The lane it was taken from.
    pub lane: Priority,
    /// How long it waited after it was due (time spent behind other work).
    pub waited: Duration,
    /// When it was last added (an event, a retry after a failure, a requeue): a fetch that
    /// started after this instant is as fresh as whatever asked for the key.
    pub requested: Instant,
}

#[derive(Debug)]
struct Inner<K> {
    pending: HashMap<K, Pending>,
    /// Items requeued while being processed: queued again when processing ends.
    deferred: HashMap<K, Deferred>,
    /// Keys being processed, with when a worker took each.
    in_flight: HashMap<K, Instant>,
    /// Lanes ordered by due time; entries point at `by_seq` and are stale once superseded.
    urgent: BinaryHeap<Reverse<(Instant, u64)>>,
    normal: BinaryHeap<Reverse<(Instant, u64)>>,
    by_seq: HashMap<u64, K>,
    seq: u64,
}

/// See the module documentation.
#[derive(Debug)]
pub struct WorkQueue<K> {
    inner: Mutex<Inner<K>>,
    /// Wakes workers that take from both lanes.
    notify: Notify,
    /// Wakes workers that take only urgent keys.
    notify_urgent: Notify,
    /// controller-runtime's `workqueue_*` metrics, when the queue is a controller's.
    observer: Option<Observer<K>>,
}

/// Where a controller's queue reports: its metrics, the controller each key belongs to, and the
/// controllers whose gauges are reported even while none of their keys is queued.
struct Observer<K> {
    metrics: QueueMetrics,
    controller_of: Box<dyn Fn(&K) -> Controller + Send + Sync>,
    controllers: Vec<Controller>,
}

impl<K> std::fmt::Debug for Observer<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observer")
            .field("controllers", &self.controllers)
            .finish_non_exhaustive()
    }
}

impl<K: Clone + Eq + Hash> Default for WorkQueue<K> {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                pending: HashMap::new(),
                deferred: HashMap::new(),
                in_flight: HashMap::new(),
                urgent: BinaryHeap::new(),
                normal: BinaryHeap::new(),
                by_seq: HashMap::new(),
                seq: 0,
            }),
            notify: Notify::new(),
            notify_urgent: Notify::new(),
            observer: None,
        }
    }
}

fn merge(a: (Instant, Priority), b: (Instant, Priority)) -> (Instant, Priority) {
    (a.0.min(b.0), a.1.min(b.1))
}

/// A request for a key in flight: due, lane and when it was requested.
#[derive(Debug, Clone, Copy)]
struct Deferred {
    due: Instant,
    priority: Priority,
    requested: Instant,
}

impl<K: Clone + Eq + Hash> WorkQueue<K> {
    /// A queue that records controller-runtime's `workqueue_*` metrics in `metrics`, each key
    /// under the controller `controller_of` names (one of `controllers`).
    pub fn observed(
        metrics: QueueMetrics,
        controller_of: impl Fn(&K) -> Controller + Send + Sync + 'static,
        controllers: Vec<Controller>,
    ) -> Self {
        Self {
            observer: Some(Observer {
                metrics,
                controller_of: Box::new(controller_of),
                controllers,
            }),
            ..Self::default()
        }
    }

    /// The gauges of each of the queue's controllers now (none for a queue not
    /// [`observed`](WorkQueue::observed)).
    pub fn gauges(&self) -> Vec<(Controller, QueueGauges)> {
        let Some(observer) = &self.observer else {
            return Vec::new();
        };
        let mut out: Vec<(Controller, QueueGauges)> = observer
            .controllers
            .iter()
            .map(|c| (*c, QueueGauges::default()))
            .collect();
        let mut slot = |c: Controller| -> usize {
            match out.iter().position(|(o, _)| *o == c) {
                Some(i) => i,
                None => {
                    out.push((c, QueueGauges::default()));
                    out.len() - 1
                }
            }
        };
        let now = Instant::now();
        let inner = self.lock();
        let mut slots = Vec::new();
        for (key, p) in &inner.pending {
            if p.due <= now {
                slots.push((slot((observer.controller_of)(key)), None));
            }
        }
        for (key, started) in &inner.in_flight {
            let running = now.saturating_duration_since(*started).as_secs_f64();
            slots.push((slot((observer.controller_of)(key)), Some(running)));
        }
        drop(inner);
        for (i, running) in slots {
            let g = &mut out[i].1;
            match running {
                None => g.depth += 1,
                Some(s) => {
                    g.unfinished_seconds += s;
                    g.longest_running_seconds = g.longest_running_seconds.max(s);
                }
            }
        }
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Schedules `key` after `delay`. A key already waiting keeps the earlier time and the higher
    /// priority of the two; a key being processed is scheduled again once it is done.
    pub fn add(&self, key: K, delay: Duration, priority: Priority) {
        self.add_requested(key, delay, priority, Instant::now());
    }

    /// [`add`](WorkQueue::add) of a request made at `requested` (a deferred one is re-added
    /// when its key is done).
    fn add_requested(&self, key: K, delay: Duration, priority: Priority, requested: Instant) {
        let due = Instant::now() + delay;
        let mut inner = self.lock();
        if inner.in_flight.contains_key(&key) {
            let entry = inner.deferred.entry(key).or_insert(Deferred {
                due,
                priority,
                requested,
            });
            (entry.due, entry.priority) = merge((entry.due, entry.priority), (due, priority));
            entry.requested = entry.requested.max(requested);
            return;
        }
        let (due, priority, requested) = match inner.pending.get_mut(&key) {
            Some(p) => {
                p.requested = p.requested.max(requested);
                let merged = merge((p.due, p.priority), (due, priority));
                if merged == (p.due, p.priority) {
                    return;
                }
                (merged.0, merged.1, p.requested)
            }
            None => {
                // A key entering the queue (not one already waiting, as client-go counts).
                if let Some(o) = &self.observer {
                    o.metrics.added((o.controller_of)(&key), delay);
                }
                (due, priority, requested)
            }
        };
        inner.seq += 1;
        let seq = inner.seq;
        if let Some(old) = inner.pending.insert(
            key.clone(),
            Pending {
                due,
                priority,
                seq,
                requested,
            },
        ) {
            inner.by_seq.remove(&old.seq);
        }
        inner.by_seq.insert(seq, key);
        match priority {
            Priority::Urgent => inner.urgent.push(Reverse((due, seq))),
            Priority::Normal => inner.normal.push(Reverse((due, seq))),
        }
        drop(inner);
        self.notify.notify_one();
        if priority == Priority::Urgent {
            self.notify_urgent.notify_one();
        }
    }

    /// Forgets a key that is waiting (its object is gone).
    pub fn forget(&self, key: &K) {
        let mut inner = self.lock();
        if let Some(p) = inner.pending.remove(key) {
            inner.by_seq.remove(&p.seq);
        }
        inner.deferred.remove(key);
    }

    /// Number of keys waiting (not being processed).
    pub fn len(&self) -> usize {
        self.lock().pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits for the next due key, urgent lane first, and marks it in flight. Call [`done`]
    /// when processing ends.
    ///
    /// [`done`]: WorkQueue::done
    pub async fn next(&self) -> K {
        self.next_with_priority().await.0
    }

    /// [`next`](WorkQueue::next), plus the lane the key was taken from.
    pub async fn next_with_priority(&self) -> (K, Priority) {
        let t = self.take(false).await;
        (t.key, t.lane)
    }

    /// Waits for the next due key (an urgent one only, when `only_urgent`), marks it in flight
    /// and says what is known of it.
    pub async fn take(&self, only_urgent: bool) -> Taken<K> {
        if only_urgent {
            self.next_in(&[Priority::Urgent], &self.notify_urgent).await
        } else {
            self.next_in(&[Priority::Urgent, Priority::Normal], &self.notify)
                .await
        }
    }

    async fn next_in(&self, lanes: &[Priority], notify: &Notify) -> Taken<K> {
        loop {
            let notified = notify.notified();
            let wake_at = {
                let mut inner = self.lock();
                let now = Instant::now();
                if let Some((key, lane, pending)) = take_due(&mut inner, lanes, now) {
                    drop(inner);
                    let waited = now.saturating_duration_since(pending.due);
                    if let Some(o) = &self.observer {
                        o.metrics.taken((o.controller_of)(&key), waited);
                    }
                    // Another worker may also find work.
                    notify.notify_one();
                    return Taken {
                        key,
                        lane,
                        waited,
                        requested: pending.requested,
                    };
                }
                earliest(&inner, lanes)
            };
            match wake_at {
                Some(at) => {
                    tokio::select! {
                        _ = notified => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Marks `key` as processed; a request that arrived meanwhile is queued now.
    pub fn done(&self, key: &K) {
        let (started, deferred) = {
            let mut inner = self.lock();
            (inner.in_flight.remove(key), inner.deferred.remove(key))
        };
        if let (Some(o), Some(started)) = (&self.observer, started) {
            o.metrics.done((o.controller_of)(key), started.elapsed());
        }
        if let Some(d) = deferred {
            self.add_requested(
                key.clone(),
                d.due.saturating_duration_since(Instant::now()),
                d.priority,
                d.requested,
            );
        }
    }
}

/// Pops stale heap entries (superseded or forgotten) and returns the first live due key.
fn take_due<K: Clone + Eq + Hash>(
    inner: &mut Inner<K>,
    lanes: &[Priority],
    now: Instant,
) -> Option<(K, Priority, Pending)> {
    for &lane in lanes {
        loop {
            let heap = match lane {
                Priority::Urgent => &mut inner.urgent,
                Priority::Normal => &mut inner.normal,
            };
            let Some(Reverse((due, seq))) = heap.peek().copied() else {
                break;
            };
            let Some(key) = inner.by_seq.get(&seq).cloned() else {
                heap_pop(inner, lane);
                continue;
            };
            if due > now {
                break;
            }
            heap_pop(inner, lane);
            inner.by_seq.remove(&seq);
            let Some(pending) = inner.pending.remove(&key) else {
                continue;
            };
            inner.in_flight.insert(key.clone(), now);
            return Some((key, lane, pending));
        }
    }
    None
}

fn heap_pop<K>(inner: &mut Inner<K>, lane: Priority) {
    match lane {
        Priority::Urgent => inner.urgent.pop(),
        Priority::Normal => inner.normal.pop(),
    };
}

fn earliest<K>(inner: &Inner<K>, lanes: &[Priority]) -> Option<Instant> {
    lanes
        .iter()
        .filter_map(|lane| match lane {
            Priority::Urgent => inner.urgent.peek(),
            Priority::Normal => inner.normal.peek(),
        })
        .map(|Reverse((d, _))| *d)
        .min()
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
