//! The two copies of Go's encoding/json output that ampoule-gojson replaced, kept verbatim as
//! oracles: the provider plugins' (`plugins/common/src/gojson.rs`) and the host's
//! (`host/src/controller/data/gojson.rs`, for `rewrite.merge`). On arbitrary JSON values the
//! shared crate writes the same bytes as each of them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use serde_json::{Map, Number, Value};

/// `plugins/common/src/gojson.rs` before it used ampoule-gojson.
mod plugin_copy {
    use serde_json::Value;

    /// Go's `json.Marshal` of a decoded JSON value.
    pub fn go_json(v: &Value) -> String {
        let mut out = String::new();
        write(&mut out, v);
        out
    }

    fn write(out: &mut String, v: &Value) {
        match v {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(&go_float(n.as_f64().unwrap_or_default())),
            Value::String(s) => write_str(out, s),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(out, item);
                }
                out.push(']');
            }
            Value::Object(map) => {
                out.push('{');
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(out, k);
                    out.push(':');
                    write(out, &map[k]);
                }
                out.push('}');
            }
        }
    }

    fn write_str(out: &mut String, s: &str) {
        let quoted = serde_json::to_string(s).unwrap_or_default();
        for c in quoted.chars() {
            match c {
                '<' => out.push_str("\\u003c"),
                '>' => out.push_str("\\u003e"),
                '&' => out.push_str("\\u0026"),
                '\u{2028}' => out.push_str("\\u2028"),
                '\u{2029}' => out.push_str("\\u2029"),
                c => out.push(c),
            }
        }
    }

    /// Go's float64 encoding in `json.Marshal` (`'f'` in [1e-6, 1e21), `'e'` outside).
    fn go_float(f: f64) -> String {
        let abs = f.abs();
        if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
            let s = format!("{f:e}");
            return match s.split_once('e') {
                Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
                _ => s,
            };
        }
        format!("{f}")
    }

    /// Go's `strconv.FormatFloat(f, 'f', -1, 64)`.
    pub fn plain_float(f: f64) -> String {
        format!("{f}")
    }

    /// ESO's `GetByteValue`: strings as they are, numbers as decimals, maps and lists as JSON,
    /// `null` as empty.
    pub fn byte_value(v: &Value) -> Vec<u8> {
        match v {
            Value::String(s) => s.clone().into_bytes(),
            Value::Number(n) => plain_float(n.as_f64().unwrap_or_default()).into_bytes(),
            Value::Bool(b) => b.to_string().into_bytes(),
            Value::Null => Vec::new(),
            other => go_json(other).into_bytes(),
        }
    }
}

/// `host/src/controller/data/gojson.rs` before it used ampoule-gojson.
mod host_copy {
    use serde_json::{Number, Value};

    /// ESO's `GetByteValue` for a decoded value: a string as is, a number in plain decimal, `true` /
    /// `false`, nothing for `null`, objects and arrays as compact JSON (`json.Marshal`, HTML escaped).
    pub fn byte_value(v: &Value) -> Vec<u8> {
        match v {
            Value::String(s) => s.as_bytes().to_vec(),
            Value::Null => Vec::new(),
            Value::Bool(b) => b.to_string().into_bytes(),
            Value::Number(n) => match n.as_f64() {
                // Go's strconv.FormatFloat(f, 'f', -1, 64): shortest digits, never an exponent.
                Some(f) => f.to_string().into_bytes(),
                None => n.to_string().into_bytes(),
            },
            Value::Object(_) | Value::Array(_) => marshal(v, true).into_bytes(),
        }
    }

    /// Go's `encoding/json` encoding of `v`: compact, map keys sorted, `<`, `>` and `&` escaped when
    /// `escape_html` (`json.Marshal`) and kept otherwise (an encoder with `SetEscapeHTML(false)`).
    pub fn marshal(v: &Value, escape_html: bool) -> String {
        let mut out = String::new();
        write_value(&mut out, v, escape_html);
        out
    }

    fn write_value(out: &mut String, v: &Value, escape_html: bool) {
        match v {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => write_number(out, n),
            Value::String(s) => write_string(out, s, escape_html),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_value(out, item, escape_html);
                }
                out.push(']');
            }
            Value::Object(map) => {
                // serde_json's map is a BTreeMap here: keys come sorted bytewise, like Go's.
                out.push('{');
                for (i, (k, item)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(out, k, escape_html);
                    out.push(':');
                    write_value(out, item, escape_html);
                }
                out.push('}');
            }
        }
    }

    /// A number as Go's encoder writes a `float64` (every JSON number ESO decodes is one).
    fn write_number(out: &mut String, n: &Number) {
        match n.as_f64().and_then(ampoule_gojson::float) {
            Some(text) => out.push_str(&text),
            None => out.push_str(&n.to_string()),
        }
    }

    fn write_string(out: &mut String, s: &str, escape_html: bool) {
        ampoule_gojson::write_string(out, s, escape_html);
    }
}

fn number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<i64>().prop_map(Number::from),
        any::<u64>().prop_map(Number::from),
        any::<f64>().prop_filter_map("finite", Number::from_f64),
        // Around the encoder's switch between plain and exponent form.
        (-3i32..3, any::<bool>()).prop_filter_map("finite", |(ulps, big)| {
            let edge: f64 = if big { 1e21 } else { 1e-6 };
            let bits = i64::try_from(edge.to_bits()).ok()? + i64::from(ulps);
            Number::from_f64(f64::from_bits(u64::try_from(bits).ok()?))
        }),
        // Short decimals, as secrets hold them.
        (any::<i32>(), 0u32..12).prop_filter_map("finite", |(m, e)| {
            Number::from_f64(f64::from(m) / 10f64.powi(i32::try_from(e).ok()?))
        }),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[<>&\"\\\\/\u{0}-\u{1f}\u{7f}\u{2028}\u{2029}a-zé😀]{0,12}",
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number().prop_map(Value::Number),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((text(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn config() -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 2048;
    }
    c
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn marshal_matches_both_copies(v in value()) {
        let shared = ampoule_gojson::marshal(&v, true);
        prop_assert_eq!(&shared, &plugin_copy::go_json(&v));
        prop_assert_eq!(&shared, &host_copy::marshal(&v, true));
        prop_assert_eq!(ampoule_gojson::marshal(&v, false), host_copy::marshal(&v, false));
    }

    #[test]
    fn byte_value_matches_both_copies(v in value()) {
        let shared = ampoule_gojson::byte_value(&v);
        prop_assert_eq!(&shared, &plugin_copy::byte_value(&v));
        prop_assert_eq!(&shared, &host_copy::byte_value(&v));
    }

    #[test]
    fn plain_float_matches_the_plugin_copy(f in any::<f64>().prop_filter("finite", |f| f.is_finite())) {
        prop_assert_eq!(ampoule_gojson::plain_float(f), plugin_copy::plain_float(f));
    }
}
