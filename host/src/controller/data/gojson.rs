//! The bytes ESO writes for JSON it decoded into Go's `any`: numbers are `float64`, objects are
//! maps with sorted keys, and the text is Go's `encoding/json` output (not serde_json's), so a
//! merged Secret is byte-identical to the one ESO writes.

use serde_json::{Number, Value};

/// ESO's `GetByteValue` for a decoded value: a string as is, a number in plain decimal, `true` /
/// `false`, nothing for `null`, objects and arrays as compact JSON (`json.Marshal`, HTML escaped).
pub(super) fn byte_value(v: &Value) -> Vec<u8> {
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
pub(super) fn marshal(v: &Value, escape_html: bool) -> String {
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

/// A `float64` as Go's encoder writes it: plain decimal, or exponent form (`1e+21`, `1e-7`)
/// outside [1e-6, 1e21).
fn write_number(out: &mut String, n: &Number) {
    let Some(f) = n.as_f64() else {
        out.push_str(&n.to_string());
        return;
    };
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = format!("{f:e}");
        match text.split_once('e') {
            Some((mantissa, exp)) if !exp.starts_with('-') => {
                out.push_str(mantissa);
                out.push_str("e+");
                out.push_str(exp);
            }
            _ => out.push_str(&text),
        }
    } else {
        out.push_str(&f.to_string());
    }
}

/// A JSON string as Go writes it: `\b \f \n \r \t` short, other control characters `\u00xx`,
/// U+2028 and U+2029 escaped, HTML characters escaped only when asked.
fn write_string(out: &mut String, s: &str, escape_html: bool) {
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
            '<' | '>' | '&' if escape_html => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}
