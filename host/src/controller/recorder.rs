//! The event recorder: `events.k8s.io/v1` Events as kube-runtime's `Recorder` writes them (one
//! create per new event, a series patch when the same event repeats within six minutes), with a
//! bounded cache of what was sent.
//!
//! kube-runtime's recorder keeps every event it sent for six minutes, a whole `Event` object
//! each, and scans all of them on every publish: a first sync of 50,000 ExternalSecrets (one
//! `Created` event each) kept 50,000 events and made the publishes quadratic. This one remembers
//! at most [`CAPACITY`] recent events (client-go's event cache holds 4,096 too), a few strings
//! each, and expires them in order. An event that repeats after it was evicted starts a new
//! Event object instead of a series, which is what client-go does as well.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event as K8sEvent, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Reporter};
use serde_json::json;

/// Events remembered for a series at most.
pub const CAPACITY: usize = 4096;

/// How long a sent event can grow a series (kube-runtime's and client-go's six minutes).
const SERIES_WINDOW: SignedDuration = SignedDuration::from_mins(6);

/// What makes two events the same (kube-runtime's key): type, action, reason, the object and
/// the related object. The reporter is the recorder's own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    warning: bool,
    action: String,
    reason: String,
    regarding: Reference,
    related: Option<Reference>,
}

/// The fields of an [`ObjectReference`] (which is not `Hash`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Reference([Option<String>; 7]);

impl From<&ObjectReference> for Reference {
    fn from(r: &ObjectReference) -> Self {
        Reference([
            r.api_version.clone(),
            r.kind.clone(),
            r.namespace.clone(),
            r.name.clone(),
            r.uid.clone(),
            r.resource_version.clone(),
            r.field_path.clone(),
        ])
    }
}

/// A sent event: where it is, how often it happened, when last.
#[derive(Debug, Clone, PartialEq)]
struct Sent {
    name: String,
    count: i32,
    last: Timestamp,
}

/// The events sent within the series window, oldest first in `order`. `order` holds a key once
/// per publish; an entry whose `last` is newer than its place in `order` is skipped there.
#[derive(Debug, Default)]
struct Cache {
    sent: HashMap<Key, Sent>,
    order: VecDeque<(Key, Timestamp)>,
}

impl Cache {
    /// The series count the next event of `key` has (`None`: a new Event object), after
    /// dropping what expired at `now`.
    fn series_of(&mut self, key: &Key, now: Timestamp) -> Option<(Sent, i32)> {
        self.expire(now);
        self.sent.get(key).map(|s| (s.clone(), s.count + 1))
    }

    /// Records that `key` was sent (as `sent`) at `sent.last`.
    fn record(&mut self, key: Key, sent: Sent) {
        self.order.push_back((key.clone(), sent.last));
        self.sent.insert(key, sent);
        while self.sent.len() > CAPACITY || self.order.len() > 4 * CAPACITY {
            let Some((key, at)) = self.order.pop_front() else {
                break;
            };
            if self.sent.get(&key).is_some_and(|s| s.last == at) {
                self.sent.remove(&key);
            }
        }
    }

    fn expire(&mut self, now: Timestamp) {
        while let Some((_, at)) = self.order.front() {
            if *at + SERIES_WINDOW > now {
                break;
            }
            if let Some((key, at)) = self.order.pop_front()
                && self.sent.get(&key).is_some_and(|s| s.last == at)
            {
                self.sent.remove(&key);
            }
        }
    }
}

/// Publishes events for one reporter. Cheap to clone: clones share the cache.
#[derive(Clone)]
pub struct Recorder {
    client: kube::Client,
    reporter: Reporter,
    cache: Arc<Mutex<Cache>>,
}

