//! ESO's target templates on top of [`ampoule_template`]: `templateFrom` sources with their
//! scopes (`Values`, `KeysAndValues`), targets (`Data`, `Labels`, `Annotations`) and
//! `valuesDecodingStrategy`, then `template.data`, then the label and annotation templates —
//! in ESO's order, with ESO's error wording (`runtime/template/v2/template.go`,
//! `pkg/controllers/templating/parser.go`). Also `rewrite.transform` over keys.
//!
//! Pure: the caller resolves ConfigMaps and Secrets and passes the clock and entropy in. This
//! crate runs inside the sandboxed template component (plugins/template).

mod decode;

use std::collections::BTreeMap;

use std::cell::RefCell;
use std::rc::Rc;

use ampoule_template::{Delims, Env, GoTime, Kind, Template, Value};

pub use decode::{Decoding, decode};

/// Where rendered keys go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Data,
    Labels,
    Annotations,
}

/// How a template's output is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The output is the value of the item's key.
    Values,
    /// The output is YAML holding keys and string values.
    KeysAndValues,
}

/// One template text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub key: String,
    pub text: String,
    pub scope: Scope,
}

/// One resolved `templateFrom` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub target: Target,
    pub decoding: Decoding,
    pub items: Vec<Item>,
}

/// Everything a render reads.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub data: BTreeMap<String, Vec<u8>>,
    pub sources: Vec<Source>,
    pub data_templates: BTreeMap<String, String>,
    pub label_templates: BTreeMap<String, String>,
    pub annotation_templates: BTreeMap<String, String>,
    pub delims: Delims,
    pub env: Env,
}

/// What a render produced (only the rendered keys; the caller merges fetched data).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub data: BTreeMap<String, Vec<u8>>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

impl Rendered {
    fn apply(&mut self, target: Target, key: String, value: Vec<u8>) {
        match target {
            Target::Data => {
                self.data.insert(key, value);
            }
            Target::Labels => {
                self.labels
                    .insert(key, String::from_utf8_lossy(&value).into_owned());
            }
            Target::Annotations => {
                self.annotations
                    .insert(key, String::from_utf8_lossy(&value).into_owned());
            }
        }
    }
}

/// The environment of a render from the host's inputs.
pub fn env(now_unix_nanos: i64, seed: &[u8]) -> Env {
    let mut s = [0u8; 32];
    for (d, b) in s.iter_mut().zip(seed) {
        *d = *b;
    }
    Env {
        now: GoTime::from_unix(now_unix_nanos.div_euclid(1_000_000_000))
            .add_nanos(now_unix_nanos.rem_euclid(1_000_000_000)),
        seed: s,
    }
}

/// Template data: every fetched key as a string, as ESO passes `map[string]string`. A value
/// that is not UTF-8 (a PKCS#12 keystore) stays bytes, which the binary functions accept.
fn template_data(data: &BTreeMap<String, Vec<u8>>) -> Value {
    let map = data
        .iter()
        .map(|(k, v)| (k.clone(), Value::from_bytes(v.clone())))
        .collect();
    Value::Map(Rc::new(RefCell::new(map)), Kind::Str)
}

/// ESO's `execute`: parse with the delimiters and `missingkey=error`, execute over the data.
fn execute(name: &str, text: &str, data: &Value, req: &Request) -> Result<Vec<u8>, String> {
    let tpl = Template::parse(name, text, &req.delims)
        .map_err(|e| format!("unable to parse template at key {name}: {e}"))?;
    tpl.execute(data, &req.env)
        .map(String::into_bytes)
        .map_err(|e| format!("unable to execute template at key {name}: {e}"))
}

