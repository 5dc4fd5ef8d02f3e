//! Credential resolution: static keys, or a web identity token exchanged for the role named by
//! the ServiceAccount's `eks.amazonaws.com/role-arn` annotation (with no `auth`: the operator's
//! own ServiceAccount, or its `AWS_ROLE_ARN`); then chained `AssumeRole`s
//! (`additionalRoles`, then `role` with `externalID` and session tags). STS results are kept in
//! the host's per-store cache until five minutes before they expire, so STS is called once per
//! credential lifetime, not once per reconcile.

use ampoule_plugin_common::hash::sha256_hex;
use ampoule_plugin_common::url_encode;
use ampoule_sdk::errors::invalid_config;
use ampoule_sdk::http::Request;
use ampoule_sdk::{ProviderError, cache, credential};
use serde_json::json;

use crate::api::{error_of, transport_error, xml_text};
use crate::config::{
    ACCESS_KEY_ID, Config, ROLE_ARN, ROLE_ARN_ANNOTATION, ROLE_ARN_ENV, ROLE_ARN_VARIABLE,
    SECRET_ACCESS_KEY, SESSION_TOKEN, Settings, WEB_IDENTITY,
};
use crate::sigv4::{self, Credentials};
use crate::time;

/// ESO's session name for every assumption.
pub const SESSION_NAME: &str = "external-secrets-provider-aws";
/// Cached credentials are dropped this long before they expire.
const EARLY: i64 = 300;

fn text(name: &str) -> Result<String, ProviderError> {
    let bytes = credential(name)?;
    String::from_utf8(bytes)
        .map(|s| s.trim().to_owned())
        .map_err(|_| invalid_config(format!("aws: credential {name} is not UTF-8")))
}

/// The credentials the store's config leads to.
pub fn resolve(cfg: &Config, settings: &Settings) -> Result<Credentials, ProviderError> {
    let sts = cfg.sts_endpoint(settings);
    // Roles to assume in order; the last one carries externalID and session tags.
    let mut chain: Vec<&str> = cfg.additional_roles.iter().map(String::as_str).collect();
    // With web identity: the role from the ServiceAccount's annotation, assumed first.
    let mut web_role = String::new();
    let (mut creds, identity) = if cfg.auth.secret_ref.is_some() {
        let creds = Credentials {
            access_key_id: text(ACCESS_KEY_ID)?,
            secret_access_key: text(SECRET_ACCESS_KEY)?,
            session_token: cfg
                .auth
                .secret_ref
                .as_ref()
                .and_then(|s| s.session_token.as_ref())
                .map(|_| text(SESSION_TOKEN))
                .transpose()?,
        };
        if !cfg.role.is_empty() {
            chain.push(&cfg.role);
        }
        let id = format!(
            "static:{}:{}",
            creds.access_key_id,
            sha256_hex(creds.secret_access_key.as_bytes())
        );
        (Some(creds), id)
    } else if cfg.uses_controller_identity() {
        // ESO's SDK reads the operator's AWS_ROLE_ARN (the IRSA webhook sets it from the
        // ServiceAccount's annotation); without it, the annotation itself.
        let role = Some(text(ROLE_ARN_ENV)?)
            .filter(|r| !r.is_empty())
            .or(ampoule_sdk::annotation(ROLE_ARN)?)
            .ok_or_else(|| {
                invalid_config(format!(
                    "aws: this store names no auth, so it authenticates as the operator, whose \
                     ServiceAccount has no {ROLE_ARN_ANNOTATION} annotation and which has no \
                     {ROLE_ARN_VARIABLE}"
                ))
            })?;
        if !cfg.role.is_empty() {
            chain.push(&cfg.role);
        }
        let id = format!("controller:{role}:{sts}");
        web_role = role;
        (None, id)
    } else {
        let sa = cfg
            .auth
            .jwt
            .as_ref()
            .and_then(|j| j.service_account_ref.as_ref());
        let role = ampoule_sdk::annotation(ROLE_ARN)?.ok_or_else(|| {
            invalid_config(format!(
                "aws: an IAM role must be associated with ServiceAccount {:?}: it has no \
                 {ROLE_ARN_ANNOTATION} annotation",
                sa.map(|s| s.name.as_str()).unwrap_or_default()
            ))
        })?;
        if !cfg.role.is_empty() {
            chain.push(&cfg.role);
        }
        let id = format!(
            "jwt:{role}:{:?}:{}",
            sa.map(|s| (&s.name, &s.namespace)),
            sts
        );
        web_role = role;
        (None, id)
    };
    if creds.is_some() && chain.is_empty() {
        return creds.ok_or_else(|| invalid_config("aws: no credentials"));
    }
    let key = format!(
        "aws-sts:{}",
        sha256_hex(
            json!([identity, chain, cfg.external_id, tags(cfg), cfg.region])
                .to_string()
                .as_bytes()
        )
    );
    if let Some(hit) = cache::get(&key).and_then(|v| from_cache(&v)) {
        return Ok(hit);
    }
    let mut expires = i64::MAX;
    if creds.is_none() {
        let token = text(WEB_IDENTITY)?;
        let (c, exp) = assume_web_identity(&sts, &web_role, &token)?;
        creds = Some(c);
        expires = exp;
    }
    let last = chain.len().saturating_sub(1);
    for (i, role) in chain.iter().enumerate() {
        let base = creds.ok_or_else(|| invalid_config("aws: no base credentials"))?;
        let final_hop = i == last && *role == cfg.role;
        let (c, exp) = assume_role(&sts, &cfg.region, &base, role, final_hop.then_some(cfg))?;
        creds = Some(c);
        expires = expires.min(exp);
    }
    let creds = creds.ok_or_else(|| invalid_config("aws: no credentials"))?;
    let ttl = expires.saturating_sub(time::now() + EARLY);
    if ttl > 0 {
        let value = json!({"a": creds.access_key_id, "s": creds.secret_access_key, "t": creds.session_token});
        if let Err(why) = cache::set(
            &key,
            value.to_string().as_bytes(),
            u32::try_from(ttl).unwrap_or(u32::MAX),
        ) {
            ampoule_sdk::log::warn(&format!("aws: credentials not cached: {why}"));
        }
    }
    Ok(creds)
}

