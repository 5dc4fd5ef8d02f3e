//! Shared by the conformance tests: the case format, the Go oracle (built on demand) and
//! the comparison of both engines' results.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use ampoule_template::{Delims, Env, GoTime, Template, Value};
use serde_json::{Value as J, json};

/// The fixed clock every case runs at unless it says otherwise.
pub const DEFAULT_NOW: &str = "2024-05-06T07:08:09Z";

#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub template: String,
    pub data: J,
    pub string_data: bool,
    pub now: String,
    pub seed: String,
    pub left: String,
    pub right: String,
    /// Compare error texts exactly (default) or only that both failed.
    pub exact_error: bool,
}

impl Case {
    /// A case is a template string, or an object with `template` and optional `name`, `data`,
    /// `string_data`, `now`, `seed`, `left`, `right`, `error: "any"`; `defaults` fills gaps.
    pub fn from_json(v: &J, defaults: &J, fallback_name: String) -> Case {
        let v = match v {
            J::String(t) => &json!({ "template": t }),
            other => other,
        };
        let get = |k: &str| v.get(k).or_else(|| defaults.get(k));
        let s = |k: &str| get(k).and_then(J::as_str).unwrap_or("").to_string();
        let name = s("name");
        Case {
            name: if name.is_empty() { fallback_name } else { name },
            template: s("template"),
            data: get("data").cloned().unwrap_or(J::Null),
            string_data: get("string_data").and_then(J::as_bool).unwrap_or(false),
            now: get("now")
                .and_then(J::as_str)
                .unwrap_or(DEFAULT_NOW)
                .to_string(),
            seed: s("seed"),
            left: s("left"),
            right: s("right"),
            exact_error: get("error").and_then(J::as_str) != Some("any"),
        }
    }

    /// Loads every `tests/cases/*.json` file: `{ "defaults": {..}, "cases": [..] }`.
    pub fn load_all() -> Vec<Case> {
        let dir =
            std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default())
                .join("tests/cases");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("cases dir")
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        let mut out = vec![];
        for f in files {
            let doc: J = serde_json::from_slice(&std::fs::read(&f).expect("read cases"))
                .expect("cases JSON");
            let stem = f
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("case")
                .to_string();
            let defaults = doc.get("defaults").cloned().unwrap_or(J::Null);
            for (i, c) in doc
                .get("cases")
                .and_then(J::as_array)
                .expect("cases array")
                .iter()
                .enumerate()
            {
                out.push(Case::from_json(c, &defaults, format!("{stem}-{i}")));
            }
        }
        out
    }

    fn to_oracle_json(&self) -> J {
        json!({
            "name": self.name, "template": self.template, "data": self.data, "string_data": self.string_data,
            "now": self.now, "seed": self.seed, "left": self.left, "right": self.right,
        })
    }

    pub fn render_rust(&self) -> Result<String, String> {
        let data = if self.string_data {
            let m = self.data.as_object().cloned().unwrap_or_default();
            Value::string_map(
                m.into_iter()
                    .map(|(k, v)| (k, v.as_str().unwrap_or("").to_string())),
            )
        } else {
            Value::from_json(&self.data)
        };
        let mut seed = [0u8; 32];
        let hex = self.seed.as_bytes();
        for (i, b) in seed.iter_mut().enumerate() {
            if let Some(pair) = hex.get(2 * i..2 * i + 2) {
                *b = u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap_or(0);
            }
        }
        let env = Env {
            now: GoTime::parse_rfc3339(&self.now).expect("bad now"),
            seed,
        };
        let delims = Delims {
            left: if self.left.is_empty() {
                "{{".into()
            } else {
                self.left.clone()
            },
            right: if self.right.is_empty() {
                "}}".into()
            } else {
                self.right.clone()
            },
        };
        let name = if self.name.is_empty() {
            "t"
        } else {
            &self.name
        };
        Template::parse(name, &self.template, &delims)
            .and_then(|t| t.execute(&data, &env))
            .map_err(|e| e.to_string())
    }
}

/// Builds the oracle (`tests/template-oracle`) once per change of its sources. Fails the test
/// when `go` is missing: the suite must never silently pass.
pub fn oracle() -> PathBuf {
    ground::go_oracle("template-oracle")
}

/// Renders all cases through the oracle in one process.
pub fn run_oracle(cases: &[Case]) -> Vec<Result<String, String>> {
    let input = J::Array(cases.iter().map(Case::to_oracle_json).collect());
    let mut child = Command::new(oracle())
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn oracle");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write cases");
    let out = child.wait_with_output().expect("oracle output");
    assert!(out.status.success(), "oracle failed");
    let results: Vec<J> = serde_json::from_slice(&out.stdout).expect("oracle JSON");
    results
        .iter()
        .map(|r| {
            match (
                r.get("output").and_then(J::as_str),
                r.get("error").and_then(J::as_str),
            ) {
                (Some(o), _) => Ok(o.to_string()),
                (_, Some(e)) => Err(e.to_string()),
                _ => Ok(String::new()),
            }
        })
        .collect()
}

/// Compares one case; `None` when both engines agree.
pub fn compare(
    case: &Case,
    go: &Result<String, String>,
    rust: &Result<String, String>,
) -> Option<String> {
    let same = match (go, rust) {
        (Ok(a), Ok(b)) => a == b,
        (Err(a), Err(b)) => !case.exact_error || a == b,
        _ => false,
    };
    (!same).then(|| {
        format!(
            "case {:?} template {:?}\n   go:   {go:?}\n   rust: {rust:?}",
            case.name, case.template
        )
    })
}

/// Parses certificates with Go's `crypto/x509` through the oracle's `-inspect` mode:
/// `inputs` is a JSON array of `{cert, parent}` PEM texts; one JSON object per input.
pub fn inspect_certs(inputs: &J) -> Vec<J> {
    let mut child = Command::new(oracle())
        .arg("-inspect")
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn oracle");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(inputs.to_string().as_bytes())
        .expect("write certificates");
    let out = child.wait_with_output().expect("oracle output");
    assert!(out.status.success(), "oracle -inspect failed");
    serde_json::from_slice(&out.stdout).expect("inspect JSON")
}
