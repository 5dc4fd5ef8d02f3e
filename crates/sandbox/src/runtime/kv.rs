//! The `ampoule:host/cache` store: small values (auth tokens) scoped to (store, plugin digest),
//! with caps on TTL, value size and entries per scope.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::redact::Redacted;

pub const MAX_ENTRIES_PER_SCOPE: usize = 32;
pub const MAX_VALUE_BYTES: usize = 16 * 1024;
pub const MAX_TTL: Duration = Duration::from_secs(3600);

/// Values by key, with their expiry.
type Scoped = HashMap<String, (Redacted<Vec<u8>>, Instant)>;

#[derive(Default)]
pub struct KvCache {
    inner: Mutex<HashMap<String, Scoped>>,
}

impl KvCache {
    pub fn get(&self, scope: &str, key: &str) -> Option<Vec<u8>> {
        let mut map = self.inner.lock().ok()?;
        let entries = map.get_mut(scope)?;
        match entries.get(key) {
            Some((value, expires)) if *expires > Instant::now() => Some(value.expose().clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    pub fn set(&self, scope: &str, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), String> {
        if value.len() > MAX_VALUE_BYTES || key.len() > 256 {
            return Err(format!(
                "cache value larger than {MAX_VALUE_BYTES} bytes (or key over 256)"
            ));
        }
        let mut map = self
            .inner
            .lock()
            .map_err(|_| "cache unavailable".to_owned())?;
        let entries = map.entry(scope.to_owned()).or_default();
        let now = Instant::now();
        entries.retain(|_, (_, expires)| *expires > now);
        if entries.len() >= MAX_ENTRIES_PER_SCOPE && !entries.contains_key(key) {
            return Err(format!(
                "cache holds at most {MAX_ENTRIES_PER_SCOPE} entries per store"
            ));
        }
        entries.insert(
            key.to_owned(),
            (Redacted::new(value), now + ttl.min(MAX_TTL)),
        );
        Ok(())
    }

    pub fn delete(&self, scope: &str, key: &str) {
        if let Ok(mut map) = self.inner.lock()
            && let Some(entries) = map.get_mut(scope)
        {
            entries.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_capped_and_expiring() {
        let kv = KvCache::default();
        kv.set("a", "k", b"v".to_vec(), Duration::from_secs(60))
            .unwrap();
        assert_eq!(kv.get("a", "k"), Some(b"v".to_vec()));
        assert_eq!(kv.get("b", "k"), None);
        assert!(
            kv.set(
                "a",
                "big",
                vec![0; MAX_VALUE_BYTES + 1],
                Duration::from_secs(1)
            )
            .is_err()
        );
        kv.set("a", "gone", b"x".to_vec(), Duration::ZERO).unwrap();
        assert_eq!(kv.get("a", "gone"), None);
        for i in 0..MAX_ENTRIES_PER_SCOPE {
            let _ = kv.set("c", &i.to_string(), vec![], Duration::from_secs(60));
        }
        assert!(
            kv.set("c", "one-more", vec![], Duration::from_secs(60))
                .is_err()
        );
        kv.delete("a", "k");
        assert_eq!(kv.get("a", "k"), None);
    }
}
