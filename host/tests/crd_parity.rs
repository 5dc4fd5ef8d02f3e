//! Every CRD of ESO v2.9 against Ampoule's (`tests/fixtures/eso-crds/schema.txt`, made by its
//! `make.py` from ESO's repository): for every kind and every version ESO serves, the same names,
//! scope, columns and subresources, and every field path of ESO's with the same type, required
//! and nullable flags, enum, default, format and pattern. A path Ampoule lacks would be pruned
//! silently by the apiserver, so it fails the test; so does a path ESO lacks.
//!
//! Where Ampoule differs on purpose is listed, with the reason, in
//! `tests/fixtures/eso-crds/differences.txt` (and in docs/eso-behaviour.md's differences table).
//! An entry nothing matches fails the test too, so the list stays exact.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/eso-crds")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One field of a CRD schema, as `make.py` writes it.
#[derive(Debug, Clone, Default, PartialEq)]
struct Field {
    type_: String,
    required: bool,
    nullable: bool,
    enum_: Option<Value>,
    default: Option<Value>,
    format: Option<Value>,
    pattern: Option<Value>,
    /// Ours only: the node keeps unknown fields (`x-kubernetes-preserve-unknown-fields`).
    keeps_unknown: bool,
}

/// One CRD: its `@crd` line and, per served version, path -> field.
#[derive(Debug, Default)]
struct Crd {
    line: String,
    versions: BTreeMap<String, BTreeMap<String, Field>>,
}

/// Kind -> CRD.
type Schemas = BTreeMap<String, Crd>;

/// The words after a path: `<type> [required] [nullable] [key=<json>]…`.
fn parse_field(rest: &str) -> Field {
    let (type_, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let mut field = Field {
        type_: type_.to_owned(),
        ..Field::default()
    };
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("required") {
            field.required = true;
            rest = after.trim_start();
            continue;
        }
        if let Some(after) = rest.strip_prefix("nullable") {
            field.nullable = true;
            rest = after.trim_start();
            continue;
        }
        let (key, after) = rest.split_once('=').unwrap();
        let mut values = serde_json::Deserializer::from_str(after).into_iter::<Value>();
        let value = values.next().unwrap().unwrap();
        rest = after[values.byte_offset()..].trim_start();
        let slot = match key {
            "enum" => &mut field.enum_,
            "default" => &mut field.default,
            "format" => &mut field.format,
            "pattern" => &mut field.pattern,
            other => panic!("schema.txt: unknown attribute {other}"),
        };
        *slot = Some(value);
    }
    field
}

fn esos() -> Schemas {
    let mut out = Schemas::new();
    for line in fixture("schema.txt").lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (kind, rest) = line.split_once(' ').unwrap();
        let crd = out.entry(kind.to_owned()).or_default();
        if let Some(head) = rest.strip_prefix("@crd ") {
            crd.line = head.to_owned();
            continue;
        }
        let mut words = rest.splitn(3, ' ');
        let (version, path) = (words.next().unwrap(), words.next().unwrap());
        let field = parse_field(words.next().unwrap_or_default());
        crd.versions
            .entry(version.to_owned())
            .or_default()
            .insert(path.to_owned(), field);
    }
    out
}

/// A schema node as `make.py` describes it (the same walk, over Ampoule's generated schema).
fn walk(path: &str, node: &Value, required: bool, out: &mut BTreeMap<String, Field>) {
    let keeps_unknown = node["x-kubernetes-preserve-unknown-fields"] == true;
    let mut type_ = node["type"].as_str().unwrap_or_default().to_owned();
    if keeps_unknown && type_.is_empty() {
        type_ = "any".into();
    }
    if node["x-kubernetes-int-or-string"] == true {
        type_ = "int-or-string".into();
    }
    out.insert(
        path.to_owned(),
        Field {
            type_,
            required,
            nullable: node["nullable"] == true,
            enum_: node.get("enum").cloned(),
            default: node.get("default").cloned(),
            format: node.get("format").cloned(),
            pattern: node.get("pattern").cloned(),
            keeps_unknown,
        },
    );
    let needed: BTreeSet<&str> = node["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if let Some(properties) = node["properties"].as_object() {
        for (name, child) in properties {
            let child_path = format!("{path}.{name}");
            walk(&child_path, child, needed.contains(name.as_str()), out);
        }
    }
    if node["items"].is_object() {
        walk(&format!("{path}[]"), &node["items"], false, out);
    }
    if node["additionalProperties"].is_object() {
        let values = &node["additionalProperties"];
        walk(&format!("{path}{{}}"), values, false, out);
    }
}