impl Recorder {
    pub fn new(client: kube::Client, reporter: Reporter) -> Self {
        Recorder {
            client,
            reporter,
            cache: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates the event regarding `reference` in its namespace ("default" for a cluster-scoped
    /// object), or adds one to its series when the same event was sent within six minutes.
    pub async fn publish(
        &self,
        ev: &Event,
        reference: &ObjectReference,
    ) -> Result<(), kube::Error> {
        let now = Timestamp::now();
        let key = Key {
            warning: matches!(ev.type_, EventType::Warning),
            action: ev.action.clone(),
            reason: ev.reason.clone(),
            regarding: reference.into(),
            related: ev.secondary.as_ref().map(Reference::from),
        };
        let namespace = reference
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let events: Api<K8sEvent> = Api::namespaced(self.client.clone(), &namespace);
        let series = self.lock().series_of(&key, now);
        let sent = match series {
            Some((mut sent, count)) => {
                let patch = json!({"series": EventSeries {
                    count,
                    last_observed_time: MicroTime(now),
                }});
                events
                    .patch(&sent.name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
                sent.count = count;
                sent.last = now;
                sent
            }
            None => {
                let event = self.event(ev, reference, &namespace, now);
                let name = event.metadata.name.clone().unwrap_or_default();
                events.create(&PostParams::default(), &event).await?;
                Sent {
                    name,
                    count: 1,
                    last: now,
                }
            }
        };
        self.lock().record(key, sent);
        Ok(())
    }

    /// The Event object kube-runtime's recorder would create.
    fn event(
        &self,
        ev: &Event,
        reference: &ObjectReference,
        namespace: &str,
        now: Timestamp,
    ) -> K8sEvent {
        let controller = &self.reporter.controller;
        K8sEvent {
            action: Some(ev.action.clone()),
            reason: Some(ev.reason.clone()),
            event_time: Some(MicroTime(now)),
            regarding: Some(reference.clone()),
            note: ev.note.clone(),
            metadata: ObjectMeta {
                namespace: Some(namespace.to_owned()),
                name: Some(format!(
                    "{}.{:x}",
                    reference.name.as_ref().unwrap_or(controller),
                    now.as_nanosecond()
                )),
                ..Default::default()
            },
            reporting_controller: Some(controller.clone()),
            reporting_instance: Some(
                self.reporter
                    .instance
                    .clone()
                    .unwrap_or_else(|| controller.clone()),
            ),
            type_: Some(if matches!(ev.type_, EventType::Warning) {
                "Warning".into()
            } else {
                "Normal".into()
            }),
            related: ev.secondary.clone(),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Key {
        Key {
            warning: false,
            action: "Created".into(),
            reason: "Created".into(),
            regarding: Reference::from(&ObjectReference {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                ..Default::default()
            }),
            related: None,
        }
    }

    fn sent(name: &str, count: i32, last: Timestamp) -> Sent {
        Sent {
            name: format!("{name}.1"),
            count,
            last,
        }
    }

    #[test]
    fn a_repeat_within_six_minutes_grows_the_series_and_a_later_one_starts_anew() {
        let t0 = Timestamp::UNIX_EPOCH + SignedDuration::from_hours(1000);
        let mut cache = Cache::default();
        assert_eq!(cache.series_of(&key("a"), t0), None);
        cache.record(key("a"), sent("a", 1, t0));
        let t1 = t0 + SignedDuration::from_mins(5);
        let (first, count) = cache.series_of(&key("a"), t1).unwrap();
        assert_eq!((first.name.as_str(), count), ("a.1", 2));
        cache.record(key("a"), sent("a", 2, t1));
        // Six minutes after the first but not after the last: still the series.
        let t2 = t0 + SignedDuration::from_mins(7);
        assert_eq!(cache.series_of(&key("a"), t2).map(|s| s.1), Some(3));
        assert_eq!(cache.series_of(&key("b"), t2), None);
        // Six minutes after the last: a new Event object, and nothing is left behind.
        let t3 = t1 + SignedDuration::from_mins(6);
        assert_eq!(cache.series_of(&key("a"), t3), None);
        assert!(cache.sent.is_empty() && cache.order.is_empty());
    }

    #[test]
    fn holds_at_most_capacity_events_dropping_the_oldest() {
        let t0 = Timestamp::UNIX_EPOCH + SignedDuration::from_hours(1000);
        let mut cache = Cache::default();
        for i in 0..CAPACITY + 500 {
            let name = format!("es-{i}");
            cache.record(key(&name), sent(&name, 1, t0));
        }
        assert_eq!(cache.sent.len(), CAPACITY);
        assert!(cache.order.len() <= CAPACITY + 1);
        assert_eq!(cache.series_of(&key("es-0"), t0), None);
        let last = format!("es-{}", CAPACITY + 499);
        assert_eq!(cache.series_of(&key(&last), t0).map(|s| s.1), Some(2));
    }

    #[test]
    fn one_event_repeated_many_times_keeps_a_bounded_order() {
        let t0 = Timestamp::UNIX_EPOCH + SignedDuration::from_hours(1000);
        let mut cache = Cache::default();
        for i in 0..(5 * CAPACITY as i64) {
            let at = t0 + SignedDuration::from_millis(i);
            let count = cache.series_of(&key("a"), at).map_or(1, |s| s.1);
            cache.record(key("a"), sent("a", count, at));
        }
        assert_eq!(cache.sent.len(), 1);
        assert!(cache.order.len() <= 4 * CAPACITY);
        assert_eq!(cache.sent[&key("a")].count, 5 * CAPACITY as i32);
    }
}
