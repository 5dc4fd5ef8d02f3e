//! Key and value rules of the data map (docs/eso-behaviour.md#keys-and-decoding): ESO's key
//! conversion and validation, decoding strategies, the null-byte policy and regexp rewrites.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};

use super::super::error::Error;
use crate::crd::data::{ConversionStrategy, DecodingStrategy, NullBytePolicy};

pub(super) fn check_null_bytes(
    v: &[u8],
    policy: Option<NullBytePolicy>,
    what: impl Fn() -> String,
) -> Result<(), Error> {
    if policy == Some(NullBytePolicy::Fail) && v.contains(&0) {
        return Err(Error::Decode(format!(
            "error processing {}: value contains a null byte and nullBytePolicy is Fail",
            what()
        )));
    }
    Ok(())
}

fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || c == '-' || c == '.' || c == '_'
}

/// ESO's ConvertKeys: every rune that is not a letter, digit, `-`, `.` or `_` becomes `_`
/// (Default) or `_U%04x_` (Unicode).
pub fn convert_key(key: &str, strategy: ConversionStrategy) -> String {
    let mut out = String::with_capacity(key.len());
    for c in key.chars() {
        if is_key_char(c) {
            out.push(c);
        } else {
            match strategy {
                ConversionStrategy::Default => out.push('_'),
                ConversionStrategy::Unicode => out.push_str(&format!("_U{:04x}_", u32::from(c))),
            }
        }
    }
    out
}

/// The converted key that two different keys of `keys` both become, if any: ESO's ConvertKeys
/// refuses such a map (`secret name collision during conversion`) rather than keep one value.
pub(super) fn collision<'a>(
    keys: impl IntoIterator<Item = &'a String>,
    strategy: ConversionStrategy,
) -> Option<String> {
    let mut seen = std::collections::BTreeSet::new();
    keys.into_iter()
        .map(|k| convert_key(k, strategy))
        .find(|c| !seen.insert(c.clone()))
}

pub(super) fn convert_keys<V>(
    map: BTreeMap<String, V>,
    strategy: ConversionStrategy,
) -> BTreeMap<String, V> {
    map.into_iter()
        .map(|(k, v)| (convert_key(&k, strategy), v))
        .collect()
}

/// Drops empty keys; rejects keys a Secret cannot hold (ESO's message).
pub fn validate_keys<V>(map: BTreeMap<String, V>) -> Result<BTreeMap<String, V>, Error> {
    let bad: Vec<&str> = map
        .keys()
        .filter(|k| {
            !k.is_empty()
                && (k.len() > 253
                    || !k
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)))
        })
        .map(String::as_str)
        .collect();
    if !bad.is_empty() {
        return Err(Error::InvalidKeys {
            keys: bad.join(", "),
        });
    }
    Ok(map.into_iter().filter(|(k, _)| !k.is_empty()).collect())
}

/// `decodingStrategy`: Base64 (standard, padded), Base64URL, Auto (standard, then URL, else raw),
/// None.
pub fn decode(value: Vec<u8>, strategy: DecodingStrategy) -> Result<Vec<u8>, String> {
    match strategy {
        DecodingStrategy::None => Ok(value),
        DecodingStrategy::Base64 => STANDARD
            .decode(&value)
            .map_err(|e| format!("failed to decode base64: {e}")),
        DecodingStrategy::Base64Url => URL_SAFE
            .decode(&value)
            .map_err(|e| format!("failed to decode base64url: {e}")),
        DecodingStrategy::Auto => Ok(STANDARD
            .decode(&value)
            .or_else(|_| URL_SAFE.decode(&value))
            .unwrap_or(value)),
    }
}

/// One `regexp` rewrite over every key.
pub(super) fn rewrite_regexp<V>(
    map: BTreeMap<String, V>,
    source: &str,
    target: &str,
) -> Result<BTreeMap<String, V>, regex::Error> {
    let re = regex::Regex::new(source)?;
    Ok(map
        .into_iter()
        .map(|(k, v)| (re.replace_all(&k, target).into_owned(), v))
        .collect())
}

#[cfg(test)]
mod collision_tests {
    use super::*;

    #[test]
    fn keys_that_convert_to_the_same_key_collide() {
        let keys = ["a/b".to_string(), "a_b".to_string(), "c".to_string()];
        assert_eq!(
            collision(&keys, ConversionStrategy::Default).as_deref(),
            Some("a_b")
        );
        assert_eq!(collision(&keys, ConversionStrategy::Unicode), None);
        let unicode = ["a b".to_string(), "a_U0020_b".to_string()];
        assert_eq!(
            collision(&unicode, ConversionStrategy::Unicode).as_deref(),
            Some("a_U0020_b")
        );
    }
}

#[cfg(test)]
mod props;
