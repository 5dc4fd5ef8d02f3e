//! Secret Manager operations: access a version (CRC32C verified, LatestOrFetch), read metadata,
//! list secrets for find.

use ampoule_plugin_common::url_encode;
use ampoule_sdk::errors::{internal, invalid_config};
use ampoule_sdk::{FindQuery, ProviderError};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::api::{crc32c, get};

pub struct Sm<'a> {
    pub base: &'a str,
    pub parent: &'a str,
    pub token: &'a str,
    pub latest_or_fetch: bool,
}

impl Sm<'_> {
    pub(crate) fn secret_url(&self, key: &str) -> String {
        format!(
            "{}/v1/{}/secrets/{}",
            self.base,
            self.parent,
            url_encode(key)
        )
    }

    /// The payload of `key` at `version` (default `latest`), its CRC32C checked.
    pub fn access(&self, key: &str, version: Option<&str>) -> Result<Vec<u8>, ProviderError> {
        let version = version.filter(|v| !v.is_empty()).unwrap_or("latest");
        let url = format!(
            "{}/versions/{}:access",
            self.secret_url(key),
            url_encode(version)
        );
        match get("AccessSecretVersion", &url, self.token) {
            Ok(v) => payload(&v, key),
            Err(ProviderError::Internal(m))
                if version == "latest"
                    && self.latest_or_fetch
                    && m.contains("FAILED_PRECONDITION") =>
            {
                let newest = self.newest_enabled(key)?;
                let url = format!("{}/v1/{newest}:access", self.base);
                payload(&get("AccessSecretVersion", &url, self.token)?, key)
            }
            Err(e) => Err(e),
        }
    }

    /// LatestOrFetch: the newest ENABLED version's name.
    fn newest_enabled(&self, key: &str) -> Result<String, ProviderError> {
        let mut best: Option<(String, String)> = None;
        let mut page = String::new();
        loop {
            let url = format!(
                "{}/versions?filter={}&pageToken={}",
                self.secret_url(key),
                url_encode("state:ENABLED"),
                url_encode(&page)
            );
            let out = get("ListSecretVersions", &url, self.token)?;
            for v in out
                .get("versions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let enabled = v.get("state").and_then(Value::as_str) == Some("ENABLED");
                let (Some(name), Some(created)) = (
                    v.get("name").and_then(Value::as_str),
                    v.get("createTime").and_then(Value::as_str),
                ) else {
                    continue;
                };
                if enabled && best.as_ref().is_none_or(|(_, c)| created > c.as_str()) {
                    best = Some((name.to_owned(), created.to_owned()));
                }
            }
            page = out
                .get("nextPageToken")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if page.is_empty() {
                break;
            }
        }
        best.map(|(n, _)| n).ok_or_else(|| {
            ProviderError::NotFound(format!("secret {key:?} has no enabled version"))
        })
    }

    /// ESO's metadataPolicy Fetch on GCP: labels and annotations, selected by the property.
    pub fn metadata(&self, key: &str, property: Option<&str>) -> Result<Vec<u8>, ProviderError> {
        let secret = get("GetSecret", &self.secret_url(key), self.token)?;
        let field = |f: &str| {
            secret
                .get(f)
                .cloned()
                .filter(Value::is_object)
                .unwrap_or_else(|| json!({}))
        };
        let (annotations, labels) = (field("annotations"), field("labels"));
        let out = match property.filter(|p| !p.is_empty()) {
            None => json!({"annotations": annotations, "labels": labels}).to_string(),
            Some("annotations") => annotations.to_string(),
            Some("labels") => labels.to_string(),
            Some(p) => {
                let (map, k) = if let Some(k) = p.strip_prefix("annotations.") {
                    (&annotations, k)
                } else if let Some(k) = p.strip_prefix("labels.") {
                    (&labels, k)
                } else {
                    return Err(internal(format!(
                        "invalid property {p}: metadata properties are annotations.* or labels.*"
                    )));
                };
                map.get(k)
                    .and_then(Value::as_str)
                    .ok_or_else(|| internal(format!("{p} does not exist in secret {key}")))?
                    .to_owned()
            }
        };
        Ok(out.into_bytes())
    }

    /// find: ListSecrets with a label/name filter, the regexp on the short name, then access.
    pub fn find(&self, query: &FindQuery) -> Result<Vec<(String, Vec<u8>)>, ProviderError> {
        let re = query
            .name_regexp
            .as_deref()
            .map(|p| {
                regex_lite::Regex::new(p)
                    .map_err(|e| invalid_config(format!("find.name.regexp: {e}")))
            })
            .transpose()?;
        let mut filter: Vec<String> = query
            .tags
            .iter()
            .map(|(k, v)| format!("labels.{k}={v}"))
            .collect();
        if let Some(p) = query.path.as_deref().filter(|p| !p.is_empty()) {
            filter.push(format!("name:{p}"));
        }
        let filter = filter.join(" ");
        let mut out = Vec::new();
        let mut page = String::new();
        loop {
            let url = format!(
                "{}/v1/{}/secrets?filter={}&pageToken={}&pageSize=100",
                self.base,
                self.parent,
                url_encode(&filter),
                url_encode(&page)
            );
            let list = get("ListSecrets", &url, self.token)?;
            for s in list
                .get("secrets")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(name) = s
                    .get("name")
                    .and_then(Value::as_str)
                    .and_then(|n| n.rsplit('/').next())
                else {
                    continue;
                };
                let path_ok = query.path.as_deref().is_none_or(|p| name.starts_with(p));
                if path_ok && re.as_ref().is_none_or(|r| r.is_match(name)) {
                    match self.access(name, None) {
                        Ok(v) => out.push((name.to_owned(), v)),
                        Err(ProviderError::NotFound(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            page = list
                .get("nextPageToken")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if page.is_empty() {
                break;
            }
        }
        out.sort();
        Ok(out)
    }
}

fn payload(v: &Value, key: &str) -> Result<Vec<u8>, ProviderError> {
    let data = v
        .pointer("/payload/data")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|_| {
            internal(format!(
                "AccessSecretVersion: payload of {key:?} is not base64"
            ))
        })?;
    let crc = v.pointer("/payload/dataCrc32c");
    let want = crc.and_then(|c| {
        c.as_str()
            .and_then(|s| s.parse::<u64>().ok())
            .or_else(|| c.as_u64())
    });
    if let Some(want) = want
        && u64::from(crc32c(&bytes)) != want
    {
        return Err(ProviderError::Unavailable(format!(
            "AccessSecretVersion: CRC32C mismatch for {key:?}"
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_crc_is_checked() {
        let ok = json!({"payload": {"data": "MTIzNDU2Nzg5", "dataCrc32c": "3808858755"}});
        assert_eq!(payload(&ok, "k").unwrap(), b"123456789");
        let bad = json!({"payload": {"data": "MTIzNDU2Nzg5", "dataCrc32c": "1"}});
        assert!(matches!(
            payload(&bad, "k"),
            Err(ProviderError::Unavailable(_))
        ));
    }
}
