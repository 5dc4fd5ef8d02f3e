//! Go's own output (go_vectors.jsonl, written by tests/go/main.go with Go's encoding/json and
//! strconv): json.Marshal, an encoder without HTML escaping and ESO's GetByteValue of 514 values,
//! among them 500 float64s (random bit patterns and random decimals of 1 to 17 digits).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;

#[test]
fn output_matches_go_byte_for_byte() {
    let text = include_str!("go_vectors.jsonl");
    let mut checked = 0;
    for line in text.lines() {
        let [input, html, raw, bytes]: [String; 4] = serde_json::from_str(line).unwrap();
        let v: Value = serde_json::from_str(&input).unwrap();
        assert_eq!(
            ampoule_gojson::marshal(&v, true),
            html,
            "json.Marshal of {input}"
        );
        assert_eq!(
            ampoule_gojson::marshal(&v, false),
            raw,
            "SetEscapeHTML(false) of {input}"
        );
        assert_eq!(
            String::from_utf8(ampoule_gojson::byte_value(&v)).unwrap(),
            bytes,
            "GetByteValue of {input}"
        );
        checked += 1;
    }
    assert_eq!(checked, 514);
}
