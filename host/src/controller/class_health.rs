//! What a ProviderClass that cannot load its module tells the stores it serves. The class
//! controller ([`super::provider_class`]) records, per provider key, why the class's latest spec
//! does not serve (and which digest serves instead); the store controller
//! ([`super::secret_store`]) shows it on every SecretStore and ClusterSecretStore of that key as
//! a `ProviderClassReady=False` condition and a Warning event, and removes the condition (with a
//! Normal event) once the class recovers. A store whose class is fine carries no such condition,
//! so nothing is written to it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use kube::runtime::events::EventType;

use super::status;
use crate::crd::ConditionStatus;
use crate::crd::secret_store::SecretStoreStatusCondition;

/// The store condition this module owns.
pub const CONDITION: &str = "ProviderClassReady";

/// The reason of the Normal event a store gets when its class serves its spec again.
pub const RECOVERED: &str = "ProviderClassLoaded";

/// Why a class does not serve its latest spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The ProviderClass's name.
    pub class: String,
    /// The class's reason (`PullFailed`, `VerificationFailed`, `LoadFailed`, ...).
    pub reason: &'static str,
    /// What the store shows: the class, what it could not load and why, what serves instead.
    pub message: String,
}

/// The problems of the classes, by the provider key each class's spec names.
#[derive(Debug, Default)]
pub struct ClassHealth {
    problems: Mutex<HashMap<String, Problem>>,
}

impl ClassHealth {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Problem>> {
        self.problems.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that `problem.class` does not serve `key`. Returns whether that changed anything
    /// (the stores of `key` need to be looked at again only then).
    pub fn failed(&self, key: &str, problem: Problem) -> bool {
        let mut problems = self.lock();
        if problems.get(key) == Some(&problem) {
            return false;
        }
        problems.insert(key.to_owned(), problem);
        true
    }

    /// Class `class` serves its spec (or is gone): forgets its problems. Returns the keys whose
    /// stores need to be looked at again.
    pub fn recovered(&self, class: &str) -> Vec<String> {
        let mut problems = self.lock();
        let keys: Vec<String> = problems
            .iter()
            .filter(|(_, p)| p.class == class)
            .map(|(k, _)| k.clone())
            .collect();
        for key in &keys {
            problems.remove(key);
        }
        keys
    }

    /// The problem of the class serving `key`, if any.
    pub fn get(&self, key: &str) -> Option<Problem> {
        self.lock().get(key).cloned()
    }
}

/// A store's conditions with [`CONDITION`] in line with `problem`, and the event to publish when
/// that changed anything: a Warning (the class's reason, the message) when the condition is new
/// or says something else; a Normal [`RECOVERED`] when it goes away. `None` when nothing changes.
pub fn store_conditions(
    conditions: &[SecretStoreStatusCondition],
    problem: Option<&Problem>,
) -> (
    Vec<SecretStoreStatusCondition>,
    Option<(EventType, &'static str, String)>,
) {
    let current = conditions.iter().find(|c| c.type_ == CONDITION);
    match (problem, current) {
        (Some(p), Some(c))
            if c.status == ConditionStatus::False
                && c.reason.as_deref() == Some(p.reason)
                && c.message.as_deref() == Some(p.message.as_str()) =>
        {
            (conditions.to_vec(), None)
        }
        (Some(p), _) => (
            status::set_condition(
                conditions,
                CONDITION.to_owned(),
                ConditionStatus::False,
                p.reason,
                &p.message,
            ),
            Some((EventType::Warning, p.reason, p.message.clone())),
        ),
        (None, Some(_)) => (
            conditions
                .iter()
                .filter(|c| c.type_ != CONDITION)
                .cloned()
                .collect(),
            Some((
                EventType::Normal,
                RECOVERED,
                "the ProviderClass serving this store's provider loaded its module".to_owned(),
            )),
        ),
        (None, None) => (conditions.to_vec(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(class: &str, message: &str) -> Problem {
        Problem {
            class: class.into(),
            reason: "PullFailed",
            message: message.into(),
        }
    }

    fn ready() -> SecretStoreStatusCondition {
        SecretStoreStatusCondition {
            type_: "Ready".into(),
            status: ConditionStatus::True,
            reason: Some("Valid".into()),
            message: Some("store validated".into()),
            last_transition_time: None,
        }
    }

    #[test]
    fn a_problem_is_recorded_once_and_forgotten_by_class() {
        let health = ClassHealth::default();
        assert!(health.failed("kv", problem("a", "m1")));
        assert!(
            !health.failed("kv", problem("a", "m1")),
            "the same problem again"
        );
        assert!(health.failed("kv", problem("a", "m2")), "another message");
        assert!(health.failed("other", problem("b", "m")));
        assert_eq!(health.get("kv"), Some(problem("a", "m2")));
        assert_eq!(health.recovered("a"), vec!["kv".to_owned()]);
        assert_eq!(health.get("kv"), None);
        assert_eq!(health.get("other"), Some(problem("b", "m")), "b's stays");
        assert!(health.recovered("a").is_empty());
    }

    #[test]
    fn a_store_of_a_fine_class_is_left_alone() {
        let conditions = vec![ready()];
        let (after, event) = store_conditions(&conditions, None);
        assert_eq!(after, conditions);
        assert!(event.is_none());
    }

    #[test]
    fn a_failing_class_adds_a_condition_and_one_warning() {
        let p = problem(
            "a",
            "ProviderClass a could not load x; sha256:old keeps serving",
        );
        let (after, event) = store_conditions(&[ready()], Some(&p));
        assert_eq!(after.len(), 2);
        assert_eq!(after[0], ready(), "Ready is left as it was");
        let c = &after[1];
        assert_eq!(
            (c.type_.as_str(), c.status, c.reason.as_deref()),
            (CONDITION, ConditionStatus::False, Some("PullFailed"))
        );
        assert_eq!(c.message.as_deref(), Some(p.message.as_str()));
        assert_eq!(
            event,
            Some((EventType::Warning, "PullFailed", p.message.clone()))
        );

        // The same problem again: nothing to write, no second event.
        let (again, event) = store_conditions(&after, Some(&p));
        assert_eq!(again, after);
        assert!(event.is_none());

        // Another failure: the condition says it, with a new Warning.
        let q = problem("a", "another");
        let (changed, event) = store_conditions(&after, Some(&q));
        assert_eq!(changed[1].message.as_deref(), Some("another"));
        assert_eq!(event.map(|e| e.0), Some(EventType::Warning));
    }

    #[test]
    fn recovery_removes_the_condition_with_a_normal_event() {
        let p = problem("a", "m");
        let (failing, _) = store_conditions(&[ready()], Some(&p));
        let (after, event) = store_conditions(&failing, None);
        assert_eq!(after, vec![ready()]);
        assert_eq!(
            event.map(|e| (e.0, e.1)),
            Some((EventType::Normal, RECOVERED))
        );
    }
}
