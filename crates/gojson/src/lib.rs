//! Go's `encoding/json` text for strings and `float64`s, as ESO v0.16 (built with Go 1.24) writes
//! it, `json.Marshal` of a decoded JSON value and ESO's `GetByteValue`. One place for every writer
//! that must match ESO byte for byte: the host's `rewrite.merge` output, the template component's
//! `toJson`/`toRawJson`/`toPrettyJson` and the provider plugins' secret values.

use std::fmt::Write as _;

use serde_json::Value;

/// Appends `s` as a JSON string the way Go writes it: `\b \f \n \r \t` in short form (Go 1.22
/// and later), other control characters and U+2028/U+2029 as `\u00xx`, and `<`, `>`, `&` as
/// `\u003c`… only when `escape_html` (`json.Marshal` escapes them; an encoder with
/// `SetEscapeHTML(false)` keeps them).
pub fn write_string(out: &mut String, s: &str, escape_html: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' if escape_html => unicode_escape(out, c),
            '\u{2028}' | '\u{2029}' => unicode_escape(out, c),
            c if u32::from(c) < 0x20 => unicode_escape(out, c),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn unicode_escape(out: &mut String, c: char) {
    let _ = write!(out, "\\u{:04x}", u32::from(c));
}

/// A `float64` as Go's encoder writes it: the shortest digits that read back the same, in plain
/// decimal inside [1e-6, 1e21) (and for zero), in exponent form outside (`1e+21`, `1e-7`,
/// `1.5e-10`). `None` for NaN and the infinities, which Go refuses to encode.
pub fn float(f: f64) -> Option<String> {
    if !f.is_finite() {
        return None;
    }
    let abs = f.abs();
    if abs == 0.0 || (1e-6..1e21).contains(&abs) {
        return Some(f.to_string());
    }
    // Rust writes `1e21` and `1e-7`; Go writes the exponent's sign always and no leading zeros.
    let text = format!("{f:e}");
    Some(match text.split_once('e') {
        Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
        _ => text,
    })
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: the shortest digits that read back the same,
/// never an exponent (`1e21` is `1000000000000000000000`). What ESO's `GetByteValue` writes for
/// a number. Rust's `Display` for `f64` is exactly that for finite values; NaN and the
/// infinities (which no JSON value holds) are written as Go writes them.
pub fn plain_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        f.to_string()
    }
}

/// Go's `encoding/json` encoding of a value decoded into Go's `any`: compact, objects with their
/// keys sorted bytewise (Go's map order), numbers as `float64`s ([`float`]), `<`, `>` and `&`
/// escaped when `escape_html` (`json.Marshal`) and kept otherwise (an encoder with
/// `SetEscapeHTML(false)`).
pub fn marshal(v: &Value, escape_html: bool) -> String {
    let mut out = String::new();
    write_value(&mut out, v, escape_html);
    out
}

/// Appends [`marshal`]`(v, escape_html)` to `out`.
pub fn write_value(out: &mut String, v: &Value, escape_html: bool) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match n.as_f64().and_then(float) {
            Some(text) => out.push_str(&text),
            None => out.push_str(&n.to_string()),
        },
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
            // Sorted here rather than trusting the map's order: serde_json keeps insertion order
            // when any crate of the build enables its `preserve_order` feature.
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, item)) in members.into_iter().enumerate() {
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

/// ESO's `esutils.GetByteValue` of a decoded value: a string as it is, a number in plain decimal
/// ([`plain_float`]), `true`/`false`, nothing for `null`, objects and arrays as `json.Marshal`
/// writes them (HTML escaped).
pub fn byte_value(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Null => Vec::new(),
        Value::Bool(b) => b.to_string().into_bytes(),
        Value::Number(n) => match n.as_f64() {
            Some(f) => plain_float(f).into_bytes(),
            None => n.to_string().into_bytes(),
        },
        Value::Object(_) | Value::Array(_) => marshal(v, true).into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(s: &str, html: bool) -> String {
        let mut out = String::new();
        write_string(&mut out, s, html);
        out
    }

    #[test]
    fn strings_as_go_writes_them() {
        assert_eq!(
            string("a\u{8}b\u{c}c\n\r\t\u{1}\"\\", false),
            r#""a\bb\fc\n\r\t\u0001\"\\""#
        );
        assert_eq!(string("<&>", true), r#""\u003c\u0026\u003e""#);
        assert_eq!(string("<&>", false), r#""<&>""#);
        assert_eq!(string("\u{2028}\u{2029}é", false), r#""\u2028\u2029é""#);
    }

    #[test]
    fn floats_as_go_writes_them() {
        for (f, want) in [
            (1.5, "1.5"),
            (0.0, "0"),
            (-0.0, "-0"),
            (123456789.0, "123456789"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (-1.5e-10, "-1.5e-10"),
        ] {
            assert_eq!(float(f).as_deref(), Some(want), "{f}");
        }
        assert_eq!(float(f64::NAN), None);
        assert_eq!(float(f64::INFINITY), None);
    }

    #[test]
    fn plain_floats_never_use_an_exponent() {
        for (f, want) in [
            (1.5, "1.5"),
            (-0.0, "-0"),
            (1e21, "1000000000000000000000"),
            (1e-7, "0.0000001"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Inf"),
        ] {
            assert_eq!(plain_float(f), want, "{f}");
        }
    }

    #[test]
    fn marshals_like_go() {
        let v = serde_json::json!({"b": 1, "a": "<x&y>", "c": [1.5, true, null], "d": {"z": 1e21, "y": 1e-7}});
        assert_eq!(
            marshal(&v, true),
            r#"{"a":"\u003cx\u0026y\u003e","b":1,"c":[1.5,true,null],"d":{"y":1e-7,"z":1e+21}}"#
        );
        assert_eq!(
            marshal(&v, false),
            r#"{"a":"<x&y>","b":1,"c":[1.5,true,null],"d":{"y":1e-7,"z":1e+21}}"#
        );
    }

    #[test]
    fn byte_values_like_get_byte_value() {
        use serde_json::json;
        assert_eq!(byte_value(&json!("s<")), b"s<");
        assert_eq!(byte_value(&json!(42)), b"42");
        assert_eq!(byte_value(&json!(1e21)), b"1000000000000000000000");
        assert_eq!(byte_value(&json!(false)), b"false");
        assert_eq!(byte_value(&json!(null)), b"");
        assert_eq!(
            byte_value(&json!({"k": [1, "<"]})),
            br#"{"k":[1,"\u003c"]}"#
        );
    }
}