fn tags(cfg: &Config) -> Vec<(String, String)> {
    cfg.session_tags
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect()
}

fn from_cache(bytes: &[u8]) -> Option<Credentials> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    Some(Credentials {
        access_key_id: v.get("a")?.as_str()?.to_owned(),
        secret_access_key: v.get("s")?.as_str()?.to_owned(),
        session_token: v.get("t").and_then(|t| t.as_str()).map(str::to_owned),
    })
}

fn form(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn base_params(action: &str, role: &str) -> Vec<(String, String)> {
    vec![
        ("Action".into(), action.into()),
        ("Version".into(), "2011-06-15".into()),
        ("RoleArn".into(), role.into()),
        ("RoleSessionName".into(), SESSION_NAME.into()),
    ]
}

/// `sts:AssumeRole`, signed with `base`; `last` adds externalID and session tags.
fn assume_role(
    sts: &str,
    region: &str,
    base: &Credentials,
    role: &str,
    last: Option<&Config>,
) -> Result<(Credentials, i64), ProviderError> {
    let mut params = base_params("AssumeRole", role);
    if let Some(cfg) = last {
        if !cfg.external_id.is_empty() {
            params.push(("ExternalId".into(), cfg.external_id.clone()));
        }
        for (i, (k, v)) in tags(cfg).into_iter().enumerate() {
            params.push((format!("Tags.member.{}.Key", i + 1), k));
            params.push((format!("Tags.member.{}.Value", i + 1), v));
        }
        for (i, k) in cfg.transitive_tag_keys.iter().enumerate() {
            params.push((format!("TransitiveTagKeys.member.{}", i + 1), k.clone()));
        }
    }
    let mut req = Request::new("POST", &format!("{}/", sts.trim_end_matches('/')))
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(form(&params));
    sigv4::sign(&mut req, base, region, "sts", &time::amz_date(time::now()));
    send_sts("AssumeRole", sts, &req)
}

/// `sts:AssumeRoleWithWebIdentity` (unsigned).
fn assume_web_identity(
    sts: &str,
    role: &str,
    token: &str,
) -> Result<(Credentials, i64), ProviderError> {
    let mut params = base_params("AssumeRoleWithWebIdentity", role);
    params.push(("WebIdentityToken".into(), token.into()));
    let body = form(&params);
    // An explicit length: endpoints that route unsigned requests by their body (moto) do not
    // read chunked bodies.
    let req = Request::new("POST", &format!("{}/", sts.trim_end_matches('/')))
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .header("content-length", &body.len().to_string())
        .body(body);
    send_sts("AssumeRoleWithWebIdentity", sts, &req)
}

fn send_sts(
    op: &'static str,
    sts: &str,
    req: &Request,
) -> Result<(Credentials, i64), ProviderError> {
    let resp = req.send().map_err(|e| transport_error(op, sts, e))?;
    if !resp.is_success() {
        return Err(error_of(op, &resp).into_provider());
    }
    let xml = String::from_utf8_lossy(&resp.body);
    parse_credentials(&xml)
        .ok_or_else(|| ProviderError::Internal(format!("{op}: no credentials in the response")))
}

/// `<Credentials>` of an STS response → credentials and their expiry (Unix seconds).
pub fn parse_credentials(xml: &str) -> Option<(Credentials, i64)> {
    let creds = xml_text(xml, "Credentials")?;
    let expires = xml_text(&creds, "Expiration")
        .and_then(|e| time::parse_iso8601(&e))
        .unwrap_or(0);
    Some((
        Credentials {
            access_key_id: xml_text(&creds, "AccessKeyId")?,
            secret_access_key: xml_text(&creds, "SecretAccessKey")?,
            session_token: xml_text(&creds, "SessionToken"),
        },
        expires,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_assume_role_response() {
        let xml = "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIA1</AccessKeyId>\
            <SecretAccessKey>sec</SecretAccessKey><SessionToken>tok</SessionToken>\
            <Expiration>2015-08-30T12:36:00Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>";
        let (c, exp) = parse_credentials(xml).unwrap();
        assert_eq!(c.access_key_id, "ASIA1");
        assert_eq!(c.session_token.as_deref(), Some("tok"));
        assert_eq!(exp, 1_440_938_160);
    }

    #[test]
    fn form_encoding() {
        assert_eq!(
            form(&[("RoleArn".into(), "arn:aws:iam::1:role/a b".into())]),
            "RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fa%20b"
        );
    }
}
