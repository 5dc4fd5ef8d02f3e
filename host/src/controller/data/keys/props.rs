//! Property tests (issue 17): key conversion, validation, decoding and regexp rewrites never
//! panic, and keep the invariants the Secret relies on.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use proptest::prelude::*;

use super::{
    check_null_bytes, convert_key, convert_keys, decode, is_key_char, rewrite_regexp, validate_keys,
};
use crate::crd::data::{ConversionStrategy, DecodingStrategy, NullBytePolicy};

fn config() -> ProptestConfig {
    // `ProptestConfig::default()` reads `PROPTEST_CASES`; without it, 256 cases.
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 256;
    }
    c
}

fn strategy() -> impl Strategy<Value = ConversionStrategy> {
    prop::sample::select(&[ConversionStrategy::Default, ConversionStrategy::Unicode][..])
}

fn decoding() -> impl Strategy<Value = DecodingStrategy> {
    prop::sample::select(
        &[
            DecodingStrategy::None,
            DecodingStrategy::Base64,
            DecodingStrategy::Base64Url,
            DecodingStrategy::Auto,
        ][..],
    )
}

/// A key as providers return them: paths, spaces, unicode, or anything at all.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9/._ -]{0,40}",
        "\\PC{0,24}",
        "[a-z]{250,260}",
        Just(String::new()),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// Only key characters come out; Default keeps one character per character; converting
    /// twice is converting once.
    #[test]
    fn conversion_yields_key_characters_and_is_idempotent(k in key(), s in strategy()) {
        let once = convert_key(&k, s);
        prop_assert!(once.chars().all(is_key_char), "{:?} -> {:?}", k, once);
        if s == ConversionStrategy::Default {
            prop_assert_eq!(once.chars().count(), k.chars().count());
        }
        prop_assert_eq!(convert_key(&once, s), once.clone());
    }

    /// An ASCII key is valid once converted, unless conversion made it longer than 253 bytes.
    #[test]
    fn converted_ascii_keys_validate(k in "[ -~]{1,253}", s in strategy()) {
        let converted = convert_key(&k, s);
        let fits = converted.len() <= 253;
        prop_assert_eq!(validate_keys(BTreeMap::from([(converted, ())])).is_ok(), fits);
    }

    /// Validation drops empty keys, keeps every valid one, and fails exactly when a non-empty key
    /// is too long or holds a character a Secret key cannot.
    #[test]
    fn validation_keeps_valid_keys_and_names_the_others(
        keys in prop::collection::btree_map(key(), any::<u8>(), 0..6),
        s in prop::option::of(strategy()),
    ) {
        let keys = match s {
            Some(s) => convert_keys(keys, s),
            None => keys,
        };
        let valid = |k: &str| {
            k.len() <= 253 && k.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
        };
        let any_bad = keys.keys().any(|k| !k.is_empty() && !valid(k));
        match validate_keys(keys.clone()) {
            Ok(out) => {
                prop_assert!(!any_bad);
                let want: BTreeMap<_, _> = keys.into_iter().filter(|(k, _)| !k.is_empty()).collect();
                prop_assert_eq!(out, want);
            }
            Err(e) => prop_assert!(any_bad, "{}", e),
        }
    }

    /// Decoding never panics; what base64 encoded, base64 (and Auto) decodes back.
    #[test]
    fn decoding_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..64), d in decoding()) {
        let _ = decode(bytes.clone(), d);
        prop_assert_eq!(decode(STANDARD.encode(&bytes).into_bytes(), DecodingStrategy::Base64), Ok(bytes.clone()));
        prop_assert_eq!(decode(URL_SAFE.encode(&bytes).into_bytes(), DecodingStrategy::Base64Url), Ok(bytes.clone()));
        prop_assert_eq!(decode(STANDARD.encode(&bytes).into_bytes(), DecodingStrategy::Auto), Ok(bytes.clone()));
        prop_assert_eq!(decode(bytes.clone(), DecodingStrategy::None), Ok(bytes.clone()));
        // Auto leaves what is base64 in neither alphabet as it is.
        if STANDARD.decode(&bytes).is_err() && URL_SAFE.decode(&bytes).is_err() {
            prop_assert_eq!(decode(bytes.clone(), DecodingStrategy::Auto), Ok(bytes));
        }
    }

    #[test]
    fn null_byte_policy_fails_exactly_on_a_null(bytes in prop::collection::vec(any::<u8>(), 0..32)) {
        let failed = check_null_bytes(&bytes, Some(NullBytePolicy::Fail), || "k".into()).is_err();
        prop_assert_eq!(failed, bytes.contains(&0));
        prop_assert!(check_null_bytes(&bytes, Some(NullBytePolicy::Ignore), || "k".into()).is_ok());
        prop_assert!(check_null_bytes(&bytes, None, || "k".into()).is_ok());
    }

    /// Any pattern and replacement: an error or a rewrite, never a panic (the regex crate bounds
    /// compile size and matches in linear time). At most as many keys come out as went in.
    #[test]
    fn regexp_rewrites_never_panic(
        source in prop_oneof!["[a-z.*+?()\\[\\]{}|^$\\\\0-9/_-]{0,16}", "\\PC{0,16}"],
        target in "[a-z$0-9{}_/-]{0,12}",
        keys in prop::collection::btree_map(key(), any::<u8>(), 0..5),
    ) {
        let n = keys.len();
        if let Ok(out) = rewrite_regexp(keys, &source, &target) {
            prop_assert!(out.len() <= n);
        }
    }

    /// A prefixing rewrite prefixes every key (ESO's `^(.*)$` → `p-$1` idiom).
    #[test]
    fn a_prefix_rewrite_prefixes_every_key(keys in prop::collection::btree_map("[a-z0-9_]{0,12}", any::<u8>(), 0..5)) {
        let out = rewrite_regexp(keys.clone(), "^(.*)$", "p-${1}")
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let want: BTreeMap<_, _> = keys.into_iter().map(|(k, v)| (format!("p-{k}"), v)).collect();
        prop_assert_eq!(out, want);
    }
}
