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

/// go_vectors.jsonl is what tests/go/main.go writes (its random inputs are seeded): a change to
/// either without the other fails here. Needs Go (the test ground's toolchain is on PATH in CI).
#[test]
fn go_vectors_are_up_to_date() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/go");
    let cache = std::env::var_os("HOME")
        .map(|h| std::path::PathBuf::from(h).join(".cache/ampoule/go-build"))
        .unwrap_or_else(|| std::env::temp_dir().join("ampoule-go-build"));
    let out = std::process::Command::new("go")
        .args(["run", "main.go"])
        .current_dir(&dir)
        .env("GOCACHE", cache)
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .output()
        .expect("go is needed to check go_vectors.jsonl (the ground's toolchain)");
    assert!(
        out.status.success(),
        "go run main.go: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = std::fs::read_to_string(dir.join("../go_vectors.jsonl")).unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout) == want,
        "go_vectors.jsonl is stale: cd crates/gojson/tests/go && go run main.go > ../go_vectors.jsonl"
    );
}
