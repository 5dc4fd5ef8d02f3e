//! The dynamic value a template sees: Go's `interface{}` restricted to what ESO data,
//! template literals and the function map produce.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use crate::object::Object;
use crate::time::GoTime;

/// A map shared by reference, as Go maps are (`set`/`unset`/`merge` mutate in place).
pub type MapRef = Rc<RefCell<BTreeMap<String, Value>>>;

/// Element type of a list or map: Go distinguishes `[]string` from `[]interface {}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `interface {}` elements.
    Any,
    /// `string` elements.
    Str,
    /// `int` elements (`until`, `untilStep`).
    Int,
}

/// A Go value as `text/template` sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `nil` / a missing value.
    Nil,
    /// `bool`.
    Bool(bool),
    /// `int` (template integer literals, `len`, `atoi`, ...).
    Int(i64),
    /// `int64` (sprig arithmetic results).
    Int64(i64),
    /// `uint64` (`semver`'s `Major`, `Minor`, `Patch`).
    Uint64(u64),
    /// `float64` (JSON numbers, float literals).
    Float(f64),
    /// `string`.
    String(String),
    /// `[]byte`.
    Bytes(Vec<u8>),
    /// `[]interface {}` or `[]string`.
    List(Rc<Vec<Value>>, Kind),
    /// `map[string]interface {}` or `map[string]string`, iterated in sorted key order.
    Map(MapRef, Kind),
    /// `time.Time`.
    Time(GoTime),
    /// A Go value with methods or struct fields: a `*semver.Version`, sprig's `certificate`.
    Object(Object),
}

impl Value {
    /// A `string` value.
    pub fn str(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// A `[]interface {}` value.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Rc::new(items), Kind::Any)
    }

    /// A `map[string]interface {}` value.
    pub fn map(entries: BTreeMap<String, Value>) -> Value {
        Value::Map(Rc::new(RefCell::new(entries)), Kind::Any)
    }

    /// A `map[string]string` value: ESO's template data (every fetched key as a string).
    pub fn string_map<K: Into<String>, V: Into<String>>(
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Value {
        let m = entries
            .into_iter()
            .map(|(k, v)| (k.into(), Value::String(v.into())))
            .collect();
        Value::Map(Rc::new(RefCell::new(m)), Kind::Str)
    }

    /// A Go `string` holding arbitrary bytes, as ESO's data map carries binary secret values
    /// (a PKCS#12 keystore, a ciphertext): a `string` when the bytes are UTF-8, otherwise a
    /// `[]byte`, which the functions that take binary input (`pkcs12key`, `rsaDecrypt`, ...)
    /// accept in place of a string. `b64dec` returns the same shape.
    pub fn from_bytes(bytes: Vec<u8>) -> Value {
        crate::funcs::bin_value(bytes)
    }

    /// Converts JSON the way Go's `encoding/json` decodes into `interface{}`
    /// (every number becomes a `float64`).
    pub fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(a) => Value::list(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => Value::map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Go's type name (`reflect.Type.String()`), as `typeOf` and error messages print it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Uint64(_) => "uint64",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::Bytes(_) => "[]uint8",
            Value::List(_, Kind::Any) => "[]interface {}",
            Value::List(_, Kind::Str) => "[]string",
            Value::List(_, Kind::Int) => "[]int",
            Value::Map(_, Kind::Any) => "map[string]interface {}",
            Value::Map(_, Kind::Str | Kind::Int) => "map[string]string",
            Value::Time(_) => "time.Time",
            Value::Object(o) => o.type_name(),
        }
    }

    /// Go's `reflect.Kind` name, as `kindOf` prints it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Uint64(_) => "uint64",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::Bytes(_) | Value::List(..) => "slice",
            Value::Map(..) => "map",
            Value::Time(_) => "struct",
            Value::Object(o) => o.kind_name(),
        }
    }

    /// `text/template` truth: false, 0, nil, and empty string/list/map are false.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) | Value::Int64(i) => *i != 0,
            Value::Uint64(u) => *u != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::Bytes(b) => !b.is_empty(),
            Value::List(l, _) => !l.is_empty(),
            Value::Map(m, _) => !m.borrow().is_empty(),
            Value::Time(_) | Value::Object(_) => true,
        }
    }

    /// The string inside a `string` value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Deep copy (maps are copied, not shared).
    pub fn deep_copy(&self) -> Value {
        match self {
            Value::List(l, k) => Value::List(Rc::new(l.iter().map(Value::deep_copy).collect()), *k),
            Value::Map(m, k) => {
                let c = m
                    .borrow()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.deep_copy()))
                    .collect();
                Value::Map(Rc::new(RefCell::new(c)), *k)
            }
            other => other.clone(),
        }
    }

    /// Converts to JSON the way Go's `encoding/json` marshals the value.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Nil => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) | Value::Int64(i) => J::from(*i),
            Value::Uint64(u) => J::from(*u),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::String(s) => J::String(s.clone()),
            Value::Bytes(b) => J::String(crate::funcs::b64_std(b)),
            Value::List(l, _) => J::Array(l.iter().map(Value::to_json).collect()),
            Value::Map(m, _) => J::Object(
                m.borrow()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
            Value::Time(t) => J::String(t.rfc3339_nano()),
            Value::Object(o) => o.to_json(),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
