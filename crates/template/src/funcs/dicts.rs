//! sprig dict functions. Maps are shared by reference, so `set`/`unset`/`merge` mutate.

use std::collections::BTreeMap;

use super::{Func, Ty, f, s, str_list, strval, v};
use crate::value::{Kind, Value};

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
                m.borrow_mut().insert(s(&a[1]).to_string(), a[2].clone());
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
        let mut d = dst.borrow_mut();
        merge_into(&mut d, &src, overwrite);
    }
    Ok(a[0].clone())
}

fn merge_into(d: &mut BTreeMap<String, Value>, src: &BTreeMap<String, Value>, overwrite: bool) {
    for (k, sv) in src {
        match d.get_mut(k) {
            Some(Value::Map(dm, Kind::Any)) if matches!(sv, Value::Map(_, Kind::Any)) => {
                let sm = map_of(sv);
                merge_into(&mut dm.borrow_mut(), &sm, overwrite);
            }
            Some(dv) => {
                if overwrite || super::conv::empty(dv) {
                    *dv = sv.clone();
                }
            }
            None => {
                d.insert(k.clone(), sv.clone());
            }
        }
    }
}
