use std::collections::BTreeSet;

use super::*;

fn rules(spec: &str) -> Rules {
    Spec::parse(spec).unwrap().rules().unwrap()
}

fn classes(p: &str, symbols: &[char]) -> (usize, usize, usize, usize) {
    let lower = p.chars().filter(|c| c.is_ascii_lowercase()).count();
    let upper = p.chars().filter(|c| c.is_ascii_uppercase()).count();
    let digits = p.chars().filter(|c| c.is_ascii_digit()).count();
    let sym = p.chars().filter(|c| symbols.contains(c)).count();
    (lower, upper, digits, sym)
}

#[test]
fn defaults_are_esos() {
    let r = rules("{}");
    assert_eq!(r.length, 24);
    assert_eq!((r.digits, r.symbols), (6, 6));
    assert_eq!(
        r.symbol_characters.iter().collect::<String>(),
        DEFAULT_SYMBOLS
    );
    assert_eq!(r.keys, ["password"]);
    assert_eq!(r.encoding, "raw");
    assert!(!r.no_upper && !r.allow_repeat);
    // A length that is not positive means the default; a quarter rounds down.
    assert_eq!(rules(r#"{"length":0}"#).length, 24);
    assert_eq!(rules(r#"{"length":-3}"#).length, 24);
    let r = rules(r#"{"length":11}"#);
    assert_eq!((r.digits, r.symbols), (2, 2));
    // Empty symbolCharacters falls back to the default set, as the library does.
    let r = rules(r#"{"symbolCharacters":""}"#);
    assert_eq!(r.symbol_characters.len(), DEFAULT_SYMBOLS.len());
    // An empty key list is the default key.
    assert_eq!(rules(r#"{"secretKeys":[]}"#).keys, ["password"]);
}

#[test]
fn default_password_has_esos_classes() {
    let symbols: Vec<char> = DEFAULT_SYMBOLS.chars().collect();
    let out = Spec::parse("{}").unwrap().generate().unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, "password");
    let p = String::from_utf8(out[0].1.clone()).unwrap();
    assert_eq!(p.chars().count(), 24);
    let (lower, upper, digits, sym) = classes(&p, &symbols);
    assert_eq!(lower + upper, 12);
    assert_eq!(digits, 6);
    assert_eq!(sym, 6);
    let unique: BTreeSet<char> = p.chars().collect();
    assert_eq!(unique.len(), 24, "no repeats by default: {p}");
}

#[test]
fn explicit_counts_no_upper_and_custom_symbols() {
    let spec = r#"{"length":40,"digits":10,"symbols":3,"symbolCharacters":"-_","noUpper":true,"allowRepeat":true}"#;
    for _ in 0..50 {
        let out = Spec::parse(spec).unwrap().generate().unwrap();
        let p = String::from_utf8(out[0].1.clone()).unwrap();
        let (lower, upper, digits, sym) = classes(&p, &['-', '_']);
        assert_eq!((lower, upper, digits, sym), (27, 0, 10, 3), "{p}");
    }
    // Zero digits and symbols are honoured (not replaced by the default).
    let p = Spec::parse(r#"{"length":8,"digits":0,"symbols":0}"#)
        .unwrap()
        .generate()
        .unwrap();
    assert!(p[0].1.iter().all(u8::is_ascii_alphabetic));
}

#[test]
fn refusals() {
    for (spec, why) in [
        (r#"{"length":4,"digits":3,"symbols":2}"#, "exceed"),
        (r#"{"digits":-1}"#, "negative"),
        (r#"{"length":30,"digits":11}"#, "distinct digits"),
        (
            r#"{"length":60,"digits":0,"symbols":0,"noUpper":true}"#,
            "distinct letters",
        ),
        (
            r#"{"symbols":6,"symbolCharacters":"!!!"}"#,
            "distinct symbols",
        ),
        (r#"{"secretKeys":["a","a"]}"#, "unique"),
        (r#"{"secretKeys":[""]}"#, "unique"),
        (r#"{"length":"x"}"#, "parse"),
        (r#"{"length":100000}"#, "longer"),
    ] {
        let err = Spec::parse(spec).and_then(|s| s.generate()).unwrap_err();
        let Error::Spec(msg) = err else {
            panic!("{spec}: {err:?}")
        };
        assert!(msg.contains(why), "{spec}: {msg}");
    }
    // Symbols that are letters, all taken by the letters already.
    let spec = r#"{"length":53,"digits":0,"symbols":1,"symbolCharacters":"a"}"#;
    assert!(Spec::parse(spec).unwrap().generate().is_err());
    // With allowRepeat, counts past the distinct characters are fine.
    let out = Spec::parse(r#"{"length":30,"digits":11,"allowRepeat":true}"#)
        .unwrap()
        .generate()
        .unwrap();
    assert_eq!(out[0].1.len(), 30);
}

#[test]
fn keys_are_independent_and_encodings_apply() {
    let out = Spec::parse(r#"{"secretKeys":["a","b","c"],"encoding":"hex"}"#)
        .unwrap()
        .generate()
        .unwrap();
    let keys: Vec<&str> = out.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["a", "b", "c"]);
    let values: BTreeSet<&Vec<u8>> = out.iter().map(|(_, v)| v).collect();
    assert_eq!(values.len(), 3);
    for (_, v) in &out {
        assert_eq!(v.len(), 48);
        assert!(v.iter().all(|b| b.is_ascii_hexdigit()));
    }
    let b64 = Spec::parse(r#"{"encoding":"base64"}"#)
        .unwrap()
        .generate()
        .unwrap();
    assert_eq!(b64[0].1.len(), 32);
    let b32 = Spec::parse(r#"{"encoding":"base32"}"#)
        .unwrap()
        .generate()
        .unwrap();
    assert_eq!(b32[0].1.len(), 40);
    assert!(
        Spec::parse(r#"{"encoding":"rot13"}"#)
            .unwrap()
            .warnings()
            .unwrap()[0]
            .contains("rot13")
    );
}

#[test]
fn positions_are_mixed() {
    // Each class is inserted at random positions, not appended: over many passwords a digit
    // shows up at the first position and at the last.
    let (mut first, mut last) = (false, false);
    for _ in 0..200 {
        let p = Rules::password(&rules("{}")).unwrap();
        first |= p.starts_with(|c: char| c.is_ascii_digit());
        last |= p.ends_with(|c: char| c.is_ascii_digit());
    }
    assert!(first && last);
}

/// A random number in `0..n` from the same source the generator uses.
fn pick(n: usize) -> usize {
    crate::random::below(n).unwrap()
}

#[test]
fn property_any_accepted_spec_yields_exactly_its_classes() {
    let symbols: Vec<char> = DEFAULT_SYMBOLS.chars().collect();
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..400 {
        let length = pick(70) as i64;
        let digits = pick(20) as i64;
        let symbols_n = pick(40) as i64;
        let no_upper = pick(2) == 1;
        let allow_repeat = pick(2) == 1;
        let spec = serde_json::json!({"length": length, "digits": digits, "symbols": symbols_n,
            "noUpper": no_upper, "allowRepeat": allow_repeat});
        let parsed = Spec::parse(&spec.to_string()).unwrap();
        let rules = match parsed.rules() {
            Ok(r) => r,
            Err(Error::Spec(_)) => {
                // Refused only when the counts cannot be met.
                let len = if length > 0 { length } else { 24 };
                let letters = len - digits - symbols_n;
                let alphabet = if no_upper { 26 } else { 52 };
                assert!(
                    letters < 0
                        || (!allow_repeat
                            && (letters > alphabet
                                || digits > 10
                                || symbols_n > symbols.len() as i64)),
                    "{spec} refused"
                );
                refused += 1;
                continue;
            }
            Err(e) => panic!("{spec}: {e:?}"),
        };
        let p = rules.password().unwrap();
        let (lower, upper, d, s) = classes(&p, &symbols);
        assert_eq!(p.chars().count(), rules.length, "{spec}: {p}");
        assert_eq!(d, rules.digits, "{spec}: {p}");
        assert_eq!(s, rules.symbols, "{spec}: {p}");
        assert_eq!(lower + upper, rules.length - rules.digits - rules.symbols);
        if no_upper {
            assert_eq!(upper, 0, "{spec}: {p}");
        }
        if !allow_repeat {
            assert_eq!(
                p.chars().collect::<BTreeSet<_>>().len(),
                rules.length,
                "{spec}: {p}"
            );
        }
        accepted += 1;
    }
    // Both outcomes were exercised.
    assert!(
        accepted > 50 && refused > 50,
        "{accepted} accepted, {refused} refused"
    );
}
