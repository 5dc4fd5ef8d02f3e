//! Identity of components (sha256 digests) and the on-disk cache of compiled code.
//!
//! Compiled code is cached by wasmtime's own cache (`Config::cache`), keyed by a hash of the
//! engine configuration, the wasmtime version and the component bytes, written atomically
//! (temp file + rename) under [`default_cache_dir`]. We use it instead of loading `.cwasm` files
//! ourselves because `Component::deserialize` is `unsafe` and the workspace forbids unsafe code.
//! The directory must be private to the pod (it holds native code that is trusted when loaded).

use std::fmt;
use std::path::PathBuf;

use sha2::{Digest as _, Sha256};

/// `sha256:<64 hex>`: what runs, what status shows, what caches are keyed by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid digest {0:?} (expected sha256:<64 lowercase hex>)")]
pub struct BadDigest(String);

impl Digest {
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(format!("sha256:{}", hex::encode(Sha256::digest(bytes))))
    }

    pub fn parse(text: &str) -> Result<Digest, BadDigest> {
        let hex = text
            .strip_prefix("sha256:")
            .ok_or_else(|| BadDigest(text.to_owned()))?;
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(BadDigest(text.to_owned()));
        }
        Ok(Digest(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `$AMPOULE_CACHE_DIR/modules`, else `$XDG_CACHE_HOME/ampoule/modules`, else
/// `$HOME/.cache/ampoule/modules`, else a directory under the system temp dir.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("AMPOULE_CACHE_DIR") {
        return PathBuf::from(dir).join("modules");
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("ampoule/modules");
    }
    if let Some(home) = std::env::var_os("HOME") {
        return PathBuf::from(home).join(".cache/ampoule/modules");
    }
    std::env::temp_dir().join("ampoule-modules")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests() {
        let d = Digest::of(b"abc");
        assert_eq!(
            d.as_str(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Digest::parse(d.as_str()).unwrap(), d);
        assert!(Digest::parse("sha256:XYZ").is_err());
        assert!(Digest::parse("md5:00").is_err());
    }
}
