//! The pure part of a PushSecret reconcile (docs/eso-behaviour.md#pushsecret): whether a push is
//! due, which entries go to a store (`data` plus the `dataTo` rules expanded), the value each
//! entry writes, and how `status.syncedPushSecrets` changes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use ampoule_gojson as gojson;

use crate::controller::hash;
use crate::controller::stores::selector_matches;
use crate::crd::StoreKind;
use crate::crd::push_secret::{
    PushSecret, PushSecretConversionStrategy, PushSecretData, PushSecretDataTo, PushSecretMatch,
    PushSecretRemoteRef, PushSecretStoreRef, SyncedPushSecrets,
};
use crate::provider::{PushData, PushRemoteRef, SecretValue};

/// A Secret's data as the push reads it.
pub type Data = BTreeMap<String, SecretValue>;

/// `syncedResourceVersion` of the PushSecret as it is now.
pub fn current_version(ps: &PushSecret) -> String {
    hash::resource_version(
        ps.metadata.generation.unwrap_or_default(),
        Some(ps.annotations()),
        Some(ps.labels()),
    )
}

/// Whether a push is due now, or in how long (ESO's `shouldRefresh`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    Now,
    /// Not before this long (ESO adds 5 s to the remaining interval).
    In(Duration),
    /// `refreshInterval: 0` and pushed once for this version of the PushSecret.
    Never,
}

/// ESO's `shouldRefresh`: a changed PushSecret (generation, labels, annotations) pushes at once;
/// otherwise a push is due when `refreshInterval` has passed since `status.refreshTime`.
pub fn due(ps: &PushSecret, interval: Duration, now: Timestamp) -> Due {
    let status = ps.status.clone().unwrap_or_default();
    let synced = status.synced_resource_version.unwrap_or_default();
    if synced != current_version(ps) {
        return Due::Now;
    }
    if interval.is_zero() && !synced.is_empty() {
        return Due::Never;
    }
    let Some(last) = status.refresh_time else {
        return Due::Now;
    };
    let elapsed = now.duration_since(last.0);
    let elapsed = Duration::try_from(elapsed).unwrap_or(Duration::ZERO);
    if elapsed > interval {
        Due::Now
    } else {
        Due::In(interval - elapsed + Duration::from_secs(5))
    }
}

/// `status.syncedPushSecrets`' key of a store: `<Kind>/<name>`.
pub fn store_key(kind: StoreKind, name: &str) -> String {
    format!("{}/{name}", kind.as_str())
}

/// The kind and name in a `status.syncedPushSecrets` key.
pub fn parse_store_key(key: &str) -> Option<(StoreKind, &str)> {
    let (kind, name) = key.split_once('/')?;
    let kind = match kind {
        "SecretStore" => StoreKind::SecretStore,
        "ClusterSecretStore" => StoreKind::ClusterSecretStore,
        _ => return None,
    };
    Some((kind, name))
}

/// ESO's `ReverseUnicode`: every `_U<4 or 5 hex digits>_` becomes that character.
pub fn reverse_key(strategy: PushSecretConversionStrategy, key: &str) -> String {
    match strategy {
        PushSecretConversionStrategy::None => key.to_owned(),
        PushSecretConversionStrategy::ReverseUnicode => reverse_unicode(key),
    }
}

fn reverse_unicode(key: &str) -> String {
    static RE: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"_U([0-9a-fA-F]{4,5})_").ok());
    let Some(re) = RE.as_ref() else {
        return key.to_owned();
    };
    re.replace_all(key, |c: &regex::Captures<'_>| {
        u32::from_str_radix(&c[1], 16)
            .ok()
            .and_then(char::from_u32)
            .map_or_else(|| c[0].to_owned(), String::from)
    })
    .into_owned()
}

/// Every key converted by `strategy`; two keys that convert to the same name are an error.
pub fn reverse_keys(strategy: PushSecretConversionStrategy, data: &Data) -> Result<Data, String> {
    let mut out = Data::new();
    for (k, v) in data {
        let key = reverse_key(strategy, k);
        if out.insert(key.clone(), v.clone()).is_some() {
            return Err(format!("secret name collision during conversion: {key}"));
        }
    }
    Ok(out)
}

