//! Byte values as ESO produces them: Go's `json.Marshal` (sorted keys, HTML-safe escapes, float64
//! numbers), `esutils.GetByteValue` (both from ampoule-gojson, shared with the host) and
//! `GetSecretMap`.

use serde_json::{Map, Value};

pub use ampoule_gojson::{byte_value, plain_float};

/// Go's `json.Marshal` of a decoded JSON value.
pub fn go_json(v: &Value) -> String {
    ampoule_gojson::marshal(v, true)
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
