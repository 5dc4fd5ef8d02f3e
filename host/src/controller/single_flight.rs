//! One call per key at a time: callers asking for a key whose call is in flight wait for that
//! call instead of starting their own, and a finished call's value is kept for later callers
//! that accept it. Errors reach the callers already waiting but are never stored.
//!
//! Used for provider fetches ([`super::shared`]) and credential look-ups
//! ([`super::shared_credentials`]).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tokio::time::Instant;

/// Which earlier call of the same key a caller accepts.
#[derive(Debug, Clone, Copy)]
pub struct Accept {
    /// A call in flight is joined when it started at or after this (`None`: any call in flight).
    pub join_since: Option<Instant>,
    /// Which stored value is taken.
    pub reuse: Reuse,
}

/// Which stored value (of a call that succeeded) a caller takes.
#[derive(Debug, Clone, Copy)]
pub enum Reuse {
    /// None: only a call in flight is shared.
    Never,
    /// One whose call started at or after this.
    StartedSince(Instant),
    /// One whose call finished less than this long ago.
    FinishedWithin(Duration),
}

impl Reuse {
    fn allows(self, started: Instant, finished: Instant, now: Instant) -> bool {
        match self {
            Reuse::Never => false,
            Reuse::StartedSince(t) => started >= t,
            Reuse::FinishedWithin(keep) => now.duration_since(finished) < keep,
        }
    }
}

type Call<V, E> = Shared<BoxFuture<'static, Result<V, E>>>;

enum Entry<V, E> {
    /// A call in flight: when it started, its number (so a finished call updates only its own
    /// entry) and the call.
    InFlight(Instant, u64, Call<V, E>),
    /// The value of a call that succeeded: when it started, when it finished.
    Done(Instant, Instant, V),
}

struct State<K, V, E> {
    entries: HashMap<K, Entry<V, E>>,
    calls: u64,
    swept: Option<Instant>,
    /// The oldest a stored value any caller accepted was (since its call started, since it
    /// finished): older values are dropped by [`State::sweep`].
    longest_since_start: Duration,
    longest_since_finish: Duration,
}

impl<K: Eq + Hash, V, E> State<K, V, E> {
    fn remember(&mut self, reuse: Reuse, now: Instant) {
        match reuse {
            Reuse::Never => {}
            Reuse::StartedSince(t) => {
                self.longest_since_start = self
                    .longest_since_start
                    .max(now.saturating_duration_since(t));
            }
            Reuse::FinishedWithin(keep) => {
                self.longest_since_finish = self.longest_since_finish.max(keep);
            }
        }
    }

    fn sweep(&mut self, now: Instant, every: Duration) {
        if self.swept.is_some_and(|t| now.duration_since(t) < every) {
            return;
        }
        self.swept = Some(now);
        let (since_start, since_finish) = (self.longest_since_start, self.longest_since_finish);
        self.entries.retain(|_, e| match e {
            Entry::InFlight(..) => true,
            Entry::Done(started, finished, _) => {
                now.duration_since(*started) <= since_start
                    || now.duration_since(*finished) < since_finish
            }
        });
    }
}

/// See the module documentation.
pub struct SingleFlight<K, V, E> {
    state: Mutex<State<K, V, E>>,
    /// Stored values nobody accepts any more are dropped at most this often (zero: on every
    /// call).
    sweep_every: Duration,
}

