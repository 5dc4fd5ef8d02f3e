//! Methods and fields of the Go objects in [`crate::object`]: Masterminds/semver's
//! `Version` (value and pointer receivers, as Go's method sets have them) and sprig's
//! `certificate` struct.

use std::cmp::Ordering;

use super::semver::{Version, validate_meta, validate_pre};
use super::{Func, Ty, f, s};
use crate::object::Object;
use crate::value::Value;

/// What `.Name` finds on an object.
pub enum Member {
    /// A method: called with the object as its first argument.
    Method(Func),
    /// An exported struct field.
    Field(Value),
    /// A struct field the template may not read.
    Unexported,
    /// Neither.
    Missing,
}

/// Looks `name` up on `o` (Go's `MethodByName`, then `FieldByName`).
pub fn member(o: &Object, name: &str) -> Member {
    if let Some((cert, key)) = o.as_cert() {
        return match name {
            "Cert" => Member::Field(Value::str(cert)),
            "Key" => Member::Field(Value::str(key)),
            _ => Member::Missing,
        };
    }
    if let Some(m) = value_method(name).or_else(|| {
        // Pointer-receiver methods exist only on `*Version`: a `Version` returned by
        // `IncMajor` and friends is not addressable.
        o.is_semver_ptr().then(|| pointer_method(name)).flatten()
    }) {
        return Member::Method(m);
    }
    match name {
        "major" | "minor" | "patch" | "pre" | "metadata" | "original" => Member::Unexported,
        _ => Member::Missing,
    }
}

fn ver(v: &Value) -> Option<&Version> {
    match v {
        Value::Object(o) => o.as_semver(),
        _ => None,
    }
}

fn this(a: &[Value]) -> Result<&Version, String> {
    a.first()
        .and_then(ver)
        .ok_or_else(|| "semver: receiver is not a version".to_string())
}

const NIL_DEREF: &str = "runtime error: invalid memory address or nil pointer dereference";

/// `v.Compare(o)`; `o` is a nil `*Version` when the template passed `nil`.
fn compare(a: &[Value]) -> Result<Ordering, String> {
    let other = a.get(1).and_then(ver).ok_or(NIL_DEREF)?;
    Ok(this(a)?.cmp(other))
}

fn v_prefix(v: &Version) -> &'static str {
    if v.original.starts_with('v') { "v" } else { "" }
}

/// A `Version` (not a pointer) whose `original` is rebuilt as semver's `Inc*`/`Set*` do.
fn derived(from: &Version, mut next: Version) -> Value {
    next.original = format!("{}{}", v_prefix(from), next.string());
    Value::Object(Object::semver(next, false))
}

fn inc(a: &[Value], which: u8) -> Result<Value, String> {
    let v = this(a)?;
    let mut n = Version {
        pre: String::new(),
        meta: String::new(),
        ..v.clone()
    };
    match which {
        b'p' if v.pre.is_empty() => n.patch = v.patch.wrapping_add(1),
        b'p' => {}
        b'm' => (n.minor, n.patch) = (v.minor.wrapping_add(1), 0),
        _ => (n.major, n.minor, n.patch) = (v.major.wrapping_add(1), 0, 0),
    }
    Ok(derived(v, n))
}

fn value_method(name: &str) -> Option<Func> {
    use Ty::Str;
    Some(match name {
        "String" => f(&[], |_, a| Ok(Value::String(this(&a)?.string()))),
        "Major" => f(&[], |_, a| Ok(Value::Uint64(this(&a)?.major))),
        "Minor" => f(&[], |_, a| Ok(Value::Uint64(this(&a)?.minor))),
        "Patch" => f(&[], |_, a| Ok(Value::Uint64(this(&a)?.patch))),
        "Prerelease" => f(&[], |_, a| Ok(Value::String(this(&a)?.pre.clone()))),
        "Metadata" => f(&[], |_, a| Ok(Value::String(this(&a)?.meta.clone()))),
        "IncPatch" => f(&[], |_, a| inc(&a, b'p')),
        "IncMinor" => f(&[], |_, a| inc(&a, b'm')),
        "IncMajor" => f(&[], |_, a| inc(&a, b'M')),
        "SetPrerelease" => f(&[Str], |_, a| {
            let v = this(&a)?;
            let pre = s(&a[1]);
            if !pre.is_empty() {
                validate_pre(pre)?;
            }
            let next = Version {
                pre: pre.to_string(),
                ..v.clone()
            };
            Ok(derived(v, next))
        }),
        "SetMetadata" => f(&[Str], |_, a| {
            let v = this(&a)?;
            let meta = s(&a[1]);
            if !meta.is_empty() {
                validate_meta(meta)?;
            }
            let next = Version {
                meta: meta.to_string(),
                ..v.clone()
            };
            Ok(derived(v, next))
        }),
        "MarshalText" => f(&[], |_, a| {
            Ok(Value::Bytes(this(&a)?.string().into_bytes()))
        }),
        "MarshalJSON" => f(&[], |_, a| {
            let json = serde_json::Value::String(this(&a)?.string()).to_string();
            Ok(Value::Bytes(json.into_bytes()))
        }),
        // `driver.Value`: the string, as an `interface {}`.
        "Value" => f(&[], |_, a| Ok(Value::String(this(&a)?.string()))),
        _ => return None,
    })
}

fn pointer_method(name: &str) -> Option<Func> {
    use Ty::Semver;
    Some(match name {
        "Original" => f(&[], |_, a| Ok(Value::String(this(&a)?.original.clone()))),
        "LessThan" => f(&[Semver], |_, a| Ok(Value::Bool(compare(&a)?.is_lt()))),
        "LessThanEqual" => f(&[Semver], |_, a| Ok(Value::Bool(compare(&a)?.is_le()))),
        "GreaterThan" => f(&[Semver], |_, a| Ok(Value::Bool(compare(&a)?.is_gt()))),
        "GreaterThanEqual" => f(&[Semver], |_, a| Ok(Value::Bool(compare(&a)?.is_ge()))),
        "Equal" => f(&[Semver], |_, a| {
            // A nil argument is unequal to a version (no dereference).
            Ok(Value::Bool(
                a.get(1).and_then(ver).is_some() && compare(&a)?.is_eq(),
            ))
        }),
        "Compare" => f(&[Semver], |_, a| {
            Ok(Value::Int(match compare(&a)? {
                Ordering::Less => -1,
                Ordering::Equal => 0,
                Ordering::Greater => 1,
            }))
        }),
        _ => return None,
    })
}