/// One entry to push to one store: the `data[]` entry (or one a `dataTo` rule made) and, for a
/// `dataTo` bundle, the matched keys it pushes instead of the whole Secret.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub data: PushSecretData,
    pub bundle: Option<Data>,
}

/// The write for `entry` from the Secret's `data`: ESO's `pushSecretEntry` before the provider
/// call. The value is the key's bytes, or with no `secretKey` the Secret as one JSON object of
/// strings (what ESO's providers write).
pub fn push_data(entry: &Entry, data: &Data) -> Result<PushData, String> {
    let source = entry.bundle.as_ref().unwrap_or(data);
    let converted = reverse_keys(entry.data.conversion_strategy, source)
        .map_err(|e| format!("could not apply conversion strategy to keys: {e}"))?;
    let key = entry
        .data
        .match_
        .secret_key
        .as_deref()
        .filter(|k| !k.is_empty());
    let value = match key {
        Some(k) => converted
            .get(k)
            .cloned()
            .ok_or_else(|| format!("secret key {k} does not exist"))?,
        None => SecretValue::new(whole_secret_json(&converted).into_bytes()),
    };
    Ok(PushData {
        remote: remote(&entry.data.match_.remote_ref),
        value,
        metadata: entry.data.metadata.as_ref().map(|m| m.to_string()),
    })
}

/// The seam's reference for a CRD remote ref.
pub fn remote(r: &PushSecretRemoteRef) -> PushRemoteRef {
    PushRemoteRef {
        remote_key: r.remote_key.clone(),
        property: r.property.clone().filter(|p| !p.is_empty()),
    }
}

/// Go's `json.Marshal(map[string]string)` without HTML escaping (ESO's `esutils.JSONMarshal`):
/// keys sorted, invalid UTF-8 replaced.
pub fn whole_secret_json(data: &Data) -> String {
    let object: serde_json::Map<String, serde_json::Value> = data
        .iter()
        .map(|(k, v)| {
            let text = String::from_utf8_lossy(v.expose()).into_owned();
            (k.clone(), serde_json::Value::String(text))
        })
        .collect();
    gojson::marshal(&serde_json::Value::Object(object), false)
}

/// A store a PushSecret writes to, as resolved from `secretStoreRefs`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    pub kind: StoreKind,
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// ESO's `validateDataToStoreRefs`: every `dataTo[].storeRef` names or selects a store, and a
/// named one is among `secretStoreRefs`.
pub fn check_data_to_refs(ps: &PushSecret) -> Result<(), String> {
    for (i, d) in ps.spec.data_to.iter().enumerate() {
        let Some(r) = &d.store_ref else {
            return Err(format!("dataTo[{i}]: storeRef is required"));
        };
        match r.name.as_deref().filter(|n| !n.is_empty()) {
            None if r.label_selector.is_none() => {
                return Err(format!(
                    "dataTo[{i}]: storeRef must have name or labelSelector"
                ));
            }
            Some(name) => {
                let listed = ps
                    .spec
                    .secret_store_refs
                    .iter()
                    .any(|s| s.name.as_deref() == Some(name) && s.kind == r.kind);
                if !listed {
                    return Err(format!(
                        "dataTo[{i}]: storeRef {name:?} not found in secretStoreRefs"
                    ));
                }
            }
            None => {}
        }
    }
    Ok(())
}

/// ESO's `validateDataToMatchesResolvedStores`: a `dataTo` label selector matches a store.
pub fn check_data_to_matches(ps: &PushSecret, targets: &[Target]) -> Result<(), String> {
    for (i, d) in ps.spec.data_to.iter().enumerate() {
        let Some(r) = &d.store_ref else { continue };
        if r.name.as_deref().is_some_and(|n| !n.is_empty()) {
            continue;
        }
        let Some(selector) = &r.label_selector else {
            continue;
        };
        let any = targets
            .iter()
            .any(|t| t.kind == r.kind && selector_matches(selector, &t.labels));
        if !any {
            return Err(format!(
                "dataTo[{i}]: labelSelector does not match any store in secretStoreRefs"
            ));
        }
    }
    Ok(())
}