fn ours_of(crds: Vec<CustomResourceDefinition>) -> Schemas {
    let mut out = Schemas::new();
    for crd in crds {
        let spec = &crd.spec;
        let storage = spec.versions.iter().find(|v| v.storage).unwrap();
        let columns: Vec<String> = storage
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| format!("{}:{}:{}", c.name, c.type_, c.json_path))
            .collect();
        let served: Vec<&str> = spec
            .versions
            .iter()
            .filter(|v| v.served)
            .map(|v| v.name.as_str())
            .collect();
        let status = storage
            .subresources
            .as_ref()
            .is_some_and(|s| s.status.is_some());
        let line = format!(
            "{} {} short={} categories={} served={} status={} columns={}",
            spec.names.plural,
            spec.scope,
            spec.names.short_names.clone().unwrap_or_default().join(","),
            spec.names.categories.clone().unwrap_or_default().join(","),
            served.join(","),
            if status { "yes" } else { "no" },
            columns.join(";"),
        );
        let mut versions = BTreeMap::new();
        for version in spec.versions.iter().filter(|v| v.served) {
            let root = version
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref())
                .unwrap();
            let root = serde_json::to_value(root).unwrap();
            let root_required = root["required"].as_array().cloned().unwrap_or_default();
            let mut fields = BTreeMap::new();
            for part in ["spec", "status"] {
                if root["properties"].get(part).is_some() {
                    let required = root_required.iter().any(|r| r == part);
                    walk(part, &root["properties"][part], required, &mut fields);
                }
            }
            versions.insert(version.name.clone(), fields);
        }
        out.insert(spec.names.kind.clone(), Crd { line, versions });
    }
    out
}

/// `*` in `pattern` matches any run of characters (and `X.*` matches `X` itself too, in
/// [`compare`]).
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            text.starts_with(head)
                && (head.len()..=text.len())
                    .any(|i| text.is_char_boundary(i) && glob(tail, &text[i..]))
        }
    }
}

/// One line of `differences.txt`: `<kinds> <path> <what> -- <reason>`.
struct Difference {
    line: String,
    kinds: Vec<String>,
    path: String,
    what: String,
}

fn differences() -> Vec<Difference> {
    let mut out = Vec::new();
    for line in fixture("differences.txt").lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (entry, reason) = line
            .split_once(" -- ")
            .unwrap_or_else(|| panic!("differences.txt: no reason: {line}"));
        assert!(
            !reason.trim().is_empty(),
            "differences.txt: no reason: {line}"
        );
        let words: Vec<&str> = entry.split_whitespace().collect();
        let [kinds, path, what] = words[..] else {
            panic!("differences.txt: not `<kinds> <path> <what> -- <reason>`: {line}");
        };
        out.push(Difference {
            line: line.to_owned(),
            kinds: kinds.split(',').map(str::to_owned).collect(),
            path: path.to_owned(),
            what: what.to_owned(),
        });
    }
    out
}

