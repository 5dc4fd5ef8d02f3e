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
