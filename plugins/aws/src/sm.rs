//! Secrets Manager: GetSecretValue, DescribeSecret (metadataPolicy Fetch), ListSecrets (find).

use std::collections::BTreeMap;

use ampoule_sdk::errors::{internal, invalid_config, not_found};
use ampoule_sdk::{FindQuery, ProviderError, SecretRef};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::api::{CallError, JsonService};

/// `GetSecretValue` input for a key and ESO's version syntax (`uuid/<id>` or a stage).
fn value_request(id: &str, version: Option<&str>) -> Value {
    match version.filter(|v| !v.is_empty()) {
        Some(v) => match v.strip_prefix("uuid/") {
            Some(uuid) => json!({"SecretId": id, "VersionId": uuid}),
            None => json!({"SecretId": id, "VersionStage": v}),
        },
        None => json!({"SecretId": id, "VersionStage": "AWSCURRENT"}),
    }
}

/// ESO's NoSecret mapping: not found, or marked for deletion.
pub(crate) fn map_not_found(err: CallError, id: &str) -> ProviderError {
    match err {
        CallError::Aws(e)
            if e.code == "ResourceNotFoundException"
                || (e.code == "InvalidRequestException"
                    && (e.message.contains("marked for deletion")
                        || e.message.contains("marked deleted"))) =>
        {
            not_found(format!("Secrets Manager secret {id:?} ({})", e.code))
        }
        other => other.into(),
    }
}

/// The secret's payload: `SecretString`, else the decoded `SecretBinary`.
pub(crate) fn payload(out: &Value, id: &str) -> Result<Vec<u8>, ProviderError> {
    if let Some(s) = out.get("SecretString").and_then(Value::as_str) {
        return Ok(s.as_bytes().to_vec());
    }
    if let Some(b) = out.get("SecretBinary").and_then(Value::as_str) {
        return base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|_| {
                internal(format!(
                    "GetSecretValue: SecretBinary of {id:?} is not base64"
                ))
            });
    }
    Err(internal(format!(
        "invalid secret received. no secret string nor binary for key: {id}"
    )))
}

pub fn get_value(
    svc: &JsonService<'_>,
    id: &str,
    version: Option<&str>,
) -> Result<Vec<u8>, ProviderError> {
    let out = svc
        .call("GetSecretValue", &value_request(id, version))
        .map_err(|e| map_not_found(e, id))?;
    payload(&out, id)
}

/// DescribeSecret → the tags as a JSON object (ESO's metadataPolicy Fetch).
pub fn get_tags(svc: &JsonService<'_>, id: &str) -> Result<Vec<u8>, ProviderError> {
    let out = svc
        .call("DescribeSecret", &json!({"SecretId": id}))
        .map_err(|e| map_not_found(e, id))?;
    Ok(Value::Object(tag_map(&out)).to_string().into_bytes())
}

fn tag_map(secret: &Value) -> serde_json::Map<String, Value> {
    secret
        .get("Tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| {
            Some((
                t.get("Key")?.as_str()?.to_owned(),
                t.get("Value").cloned().unwrap_or(Value::Null),
            ))
        })
        .collect()
}

/// `dataFrom.find`: ListSecrets (paginated; name/tag filters server side, checked again here),
/// the regexp client side, then GetSecretValue per match. Keys are the secret names.
pub fn find(
    svc: &JsonService<'_>,
    query: &FindQuery,
) -> Result<Vec<(String, Vec<u8>)>, ProviderError> {
    let re = query
        .name_regexp
        .as_deref()
        .map(|p| {
            regex_lite::Regex::new(p).map_err(|e| invalid_config(format!("find.name.regexp: {e}")))
        })
        .transpose()?;
    let mut filters = Vec::new();
    if let Some(path) = query.path.as_deref().filter(|p| !p.is_empty()) {
        filters.push(json!({"Key": "name", "Values": [path]}));
    }
    for (k, v) in &query.tags {
        filters.push(json!({"Key": "tag-key", "Values": [k]}));
        filters.push(json!({"Key": "tag-value", "Values": [v]}));
    }
    if re.is_none() && query.tags.is_empty() {
        return Err(invalid_config("find: name.regexp or tags is required"));
    }
    if query.tags.is_empty() {
        ampoule_sdk::log::info(
            "aws: find by name lists every secret (ListSecrets), which is costly",
        );
    }
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"MaxResults": 100});
        if !filters.is_empty() {
            body["Filters"] = Value::Array(filters.clone());
        }
        if let Some(t) = &token {
            body["NextToken"] = Value::String(t.clone());
        }
        let out = svc
            .call("ListSecrets", &body)
            .map_err(ProviderError::from)?;
        for s in out
            .get("SecretList")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(name) = s.get("Name").and_then(Value::as_str) else {
                continue;
            };
            let tags = tag_map(s);
            let tags_ok = query
                .tags
                .iter()
                .all(|(k, v)| tags.get(k).and_then(Value::as_str) == Some(v));
            let path_ok = query.path.as_deref().is_none_or(|p| name.starts_with(p));
            if tags_ok && path_ok && re.as_ref().is_none_or(|r| r.is_match(name)) {
                names.push(name.to_owned());
            }
        }
        token = out
            .get("NextToken")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let mut out = BTreeMap::new();
    for name in names {
        match get_value(svc, &name, None) {
            Ok(v) => {
                out.insert(name, v);
            }
            // deleted between list and get: skip it, as ESO does for NoSecret
            Err(ProviderError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out.into_iter().collect())
}

/// ESO's SecretRef lookup on Secrets Manager (value or metadata, then the property).
pub fn get(svc: &JsonService<'_>, prefix: &str, r: &SecretRef) -> Result<Vec<u8>, ProviderError> {
    let id = format!("{prefix}{}", r.key);
    let data = if r.fetch_metadata {
        get_tags(svc, &id)?
    } else {
        get_value(svc, &id, r.version.as_deref())?
    };
    crate::property(data, r.property.as_deref(), &r.key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(value_request("a", None)["VersionStage"], "AWSCURRENT");
        assert_eq!(value_request("a", Some("uuid/123"))["VersionId"], "123");
        assert_eq!(
            value_request("a", Some("AWSPREVIOUS"))["VersionStage"],
            "AWSPREVIOUS"
        );
    }

    #[test]
    fn binary_payload() {
        let v = json!({"SecretBinary": "AAEC"});
        assert_eq!(payload(&v, "x").unwrap(), vec![0, 1, 2]);
    }
}
