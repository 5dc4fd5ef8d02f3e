//! PushSecret on Secrets Manager and Parameter Store (ESO's `PushSecret`, `DeleteSecret`,
//! `SecretExists` of both services).
//!
//! - Ours means tagged `managed-by: external-secrets`; an existing secret or parameter without
//!   that tag is refused (`forbidden`) and left alone by delete.
//! - A `property` push sets that (sjson) path in the JSON secret, creating it when absent.
//! - Nothing changed → no write. Tags from `data[].metadata` are reconciled as ESO does.
//! - Secrets Manager metadata: `secretPushFormat` (binary, the default, or string),
//!   `description`, `kmsKeyId`, `tags`. `resourcePolicy` (ESO reads a ConfigMap or Secret at push
//!   time, which a plugin cannot) and `replicationLocations` are refused with invalid-config.
//! - Parameter Store metadata: `secretType`, `kmsKeyID`, `tier` (`type`, `policies`),
//!   `description`, `tags`; `encodeAsDecoded` is accepted, the value is written as received.
//! - Delete honours `secretsManager.forceDeleteWithoutRecovery` / `recoveryWindowInDays`; like
//!   ESO it removes the whole secret or parameter, also for a property.

use std::collections::BTreeMap;

use ampoule_plugin_common::{gjson, hash, push_metadata, sjson};
use ampoule_sdk::errors::{internal, invalid_config};
use ampoule_sdk::{ProviderError, PushRequest};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::JsonService;
use crate::config::Config;
use crate::{sm, ssm};

const MANAGED_BY: &str = "managed-by";
const ESO: &str = "external-secrets";
/// The version id ESO gives a secret's first value.
const INITIAL_VERSION: &str = "00000000-0000-0000-0000-000000000001";

fn not_managed(what: &str, name: &str) -> ProviderError {
    ProviderError::Forbidden(format!(
        "{what} {name:?} exists and is not managed by external-secrets (no tag managed-by: \
         external-secrets); refusing to overwrite it"
    ))
}

/// The user's tags plus `managed-by`, which the user may not set.
fn desired_tags(
    tags: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, ProviderError> {
    if tags.contains_key(MANAGED_BY) {
        return Err(invalid_config(format!(
            "error parsing tags in metadata: Cannot specify a '{MANAGED_BY}' tag"
        )));
    }
    let mut out = tags.clone();
    out.insert(MANAGED_BY.into(), ESO.into());
    Ok(out)
}

fn tag_list(tags: &BTreeMap<String, String>) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect(),
    )
}

