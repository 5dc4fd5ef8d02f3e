//! Byte values as ESO produces them: Go's `json.Marshal` (sorted keys, HTML-safe escapes, float64
//! numbers) and `esutils.GetByteValue`.

use serde_json::{Map, Value};

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

/// ESO's `GetSecretMap`: the value (JSON object) decoded, every member through `GetByteValue`.
pub fn to_map(json: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let map: Map<String, Value> =
        serde_json::from_slice(json).map_err(|e| format!("unable to unmarshal secret: {e}"))?;
    Ok(map
        .iter()
        .map(|(k, v)| (k.clone(), byte_value(v)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn marshals_like_go() {
        let v = json!({"b": 1, "a": "<x&y>", "c": [1.5, true, null], "d": {"z": 1e21, "y": 1e-7}});
        assert_eq!(
            go_json(&v),
            r#"{"a":"\u003cx\u0026y\u003e","b":1,"c":[1.5,true,null],"d":{"y":1e-7,"z":1e+21}}"#
        );
        assert_eq!(
            go_json(&json!("line\nnext\u{2028}")),
            "\"line\\nnext\\u2028\""
        );
    }

    #[test]
    fn byte_values_like_get_byte_value() {
        assert_eq!(byte_value(&json!("s")), b"s");
        assert_eq!(byte_value(&json!(42)), b"42");
        assert_eq!(byte_value(&json!(1.25)), b"1.25");
        assert_eq!(byte_value(&json!(1e21)), b"1000000000000000000000");
        assert_eq!(byte_value(&json!(false)), b"false");
        assert_eq!(byte_value(&json!(null)), b"");
        assert_eq!(byte_value(&json!({"k": [1, "v"]})), br#"{"k":[1,"v"]}"#);
    }

    #[test]
    fn maps() {
        let m = to_map(br#"{"user":"u","n":3,"nested":{"a":"b"}}"#).unwrap();
        let got: Vec<(&str, &[u8])> = m.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
        assert_eq!(
            got,
            [
                ("n", &b"3"[..]),
                ("nested", br#"{"a":"b"}"#),
                ("user", b"u")
            ]
        );
        assert!(to_map(b"\"text\"").is_err());
    }
}
