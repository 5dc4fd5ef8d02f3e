//! ESO's exact hashes (docs/eso-behaviour.md#hashes), so a cluster moving from ESO sees no rewrite
//! of its Secrets and no re-sync of its ExternalSecrets.
//!
//! ESO computes `hex(sha3_224(fmt.Sprintf("%+v", x)))`; the functions below format `x` the way Go
//! does for the three values ESO hashes.

use std::collections::BTreeMap;
use std::fmt::Write;

use sha3::{Digest, Sha3_224};

/// `hex(sha3-224(text))`.
pub fn object_hash(text: &str) -> String {
    let digest = Sha3_224::digest(text.as_bytes());
    let mut out = String::with_capacity(56);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The `reconcile.external-secrets.io/data-hash` annotation: Go's `%+v` of a Secret's
/// `map[string][]byte` is `map[k1:[98 97 114] k2:[]]` with keys sorted.
pub fn data_hash<'a, I, V>(data: I) -> String
where
    I: IntoIterator<Item = (&'a String, V)>,
    V: AsRef<[u8]>,
{
    let sorted: BTreeMap<&String, V> = data.into_iter().collect();
    let mut text = String::from("map[");
    for (i, (k, v)) in sorted.iter().enumerate() {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(k);
        text.push_str(":[");
        for (j, b) in v.as_ref().iter().enumerate() {
            if j > 0 {
                text.push(' ');
            }
            let _ = write!(text, "{b}");
        }
        text.push(']');
    }
    text.push(']');
    object_hash(&text)
}

/// The `reconcile.external-secrets.io/created-by` label: hash of `"<namespace>/<name>"`.
pub fn created_by(namespace: &str, name: &str) -> String {
    object_hash(&format!("{namespace}/{name}"))
}

fn go_string_map(map: Option<&BTreeMap<String, String>>) -> String {
    let mut text = String::from("map[");
    for (i, (k, v)) in map.into_iter().flatten().enumerate() {
        if i > 0 {
            text.push(' ');
        }
        let _ = write!(text, "{k}:{v}");
    }
    text.push(']');
    text
}

/// `status.syncedResourceVersion`: `"<generation>-" + hash("{annotations:map[…] labels:map[…]}")`.
pub fn resource_version(
    generation: i64,
    annotations: Option<&BTreeMap<String, String>>,
    labels: Option<&BTreeMap<String, String>>,
) -> String {
    let meta = format!(
        "{{annotations:{} labels:{}}}",
        go_string_map(annotations),
        go_string_map(labels)
    );
    format!("{generation}-{}", object_hash(&meta))
}

/// ESO's field manager for an ExternalSecret's writes to its target.
pub fn field_manager(es_name: &str) -> String {
    let plain = format!("externalsecrets.external-secrets.io/{es_name}");
    if plain.len() > 63 {
        format!(
            "externalsecrets.external-secrets.io/sha3/{}",
            object_hash(es_name)
        )
    } else {
        plain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors from the reference (computed with Python's hashlib.sha3_224 on Go's %+v text).
    #[test]
    fn matches_eso_vectors() {
        let data = BTreeMap::from([("foo".to_string(), b"bar".to_vec())]);
        assert_eq!(
            data_hash(&data),
            "f2a604b87eb0cf673761e8cfea850f901fe73a3d1b2f338802107f36"
        );
        let empty: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        assert_eq!(
            data_hash(&empty),
            "74a974446e359fb3e6baff9bd0058950e6edd0f040888d9989b0a11b"
        );
        assert_eq!(
            created_by("default", "my-es"),
            "b8464376b5fe3535e690594280bfe59b60be2603cb6cbb6d6c8bcbb4"
        );
        assert_eq!(
            resource_version(3, None, None),
            "3-f47fe3c0b255b6dd8047cdffa772587bb829efe7a1cb70febeda2eb2"
        );
    }

    #[test]
    fn go_formatting_of_maps() {
        let data = BTreeMap::from([("b".to_string(), vec![]), ("a".to_string(), vec![1u8, 255])]);
        assert_eq!(data_hash(&data), object_hash("map[a:[1 255] b:[]]"));
        let labels = BTreeMap::from([
            ("z".to_string(), "1".to_string()),
            ("a".to_string(), "x y".to_string()),
        ]);
        assert_eq!(
            resource_version(1, None, Some(&labels)),
            format!(
                "1-{}",
                object_hash("{annotations:map[] labels:map[a:x y z:1]}")
            )
        );
    }

    #[test]
    fn field_manager_switches_to_hash_past_63_chars() {
        assert_eq!(
            field_manager("db"),
            "externalsecrets.external-secrets.io/db"
        );
        let long = "x".repeat(40);
        let fm = field_manager(&long);
        assert!(
            fm.starts_with("externalsecrets.external-secrets.io/sha3/"),
            "{fm}"
        );
        assert_eq!(
            fm.len(),
            "externalsecrets.external-secrets.io/sha3/".len() + 56
        );
    }
}
