//! `dataFrom[].find`: a bounded recursive LIST of the KV metadata tree, then a name regexp or
//! custom_metadata tags, then one read per match (ESO's `GetAllSecrets`).

use ampoule_sdk::errors::invalid_config;
use ampoule_sdk::{FindQuery, ProviderError, SecretMap};

use crate::client::VaultClient;
use crate::config::Version;

/// Deepest folder level followed below `find.path`.
pub const MAX_DEPTH: usize = 8;
/// Most LIST calls one find may make.
pub const MAX_LISTS: usize = 64;
/// Most candidate secrets one find may consider.
pub const MAX_CANDIDATES: usize = 1000;

/// Counters that bound one walk.
#[derive(Default)]
pub struct Walk {
    lists: usize,
    pub names: Vec<String>,
}

impl Walk {
    /// Records one LIST answer for `prefix` (ending in `/` or empty); returns the folders to
    /// descend into.
    pub fn add(
        &mut self,
        prefix: &str,
        keys: &[String],
        depth: usize,
    ) -> Result<Vec<String>, ProviderError> {
        self.lists += 1;
        let mut folders = Vec::new();
        for k in keys {
            let full = format!("{prefix}{k}");
            if k.ends_with('/') {
                if depth + 1 > MAX_DEPTH {
                    return Err(too_big(&format!(
                        "folders nested deeper than {MAX_DEPTH} levels"
                    )));
                }
                folders.push(full);
            } else {
                self.names.push(full);
                if self.names.len() > MAX_CANDIDATES {
                    return Err(too_big(&format!("more than {MAX_CANDIDATES} secrets")));
                }
            }
        }
        if self.lists + folders.len() > MAX_LISTS {
            return Err(too_big(&format!("more than {MAX_LISTS} folders")));
        }
        Ok(folders)
    }
}

fn too_big(what: &str) -> ProviderError {
    ProviderError::Internal(format!(
        "find: {what} under the search path; narrow find.path"
    ))
}

/// True when a secret's metadata carries every tag.
pub fn tags_match(metadata: &[(String, String)], tags: &[(String, String)]) -> bool {
    tags.iter()
        .all(|(k, v)| metadata.iter().any(|(mk, mv)| mk == k && mv == v))
}

impl VaultClient {
    pub fn find(&self, query: FindQuery) -> Result<SecretMap, ProviderError> {
        if self.version == Version::V1 && !query.tags.is_empty() {
            return Err(invalid_config(
                "cannot perform find by tag operations with kv version v1",
            ));
        }
        if self.mount.is_none() {
            return Err(invalid_config(
                "find needs the store's path (the KV mount) to be set",
            ));
        }
        let matcher = match query.name_regexp.as_deref() {
            Some(re) => Some(
                regex_lite::Regex::new(re)
                    .map_err(|e| invalid_config(format!("find.name.regexp: {e}")))?,
            ),
            None => None,
        };
        let root = query
            .path
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(|p| format!("{}/", p.trim_end_matches('/')))
            .unwrap_or_default();
        let mut walk = Walk::default();
        let mut pending = vec![(root, 0usize)];
        while let Some((prefix, depth)) = pending.pop() {
            let keys = self.list(&prefix)?;
            for folder in walk.add(&prefix, &keys, depth)? {
                pending.push((folder, depth + 1));
            }
        }
        walk.names.sort();
        let mut out = Vec::new();
        for name in walk.names {
            let wanted = match &matcher {
                Some(re) => re.is_match(&name),
                None if query.tags.is_empty() => true,
                None => tags_match(&self.metadata(&name)?, &query.tags),
            };
            if !wanted {
                continue;
            }
            match self.read_json(&name, None) {
                Ok(value) => out.push((name, value)),
                Err(ProviderError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn walk_collects_names_and_folders() {
        let mut w = Walk::default();
        let folders = w.add("app/", &s(&["a", "db/", "b"]), 0).unwrap();
        assert_eq!(folders, ["app/db/"]);
        w.add("app/db/", &s(&["x"]), 1).unwrap();
        assert_eq!(w.names, ["app/a", "app/b", "app/db/x"]);
    }

    #[test]
    fn walk_is_bounded() {
        let mut w = Walk::default();
        assert!(w.add("", &s(&["deep/"]), MAX_DEPTH).is_err());
        let many: Vec<String> = (0..=MAX_CANDIDATES).map(|i| i.to_string()).collect();
        assert!(Walk::default().add("", &many, 0).is_err());
        let folders: Vec<String> = (0..MAX_LISTS).map(|i| format!("{i}/")).collect();
        let err = Walk::default().add("", &folders, 0).unwrap_err();
        assert!(matches!(err, ProviderError::Internal(m) if m.contains("narrow find.path")));
    }

    #[test]
    fn tags() {
        let md = vec![
            ("team".to_owned(), "a".to_owned()),
            ("env".to_owned(), "prod".to_owned()),
        ];
        assert!(tags_match(&md, &[("team".into(), "a".into())]));
        assert!(!tags_match(&md, &[("team".into(), "b".into())]));
        assert!(tags_match(&md, &[]));
    }
}
