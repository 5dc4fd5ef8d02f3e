//! The function map: Go's builtins, sprig v3's text functions and ESO's functions,
//! each with the Go parameter types `text/template` checks arguments against.

mod builtin;
mod certgen;
mod collections;
mod conv;
mod crypto;
mod dates;
mod dicts;
mod encoding;
mod jwk;
mod math;
mod objects;
mod pkix;
mod random;
mod regexes;
mod semver;
mod strings;
mod url;
mod yaml;

use crate::Env;
use crate::rng::Rng;
use crate::value::{Kind, Value};

pub use dates::time_method;
pub use objects::{Member, member};
pub use semver::Version as SemVersion;

/// A Go parameter type, as far as argument checking and conversion go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Any,
    Str,
    Int,
    Int64,
    Float,
    Bool,
    MapAny,
    Time,
    /// `reflect.Value` (builtins): anything, nil included.
    Refl,
    /// A Go `string` that may hold arbitrary bytes: accepts `string` and the `[]byte`
    /// values this engine uses for non-UTF-8 strings (PKCS#12 input, ciphertexts).
    Bin,
    /// `[]interface {}` (sprig's certificate functions take IPs and DNS names so).
    ListAny,
    /// `*semver.Version`.
    Semver,
    /// sprig's `certificate` struct.
    Cert,
}

impl Ty {
    pub fn go_name(self) -> &'static str {
        match self {
            Ty::Any => "interface {}",
            Ty::Str | Ty::Bin => "string",
            Ty::Int => "int",
            Ty::Int64 => "int64",
            Ty::Float => "float64",
            Ty::Bool => "bool",
            Ty::MapAny => "map[string]interface {}",
            Ty::Time => "time.Time",
            Ty::Refl => "reflect.Value",
            Ty::ListAny => "[]interface {}",
            Ty::Semver => "*semver.Version",
            Ty::Cert => "sprig.certificate",
        }
    }

    pub fn accepts(self, v: &Value) -> bool {
        matches!(
            (self, v),
            (Ty::Any | Ty::Refl, _)
                | (Ty::Str | Ty::Bin, Value::String(_))
                | (Ty::Bin, Value::Bytes(_))
                | (Ty::Int, Value::Int(_))
                | (Ty::Int64, Value::Int64(_))
                | (Ty::Float, Value::Float(_))
                | (Ty::Bool, Value::Bool(_))
                | (Ty::MapAny, Value::Map(_, Kind::Any))
                | (Ty::Time, Value::Time(_))
                | (Ty::ListAny, Value::List(_, Kind::Any))
        ) || match (self, v) {
            (Ty::Semver, Value::Object(o)) => o.is_semver_ptr(),
            (Ty::Cert, Value::Object(o)) => o.as_cert().is_some(),
            _ => false,
        }
    }
}

/// What functions may read: the caller's clock and the seeded entropy.
pub struct Ctx<'e> {
    pub env: &'e Env,
    rng: Option<Rng>,
}

impl<'e> Ctx<'e> {
    pub fn new(env: &'e Env) -> Self {
        Ctx { env, rng: None }
    }

    pub fn rng(&mut self) -> &mut Rng {
        self.rng.get_or_insert_with(|| Rng::new(&self.env.seed))
    }
}