fn data_to_matches_store(r: &PushSecretStoreRef, target: &Target) -> bool {
    if let Some(name) = r.name.as_deref().filter(|n| !n.is_empty()) {
        return name == target.name && r.kind == target.kind;
    }
    r.label_selector
        .as_ref()
        .is_some_and(|s| r.kind == target.kind && selector_matches(s, &target.labels))
}

/// Rewrites of one `dataTo` rule applied to its keys: `regexp` here, `transform` by the template
/// component (so async, through `rename`).
pub trait Rename {
    fn rename(
        &self,
        template: &str,
        keys: Vec<String>,
    ) -> impl std::future::Future<Output = Result<Vec<String>, String>> + Send;
}

/// The entries for one store: its `dataTo` rules expanded (ESO's `expandDataTo`), then the
/// explicit `data[]` entries, which win over a `dataTo` entry of the same source key. Two entries
/// writing the same remote key and property are an error.
pub async fn entries(
    ps: &PushSecret,
    target: &Target,
    data: &Data,
    rename: &impl Rename,
) -> Result<Vec<Entry>, String> {
    let mut expanded: Vec<Entry> = Vec::new();
    let mut remote_keys: BTreeMap<String, String> = BTreeMap::new();
    for (i, rule) in ps.spec.data_to.iter().enumerate() {
        let Some(r) = &rule.store_ref else {
            return Err(format!("dataTo[{i}]: storeRef is required"));
        };
        if !data_to_matches_store(r, target) {
            continue;
        }
        let made = expand_one(rule, data, rename)
            .await
            .map_err(|e| format!("failed to expand dataTo: dataTo[{i}]: {e}"))?;
        for (source, entry) in made {
            let key = entry.data.match_.remote_ref.remote_key.clone();
            if let Some(other) = remote_keys.insert(key.clone(), format!("dataTo[{i}]:{source}")) {
                return Err(format!(
                    "failed to expand dataTo: dataTo[{i}]: duplicate remote key {key:?} from source key {source:?} (conflicts with {other})"
                ));
            }
            expanded.push(entry);
        }
    }
    let explicit: BTreeSet<String> = ps.spec.data.iter().map(|d| original_key(d, data)).collect();
    let mut all: Vec<Entry> = expanded
        .into_iter()
        .filter(|e| {
            let key = e.data.match_.secret_key.clone().unwrap_or_default();
            !explicit.contains(&key)
        })
        .collect();
    all.extend(ps.spec.data.iter().map(|d| Entry {
        data: d.clone(),
        bundle: None,
    }));
    let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
    for e in &all {
        let r = &e.data.match_.remote_ref;
        let property = r.property.clone().unwrap_or_default();
        let source = e.data.match_.secret_key.clone().unwrap_or_default();
        if let Some(other) = seen.insert((r.remote_key.clone(), property.clone()), source.clone()) {
            return Err(if property.is_empty() {
                format!(
                    "failed to merge data entries: duplicate remote key {:?}: source keys {other:?} and {source:?} both map to the same destination",
                    r.remote_key
                )
            } else {
                format!(
                    "failed to merge data entries: duplicate remote key {:?} with property {property:?}: source keys {other:?} and {source:?} both map to the same destination",
                    r.remote_key
                )
            });
        }
    }
    Ok(all)
}

/// The Secret's own key a `data[]` entry reads (its `secretKey` names the converted key).
fn original_key(d: &PushSecretData, data: &Data) -> String {
    let key = d.match_.secret_key.clone().unwrap_or_default();
    if d.conversion_strategy == PushSecretConversionStrategy::None {
        return key;
    }
    data.keys()
        .find(|k| reverse_key(d.conversion_strategy, k) == key)
        .cloned()
        .unwrap_or(key)
}

