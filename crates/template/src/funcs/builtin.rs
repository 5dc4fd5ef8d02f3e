//! Go `text/template` builtins: `and or not len index print printf println html js urlquery eq ne lt le gt ge`.

use std::fmt::Write as _;

use super::{Func, Ty, f, v};
use crate::gofmt::{sprint, sprintf, sprintln, to_v};
use crate::value::Value;

pub fn lookup(name: &str) -> Option<Func> {
    Some(match name {
        "and" | "or" => Func {
            params: &[Ty::Refl],
            variadic: Some(Ty::Refl),
            short_circuit: true,
            call: |_, _| Ok(Value::Nil),
        },
        "not" => f(&[Ty::Refl], |_, a| Ok(Value::Bool(!a[0].truthy()))),
        "len" => f(&[Ty::Refl], |_, a| length(&a[0])),
        "index" => v(&[Ty::Refl], Ty::Refl, |_, a| index(&a[0], &a[1..])),
        "print" => v(&[], Ty::Any, |_, a| Ok(Value::String(sprint(&a)))),
        "println" => v(&[], Ty::Any, |_, a| Ok(Value::String(sprintln(&a)))),
        "printf" => v(&[Ty::Str], Ty::Any, |_, a| {
            Ok(Value::String(sprintf(super::s(&a[0]), &a[1..])))
        }),
        "html" => v(&[], Ty::Any, |_, a| Ok(Value::String(html(&eval_args(&a))))),
        "js" => v(&[], Ty::Any, |_, a| Ok(Value::String(js(&eval_args(&a))))),
        "urlquery" => v(&[], Ty::Any, |_, a| {
            Ok(Value::String(query_escape(&eval_args(&a))))
        }),
        "call" => v(&[Ty::Refl], Ty::Refl, |_, a| {
            Err(format!(
                "non-function {} of type {}",
                to_v(&a[0]),
                a[0].type_name()
            ))
        }),
        "eq" => v(&[Ty::Refl], Ty::Refl, |_, a| {
            eq(&a[0], &a[1..]).map(Value::Bool)
        }),
        "ne" => f(&[Ty::Refl, Ty::Refl], |_, a| {
            eq(&a[0], &a[1..]).map(|b| Value::Bool(!b))
        }),
        "lt" => f(&[Ty::Refl, Ty::Refl], |_, a| {
            lt(&a[0], &a[1]).map(Value::Bool)
        }),
        "le" => f(&[Ty::Refl, Ty::Refl], |_, a| {
            Ok(Value::Bool(lt(&a[0], &a[1])? || eq(&a[0], &a[1..])?))
        }),
        "gt" => f(&[Ty::Refl, Ty::Refl], |_, a| {
            Ok(Value::Bool(!(lt(&a[0], &a[1])? || eq(&a[0], &a[1..])?)))
        }),
        "ge" => f(&[Ty::Refl, Ty::Refl], |_, a| {
            lt(&a[0], &a[1]).map(|b| Value::Bool(!b))
        }),
        _ => return None,
    })
}

fn length(v: &Value) -> Result<Value, String> {
    Ok(Value::Int(match v {
        Value::String(s) => s.len(),
        Value::Bytes(b) => b.len(),
        Value::List(l, _) => l.len(),
        Value::Map(m, _) => m.borrow().len(),
        Value::Nil => return Err("len of nil pointer".into()),
        other => return Err(format!("len of type {}", other.type_name())),
    } as i64))
}

fn index_arg(idx: &Value, cap: usize) -> Result<usize, String> {
    let x = match idx {
        Value::Int(i) | Value::Int64(i) => *i,
        Value::Nil => return Err("cannot index slice/array with nil".into()),
        other => {
            return Err(format!(
                "cannot index slice/array with type {}",
                other.type_name()
            ));
        }
    };
    if x < 0 || x as usize > cap {
        return Err(format!("index out of range: {x}"));
    }
    Ok(x as usize)
}

