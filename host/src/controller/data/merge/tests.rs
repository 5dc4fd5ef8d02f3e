use std::collections::BTreeMap;

use super::{MergeError, Problem, merge};
use crate::crd::data::{
    ExternalSecretRewriteMerge, MergeConflictPolicy, MergePriorityPolicy, MergeStrategy,
};
use crate::provider::SecretMap;
use crate::redact::Redacted;

fn input(pairs: &[(&str, &str)]) -> SecretMap {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Redacted::new(v.as_bytes().to_vec())))
        .collect()
}

fn text(map: &SecretMap) -> BTreeMap<String, String> {
    map.iter()
        .map(|(k, v)| (k.clone(), String::from_utf8(v.expose().clone()).unwrap()))
        .collect()
}

fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn rule(
    strategy: MergeStrategy,
    conflicts: MergeConflictPolicy,
    priority: &[&str],
    priority_policy: MergePriorityPolicy,
) -> ExternalSecretRewriteMerge {
    ExternalSecretRewriteMerge {
        into: String::new(),
        priority: priority.iter().map(|p| p.to_string()).collect(),
        priority_policy,
        conflict_policy: conflicts,
        strategy,
    }
}

fn ignoring(priority: &[&str]) -> ExternalSecretRewriteMerge {
    rule(
        MergeStrategy::Extract,
        MergeConflictPolicy::Ignore,
        priority,
        MergePriorityPolicy::Strict,
    )
}

fn json_into(into: &str) -> ExternalSecretRewriteMerge {
    ExternalSecretRewriteMerge {
        into: into.into(),
        strategy: MergeStrategy::Json,
        ..Default::default()
    }
}

const MONGO: &str = r#"{"username": "foz", "password": "baz"}"#;
const REDIS: &str = r#"{"host": "redis.example.com", "port": "6379"}"#;
const OTHER: &str = r#"{"key": "value", "host": "other.example.com"}"#;

#[test]
fn defaults_extract_every_property_into_its_own_key() {
    let defaults: ExternalSecretRewriteMerge = serde_json::from_str("{}").unwrap();
    assert_eq!(defaults.strategy, MergeStrategy::Extract);
    assert_eq!(defaults.conflict_policy, MergeConflictPolicy::Error);
    assert_eq!(defaults.priority_policy, MergePriorityPolicy::Strict);
    let out = merge(
        &defaults,
        input(&[("mongo-credentials", MONGO), ("redis-credentials", REDIS)]),
    )
    .unwrap();
    assert_eq!(
        text(&out),
        expect(&[
            ("host", "redis.example.com"),
            ("password", "baz"),
            ("port", "6379"),
            ("username", "foz"),
        ]),
        "the input keys are replaced by the merged properties"
    );
}

#[test]
fn sorted_keys_merge_first_and_priority_keys_last_in_their_order() {
    let map = input(&[
        ("mongo-credentials", MONGO),
        ("other-credentials", OTHER),
        ("redis-credentials", REDIS),
    ]);
    // Without priority: sorted order, so redis (last) wins `host`.
    let out = merge(&ignoring(&[]), map.clone()).unwrap();
    assert_eq!(text(&out)["host"], "redis.example.com");
    // `other` is moved behind the sorted keys: it wins.
    let out = merge(&ignoring(&["other-credentials"]), map.clone()).unwrap();
    assert_eq!(text(&out)["host"], "other.example.com");
    // Priority keys keep the order given: the last one listed wins.
    let out = merge(
        &ignoring(&["other-credentials", "redis-credentials"]),
        map.clone(),
    )
    .unwrap();
    assert_eq!(
        text(&out),
        expect(&[
            ("host", "redis.example.com"),
            ("key", "value"),
            ("password", "baz"),
            ("port", "6379"),
            ("username", "foz"),
        ])
    );
    let out = merge(&ignoring(&["redis-credentials", "other-credentials"]), map).unwrap();
    assert_eq!(text(&out)["host"], "other.example.com");
}

#[test]
fn a_missing_priority_key_fails_when_strict_and_is_skipped_otherwise() {
    let map = input(&[("mongo-credentials", MONGO), ("redis-credentials", REDIS)]);
    let strict = ignoring(&["non-existent-key", "mongo-credentials"]);
    let err = merge(&strict, map.clone()).unwrap_err();
    assert_eq!(
        err,
        MergeError::MissingPriorityKey("non-existent-key".into())
    );
    assert_eq!(
        err.to_string(),
        r#"merge failed with key "non-existent-key" not found in input map"#
    );
    let lenient = rule(
        MergeStrategy::Extract,
        MergeConflictPolicy::Ignore,
        &["non-existent-key", "mongo-credentials"],
        MergePriorityPolicy::IgnoreNotFound,
    );
    assert_eq!(merge(&lenient, map).unwrap().len(), 4);
}