fn tags_of(list: Option<&Value>) -> BTreeMap<String, String> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| {
            Some((
                t.get("Key")?.as_str()?.to_owned(),
                t.get("Value")?.as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// (keys to remove, whether a tag other than managed-by must be added or changed).
fn tag_diff(
    current: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
) -> (Vec<String>, bool) {
    let remove = current
        .keys()
        .filter(|k| !desired.contains_key(*k))
        .cloned()
        .collect();
    let modified = desired
        .iter()
        .any(|(k, v)| k != MANAGED_BY && current.get(k) != Some(v));
    (remove, modified)
}

/// The value to write: the pushed bytes, or for a property the current JSON with that path set.
fn merged(current: Option<&[u8]>, req: &PushRequest, what: &str) -> Result<Vec<u8>, ProviderError> {
    let Some(prop) = req.property.as_deref().filter(|p| !p.is_empty()) else {
        return Ok(req.value.clone());
    };
    let value = String::from_utf8_lossy(&req.value);
    sjson::set_string(current.unwrap_or_default(), prop, &value).map_err(|_| {
        internal(format!(
            "PushSecret for {what} with a pushSecretData property requires a json secret"
        ))
    })
}

/// Whether a property push would leave `current` as it is (the same string at that path).
fn property_unchanged(current: &[u8], req: &PushRequest) -> bool {
    let Some(prop) = req.property.as_deref().filter(|p| !p.is_empty()) else {
        return false;
    };
    serde_json::from_slice::<Value>(current)
        .ok()
        .and_then(|root| gjson::get(&root, prop))
        .is_some_and(|v| v.as_str().map(str::as_bytes) == Some(req.value.as_slice()))
}

/// A ClientRequestToken for a new version: unique per (secret, version it replaces, instant),
/// never derived from the value.
fn request_token(arn: &str, previous: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let h = hash::hex(&hash::sha256(
        format!("{arn}\n{previous}\n{nanos}").as_bytes(),
    ));
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SmSpec {
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    secret_push_format: String,
    #[serde(default)]
    kms_key_id: String,
    #[serde(default)]
    resource_policy: Option<Value>,
    #[serde(default)]
    replication_locations: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Binary,
    String,
}

/// ESO's Secrets Manager metadata with its defaults.
struct SmMeta {
    /// Tags were given: reconcile them on existing secrets.
    user_tags: bool,
    tags: BTreeMap<String, String>,
    description: String,
    format: Format,
    kms_key_id: String,
}

fn sm_meta(raw: Option<&str>) -> Result<SmMeta, ProviderError> {
    let spec = push_metadata::parse::<SmSpec>(raw)
        .map_err(|e| invalid_config(format!("failed to parse push secret metadata: {e}")))?
        .unwrap_or_default();
    if spec.resource_policy.is_some() {
        return Err(invalid_config(
            "aws: metadata.spec.resourcePolicy is not supported by the Ampoule aws plugin (ESO \
             reads the policy from a ConfigMap or Secret while pushing; a plugin cannot read \
             Kubernetes objects)",
        ));
    }
    if spec.replication_locations.is_some() {
        return Err(invalid_config(
            "aws: metadata.spec.replicationLocations is not supported by the Ampoule aws plugin",
        ));
    }
    let format = match spec.secret_push_format.as_str() {
        "" | "binary" => Format::Binary,
        "string" => Format::String,
        other => {
            return Err(invalid_config(format!(
                "invalid secret push format: {other}"
            )));
        }
    };
    Ok(SmMeta {
        user_tags: !spec.tags.is_empty(),
        tags: desired_tags(&spec.tags)?,
        description: if spec.description.is_empty() {
            format!("secret '{MANAGED_BY}:{ESO}'")
        } else {
            spec.description
        },
        format,
        kms_key_id: if spec.kms_key_id.is_empty() {
            "alias/aws/secretsmanager".into()
        } else {
            spec.kms_key_id
        },
    })
}

fn sm_value(body: &mut Value, format: Format, value: &[u8]) {
    match format {
        Format::Binary => {
            body["SecretBinary"] =
                Value::String(base64::engine::general_purpose::STANDARD.encode(value));
        }
        Format::String => {
            body["SecretString"] = Value::String(String::from_utf8_lossy(value).into_owned());
        }
    }
}

fn call(svc: &JsonService<'_>, op: &'static str, body: &Value) -> Result<Value, ProviderError> {
    svc.call(op, body).map_err(ProviderError::from)
}

pub fn sm_push(
    svc: &JsonService<'_>,
    cfg: &Config,
    req: &PushRequest,
) -> Result<(), ProviderError> {
    let meta = sm_meta(req.metadata.as_deref())?;
    let name = format!("{}{}", cfg.prefix, req.remote_key);
    let described = match svc.call("DescribeSecret", &json!({"SecretId": name})) {
        Ok(d) => Some(d),
        Err(e) => match sm::map_not_found(e, &name) {
            ProviderError::NotFound(_) => None,
            other => return Err(other),
        },
    };
    let Some(described) = described else {
        let value = merged(None, req, "aws secrets manager")?;
        let mut body = json!({"Name": name, "Tags": tag_list(&meta.tags),
            "Description": meta.description, "ClientRequestToken": INITIAL_VERSION,
            "KmsKeyId": meta.kms_key_id});
        sm_value(&mut body, meta.format, &value);
        call(svc, "CreateSecret", &body)?;
        return Ok(());
    };
    let current_tags = tags_of(described.get("Tags"));
    if current_tags.get(MANAGED_BY).map(String::as_str) != Some(ESO) {
        return Err(not_managed("secret", &name));
    }
    let arn = described
        .get("ARN")
        .and_then(Value::as_str)
        .unwrap_or(&name)
        .to_owned();
    if meta.user_tags {
        let (remove, modified) = tag_diff(&current_tags, &meta.tags);
        if !remove.is_empty() {
            call(
                svc,
                "UntagResource",
                &json!({"SecretId": arn, "TagKeys": remove}),
            )?;
        }
        if modified {
            call(
                svc,
                "TagResource",
                &json!({"SecretId": arn, "Tags": tag_list(&meta.tags)}),
            )?;
        }
    }
    let has_versions = described
        .get("VersionIdsToStages")
        .and_then(Value::as_object)
        .is_some_and(|v| !v.is_empty());
    let (current, previous) = if has_versions {
        let out = call(
            svc,
            "GetSecretValue",
            &json!({"SecretId": arn, "VersionStage": "AWSCURRENT"}),
        )?;
        let version = out
            .get("VersionId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        (Some(sm::payload(&out, &name)?), Some(version))
    } else {
        (None, None)
    };
    if let Some(cur) = current.as_deref()
        && property_unchanged(cur, req)
    {
        return Ok(());
    }
    let value = merged(current.as_deref(), req, "aws secrets manager")?;
    if current.as_deref() == Some(value.as_slice()) {
        return Ok(());
    }
    let token = match &previous {
        Some(p) => request_token(&arn, p),
        None => INITIAL_VERSION.to_owned(),
    };
    let mut body = json!({"SecretId": arn, "ClientRequestToken": token});
    sm_value(&mut body, meta.format, &value);
    call(svc, "PutSecretValue", &body)?;
    Ok(())
}

pub fn sm_delete(svc: &JsonService<'_>, cfg: &Config, key: &str) -> Result<(), ProviderError> {
    let name = format!("{}{}", cfg.prefix, key);
    match sm::get_value(svc, &name, None) {
        Ok(_) => {}
        Err(ProviderError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    }
    let described = call(svc, "DescribeSecret", &json!({"SecretId": name}))?;
    if tags_of(described.get("Tags"))
        .get(MANAGED_BY)
        .map(String::as_str)
        != Some(ESO)
    {
        return Ok(());
    }
    let arn = described
        .get("ARN")
        .and_then(Value::as_str)
        .unwrap_or(&name);
    let mut body = json!({"SecretId": arn});
    if let Some(opts) = &cfg.secrets_manager {
        if opts.force_delete_without_recovery {
            body["ForceDeleteWithoutRecovery"] = Value::Bool(true);
        }
        if opts.recovery_window_in_days > 0 {
            body["RecoveryWindowInDays"] = json!(opts.recovery_window_in_days);
        }
    }
    match svc.call("DeleteSecret", &body) {
        Ok(_) => Ok(()),
        Err(e) => match sm::map_not_found(e, &name) {
            ProviderError::NotFound(_) => Ok(()),
            other => Err(other),
        },
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SsmSpec {
    #[serde(default)]
    secret_type: String,
    #[serde(default, rename = "kmsKeyID")]
    kms_key_id: String,
    #[serde(default)]
    tier: Option<Tier>,
    #[serde(default)]
    encode_as_decoded: bool,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    description: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tier {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    policies: Option<Value>,
}

/// PutParameter's fixed fields from ESO's Parameter Store metadata and its defaults; the tags.
fn ssm_request(
    name: &str,
    raw: Option<&str>,
) -> Result<(Value, BTreeMap<String, String>), ProviderError> {
    let spec = push_metadata::parse::<SsmSpec>(raw)
        .map_err(|e| invalid_config(format!("failed to parse push secret metadata: {e}")))?
        .unwrap_or_default();
    let _ = spec.encode_as_decoded;
    let kind = if spec.secret_type.is_empty() {
        "String".to_owned()
    } else {
        spec.secret_type
    };
    let description = if spec.description.is_empty() {
        format!("secret '{MANAGED_BY}:{ESO}'")
    } else {
        spec.description
    };
    let mut body = json!({"Name": name, "Type": kind, "Description": description});
    if kind == "SecureString" {
        body["KeyId"] = Value::String(if spec.kms_key_id.is_empty() {
            "alias/aws/ssm".into()
        } else {
            spec.kms_key_id
        });
    }
    if let Some(tier) = spec.tier.filter(|t| t.kind == "Advanced") {
        body["Tier"] = Value::String(tier.kind);
        if let Some(p) = tier.policies {
            body["Policies"] = Value::String(p.to_string());
        }
    }
    Ok((body, desired_tags(&spec.tags)?))
}

fn ssm_tags(svc: &JsonService<'_>, name: &str) -> Result<BTreeMap<String, String>, ProviderError> {
    let out = call(
        svc,
        "ListTagsForResource",
        &json!({"ResourceType": "Parameter", "ResourceId": name}),
    )?;
    Ok(tags_of(out.get("TagList")))
}

/// The decrypted value of a parameter, `None` when there is none.
fn ssm_current(svc: &JsonService<'_>, name: &str) -> Result<Option<Vec<u8>>, ProviderError> {
    match ssm::get_value(svc, name) {
        Ok(v) => Ok(Some(v)),
        Err(ProviderError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn ssm_push(
    svc: &JsonService<'_>,
    cfg: &Config,
    req: &PushRequest,
) -> Result<(), ProviderError> {
    let name = format!("{}{}", cfg.prefix, req.remote_key);
    let (mut body, tags) = ssm_request(&name, req.metadata.as_deref())?;
    let Some(current) = ssm_current(svc, &name)? else {
        let value = merged(None, req, "aws parameter store")?;
        body["Value"] = Value::String(String::from_utf8_lossy(&value).into_owned());
        body["Overwrite"] = Value::Bool(false);
        body["Tags"] = tag_list(&tags);
        call(svc, "PutParameter", &body)?;
        return Ok(());
    };
    let current_tags = ssm_tags(svc, &name)?;
    if current_tags.get(MANAGED_BY).map(String::as_str) != Some(ESO) {
        return Err(not_managed("parameter", &name));
    }
    if property_unchanged(&current, req) {
        return Ok(());
    }
    let value = merged(Some(&current), req, "aws parameter store")?;
    if value == current {
        return Ok(());
    }
    body["Value"] = Value::String(String::from_utf8_lossy(&value).into_owned());
    body["Overwrite"] = Value::Bool(true);
    call(svc, "PutParameter", &body)?;
    let (remove, modified) = tag_diff(&current_tags, &tags);
    if !remove.is_empty() {
        call(
            svc,
            "RemoveTagsFromResource",
            &json!({"ResourceType": "Parameter", "ResourceId": name, "TagKeys": remove}),
        )?;
    }
    if modified {
        call(
            svc,
            "AddTagsToResource",
            &json!({"ResourceType": "Parameter", "ResourceId": name, "Tags": tag_list(&tags)}),
        )?;
    }
    Ok(())
}

pub fn ssm_delete(svc: &JsonService<'_>, cfg: &Config, key: &str) -> Result<(), ProviderError> {
    let name = format!("{}{}", cfg.prefix, key);
    if ssm_current(svc, &name)?.is_none() {
        return Ok(());
    }
    if ssm_tags(svc, &name)?.get(MANAGED_BY).map(String::as_str) != Some(ESO) {
        return Ok(());
    }
    match svc.call("DeleteParameter", &json!({"Name": name})) {
        Ok(_) => Ok(()),
        Err(e) => match ssm::map_not_found(e, &name) {
            ProviderError::NotFound(_) => Ok(()),
            other => Err(other),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(property: Option<&str>, value: &str) -> PushRequest {
        PushRequest {
            remote_key: "k".into(),
            property: property.map(Into::into),
            value: value.as_bytes().to_vec(),
            metadata: None,
        }
    }

    #[test]
    fn property_pushes_merge_into_json() {
        let cur = br#"{"a":"1","db":{"user":"u"}}"#;
        assert!(property_unchanged(cur, &req(Some("db.user"), "u")));
        assert!(!property_unchanged(cur, &req(Some("db.user"), "v")));
        assert!(!property_unchanged(cur, &req(None, "u")));
        assert_eq!(
            merged(Some(cur), &req(Some("b"), "2"), "x").unwrap(),
            br#"{"a":"1","b":"2","db":{"user":"u"}}"#
        );
        assert_eq!(
            merged(None, &req(Some("b"), "2"), "x").unwrap(),
            br#"{"b":"2"}"#
        );
        assert!(matches!(
            merged(Some(b"plain text"), &req(Some("b"), "2"), "x"),
            Err(ProviderError::Internal(m)) if m.contains("requires a json secret")
        ));
    }

    #[test]
    fn metadata_like_eso() {
        let m = sm_meta(None).unwrap();
        assert_eq!(m.format, Format::Binary);
        assert_eq!(m.kms_key_id, "alias/aws/secretsmanager");
        assert_eq!(m.description, "secret 'managed-by:external-secrets'");
        assert_eq!(m.tags.get(MANAGED_BY).map(String::as_str), Some(ESO));
        let wrap = |spec: &str| {
            format!(
                r#"{{"apiVersion":"kubernetes.external-secrets.io/v1alpha1","kind":"PushSecretMetadata","spec":{spec}}}"#
            )
        };
        assert!(sm_meta(Some(&wrap(r#"{"secretPushFormat":"yaml"}"#))).is_err());
        assert!(sm_meta(Some(&wrap(r#"{"tags":{"managed-by":"me"}}"#))).is_err());
        let policy = wrap(
            r#"{"resourcePolicy":{"policySourceRef":{"kind":"ConfigMap","name":"p","key":"k"}}}"#,
        );
        assert!(
            matches!(sm_meta(Some(&policy)), Err(ProviderError::InvalidConfig(m)) if m.contains("resourcePolicy"))
        );
        let (body, tags) = ssm_request(
            "/p",
            Some(&wrap(
                r#"{"secretType":"SecureString","tier":{"type":"Advanced"},"tags":{"t":"1"}}"#,
            )),
        )
        .unwrap();
        assert_eq!(body["KeyId"], "alias/aws/ssm");
        assert_eq!(body["Tier"], "Advanced");
        assert_eq!(tags.len(), 2);
        let (plain, _) = ssm_request("/p", None).unwrap();
        assert_eq!(
            (plain["Type"].as_str(), plain.get("Tier")),
            (Some("String"), None)
        );
    }

    #[test]
    fn tags_diff_like_eso() {
        let cur: BTreeMap<String, String> = [("managed-by", ESO), ("old", "x"), ("t", "1")]
            .map(|(k, v)| (k.into(), v.into()))
            .into();
        let want: BTreeMap<String, String> = [("managed-by", ESO), ("t", "2")]
            .map(|(k, v)| (k.into(), v.into()))
            .into();
        assert_eq!(tag_diff(&cur, &want), (vec!["old".to_string()], true));
        assert_eq!(tag_diff(&want, &want), (vec![], false));
    }

    #[test]
    fn request_tokens_look_like_uuids() {
        let t = request_token("arn", "v1");
        assert_eq!(t.len(), 36);
        assert_eq!(t.matches('-').count(), 4);
    }
}