pub type Call = fn(&mut Ctx<'_>, Vec<Value>) -> Result<Value, String>;

/// A function: fixed parameter types, an optional variadic element type, the body.
#[derive(Clone, Copy)]
pub struct Func {
    pub params: &'static [Ty],
    pub variadic: Option<Ty>,
    /// `and`/`or`: arguments are evaluated lazily by the executor.
    pub short_circuit: bool,
    pub call: Call,
}

pub const fn f(params: &'static [Ty], call: Call) -> Func {
    Func {
        params,
        variadic: None,
        short_circuit: false,
        call,
    }
}

pub const fn v(params: &'static [Ty], var: Ty, call: Call) -> Func {
    Func {
        params,
        variadic: Some(var),
        short_circuit: false,
        call,
    }
}

/// Finds a function by name; sprig/ESO functions shadow Go builtins (only `slice` clashes).
pub fn lookup(name: &str) -> Option<Func> {
    strings::lookup(name)
        .or_else(|| conv::lookup(name))
        .or_else(|| math::lookup(name))
        .or_else(|| collections::lookup(name))
        .or_else(|| dicts::lookup(name))
        .or_else(|| encoding::lookup(name))
        .or_else(|| url::lookup(name))
        .or_else(|| regexes::lookup(name))
        .or_else(|| dates::lookup(name))
        .or_else(|| random::lookup(name))
        .or_else(|| yaml::lookup(name))
        .or_else(|| pkix::lookup(name))
        .or_else(|| crypto::lookup(name))
        .or_else(|| semver::lookup(name))
        .or_else(|| jwk::lookup(name))
        .or_else(|| certgen::lookup(name))
        .or_else(|| builtin::lookup(name))
}

// ---- helpers shared by the function modules ----

/// The string of a `string`-typed argument.
pub fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// The bytes of a `string`/`[]byte` argument (see [`Ty::Bin`]).
pub fn bin(v: &Value) -> &[u8] {
    match v {
        Value::String(s) => s.as_bytes(),
        Value::Bytes(b) => b,
        _ => &[],
    }
}

/// A Go string holding `b`: a `string` when it is UTF-8, else `[]byte` (this engine's
/// carrier for binary strings).
pub fn bin_value(b: Vec<u8>) -> Value {
    match String::from_utf8(b) {
        Ok(s) => Value::String(s),
        Err(e) => Value::Bytes(e.into_bytes()),
    }
}

/// The integer of an `int`/`int64`-typed argument.
pub fn i(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i,
        _ => 0,
    }
}

/// Most bytes (or characters) one call may build: `repeat`, `indent`, the random strings. Go
/// would try to allocate any size and die out of memory; a Secret holds at most 1 MiB anyway.
pub const MAX_LEN: u64 = 64 << 20;

/// `count` items of `unit` bytes, as a length within [`MAX_LEN`], or the error `what` fails with.
pub fn bounded_len(what: &str, count: u64, unit: u64) -> Result<usize, String> {
    match count.checked_mul(unit) {
        Some(n) if n <= MAX_LEN => usize::try_from(count).map_err(|_| format!("{what}: too long")),
        _ => Err(format!("{what}: result longer than {MAX_LEN} bytes")),
    }
}

pub fn str_list(items: Vec<String>) -> Value {
    Value::List(
        std::rc::Rc::new(items.into_iter().map(Value::String).collect()),
        Kind::Str,
    )
}

pub fn b64_std(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// sprig's `strval`: strings as is, `[]byte` as text, Stringers via `String()`, else `%v`.
pub fn strval(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        other => crate::gofmt::to_v(other),
    }
}

/// `cast.ToInt64`.
pub fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i,
        Value::Uint64(u) => *u as i64,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::String(s) => parse_int0(trim_zero_decimal(s)).unwrap_or(0),
        _ => 0,
    }
}

/// `cast.ToFloat64`.
pub fn to_float64(v: &Value) -> f64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i as f64,
        Value::Uint64(u) => *u as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) => s.parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

fn trim_zero_decimal(s: &str) -> &str {
    let b = s.as_bytes();
    let mut found_zero = false;
    for i in (1..=b.len()).rev() {
        match b[i - 1] {
            b'.' if found_zero => return &s[..i - 1],
            b'.' => {}
            b'0' => found_zero = true,
            _ => return s,
        }
    }
    s
}

/// `strconv.ParseInt(s, 0, 64)`.
pub fn parse_int0(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (digits, radix) = match body.as_bytes() {
        [b'0', b'x' | b'X', ..] => (&body[2..], 16),
        [b'0', b'o' | b'O', ..] => (&body[2..], 8),
        [b'0', b'b' | b'B', ..] => (&body[2..], 2),
        [b'0', _, ..] => (&body[1..], 8),
        _ => (body, 10),
    };
    if digits.is_empty() || digits.starts_with('+') || digits.starts_with('-') {
        return None;
    }
    let u = u64::from_str_radix(&digits.replace('_', ""), radix).ok()?;
    if neg {
        if u <= i64::MAX as u64 + 1 {
            Some((u as i64).wrapping_neg())
        } else {
            None
        }
    } else {
        i64::try_from(u).ok()
    }
}

/// sprig's list conversion for functions taking `interface{}` lists: slices only.
pub fn as_list(v: &Value, fname: &str) -> Result<Vec<Value>, String> {
    match v {
        Value::List(l, _) => Ok(l.as_ref().clone()),
        Value::Bytes(b) => Ok(b.iter().map(|x| Value::Int(i64::from(*x))).collect()),
        other => Err(format!("Cannot {fname} on type {}", other.type_name())),
    }
}