/// Compares ESO's schemas with ours; returns (paths compared per kind, problems, entries of
/// `known` that matched something).
fn compare(
    eso: &Schemas,
    ours: &Schemas,
    known: &[Difference],
) -> (BTreeMap<String, usize>, Vec<String>, BTreeSet<usize>) {
    let mut used = BTreeSet::new();
    let mut allowed = |kind: &str, path: &str, what: &str| {
        let hit = known.iter().position(|d| {
            d.what == what
                && d.kinds.iter().any(|k| k == "*" || k == kind)
                && (glob(&d.path, path) || d.path.strip_suffix(".*") == Some(path))
        });
        hit.map(|i| used.insert(i)).is_some()
    };
    let mut problems = Vec::new();
    let mut compared = BTreeMap::new();
    for (kind, theirs) in eso {
        let Some(mine) = ours.get(kind) else {
            problems.push(format!("{kind}: no such CRD"));
            continue;
        };
        if theirs.line != mine.line && !allowed(kind, "@crd", "served") {
            problems.push(format!(
                "{kind}: CRD\n  ESO:  {}\n  ours: {}",
                theirs.line, mine.line
            ));
        }
        for (version, their_fields) in &theirs.versions {
            let Some(my_fields) = mine.versions.get(version) else {
                problems.push(format!("{kind} {version}: not served"));
                continue;
            };
            for (path, theirs) in their_fields {
                *compared.entry(kind.clone()).or_insert(0) += 1;
                let Some(field) = my_fields.get(path) else {
                    // Allowed only where our schema keeps the field untyped (nothing pruned).
                    let kept = my_fields
                        .iter()
                        .any(|(p, f)| f.keeps_unknown && path.starts_with(&format!("{p}.")));
                    if !(kept && allowed(kind, path, "missing")) {
                        problems.push(format!("{kind} {version} {path}: missing"));
                    }
                    continue;
                };
                let checks: [(&str, bool, String); 7] = [
                    ("type", field.type_ == theirs.type_, theirs.type_.clone()),
                    (
                        "required",
                        field.required == theirs.required,
                        theirs.required.to_string(),
                    ),
                    (
                        "nullable",
                        field.nullable == theirs.nullable,
                        theirs.nullable.to_string(),
                    ),
                    (
                        "enum",
                        field.enum_ == theirs.enum_,
                        format!("{:?}", theirs.enum_),
                    ),
                    (
                        "default",
                        field.default == theirs.default,
                        format!("{:?}", theirs.default),
                    ),
                    (
                        "format",
                        field.format == theirs.format,
                        format!("{:?}", theirs.format),
                    ),
                    (
                        "pattern",
                        field.pattern == theirs.pattern,
                        format!("{:?}", theirs.pattern),
                    ),
                ];
                for (what, same, esos) in checks {
                    if !same && !allowed(kind, path, what) {
                        problems.push(format!(
                            "{kind} {version} {path}: {what} differs (ESO: {esos}; ours: {field:?})"
                        ));
                    }
                }
            }
            for path in my_fields.keys().filter(|p| !their_fields.contains_key(*p)) {
                if !allowed(kind, path, "extra") {
                    problems.push(format!("{kind} {version} {path}: not in ESO's CRD"));
                }
            }
        }
    }
    (compared, problems, used)
}

#[test]
fn every_crd_has_esos_names_versions_and_fields() {
    let eso = esos();
    let ours = ours_of(ampoule::crd::all());
    let known = differences();
    let ours_only: Vec<&String> = ours.keys().filter(|k| !eso.contains_key(*k)).collect();
    assert_eq!(ours_only, ["ProviderClass"], "kinds ESO lacks");
    let (compared, problems, used) = compare(&eso, &ours, &known);
    let unused: Vec<&str> = (0..known.len())
        .filter(|i| !used.contains(i))
        .map(|i| known[i].line.as_str())
        .collect();
    assert!(
        unused.is_empty(),
        "differences.txt entries that match nothing:\n{}",
        unused.join("\n")
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The fixture is whole: ESO's 25 kinds (6 external-secrets.io, 19 generators) and their paths.
    assert_eq!(eso.len(), 25, "{:?}", eso.keys());
    let total: usize = compared.values().sum();
    assert!(total > 3500, "{compared:?}");
    println!("paths compared: {total} {compared:?}");
}

#[test]
fn a_missing_or_changed_field_fails_the_comparison() {
    // The comparison itself: take a field away, change a default, add one of ours, and each is
    // reported.
    let eso = esos();
    let mut crds = ampoule::crd::all();
    let es = crds
        .iter_mut()
        .find(|c| c.spec.names.kind == "ExternalSecret")
        .unwrap();
    let mut root = serde_json::to_value(&es.spec.versions[0].schema).unwrap();
    let spec = &mut root["openAPIV3Schema"]["properties"]["spec"]["properties"];
    spec["target"]["properties"]
        .as_object_mut()
        .unwrap()
        .remove("immutable");
    spec["target"]["properties"]["creationPolicy"]["default"] = Value::from("Merge");
    spec["extraField"] = serde_json::json!({"type": "string"});
    es.spec.versions[0].schema = Some(serde_json::from_value(root).unwrap());
    let (_, problems, _) = compare(&eso, &ours_of(crds), &differences());
    let problems = problems.join("\n");
    for needle in [
        "ExternalSecret v1 spec.target.immutable: missing",
        "ExternalSecret v1 spec.target.creationPolicy: default differs",
        "ExternalSecret v1 spec.extraField: not in ESO's CRD",
    ] {
        assert!(problems.contains(needle), "{needle} not in:\n{problems}");
    }
}
