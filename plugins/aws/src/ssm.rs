//! Parameter Store: GetParameter (with decryption, `name:version`), ListTagsForResource
//! (metadataPolicy Fetch), GetParametersByPath / DescribeParameters (find).

use std::collections::BTreeMap;

use ampoule_sdk::errors::{internal, invalid_config, not_found};
use ampoule_sdk::{FindQuery, ProviderError, SecretRef};
use serde_json::{Value, json};

use crate::api::{CallError, JsonService};

pub(crate) fn map_not_found(err: CallError, name: &str) -> ProviderError {
    match err {
        CallError::Aws(e)
            if matches!(
                e.code.as_str(),
                "ParameterNotFound" | "ParameterVersionNotFound" | "InvalidResourceId"
            ) =>
        {
            not_found(format!("SSM parameter {name:?} ({})", e.code))
        }
        other => other.into(),
    }
}

pub fn get_value(svc: &JsonService<'_>, name: &str) -> Result<Vec<u8>, ProviderError> {
    let out = svc
        .call(
            "GetParameter",
            &json!({"Name": name, "WithDecryption": true}),
        )
        .map_err(|e| map_not_found(e, name))?;
    out.pointer("/Parameter/Value")
        .and_then(Value::as_str)
        .map(|s| s.as_bytes().to_vec())
        .ok_or_else(|| internal(format!("GetParameter: no value for {name:?}")))
}

pub fn get_tags(svc: &JsonService<'_>, name: &str) -> Result<Vec<u8>, ProviderError> {
    let out = svc
        .call(
            "ListTagsForResource",
            &json!({"ResourceType": "Parameter", "ResourceId": name}),
        )
        .map_err(|e| map_not_found(e, name))?;
    let tags: serde_json::Map<String, Value> = out
        .get("TagList")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| {
            Some((
                t.get("Key")?.as_str()?.to_owned(),
                t.get("Value").cloned().unwrap_or(Value::Null),
            ))
        })
        .collect();
    Ok(Value::Object(tags).to_string().into_bytes())
}

pub fn get(svc: &JsonService<'_>, prefix: &str, r: &SecretRef) -> Result<Vec<u8>, ProviderError> {
    let mut name = format!("{prefix}{}", r.key);
    let data = if r.fetch_metadata {
        get_tags(svc, &name)?
    } else {
        if let Some(v) = r.version.as_deref().filter(|v| !v.is_empty()) {
            name = format!("{name}:{v}");
        }
        get_value(svc, &name)?
    };
    crate::property(data, r.property.as_deref(), &r.key)
}

/// Pages through an SSM list call, collecting `(Name, Value?)` of `field`.
fn pages(
    svc: &JsonService<'_>,
    op: &'static str,
    body: Value,
    field: &str,
) -> Result<Vec<(String, Option<String>)>, ProviderError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut req = body.clone();
        if let Some(t) = &token {
            req["NextToken"] = Value::String(t.clone());
        }
        let resp = svc.call(op, &req).map_err(ProviderError::from)?;
        for p in resp
            .get(field)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(n) = p.get("Name").and_then(Value::as_str) {
                out.push((
                    n.to_owned(),
                    p.get("Value").and_then(Value::as_str).map(str::to_owned),
                ));
            }
        }
        token = resp
            .get("NextToken")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if token.is_none() {
            return Ok(out);
        }
    }
}

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
    let path = query
        .path
        .clone()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/".into());
    let mut out = BTreeMap::new();
    if query.tags.is_empty() {
        let Some(re) = re else {
            return Err(invalid_config("find: name.regexp or tags is required"));
        };
        let body =
            json!({"Path": path, "Recursive": true, "WithDecryption": true, "MaxResults": 10});
        for (name, value) in pages(svc, "GetParametersByPath", body, "Parameters")? {
            if re.is_match(&name) {
                out.insert(name, value.unwrap_or_default().into_bytes());
            }
        }
    } else {
        let mut filters: Vec<Value> = query
            .tags
            .iter()
            .map(|(k, v)| json!({"Key": format!("tag:{k}"), "Option": "Equals", "Values": [v]}))
            .collect();
        if path != "/" {
            filters.push(json!({"Key": "Path", "Option": "Recursive", "Values": [path]}));
        }
        let body = json!({"ParameterFilters": filters, "MaxResults": 50});
        for (name, _) in pages(svc, "DescribeParameters", body, "Parameters")? {
            if re.as_ref().is_none_or(|r| r.is_match(&name)) {
                match get_value(svc, &name) {
                    Ok(v) => {
                        out.insert(name, v);
                    }
                    Err(ProviderError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(out.into_iter().collect())
}
