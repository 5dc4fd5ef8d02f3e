//! Property tests (issue 17): `rewrite.merge` never panics on arbitrary values and rules, never
//! quotes a value in an error, and merges disjoint objects without conflicts.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::{MergeError, merge};
use crate::crd::data::{
    ExternalSecretRewriteMerge, MergeConflictPolicy, MergePriorityPolicy, MergeStrategy,
};
use crate::provider::SecretMap;
use crate::redact::Redacted;

fn config() -> ProptestConfig {
    // `ProptestConfig::default()` reads `PROPTEST_CASES`; without it, 256 cases.
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 256;
    }
    c
}

/// What no error may print: it only ever appears inside values.
const MARKER: &str = "s3cr3tMARKER";

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e300f64..1e300).prop_map(|f| json!(f)),
        "[a-z<>&\"\\\\ ]{0,6}".prop_map(|s| Value::String(format!("{MARKER}{s}"))),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-c]", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A fetched value: a JSON object most of the time, else anything JSON or not.
fn raw_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::btree_map("[a-e]", json_value(), 0..4)
            .prop_map(|m| serde_json::to_vec(&Value::Object(m.into_iter().collect())).unwrap_or_default()),
        1 => json_value().prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
        1 => prop::collection::vec(any::<u8>(), 0..24).prop_map(|mut b| {
            b.extend_from_slice(MARKER.as_bytes());
            b
        }),
        1 => Just(format!("{{\"a\": \"{MARKER}").into_bytes()),
    ]
}

fn input() -> impl Strategy<Value = SecretMap> {
    prop::collection::btree_map("[a-d]", raw_value(), 0..4)
        .prop_map(|m| m.into_iter().map(|(k, v)| (k, Redacted::new(v))).collect())
}

fn rule() -> impl Strategy<Value = ExternalSecretRewriteMerge> {
    (
        prop::sample::select(&["", "merged", "a"][..]),
        prop::collection::vec(prop::sample::select(&["a", "b", "z"][..]), 0..3),
        prop::sample::select(
            &[
                MergePriorityPolicy::Strict,
                MergePriorityPolicy::IgnoreNotFound,
            ][..],
        ),
        prop::sample::select(&[MergeConflictPolicy::Error, MergeConflictPolicy::Ignore][..]),
        prop::sample::select(&[MergeStrategy::Extract, MergeStrategy::Json][..]),
    )
        .prop_map(
            |(into, priority, priority_policy, conflict_policy, strategy)| {
                ExternalSecretRewriteMerge {
                    into: into.to_owned(),
                    priority: priority.into_iter().map(str::to_owned).collect(),
                    priority_policy,
                    conflict_policy,
                    strategy,
                }
            },
        )
}

proptest! {
    #![proptest_config(config())]

    /// Any values, any rule: a map or an error, and the error never holds a value.
    #[test]
    fn merge_never_panics_nor_leaks_values(map in input(), rule in rule()) {
        match merge(&rule, map) {
            Ok(out) => {
                if rule.strategy == MergeStrategy::Json {
                    let merged = out.get(&rule.into).ok_or_else(|| TestCaseError::fail("no into"))?;
                    let parsed: Result<Value, _> = serde_json::from_slice(merged.expose());
                    prop_assert!(matches!(parsed, Ok(Value::Object(_))), "into holds an object");
                }
            }
            Err(e) => {
                prop_assert!(!e.to_string().contains(MARKER), "{}", e);
                if rule.conflict_policy == MergeConflictPolicy::Ignore {
                    prop_assert!(!matches!(e, MergeError::Conflicts(_)));
                }
            }
        }
    }

    /// Objects with disjoint properties merge into their union, whatever the conflict policy.
    #[test]
    fn disjoint_objects_merge_into_their_union(
        objects in prop::collection::vec(prop::collection::btree_map("[a-z]{1,3}", json_value(), 0..4), 1..4),
        conflict_policy in prop::sample::select(&[MergeConflictPolicy::Error, MergeConflictPolicy::Ignore][..]),
    ) {
        let mut union = Map::new();
        let mut map = SecretMap::new();
        for (i, o) in objects.into_iter().enumerate() {
            // Disjoint: each object's properties get the object's index as a suffix.
            let o: Map<String, Value> = o.into_iter().map(|(k, v)| (format!("{k}{i}"), v)).collect();
            union.extend(o.clone());
            let bytes = serde_json::to_vec(&Value::Object(o)).map_err(|e| TestCaseError::fail(e.to_string()))?;
            map.insert(format!("k{i}"), Redacted::new(bytes));
        }
        let rule = ExternalSecretRewriteMerge {
            into: String::new(),
            priority: Vec::new(),
            priority_policy: MergePriorityPolicy::Strict,
            conflict_policy,
            strategy: MergeStrategy::Extract,
        };
        let out = merge(&rule, map).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let keys: Vec<&String> = out.keys().collect();
        let want: Vec<&String> = union.keys().collect();
        prop_assert_eq!(keys, want);
        for (k, v) in &union {
            if let Value::String(s) = v {
                prop_assert_eq!(out.get(k).map(|r| r.expose().as_slice()), Some(s.as_bytes()));
            }
        }
    }
}