/// ESO's `valueScopeApply`: each template renders the value of its own key.
fn values(
    items: &[(&str, &str)],
    target: Target,
    decoding: Decoding,
    data: &Value,
    req: &Request,
    out: &mut Rendered,
) -> Result<(), String> {
    for (key, text) in items {
        let val = execute(key, text, data, req)
            .map_err(|e| format!("unable to execute template at key {key}: {e}"))?;
        let val = decode(val, decoding)
            .map_err(|e| format!("failed to decode rendered template value for key {key}: {e}"))?;
        out.apply(target, (*key).to_owned(), val);
    }
    Ok(())
}

/// ESO's `mapScopeApply`: the whole text renders YAML `map[string]string`.
fn keys_and_values(
    text: &str,
    target: Target,
    decoding: Decoding,
    data: &Value,
    req: &Request,
    out: &mut Rendered,
) -> Result<(), String> {
    let val = execute(text, text, data, req)
        .map_err(|e| format!("unable to execute template at key {text}: {e}"))?;
    for (k, v) in string_map_yaml(&val)
        .map_err(|e| format!("could not unmarshal template to 'map[string][]byte': {e}"))?
    {
        let decoded = decode(v.into_bytes(), decoding)
            .map_err(|e| format!("failed to decode rendered template value for key {k}: {e}"))?;
        out.apply(target, k, decoded);
    }
    Ok(())
}

/// Reads YAML (or JSON) as a map of strings, as Go's `yaml.Unmarshal` into `map[string]string`
/// does: an empty document is an empty map, a non-string value is an error.
fn string_map_yaml(bytes: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let text = String::from_utf8_lossy(bytes);
    if text.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let parsed: serde_json::Value =
        serde_norway::from_str(&text).map_err(|e| format!("error converting YAML to JSON: {e}"))?;
    match parsed {
        serde_json::Value::Null => Ok(BTreeMap::new()),
        serde_json::Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => Ok((k, s)),
                serde_json::Value::Null => Ok((k, String::new())),
                other => Err(format!(
                    "json: cannot unmarshal {} into Go value of type string",
                    json_kind(&other)
                )),
            })
            .collect(),
        other => Err(format!(
            "json: cannot unmarshal {} into Go value of type map[string]string",
            json_kind(&other)
        )),
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// Renders a target template in ESO's order: templateFrom sources, `template.data`, labels,
/// annotations. Errors carry ESO's wording (`error fetching templateFrom data: …`,
/// `could not execute template: …`).
pub fn render(req: &Request) -> Result<Rendered, String> {
    let data = template_data(&req.data);
    let mut out = Rendered::default();
    for source in &req.sources {
        for item in &source.items {
            let done = match item.scope {
                Scope::Values => values(
                    &[(item.key.as_str(), item.text.as_str())],
                    source.target,
                    source.decoding,
                    &data,
                    req,
                    &mut out,
                ),
                Scope::KeysAndValues => keys_and_values(
                    &item.text,
                    source.target,
                    source.decoding,
                    &data,
                    req,
                    &mut out,
                ),
            };
            done.map_err(|e| format!("error fetching templateFrom data: {e}"))?;
        }
    }
    for (templates, target) in [
        (&req.data_templates, Target::Data),
        (&req.label_templates, Target::Labels),
        (&req.annotation_templates, Target::Annotations),
    ] {
        let items: Vec<(&str, &str)> = templates
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        values(&items, target, Decoding::None, &data, req, &mut out)
            .map_err(|e| format!("could not execute template: could not execute template: {e}"))?;
    }
    Ok(out)
}

/// `rewrite.transform`: each key rendered through `template` with `.value` = the key.
pub fn rewrite_keys(template: &str, keys: &[String], env: &Env) -> Result<Vec<String>, String> {
    let tpl = Template::parse("transform", template, &Delims::default())
        .map_err(|e| format!("transform failed with failed to parse template: {e}"))?;
    keys.iter()
        .map(|key| {
            tpl.execute(&Value::string_map([("value", key.as_str())]), env)
                .map_err(|e| {
                    format!("transform failed with failed to execute template for key {key:?}: {e}")
                })
        })
        .collect()
}

#[cfg(test)]
mod tests;