#[test]
fn any_property_set_twice_is_a_conflict_even_with_the_same_value() {
    let strict = rule(
        MergeStrategy::Extract,
        MergeConflictPolicy::Error,
        &[],
        MergePriorityPolicy::Strict,
    );
    let map = input(&[
        ("a", r#"{"user": "x", "host": "h"}"#),
        ("b", r#"{"user": "y", "host": "h", "port": 1}"#),
        ("c", r#"{"user": "z"}"#),
    ]);
    let err = merge(&strict, map.clone()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "merge failed with conflicts: host, user, user",
        "every re-set is listed, in merge order"
    );
    // Ignore: the later value wins.
    let out = merge(&ignoring(&[]), map).unwrap();
    assert_eq!(
        text(&out),
        expect(&[("host", "h"), ("port", "1"), ("user", "z")])
    );
    // Duplicate properties inside one value are not a conflict (the last one counts).
    let out = merge(&strict, input(&[("a", r#"{"k": "1", "k": "2"}"#)])).unwrap();
    assert_eq!(text(&out), expect(&[("k", "2")]));
    // A priority key listed twice is merged twice: its properties conflict with themselves.
    let twice = rule(
        MergeStrategy::Extract,
        MergeConflictPolicy::Error,
        &["a", "a"],
        MergePriorityPolicy::Strict,
    );
    assert_eq!(
        merge(&twice, input(&[("a", r#"{"k": "v"}"#)])).unwrap_err(),
        MergeError::Conflicts(vec!["k".into()])
    );
}

#[test]
fn only_the_top_level_is_merged() {
    let map = input(&[
        ("a", r#"{"db": {"user": "u"}}"#),
        ("b", r#"{"db": {"pass": "p"}}"#),
    ]);
    let out = merge(&ignoring(&[]), map.clone()).unwrap();
    assert_eq!(
        text(&out),
        expect(&[("db", r#"{"pass":"p"}"#)]),
        "a nested object is replaced, not merged"
    );
    assert_eq!(
        merge(&ExternalSecretRewriteMerge::default(), map).unwrap_err(),
        MergeError::Conflicts(vec!["db".into()])
    );
}

#[test]
fn extract_writes_values_like_eso_get_byte_value() {
    let out = merge(
        &ExternalSecretRewriteMerge::default(),
        input(&[(
            "k",
            r#"{"s": "a<b>&c", "int": 123, "float": 1.50, "big": 1e21, "small": 0.0000001,
                "huge": 12345678901234567890, "neg": -0.0, "t": true, "f": false, "null": null,
                "obj": {"z": 1, "a": "<&>", "n": [1.0, "x", null]}, "arr": [2, {"b": 1e21}],
                "esc": "tab\tline\u2028"}"#,
        )]),
    )
    .unwrap();
    assert_eq!(
        text(&out),
        expect(&[
            ("arr", r#"[2,{"b":1e+21}]"#),
            ("big", "1000000000000000000000"),
            ("esc", "tab\tline\u{2028}"),
            ("f", "false"),
            ("float", "1.5"),
            ("huge", "12345678901234567000"),
            ("int", "123"),
            ("neg", "-0"),
            ("null", ""),
            (
                "obj",
                r#"{"a":"\u003c\u0026\u003e","n":[1,"x",null],"z":1}"#
            ),
            ("s", "a<b>&c"),
            ("small", "0.0000001"),
            ("t", "true"),
        ]),
        "strings raw, numbers as float64 in plain decimal, objects as json.Marshal (HTML escaped)"
    );
}

#[test]
fn json_keeps_the_input_and_adds_the_merged_object_under_into() {
    let map = input(&[("mongo-credentials", MONGO), ("redis-credentials", REDIS)]);
    let out = merge(&json_into("credentials"), map).unwrap();
    assert_eq!(
        text(&out),
        expect(&[
            (
                "credentials",
                r#"{"host":"redis.example.com","password":"baz","port":"6379","username":"foz"}"#
            ),
            ("mongo-credentials", MONGO),
            ("redis-credentials", REDIS),
        ])
    );
    // Go's encoder without HTML escaping: `<>&` kept, control characters and U+2028 escaped,
    // numbers as float64.
    let out = merge(
        &json_into("merged"),
        input(&[(
            "a",
            "{\"s\": \"<&>\\u0001\\b\\f\\n\\u2028\\\"\\\\/\", \"n\": [1e21, 1e-7, 0.000001, 100, 2.50]}",
        )]),
    )
    .unwrap();
    assert_eq!(
        text(&out)["merged"],
        r#"{"n":[1e+21,1e-7,0.000001,100,2.5],"s":"<&>\u0001\b\f\n\u2028\"\\/"}"#
    );
    // `into` replaces an input key of the same name.
    let out = merge(&json_into("a"), input(&[("a", r#"{"k": 1}"#)])).unwrap();
    assert_eq!(text(&out), expect(&[("a", r#"{"k":1}"#)]));
    // Nothing to merge: an empty object.
    let out = merge(&json_into("merged"), SecretMap::new()).unwrap();
    assert_eq!(text(&out), expect(&[("merged", "{}")]));
}

#[test]
fn json_needs_into_and_checks_conflicts_first() {
    let map = input(&[("mongo-credentials", MONGO), ("redis-credentials", REDIS)]);
    let err = merge(&json_into(""), map).unwrap_err();
    assert_eq!(err.to_string(), "merge failed with missing 'into' field");
    let conflicting = input(&[("a", r#"{"k": 1}"#), ("b", r#"{"k": 2}"#)]);
    assert_eq!(
        merge(&json_into(""), conflicting.clone()).unwrap_err(),
        MergeError::Conflicts(vec!["k".into()])
    );
    let ignore = ExternalSecretRewriteMerge {
        conflict_policy: MergeConflictPolicy::Ignore,
        ..json_into("out")
    };
    assert_eq!(
        text(&merge(&ignore, conflicting).unwrap())["out"],
        r#"{"k":2}"#
    );
}

#[test]
fn values_that_are_not_json_objects_fail_without_quoting_them() {
    let cases = [
        (r#""hunter2""#, Problem::NotAnObject("a string")),
        ("[\"hunter2\"]", Problem::NotAnObject("an array")),
        ("42", Problem::NotAnObject("a number")),
        ("true", Problem::NotAnObject("a boolean")),
        ("hunter2", Problem::Syntax { line: 1, column: 1 }),
        (
            "{\"user\": \"hunter2\",\n \"pass\" hunter2}",
            Problem::Syntax { line: 2, column: 9 },
        ),
        (r#"{"user": "hunter2""#, Problem::Truncated),
        ("", Problem::Truncated),
    ];
    for (value, problem) in cases {
        let err = merge(
            &ExternalSecretRewriteMerge::default(),
            input(&[("db", value), ("ok", r#"{"a": "b"}"#)]),
        )
        .unwrap_err();
        assert_eq!(
            err,
            MergeError::NotAnObject {
                key: "db".into(),
                problem
            },
            "{value}"
        );
        let message = err.to_string();
        assert!(
            message.starts_with(
                "merge failed with failed to unmarshal JSON: the value of key \"db\" is"
            ),
            "{message}"
        );
        assert!(!message.contains("hunter2"), "{message}");
        assert!(!format!("{err:?}").contains("hunter2"));
    }
}

#[test]
fn null_adds_nothing_and_invalid_utf8_becomes_the_replacement_character() {
    let map: SecretMap = [
        ("a".to_string(), Redacted::new(b" null ".to_vec())),
        (
            "b".to_string(),
            Redacted::new(b"{\"k\": \"x\xffy\"}".to_vec()),
        ),
    ]
    .into_iter()
    .collect();
    let out = merge(&ExternalSecretRewriteMerge::default(), map).unwrap();
    assert_eq!(text(&out), expect(&[("k", "x\u{fffd}y")]));
}

#[test]
fn merges_chain_like_esos_double_merge() {
    // JSON into `merged` (a wins `host`), then Extract with `b` last.
    let map = input(&[
        ("a", r#"{"host": "dba", "pass": "yola", "port": 123}"#),
        ("b", r#"{"host": "dbb", "pass": "yolb"}"#),
    ]);
    let first = ExternalSecretRewriteMerge {
        priority: vec!["a".into()],
        conflict_policy: MergeConflictPolicy::Ignore,
        ..json_into("merged")
    };
    let out = merge(&first, map).unwrap();
    assert_eq!(
        text(&out)["merged"],
        r#"{"host":"dba","pass":"yola","port":123}"#
    );
    let out = merge(&ignoring(&["b"]), out).unwrap();
    assert_eq!(
        text(&out),
        expect(&[("host", "dbb"), ("pass", "yolb"), ("port", "123")])
    );
}
