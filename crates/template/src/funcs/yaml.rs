//! ESO's `toYaml` / `fromYaml` (sigs.k8s.io/yaml: through JSON, emitted in go-yaml v2 style).

use std::collections::BTreeMap;

use super::{Func, Ty, f, s};
use crate::value::Value;

pub fn lookup(name: &str) -> Option<Func> {
    Some(match name {
        "toYaml" => f(&[Ty::Any], |_, a| {
            Ok(Value::String(
                to_yaml(&a[0]).trim_end_matches('\n').to_string(),
            ))
        }),
        "fromYaml" => f(&[Ty::Str], |_, a| Ok(from_yaml(s(&a[0])))),
        _ => return None,
    })
}

fn from_yaml(text: &str) -> Value {
    match serde_norway::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(o)) => Value::from_json(&serde_json::Value::Object(o)),
        Ok(serde_json::Value::Null) => Value::map(BTreeMap::new()),
        Ok(other) => {
            let mut m = BTreeMap::new();
            m.insert(
                "Error".into(),
                Value::String(format!(
                    "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                    json_kind(&other)
                )),
            );
            Value::map(m)
        }
        Err(e) => {
            let mut m = BTreeMap::new();
            m.insert(
                "Error".into(),
                Value::String(format!("error converting YAML to JSON: {e}")),
            );
            Value::map(m)
        }
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Array(_) => "array",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::Bool(_) => "bool",
        _ => "object",
    }
}

/// Marshals as JSON would (so numbers, times and bytes take their JSON form), then emits YAML.
pub fn to_yaml(v: &Value) -> String {
    let Ok(json) = super::conv::to_json(v, false, None) else {
        return String::new();
    };
    let Ok(j) = serde_json::from_str::<serde_json::Value>(&json) else {
        return String::new();
    };
    let mut out = String::new();
    emit(&mut out, &j, 0, false);
    out
}

fn scalar(v: &serde_json::Value) -> Option<String> {
    Some(match v {
        serde_json::Value::Null => "null".into(),
        serde_json::Value::Bool(b) => b.to_string(),
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => {
                let g = crate::gofmt::float_g(f, None, false);
                if f.fract() == 0.0 && !g.contains('e') {
                    g.to_string()
                } else {
                    g
                }
            }
            _ => n.to_string(),
        },
        serde_json::Value::String(s) => yaml_str(s),
        _ => return None,
    })
}

fn needs_quotes(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    let lower = s.to_ascii_lowercase();
    let special = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", ".inf", "-.inf", ".nan",
    ];
    if special.contains(&lower.as_str())
        || s.parse::<f64>().is_ok()
        || super::parse_int0(s).is_some()
    {
        return true;
    }
    let first = s.as_bytes()[0];
    b"-?:,[]{}#&*!|>'\"%@`".contains(&first)
        && !(first == b'-' && s.len() > 1 && s.as_bytes()[1] != b' ')
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.starts_with(' ')
        || s.ends_with(' ')
        || s.chars().any(|c| c.is_control() && c != '\n')
}

fn yaml_str(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let resolves = [
        "true", "false", "null", "~", "yes", "no", "on", "off", "y", "n",
    ]
    .contains(&lower.as_str())
        || s.parse::<f64>().is_ok()
        || s.is_empty();
    if resolves || s.chars().any(|c| c.is_control() && c != '\n') {
        return crate::gofmt::quote(s);
    }
    if needs_quotes(s) {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        s.to_string()
    }
}

fn emit(out: &mut String, v: &serde_json::Value, indent: usize, in_seq: bool) {
    let pad = " ".repeat(indent);
    match v {
        serde_json::Value::Object(o) if !o.is_empty() => {
            for (i, (k, x)) in o.iter().enumerate() {
                if !(in_seq && i == 0) {
                    out.push_str(&pad);
                }
                out.push_str(&yaml_str(k));
                out.push(':');
                emit_value(out, x, indent);
            }
        }
        serde_json::Value::Array(a) if !a.is_empty() => {
            for (i, x) in a.iter().enumerate() {
                if !(in_seq && i == 0) {
                    out.push_str(&pad);
                }
                out.push_str("- ");
                match x {
                    serde_json::Value::Object(o) if !o.is_empty() => emit(out, x, indent + 2, true),
                    serde_json::Value::Array(a) if !a.is_empty() => emit(out, x, indent + 2, true),
                    _ => {
                        out.push_str(&inline(x));
                        out.push('\n');
                    }
                }
            }
        }
        other => {
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
}

fn inline(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(_) => "{}".into(),
        serde_json::Value::Array(_) => "[]".into(),
        serde_json::Value::String(s) if s.contains('\n') => crate::gofmt::quote(s),
        other => scalar(other).unwrap_or_default(),
    }
}

fn emit_value(out: &mut String, x: &serde_json::Value, indent: usize) {
    match x {
        serde_json::Value::Object(o) if !o.is_empty() => {
            out.push('\n');
            emit(out, x, indent + 2, false);
        }
        serde_json::Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            emit(out, x, indent, false);
        }
        serde_json::Value::String(s)
            if s.contains('\n') && !s.chars().any(|c| c.is_control() && c != '\n') =>
        {
            let chomp = if s.ends_with('\n') {
                if s.ends_with("\n\n") { "+" } else { "" }
            } else {
                "-"
            };
            out.push_str(&format!(" |{chomp}\n"));
            let body = s.strip_suffix('\n').unwrap_or(s);
            for line in body.split('\n') {
                if !line.is_empty() {
                    out.push_str(&" ".repeat(indent + 2));
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
        other => {
            out.push(' ');
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
}