fn index(item: &Value, idxs: &[Value]) -> Result<Value, String> {
    let mut item = item.clone();
    if matches!(item, Value::Nil) {
        return Err("index of untyped nil".into());
    }
    for idx in idxs {
        item = match &item {
            Value::List(l, _) => {
                let x = index_arg(idx, l.len())?;
                l.get(x)
                    .cloned()
                    .ok_or("reflect: slice index out of range")?
            }
            Value::Bytes(b) => {
                let x = index_arg(idx, b.len())?;
                Value::Int(i64::from(
                    *b.get(x).ok_or("reflect: slice index out of range")?,
                ))
            }
            Value::String(s) => {
                let x = index_arg(idx, s.len())?;
                Value::Int(i64::from(
                    *s.as_bytes()
                        .get(x)
                        .ok_or("reflect: string index out of range")?,
                ))
            }
            Value::Map(m, kind) => {
                let key = match idx {
                    Value::String(k) => k,
                    Value::Nil => return Err("value is nil; should be of type string".into()),
                    other => {
                        return Err(format!(
                            "value has type {}; should be string",
                            other.type_name()
                        ));
                    }
                };
                let found = m.borrow().get(key).cloned();
                match found {
                    Some(v) => v,
                    None if *kind == crate::value::Kind::Str => Value::String(String::new()),
                    None => Value::Nil,
                }
            }
            Value::Nil => return Err("index of nil pointer".into()),
            other => return Err(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(item)
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum BasicKind {
    Invalid,
    Bool,
    Int,
    Float,
    Str,
}

fn basic_kind(v: &Value) -> BasicKind {
    match v {
        Value::Bool(_) => BasicKind::Bool,
        // Go compares signed with unsigned integers by value.
        Value::Int(_) | Value::Int64(_) | Value::Uint64(_) => BasicKind::Int,
        Value::Float(_) => BasicKind::Float,
        Value::String(_) => BasicKind::Str,
        _ => BasicKind::Invalid,
    }
}

fn int128(v: &Value) -> i128 {
    match v {
        Value::Int(i) | Value::Int64(i) => i128::from(*i),
        Value::Uint64(u) => i128::from(*u),
        _ => 0,
    }
}

fn eq(a: &Value, rest: &[Value]) -> Result<bool, String> {
    if rest.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = basic_kind(a);
    for b in rest {
        let k2 = basic_kind(b);
        let truth = if k1 != k2 {
            if !matches!(a, Value::Nil) && !matches!(b, Value::Nil) {
                return Err(format!(
                    "incompatible types for comparison: {} and {}",
                    a.type_name(),
                    b.type_name()
                ));
            }
            false
        } else {
            match (a, b) {
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Float(x), Value::Float(y)) => x == y,
                (Value::String(x), Value::String(y)) => x == y,
                (x, y) if k1 == BasicKind::Int => int128(x) == int128(y),
                (Value::Nil, _) | (_, Value::Nil) => {
                    matches!(a, Value::Nil) == matches!(b, Value::Nil)
                }
                _ => {
                    if std::mem::discriminant(a) != std::mem::discriminant(b)
                        && !(matches!(a, Value::List(..) | Value::Bytes(_))
                            && matches!(b, Value::List(..) | Value::Bytes(_)))
                    {
                        return Err(format!(
                            "non-comparable types {}: {}, {}: {}",
                            sprintf("%s", std::slice::from_ref(a)),
                            a.type_name(),
                            b.type_name(),
                            to_v(b)
                        ));
                    }
                    match (a, b) {
                        (Value::Time(x), Value::Time(y)) => x == y,
                        _ => {
                            return Err(format!(
                                "non-comparable type {}: {}",
                                sprintf("%s", std::slice::from_ref(b)),
                                b.type_name()
                            ));
                        }
                    }
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(a: &Value, b: &Value) -> Result<bool, String> {
    let (k1, k2) = (basic_kind(a), basic_kind(b));
    if k1 == BasicKind::Invalid || k2 == BasicKind::Invalid {
        return Err("invalid type for comparison".into());
    }
    if k1 != k2 {
        return Err(format!(
            "incompatible types for comparison: {} and {}",
            a.type_name(),
            b.type_name()
        ));
    }
    Ok(match (a, b) {
        (Value::Float(x), Value::Float(y)) => x < y,
        (Value::String(x), Value::String(y)) => x < y,
        (x, y) if k1 == BasicKind::Int => int128(x) < int128(y),
        _ => return Err("invalid type for comparison".into()),
    })
}

/// `evalArgs`: a lone string as is, else `fmt.Sprint` with `<no value>` for nil.
fn eval_args(a: &[Value]) -> String {
    if let [Value::String(s)] = a {
        return s.clone();
    }
    let args: Vec<Value> = a
        .iter()
        .map(|x| {
            if matches!(x, Value::Nil) {
                Value::String("<no value>".into())
            } else {
                x.clone()
            }
        })
        .collect();
    sprint(&args)
}

pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

fn js(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u00{:02X}", c as u32);
            }
            c if (c as u32) >= 0x80 && !crate::gofmt::is_print(c) => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}
