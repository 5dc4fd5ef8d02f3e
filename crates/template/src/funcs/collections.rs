//! sprig list functions (the non-`must` forms fail the same way: Go turns their panic into an error).

use std::rc::Rc;

use super::{Func, Ty, as_list, f, i, to_int64, v};
use crate::value::{Kind, Value};

fn kind_of(v: &Value) -> Kind {
    match v {
        Value::List(_, k) => *k,
        _ => Kind::Any,
    }
}

fn mk(items: Vec<Value>, k: Kind) -> Value {
    Value::List(Rc::new(items), k)
}

fn pos_or_nil(l: &[Value], idx: Option<usize>) -> Value {
    idx.and_then(|i| l.get(i)).cloned().unwrap_or(Value::Nil)
}

pub fn lookup(name: &str) -> Option<Func> {
    use Ty::{Any, Int};
    Some(match name {
        "list" | "tuple" => v(&[], Any, |_, a| Ok(Value::list(a))),
        "append" | "push" | "mustAppend" | "mustPush" => f(&[Any, Any], |_, a| {
            let mut l = as_list(&a[0], "push")
                .map_err(|_| format!("Cannot push on type {}", a[0].kind_name()))?;
            l.push(a[1].clone());
            Ok(Value::list(l))
        }),
        "prepend" | "mustPrepend" => f(&[Any, Any], |_, a| {
            let mut l = as_list(&a[0], "prepend")
                .map_err(|_| format!("Cannot prepend on type {}", a[0].kind_name()))?;
            l.insert(0, a[1].clone());
            Ok(Value::list(l))
        }),
        "first" | "mustFirst" => f(&[Any], |_, a| {
            let l = as_list(&a[0], "")
                .map_err(|_| format!("Cannot find first on type {}", a[0].kind_name()))?;
            Ok(pos_or_nil(&l, Some(0)))
        }),
        "last" | "mustLast" => f(&[Any], |_, a| {
            let l = as_list(&a[0], "")
                .map_err(|_| format!("Cannot find last on type {}", a[0].kind_name()))?;
            Ok(pos_or_nil(&l, l.len().checked_sub(1)))
        }),
        "rest" | "mustRest" => f(&[Any], |_, a| {
            let l = as_list(&a[0], "")
                .map_err(|_| format!("Cannot find rest on type {}", a[0].kind_name()))?;
            Ok(Value::list(
                l.get(1..).map(<[Value]>::to_vec).unwrap_or_default(),
            ))
        }),
        "initial" | "mustInitial" => f(&[Any], |_, a| {
            let l = as_list(&a[0], "")
                .map_err(|_| format!("Cannot find initial on type {}", a[0].kind_name()))?;
            Ok(Value::list(
                l.get(..l.len().saturating_sub(1))
                    .map(<[Value]>::to_vec)
                    .unwrap_or_default(),
            ))
        }),
        "reverse" | "mustReverse" => f(&[Any], |_, a| {
            let mut l = as_list(&a[0], "")
                .map_err(|_| format!("Cannot find reverse on type {}", a[0].kind_name()))?;
            l.reverse();
            Ok(Value::list(l))
        }),
        "compact" | "mustCompact" => f(&[Any], |_, a| {
            let l = as_list(&a[0], "")
                .map_err(|_| format!("Cannot compact on type {}", a[0].kind_name()))?;
            Ok(Value::list(
                l.into_iter().filter(|x| !super::conv::empty(x)).collect(),
            ))
        }),
        "uniq" | "mustUniq" => f(&[Any], |_, a| {
            let l = as_list(&a[0], "")
                .map_err(|_| format!("Cannot find uniq on type {}", a[0].kind_name()))?;
            let mut out: Vec<Value> = vec![];
            for x in l {
                if !out.iter().any(|y| deep_eq(y, &x)) {
                    out.push(x);
                }
            }
            Ok(Value::list(out))
        }),
        "without" | "mustWithout" => v(&[Any], Any, |_, a| {
            let l = as_list(&a[0], "")
                .map_err(|_| format!("Cannot find without on type {}", a[0].kind_name()))?;
            Ok(Value::list(
                l.into_iter()
                    .filter(|x| !a[1..].iter().any(|o| deep_eq(o, x)))
                    .collect(),
            ))
        }),
        "has" | "mustHas" => f(&[Any, Any], |_, a| {
            if matches!(a[1], Value::Nil) {
                return Ok(Value::Bool(false));
            }
            let l = as_list(&a[1], "")
                .map_err(|_| format!("Cannot find has on type {}", a[1].kind_name()))?;
            Ok(Value::Bool(l.iter().any(|x| deep_eq(x, &a[0]))))
        }),
        "slice" | "mustSlice" => v(&[Any], Any, |_, a| {
            let k = kind_of(&a[0]);
            let l = as_list(&a[0], "").map_err(|_| {
                format!(
                    "list should be type of slice or array but {}",
                    a[0].kind_name()
                )
            })?;
            if l.is_empty() {
                return Ok(Value::Nil);
            }
            let start = a.get(1).map_or(0, to_int64);
            let end = a.get(2).map_or(l.len() as i64, to_int64);
            if start < 0 || end < start || end as usize > l.len() {
                return Err("reflect.Value.Slice: slice index out of bounds".into());
            }
            Ok(mk(l[start as usize..end as usize].to_vec(), k))
        }),
        "concat" => v(&[], Any, |_, a| {
            let mut out = vec![];
            for x in &a {
                out.extend(
                    as_list(x, "")
                        .map_err(|_| format!("Cannot concat type {} as list", x.kind_name()))?,
                );
            }
            Ok(Value::list(out))
        }),
        "chunk" | "mustChunk" => f(&[Int, Any], |_, a| {
            let size = i(&a[0]).max(1) as usize;
            let l = as_list(&a[1], "")
                .map_err(|_| format!("Cannot chunk type {}", a[1].kind_name()))?;
            Ok(Value::list(
                l.chunks(size).map(|c| Value::list(c.to_vec())).collect(),
            ))
        }),
        _ => return None,
    })
}

/// `reflect.DeepEqual` over template values.
pub fn deep_eq(a: &Value, b: &Value) -> bool {
    if a.type_name() != b.type_name() {
        return false;
    }
    match (a, b) {
        (Value::List(x, _), Value::List(y, _)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| deep_eq(p, q))
        }
        (Value::Map(x, _), Value::Map(y, _)) => {
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len()
                && x.iter()
                    .all(|(k, p)| y.get(k).is_some_and(|q| deep_eq(p, q)))
        }
        _ => a == b,
    }
}
