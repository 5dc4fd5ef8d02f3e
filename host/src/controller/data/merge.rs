//! `dataFrom[].rewrite[].merge` (docs/eso-behaviour.md#merge-rewrite), ESO's behaviour:
//!
//! - every value must be a JSON object (or `null`, which adds nothing); they are merged at the top
//!   level only, in key order, except that the keys named in `priority` come last, in the order
//!   given (so the last one wins);
//! - a property set again by a later value is a conflict, whatever its value; with
//!   `conflictPolicy: Error` (the default) any conflict fails the merge, `Ignore` keeps the later
//!   value;
//! - a `priority` key missing from the input fails the merge under `priorityPolicy: Strict` (the
//!   default), `IgnoreNotFound` skips it;
//! - `strategy: Extract` (the default) replaces the input with one key per merged property
//!   (strings as is, other values as ESO's `GetByteValue` writes them); `JSON` keeps the input and
//!   adds the merged object, as JSON, under `into` (required).
//!
//! Errors name keys and properties, never values.

use serde_json::{Map, Value};

use crate::crd::data::{
    ExternalSecretRewriteMerge, MergeConflictPolicy, MergePriorityPolicy, MergeStrategy,
};
use crate::provider::SecretMap;
use crate::redact::Redacted;
use ampoule_gojson as gojson;

/// Why a merge failed. The texts start like ESO's; none holds a secret value.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("merge failed with key {0:?} not found in input map")]
    MissingPriorityKey(String),
    #[error("merge failed with failed to unmarshal JSON: the value of key {key:?} {problem}")]
    NotAnObject { key: String, problem: Problem },
    #[error("merge failed with conflicts: {}", .0.join(", "))]
    Conflicts(Vec<String>),
    #[error("merge failed with missing 'into' field")]
    MissingInto,
}

/// What is wrong with a value that should be a JSON object (its content is never quoted).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("is not valid JSON (unexpected end of JSON input)")]
    Truncated,
    #[error("is not valid JSON (syntax error at line {line}, column {column})")]
    Syntax { line: usize, column: usize },
    #[error("is {0}, not a JSON object")]
    NotAnObject(&'static str),
}

/// Applies one merge rule to the fetched map.
pub fn merge(rule: &ExternalSecretRewriteMerge, map: SecretMap) -> Result<SecretMap, MergeError> {
    let (merged, conflicts) = merged(rule, &map)?;
    if rule.conflict_policy == MergeConflictPolicy::Error && !conflicts.is_empty() {
        return Err(MergeError::Conflicts(conflicts));
    }
    match rule.strategy {
        MergeStrategy::Extract => Ok(merged
            .iter()
            .map(|(k, v)| (k.clone(), Redacted::new(gojson::byte_value(v))))
            .collect()),
        MergeStrategy::Json => {
            if rule.into.is_empty() {
                return Err(MergeError::MissingInto);
            }
            let json = gojson::marshal(&Value::Object(merged), false);
            let mut out = map;
            out.insert(rule.into.clone(), Redacted::new(json.into_bytes()));
            Ok(out)
        }
    }
}

/// The keys in merge order: the others sorted, then `priority` as given (duplicates and keys
/// missing from the map included, as ESO does).
fn order<'a>(rule: &'a ExternalSecretRewriteMerge, map: &'a SecretMap) -> Vec<&'a str> {
    map.keys()
        .filter(|k| !rule.priority.contains(k))
        .map(String::as_str)
        .chain(rule.priority.iter().map(String::as_str))
        .collect()
}

/// The merged object and every property that was set more than once, in the order met.
fn merged(
    rule: &ExternalSecretRewriteMerge,
    map: &SecretMap,
) -> Result<(Map<String, Value>, Vec<String>), MergeError> {
    let mut merged = Map::new();
    let mut conflicts = Vec::new();
    for key in order(rule, map) {
        let Some(value) = map.get(key) else {
            if rule.priority_policy == MergePriorityPolicy::IgnoreNotFound {
                continue;
            }
            return Err(MergeError::MissingPriorityKey(key.to_owned()));
        };
        for (property, v) in object(key, value.expose())? {
            if merged.contains_key(&property) {
                conflicts.push(property.clone());
            }
            merged.insert(property, v);
        }
    }
    Ok((merged, conflicts))
}

/// The value of `key` decoded as a JSON object; `null` is an empty one (Go leaves the map nil).
/// Bytes that are not UTF-8 become U+FFFD, as Go's decoder does inside strings.
fn object(key: &str, bytes: &[u8]) -> Result<Map<String, Value>, MergeError> {
    let fail = |problem| MergeError::NotAnObject {
        key: key.to_owned(),
        problem,
    };
    let text = String::from_utf8_lossy(bytes);
    // Only the position of a syntax error is kept: serde_json's messages may quote the input.
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        fail(if e.is_eof() {
            Problem::Truncated
        } else {
            Problem::Syntax {
                line: e.line(),
                column: e.column(),
            }
        })
    })?;
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        Value::String(_) => Err(fail(Problem::NotAnObject("a string"))),
        Value::Number(_) => Err(fail(Problem::NotAnObject("a number"))),
        Value::Bool(_) => Err(fail(Problem::NotAnObject("a boolean"))),
        Value::Array(_) => Err(fail(Problem::NotAnObject("an array"))),
    }
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
