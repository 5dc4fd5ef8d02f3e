//! sprig dict functions. Maps are shared by reference, so `set`/`unset`/`merge` mutate.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::rc::Rc;

use super::{Func, Ty, f, s, str_list, strval, v};
use crate::value::{Kind, MapRef, Value};

fn map_of(v: &Value) -> BTreeMap<String, Value> {
    match v {
        Value::Map(m, _) => m.borrow().clone(),
        _ => BTreeMap::new(),
    }
}

pub fn lookup(name: &str) -> Option<Func> {
    use Ty::{Any, MapAny, Str};
    Some(match name {
        "dict" => v(&[], Any, |_, a| {
            let mut m = BTreeMap::new();
            for pair in a.chunks(2) {
                let val = pair.get(1).cloned().unwrap_or(Value::String(String::new()));
                m.insert(strval(&pair[0]), val);
            }
            Ok(Value::map(m))
        }),
        "get" => f(&[MapAny, Str], |_, a| {
            Ok(map_of(&a[0])
                .remove(s(&a[1]))
                .unwrap_or(Value::String(String::new())))
        }),
        "set" => f(&[MapAny, Str, Any], |_, a| {
            if let Value::Map(m, _) = &a[0] {
                insert(m, s(&a[1]), &a[2], &[])?;
            }
            Ok(a[0].clone())
        }),
        "unset" => f(&[MapAny, Str], |_, a| {
            if let Value::Map(m, _) = &a[0] {
                m.borrow_mut().remove(s(&a[1]));
            }
            Ok(a[0].clone())
        }),
        "hasKey" => f(&[MapAny, Str], |_, a| {
            Ok(Value::Bool(map_of(&a[0]).contains_key(s(&a[1]))))
        }),
        "pluck" => v(&[Str], MapAny, |_, a| {
            let k = s(&a[0]);
            Ok(Value::list(
                a[1..].iter().filter_map(|d| map_of(d).remove(k)).collect(),
            ))
        }),
        "keys" => v(&[], MapAny, |_, a| {
            // Go iterates maps in random order; sorted is one of the possible outputs.
            Ok(str_list(
                a.iter().flat_map(|d| map_of(d).into_keys()).collect(),
            ))
        }),
        "values" => f(&[MapAny], |_, a| {
            Ok(Value::list(map_of(&a[0]).into_values().collect()))
        }),
        "pick" => v(&[MapAny], Str, |_, a| {
            let m = map_of(&a[0]);
            let keep: BTreeMap<_, _> = a[1..]
                .iter()
                .filter_map(|k| m.get_key_value(s(k)).map(|(k, v)| (k.clone(), v.clone())))
                .collect();
            Ok(Value::map(keep))
        }),
        "omit" => v(&[MapAny], Str, |_, a| {
            let mut m = map_of(&a[0]);
            for k in &a[1..] {
                m.remove(s(k));
            }
            Ok(Value::map(m))
        }),
        "merge" | "mustMerge" => v(&[MapAny], MapAny, |_, a| merge(&a, false)),
        "mergeOverwrite" | "mustMergeOverwrite" => v(&[MapAny], MapAny, |_, a| merge(&a, true)),
        "dig" => v(&[], Any, |_, a| {
            if a.len() < 3 {
                return Err("dig needs at least three arguments".into());
            }
            let dict = &a[a.len() - 1];
            let default = &a[a.len() - 2];
            let mut cur = dict.clone();
            for k in &a[..a.len() - 2] {
                let Value::String(k) = k else {
                    return Err("interface conversion: interface {} is not string".into());
                };
                let next = match &cur {
                    Value::Map(m, Kind::Any) => m.borrow().get(k).cloned(),
                    _ => {
                        return Err(format!(
                            "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                            cur.type_name()
                        ));
                    }
                };
                match next {
                    Some(n) => cur = n,
                    None => return Ok(default.clone()),
                }
            }
            Ok(cur)
        }),
        _ => return None,
    })
}

/// mergo's `Merge` (fill only empty destination values) / `WithOverride`, deep for nested maps.
fn merge(a: &[Value], overwrite: bool) -> Result<Value, String> {
    let Value::Map(dst, _) = &a[0] else {
        return Ok(a[0].clone());
    };
    for src in &a[1..] {
        let src = map_of(src);
        merge_into(dst, &src, overwrite, &mut Vec::new())?;
    }
    Ok(a[0].clone())
}

/// Merges `src` into `dst`; `outer` holds the maps `dst` is nested in. No borrow is held across
/// the recursion, so a map merged into itself (or into a map inside it) never panics a `RefCell`.
fn merge_into(
    dst: &MapRef,
    src: &BTreeMap<String, Value>,
    overwrite: bool,
    outer: &mut Vec<MapRef>,
) -> Result<(), String> {
    for (k, sv) in src {
        let current = dst.try_borrow().ok().and_then(|d| d.get(k).cloned());
        match current {
            Some(Value::Map(dm, Kind::Any)) if matches!(sv, Value::Map(_, Kind::Any)) => {
                let sm = map_of(sv);
                outer.push(Rc::clone(dst));
                let r = merge_into(&dm, &sm, overwrite, outer);
                outer.pop();
                r?;
            }
            Some(dv) if !(overwrite || super::conv::empty(&dv)) => {}
            _ => insert(dst, k, sv, outer)?,
        }
    }
    Ok(())
}

/// `m[k] = v`, refused when `v` holds `m` or a map `m` is nested in (`outer`): Go would build
/// the cycle and then overflow its stack printing it (issue 17).
fn insert(m: &MapRef, k: &str, v: &Value, outer: &[MapRef]) -> Result<(), String> {
    if std::iter::once(m)
        .chain(outer)
        .any(|target| holds(v, target))
    {
        return Err(format!(
            "map cannot contain itself (key {})",
            crate::gofmt::quote(k)
        ));
    }
    let mut d = m
        .try_borrow_mut()
        .map_err(|_| "concurrent map writes".to_owned())?;
    d.insert(k.to_string(), v.clone());
    Ok(())
}

/// Whether `v` is or (through lists and maps, at any depth) contains the map `target`.
/// Iterative, each map visited once: deep or widely shared values cannot overflow the stack.
fn holds(v: &Value, target: &MapRef) -> bool {
    let mut seen: HashSet<*const RefCell<BTreeMap<String, Value>>> = HashSet::new();
    let mut seen_lists: HashSet<*const Vec<Value>> = HashSet::new();
    let mut todo: Vec<Value> = vec![v.clone()];
    while let Some(v) = todo.pop() {
        match v {
            Value::Map(m, _) => {
                if Rc::ptr_eq(&m, target) {
                    return true;
                }
                if seen.insert(Rc::as_ptr(&m))
                    && let Ok(inner) = m.try_borrow()
                {
                    todo.extend(inner.values().cloned());
                }
            }
            Value::List(l, _) if seen_lists.insert(Rc::as_ptr(&l)) => {
                todo.extend(l.iter().cloned());
            }
            _ => {}
        }
    }
    false
}