/// One `dataTo` rule: (source key, entry) pairs, sorted by converted key.
async fn expand_one(
    rule: &PushSecretDataTo,
    data: &Data,
    rename: &impl Rename,
) -> Result<Vec<(String, Entry)>, String> {
    if rule.remote_key.as_deref().is_some_and(|k| !k.is_empty()) && !rule.rewrite.is_empty() {
        return Err("remoteKey and rewrite are mutually exclusive: rewrite is only supported in per-key mode (without remoteKey)".into());
    }
    let converted = reverse_keys(rule.conversion_strategy, data)
        .map_err(|e| format!("conversion failed: {e}"))?;
    let original: BTreeMap<String, String> = data
        .keys()
        .map(|k| (reverse_key(rule.conversion_strategy, k), k.clone()))
        .collect();
    let pattern = rule
        .match_
        .as_ref()
        .and_then(|m| m.regexp.as_deref())
        .filter(|p| !p.is_empty());
    let matched: Vec<String> = match pattern {
        None => converted.keys().cloned().collect(),
        Some(p) => {
            let re = regex::Regex::new(p).map_err(|e| {
                format!("match failed: failed to compile regexp pattern {p:?}: {e}")
            })?;
            converted
                .keys()
                .filter(|k| re.is_match(k))
                .cloned()
                .collect()
        }
    };
    if matched.is_empty() {
        return Ok(Vec::new());
    }
    if let Some(remote_key) = rule.remote_key.as_deref().filter(|k| !k.is_empty()) {
        let bundle: Data = matched
            .iter()
            .filter_map(|k| converted.get(k).map(|v| (k.clone(), v.clone())))
            .collect();
        let entry = Entry {
            data: PushSecretData {
                match_: PushSecretMatch {
                    secret_key: None,
                    remote_ref: PushSecretRemoteRef {
                        remote_key: remote_key.to_owned(),
                        property: None,
                    },
                },
                metadata: rule.metadata.clone(),
                conversion_strategy: PushSecretConversionStrategy::None,
            },
            bundle: Some(bundle),
        };
        return Ok(vec![("(bundle)".to_owned(), entry)]);
    }
    let mut names = matched.clone();
    for (j, op) in rule.rewrite.iter().enumerate() {
        names = match (&op.regexp, &op.transform) {
            (Some(r), None) => {
                let re = regex::Regex::new(&r.source).map_err(|e| {
                    format!(
                        "rewrite failed: rewrite[{j}]: invalid regexp {:?}: {e}",
                        r.source
                    )
                })?;
                names
                    .iter()
                    .map(|k| re.replace_all(k, r.target.as_str()).into_owned())
                    .collect()
            }
            (None, Some(t)) => rename
                .rename(&t.template, names)
                .await
                .map_err(|e| format!("rewrite failed: rewrite[{j}]: {e}"))?,
            _ => names,
        };
    }
    let mut out = Vec::new();
    for (converted_key, remote_key) in matched.iter().zip(names) {
        if remote_key.is_empty() {
            return Err(format!(
                "empty remote key produced for source key {converted_key:?}"
            ));
        }
        let source = original
            .get(converted_key)
            .cloned()
            .unwrap_or_else(|| converted_key.clone());
        let entry = Entry {
            data: PushSecretData {
                match_: PushSecretMatch {
                    secret_key: Some(source.clone()),
                    remote_ref: PushSecretRemoteRef {
                        remote_key,
                        property: None,
                    },
                },
                metadata: rule.metadata.clone(),
                conversion_strategy: PushSecretConversionStrategy::None,
            },
            bundle: None,
        };
        out.push((converted_key.clone(), entry));
    }
    Ok(out)
}

/// ESO's `mergeSecretState`: `new` with the entries of `old` it lacks added.
pub fn merge_state(new: &SyncedPushSecrets, old: &SyncedPushSecrets) -> SyncedPushSecrets {
    let mut out = new.clone();
    for (store, entries) in old {
        let slot = out.entry(store.clone()).or_default();
        for (k, v) in entries {
            slot.insert(k.clone(), v.clone());
        }
    }
    out
}

/// What `deletionPolicy: Delete` removes: the entries of `old` that `new` no longer has, by
/// store (a store missing from `new` loses all of its entries).
pub fn stale(
    new: &SyncedPushSecrets,
    old: &SyncedPushSecrets,
) -> Vec<(String, String, PushSecretData)> {
    let mut out = Vec::new();
    for (store, entries) in old {
        let kept = new.get(store);
        for (k, v) in entries {
            if kept.is_none_or(|n| !n.contains_key(k)) {
                out.push((store.clone(), k.clone(), v.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "push_secret_plan_tests.rs"]
mod tests;
