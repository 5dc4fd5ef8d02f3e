//! sprig conversions, defaults, reflection and JSON.

use std::fmt::Write as _;

use super::{Func, Ty, f, s, strval, to_float64, to_int64, v};
use crate::gofmt::to_v;
use crate::value::Value;

pub fn lookup(name: &str) -> Option<Func> {
    use Ty::{Any, Bool, Str};
    Some(match name {
        "toString" => f(&[Any], |_, a| Ok(Value::String(strval(&a[0])))),
        "atoi" => f(&[Str], |_, a| {
            Ok(Value::Int(s(&a[0]).parse::<i64>().unwrap_or(0)))
        }),
        "int64" => f(&[Any], |_, a| Ok(Value::Int64(to_int64(&a[0])))),
        "int" => f(&[Any], |_, a| Ok(Value::Int(to_int64(&a[0])))),
        "float64" => f(&[Any], |_, a| Ok(Value::Float(to_float64(&a[0])))),
        "toDecimal" => f(&[Any], |_, a| {
            Ok(Value::Int64(
                i64::from_str_radix(&to_v(&a[0]), 8).unwrap_or(0),
            ))
        }),
        "default" => v(&[Any], Any, |_, a| {
            Ok(if a.len() < 2 || empty(&a[1]) {
                a[0].clone()
            } else {
                a[1].clone()
            })
        }),
        "empty" => f(&[Any], |_, a| Ok(Value::Bool(empty(&a[0])))),
        "coalesce" => v(&[], Any, |_, a| {
            Ok(a.iter().find(|x| !empty(x)).cloned().unwrap_or(Value::Nil))
        }),
        "all" => v(&[], Any, |_, a| {
            Ok(Value::Bool(a.iter().all(|x| !empty(x))))
        }),
        "any" => v(&[], Any, |_, a| {
            Ok(Value::Bool(a.iter().any(|x| !empty(x))))
        }),
        "ternary" => f(&[Any, Any, Bool], |_, a| {
            Ok(if a[2] == Value::Bool(true) {
                a[0].clone()
            } else {
                a[1].clone()
            })
        }),
        "fail" => f(&[Str], |_, a| Err(s(&a[0]).to_string())),
        "deepCopy" | "mustDeepCopy" => f(&[Any], |_, a| Ok(a[0].deep_copy())),
        "typeOf" => f(&[Any], |_, a| Ok(Value::String(a[0].type_name().into()))),
        "typeIs" => f(&[Str, Any], |_, a| {
            Ok(Value::Bool(s(&a[0]) == a[1].type_name()))
        }),
        "typeIsLike" => f(&[Str, Any], |_, a| {
            let t = a[1].type_name();
            Ok(Value::Bool(s(&a[0]) == t || format!("*{}", s(&a[0])) == t))
        }),
        "kindOf" => f(&[Any], |_, a| Ok(Value::String(a[0].kind_name().into()))),
        "kindIs" => f(&[Str, Any], |_, a| {
            Ok(Value::Bool(s(&a[0]) == a[1].kind_name()))
        }),
        "deepEqual" => f(&[Any, Any], |_, a| {
            Ok(Value::Bool(deep_equal(&a[0], &a[1])))
        }),
        "fromJson" => f(&[Str], |_, a| Ok(from_json(s(&a[0])).unwrap_or(Value::Nil))),
        "mustFromJson" => f(&[Str], |_, a| from_json(s(&a[0]))),
        "toJson" => f(&[Any], |_, a| {
            Ok(Value::String(
                to_json(&a[0], true, None).unwrap_or_default(),
            ))
        }),
        "mustToJson" => f(&[Any], |_, a| to_json(&a[0], true, None).map(Value::String)),
        "toPrettyJson" => f(&[Any], |_, a| {
            Ok(Value::String(
                to_json(&a[0], true, Some(0)).unwrap_or_default(),
            ))
        }),
        "mustToPrettyJson" => f(&[Any], |_, a| {
            to_json(&a[0], true, Some(0)).map(Value::String)
        }),
        "toRawJson" | "mustToRawJson" => f(&[Any], |_, a| {
            to_json(&a[0], false, None).map(Value::String)
        }),
        _ => return None,
    })
}

/// sprig's `empty`.
pub fn empty(v: &Value) -> bool {
    match v {
        Value::Time(_) => false,
        other => !other.truthy(),
    }
}

fn deep_equal(a: &Value, b: &Value) -> bool {
    if a.type_name() != b.type_name() {
        return false;
    }
    match (a, b) {
        (Value::List(x, _), Value::List(y, _)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| deep_equal(p, q))
        }
        (Value::Map(x, _), Value::Map(y, _)) => {
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len()
                && x.iter()
                    .all(|(k, p)| y.get(k).is_some_and(|q| deep_equal(p, q)))
        }
        (Value::Float(x), Value::Float(y)) => x == y,
        _ => a == b,
    }
}

fn from_json(s: &str) -> Result<Value, String> {
    serde_json::from_str::<serde_json::Value>(s)
        .map(|j| Value::from_json(&j))
        .map_err(|e| e.to_string())
}

/// `encoding/json` float formatting.
pub fn json_float(f: f64) -> Result<String, String> {
    ampoule_gojson::float(f)
        .ok_or_else(|| format!("json: unsupported value: {}", crate::gofmt::float_v(f)))
}

fn json_str(out: &mut String, s: &str, html: bool) {
    ampoule_gojson::write_string(out, s, html);
}

/// `json.Marshal` (`indent: Some(depth)` = `MarshalIndent(v, "", "  ")`).
pub fn to_json(v: &Value, html: bool, indent: Option<usize>) -> Result<String, String> {
    let mut out = String::new();
    write_json(&mut out, v, html, indent)?;
    Ok(out)
}

fn write_json(
    out: &mut String,
    v: &Value,
    html: bool,
    indent: Option<usize>,
) -> Result<(), String> {
    let nl = |out: &mut String, d: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(d));
    };
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&json_float(*f)?),
        Value::String(s) => json_str(out, s, html),
        Value::Bytes(b) => json_str(out, &super::b64_std(b), html),
        Value::Time(t) => json_str(out, &t.rfc3339_nano(), html),
        Value::Uint64(u) => {
            let _ = write!(out, "{u}");
        }
        Value::Object(o) => match o.json_fields() {
            // A struct: its exported fields in declaration order (here also sorted).
            Some(fields) => {
                let m = fields
                    .iter()
                    .map(|(k, x)| ((*k).to_string(), Value::str(*x)))
                    .collect();
                write_json(out, &Value::map(m), html, indent)?;
            }
            // A `json.Marshaler` writing its string.
            None => json_str(out, &crate::gofmt::to_v(v), html),
        },
        Value::List(l, _) => {
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if let Some(d) = indent {
                    nl(out, d + 1);
                }
                write_json(out, x, html, indent.map(|d| d + 1))?;
            }
            if let (Some(d), false) = (indent, l.is_empty()) {
                nl(out, d);
            }
            out.push(']');
        }
        Value::Map(m, _) => {
            out.push('{');
            let m = m.borrow();
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if let Some(d) = indent {
                    nl(out, d + 1);
                }
                json_str(out, k, html);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write_json(out, x, html, indent.map(|d| d + 1))?;
            }
            if let (Some(d), false) = (indent, m.is_empty()) {
                nl(out, d);
            }
            out.push('}');
        }
    }
    Ok(())
}
