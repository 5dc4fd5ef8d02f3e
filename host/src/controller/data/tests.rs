use std::collections::BTreeMap;

use super::keys::{convert_key, decode, rewrite_regexp, validate_keys};
use crate::crd::data::{ConversionStrategy, DecodingStrategy};

#[test]
fn converts_keys_like_eso() {
    assert_eq!(
        convert_key("a/b c.d", ConversionStrategy::Default),
        "a_b_c.d"
    );
    assert_eq!(convert_key("a/b", ConversionStrategy::Unicode), "a_U002f_b");
    assert_eq!(
        convert_key("日本", ConversionStrategy::Default),
        "日本",
        "letters of any script are kept"
    );
}

#[test]
fn validates_keys() {
    let ok = BTreeMap::from([("a-b.c_D9".to_string(), 1), (String::new(), 2)]);
    assert_eq!(
        validate_keys(ok).unwrap().len(),
        1,
        "empty keys are dropped"
    );
    let bad = BTreeMap::from([("a/b".to_string(), 1)]);
    let err = validate_keys(bad).unwrap_err().to_string();
    assert!(
        err.starts_with(
            "invalid secret keys (TIP: use rewrite or conversionStrategy to change keys)"
        ),
        "{err}"
    );
    let long = BTreeMap::from([("k".repeat(254), 1)]);
    assert!(validate_keys(long).is_err());
}

#[test]
fn decodes() {
    assert_eq!(
        decode(b"aGk=".to_vec(), DecodingStrategy::Base64).unwrap(),
        b"hi"
    );
    assert!(decode(b"not base64!".to_vec(), DecodingStrategy::Base64).is_err());
    assert_eq!(
        decode(b"-_8=".to_vec(), DecodingStrategy::Base64Url).unwrap(),
        vec![0xfb, 0xff]
    );
    assert_eq!(
        decode(b"-_8=".to_vec(), DecodingStrategy::Auto).unwrap(),
        vec![0xfb, 0xff]
    );
    assert_eq!(
        decode(b"plain text".to_vec(), DecodingStrategy::Auto).unwrap(),
        b"plain text"
    );
    assert_eq!(
        decode(b"aGk=".to_vec(), DecodingStrategy::None).unwrap(),
        b"aGk="
    );
}

#[test]
fn rewrites_keys_with_go_style_expansion() {
    let map = BTreeMap::from([("db/user".to_string(), 1), ("db/pass".to_string(), 2)]);
    let out = rewrite_regexp(map, "db/(.*)", "DB_$1").unwrap();
    assert_eq!(out.keys().collect::<Vec<_>>(), vec!["DB_pass", "DB_user"]);
}