impl<K, V, E> SingleFlight<K, V, E>
where
    K: Eq + Hash + Clone,
    V: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + 'static,
{
    pub fn new(sweep_every: Duration) -> Self {
        Self {
            state: Mutex::new(State {
                entries: HashMap::new(),
                calls: 0,
                swept: None,
                longest_since_start: Duration::ZERO,
                longest_since_finish: Duration::ZERO,
            }),
            sweep_every,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<K, V, E>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value for `key`: a stored one or a call in flight when `accept` takes it, else the
    /// result of a new call made by `start` (which later callers may share).
    pub async fn get(
        &self,
        key: K,
        accept: Accept,
        start: impl FnOnce() -> BoxFuture<'static, Result<V, E>>,
    ) -> Result<V, E> {
        let (call, id) = {
            let mut state = self.lock();
            let now = Instant::now();
            state.remember(accept.reuse, now);
            state.sweep(now, self.sweep_every);
            match state.entries.get(&key) {
                Some(Entry::InFlight(started, id, call))
                    if accept.join_since.is_none_or(|t| *started >= t) =>
                {
                    (call.clone(), *id)
                }
                Some(Entry::Done(started, finished, value))
                    if accept.reuse.allows(*started, *finished, now) =>
                {
                    return Ok(value.clone());
                }
                _ => {
                    let call = start().shared();
                    state.calls += 1;
                    let id = state.calls;
                    state
                        .entries
                        .insert(key.clone(), Entry::InFlight(now, id, call.clone()));
                    (call, id)
                }
            }
        };
        let result = call.await;
        let mut state = self.lock();
        if let Some(Entry::InFlight(started, current, _)) = state.entries.get(&key)
            && *current == id
        {
            match &result {
                Ok(value) => {
                    let started = *started;
                    state
                        .entries
                        .insert(key, Entry::Done(started, Instant::now(), value.clone()));
                }
                Err(_) => {
                    state.entries.remove(&key);
                }
            }
        }
        result
    }

    /// How many keys have a call in flight or a stored value.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    type Flight = SingleFlight<&'static str, usize, String>;

    const ANY: Accept = Accept {
        join_since: None,
        reuse: Reuse::Never,
    };

    /// A call that answers its number after `ms`, or fails when `fail`.
    fn call(
        calls: &Arc<AtomicUsize>,
        ms: u64,
        fail: bool,
    ) -> impl FnOnce() -> BoxFuture<'static, Result<usize, String>> {
        let calls = calls.clone();
        move || {
            async move {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                if fail {
                    Err(format!("#{n} failed"))
                } else {
                    Ok(n)
                }
            }
            .boxed()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn callers_of_a_call_in_flight_share_it_and_its_error() {
        let f = Flight::new(Duration::ZERO);
        let calls = Arc::new(AtomicUsize::new(0));
        let got =
            futures::future::join_all((0..10).map(|_| f.get("k", ANY, call(&calls, 20, true))))
                .await;
        assert!(got.iter().all(|r| *r == Err("#0 failed".into())), "{got:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(f.len(), 0, "an error is not stored");
        assert_eq!(f.get("k", ANY, call(&calls, 20, false)).await, Ok(1));
        assert_eq!(
            f.get("k", ANY, call(&calls, 20, false)).await,
            Ok(2),
            "Reuse::Never takes no stored value"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_call_does_not_touch_the_newer_call_of_its_key() {
        let f = Flight::new(Duration::ZERO);
        let calls = Arc::new(AtomicUsize::new(0));
        let ms = Duration::from_millis;
        // t=0: call #0 starts (fails at t=30). t=10: a caller accepting only calls from t=10 on
        // starts #1 (answers at t=50). #0's failure, while #1 is in flight, must not remove #1,
        // whose value is then stored.
        let first = f.get("k", ANY, call(&calls, 30, true));
        let second = async {
            tokio::time::sleep(ms(10)).await;
            let since = Accept {
                join_since: Some(Instant::now()),
                reuse: Reuse::StartedSince(Instant::now()),
            };
            f.get("k", since, call(&calls, 40, false)).await
        };
        let (a, b) = futures::join!(first, second);
        assert_eq!((a, b), (Err("#0 failed".into()), Ok(1)));
        let recent = Accept {
            join_since: None,
            reuse: Reuse::StartedSince(Instant::now() - ms(100)),
        };
        assert_eq!(f.get("k", recent, call(&calls, 20, false)).await, Ok(1));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn values_are_reused_within_their_window_and_swept_after_it() {
        let f = Flight::new(Duration::ZERO);
        let calls = Arc::new(AtomicUsize::new(0));
        let keep = Accept {
            join_since: None,
            reuse: Reuse::FinishedWithin(Duration::from_secs(5)),
        };
        assert_eq!(f.get("a", keep, call(&calls, 20, false)).await, Ok(0));
        tokio::time::advance(Duration::from_millis(4999)).await;
        assert_eq!(f.get("a", keep, call(&calls, 20, false)).await, Ok(0));
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(f.get("b", keep, call(&calls, 20, false)).await, Ok(1));
        assert_eq!(
            f.len(),
            1,
            "a is swept once 5 s have passed since it finished"
        );
        assert_eq!(f.get("a", keep, call(&calls, 20, false)).await, Ok(2));
    }
}
