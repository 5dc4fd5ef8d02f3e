//! Go values that carry methods or struct fields rather than map entries: sprig's
//! `*semver.Version` (from `semver`) and its `certificate` struct (from `genCA` and friends).

use std::fmt;
use std::rc::Rc;

use crate::funcs::SemVersion;

/// An opaque Go object; templates reach it through its methods and fields.
#[derive(Clone, PartialEq)]
pub struct Object(pub(crate) Rc<Obj>);

#[derive(Clone, PartialEq)]
pub(crate) enum Obj {
    /// `*semver.Version` when `ptr`, else a `semver.Version` (what `IncMajor` and the other
    /// value-receiver methods return: only value methods are reachable on it).
    Semver { v: SemVersion, ptr: bool },
    /// sprig's `certificate{Cert, Key string}`: PEM texts.
    Cert { cert: String, key: String },
}

impl fmt::Debug for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_ref() {
            Obj::Semver { v, .. } => write!(f, "{}({})", self.type_name(), v.string()),
            // The key is a secret: never in Debug output.
            Obj::Cert { .. } => f.write_str("sprig.certificate{<redacted>}"),
        }
    }
}

impl Object {
    pub(crate) fn semver(v: SemVersion, ptr: bool) -> Object {
        Object(Rc::new(Obj::Semver { v, ptr }))
    }

    pub(crate) fn cert(cert: String, key: String) -> Object {
        Object(Rc::new(Obj::Cert { cert, key }))
    }

    /// Go's type name (`%T`).
    pub fn type_name(&self) -> &'static str {
        match self.0.as_ref() {
            Obj::Semver { ptr: true, .. } => "*semver.Version",
            Obj::Semver { ptr: false, .. } => "semver.Version",
            Obj::Cert { .. } => "sprig.certificate",
        }
    }

    /// Go's `reflect.Kind` name.
    pub fn kind_name(&self) -> &'static str {
        match self.0.as_ref() {
            Obj::Semver { ptr: true, .. } => "ptr",
            _ => "struct",
        }
    }

    /// `fmt.Sprint` (`%v`): Stringers print `String()`, structs print `{field ...}`.
    pub(crate) fn go_string(&self) -> String {
        match self.0.as_ref() {
            Obj::Semver { v, .. } => v.string(),
            Obj::Cert { cert, key } => format!("{{{cert} {key}}}"),
        }
    }

    /// `encoding/json`: a version marshals as its string, a certificate as its two fields.
    pub fn to_json(&self) -> serde_json::Value {
        match self.0.as_ref() {
            Obj::Semver { v, .. } => serde_json::Value::String(v.string()),
            Obj::Cert { cert, key } => serde_json::json!({ "Cert": cert, "Key": key }),
        }
    }

    /// The `(name, value)` pairs `encoding/json` writes for a struct; `None` for a
    /// `json.Marshaler` (semver), which writes [`Object::to_json`]'s string instead.
    pub(crate) fn json_fields(&self) -> Option<[(&'static str, &str); 2]> {
        match self.0.as_ref() {
            Obj::Cert { cert, key } => Some([("Cert", cert), ("Key", key)]),
            Obj::Semver { .. } => None,
        }
    }

    /// The version inside a `*semver.Version` / `semver.Version`.
    pub(crate) fn as_semver(&self) -> Option<&SemVersion> {
        match self.0.as_ref() {
            Obj::Semver { v, .. } => Some(v),
            Obj::Cert { .. } => None,
        }
    }

    pub(crate) fn is_semver_ptr(&self) -> bool {
        matches!(self.0.as_ref(), Obj::Semver { ptr: true, .. })
    }

    /// The `Cert` and `Key` fields of a `certificate`.
    pub(crate) fn as_cert(&self) -> Option<(&str, &str)> {
        match self.0.as_ref() {
            Obj::Cert { cert, key } => Some((cert, key)),
            Obj::Semver { .. } => None,
        }
    }
}
