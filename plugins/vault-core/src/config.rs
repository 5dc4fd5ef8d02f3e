//! ESO's `spec.provider.vault` block (unchanged JSON), offline validation, the auth method in
//! effect, the credentials it needs and the egress it needs. No I/O here.

use std::collections::BTreeMap;

use ampoule_sdk::errors::invalid_config;
use ampoule_sdk::{EgressRule, ProviderError};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    #[serde(default)]
    pub server: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub version: Version,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub ca_bundle: Option<String>,
    #[serde(default)]
    pub ca_provider: Option<crate::tls::CaProvider>,
    #[serde(default)]
    pub tls: Option<ClientTls>,
    #[serde(default)]
    pub read_your_writes: bool,
    #[serde(default)]
    pub forward_inconsistent: bool,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub auth: Option<Auth>,
    #[serde(default)]
    pub check_and_set: Option<CheckAndSet>,
}

/// `checkAndSet`: every KV v2 write carries the version it replaces (PushSecret).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckAndSet {
    #[serde(default)]
    pub required: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Version {
    #[serde(rename = "v1")]
    V1,
    #[default]
    #[serde(rename = "v2")]
    V2,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientTls {
    #[serde(default)]
    pub cert_secret_ref: Option<KeyRef>,
    #[serde(default)]
    pub key_secret_ref: Option<KeyRef>,
}

/// ESO's `SecretKeySelector`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct KeyRef {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

/// ESO's `ServiceAccountSelector`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct SaRef {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub audiences: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Auth {
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub token_secret_ref: Option<KeyRef>,
    #[serde(default)]
    pub app_role: Option<AppRole>,
    #[serde(default)]
    pub kubernetes: Option<Kubernetes>,
    #[serde(default)]
    pub ldap: Option<serde_json::Value>,
    #[serde(default)]
    pub user_pass: Option<UserPass>,
    #[serde(default)]
    pub jwt: Option<Jwt>,
    #[serde(default)]
    pub cert: Option<crate::tls::CertAuth>,
    #[serde(default)]
    pub iam: Option<serde_json::Value>,
    #[serde(default)]
    pub gcp: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRole {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub role_id: Option<String>,
    #[serde(default)]
    pub role_ref: Option<KeyRef>,
    #[serde(default)]
    pub secret_ref: Option<KeyRef>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Kubernetes {
    #[serde(default)]
    pub mount_path: String,
    #[serde(default)]
    pub service_account_ref: Option<SaRef>,
    #[serde(default)]
    pub secret_ref: Option<KeyRef>,
    #[serde(default)]
    pub role: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserPass {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub secret_ref: Option<KeyRef>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Jwt {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub secret_ref: Option<KeyRef>,
    #[serde(default)]
    pub kubernetes_service_account_token: Option<KubeSaToken>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeSaToken {
    #[serde(default)]
    pub service_account_ref: SaRef,
    #[serde(default)]
    pub audiences: Option<Vec<String>>,
}

/// Names under which the plugin asks the host for credential material.
pub mod cred {
    pub const TOKEN: &str = "token";
    pub const ROLE_ID: &str = "approle-role-id";
    pub const SECRET_ID: &str = "approle-secret-id";
    pub const JWT: &str = "jwt";
    pub const PASSWORD: &str = "password";
}

/// How the client logs in, after ESO's precedence (token → appRole → kubernetes → ldap →
/// userPass → jwt → cert → iam → gcp; the first configured wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// No `auth`: requests carry no token.
    Anonymous,
    /// `tokenSecretRef`: the token is used as is (never cached, never revoked).
    Token,
    /// `PUT /v1/auth/<mount>/login` with this JSON body (credential names in place of values).
    Mount {
        method: &'static str,
        mount: String,
        /// `/login` or `/login/<username>`.
        suffix: String,
        /// Fixed body fields (role, name …); credentials are added by the auth module.
        fields: Vec<(&'static str, String)>,
        /// (body field, credential name).
        secrets: Vec<(&'static str, &'static str)>,
    },
}

pub fn parse(config: &str) -> Result<Config, ProviderError> {
    serde_json::from_str(config).map_err(|e| invalid_config(format!("vault: {e}")))
}

fn or_default(value: &str, default: &str) -> String {
    let v = value.trim_matches('/');
    if v.is_empty() { default } else { v }.to_owned()
}

fn need_key(r: &KeyRef, what: &str) -> Result<(), ProviderError> {
    if r.name.is_empty() || r.key.is_empty() {
        return Err(invalid_config(format!("{what}: name and key must be set")));
    }
    Ok(())
}

impl Config {
    /// ESO's ValidateStore rules plus what this sandbox cannot do. Returns warnings.
    pub fn check(&self) -> Result<Vec<String>, ProviderError> {
        crate::paths::Origin::parse(&self.server)?;
        let mut warnings = crate::tls::check(self)?;
        if self.version == Version::V1 && self.path.as_deref().is_none_or(str::is_empty) {
            warnings.push("version v1 without path: keys must include the mount".to_owned());
        }
        if self.version == Version::V1 && self.cas_required() {
            return Err(invalid_config(
                "checkAndSet is not supported with Vault KV version v1",
            ));
        }
        self.login()?;
        self.credentials()?;
        Ok(warnings)
    }

    /// The login in effect.
    pub fn login(&self) -> Result<Login, ProviderError> {
        let Some(auth) = &self.auth else {
            return Ok(Login::Anonymous);
        };
        if let Some(r) = &auth.token_secret_ref {
            need_key(r, "auth.tokenSecretRef")?;
            return Ok(Login::Token);
        }
        if let Some(a) = &auth.app_role {
            let mut secrets = vec![("secret_id", cred::SECRET_ID)];
            let mut fields = Vec::new();
            match (&a.role_id, &a.role_ref) {
                (Some(id), _) if !id.is_empty() => fields.push(("role_id", id.clone())),
                (_, Some(r)) => {
                    need_key(r, "auth.appRole.roleRef")?;
                    secrets.push(("role_id", cred::ROLE_ID));
                }
                _ => {
                    return Err(invalid_config(
                        "auth.appRole: either roleId or roleRef must be set",
                    ));
                }
            }
            let secret = a
                .secret_ref
                .as_ref()
                .ok_or_else(|| invalid_config("auth.appRole.secretRef is required"))?;
            need_key(secret, "auth.appRole.secretRef")?;
            return Ok(Login::Mount {
                method: "appRole",
                mount: or_default(&a.path, "approle"),
                suffix: "login".into(),
                fields,
                secrets,
            });
        }
        if let Some(k) = &auth.kubernetes {
            if k.role.is_empty() {
                return Err(invalid_config("auth.kubernetes.role is required"));
            }
            match (&k.service_account_ref, &k.secret_ref) {
                (Some(sa), _) if sa.name.is_empty() => {
                    return Err(invalid_config(
                        "auth.kubernetes.serviceAccountRef.name is required",
                    ));
                }
                (Some(_), _) => {}
                (None, Some(r)) if r.name.is_empty() => {
                    return Err(invalid_config("auth.kubernetes.secretRef.name is required"));
                }
                (None, Some(_)) => {}
                // As ESO: neither names a token, so the operator's own ServiceAccount logs in
                // (the host hands its token over where the ProviderClass allows it).
                (None, None) => {}
            }
            return Ok(Login::Mount {
                method: "kubernetes",
                mount: or_default(&k.mount_path, "kubernetes"),
                suffix: "login".into(),
                fields: vec![("role", k.role.clone())],
                secrets: vec![("jwt", cred::JWT)],
            });
        }
        if auth.ldap.is_some() {
            return Err(unsupported("ldap"));
        }
        if let Some(u) = &auth.user_pass {
            if u.username.is_empty() {
                return Err(invalid_config("auth.userPass.username is required"));
            }
            let r = u
                .secret_ref
                .as_ref()
                .ok_or_else(|| invalid_config("auth.userPass.secretRef is required"))?;
            need_key(r, "auth.userPass.secretRef")?;
            return Ok(Login::Mount {
                method: "userPass",
                mount: or_default(&u.path, "userpass"),
                suffix: format!("login/{}", u.username),
                fields: Vec::new(),
                secrets: vec![("password", cred::PASSWORD)],
            });
        }
        if let Some(j) = &auth.jwt {
            match (&j.secret_ref, &j.kubernetes_service_account_token) {
                (Some(r), _) => need_key(r, "auth.jwt.secretRef")?,
                (None, Some(t)) if !t.service_account_ref.name.is_empty() => {}
                _ => {
                    return Err(invalid_config(
                        "neither `secretRef` nor `kubernetesServiceAccountToken` was supplied as token source for jwt authentication",
                    ));
                }
            }
            let mut fields = Vec::new();
            if let Some(role) = j.role.as_ref().filter(|r| !r.is_empty()) {
                fields.push(("role", role.clone()));
            }
            return Ok(Login::Mount {
                method: "jwt",
                mount: or_default(&j.path, "jwt"),
                suffix: "login".into(),
                fields,
                secrets: vec![("jwt", cred::JWT)],
            });
        }
        if let Some(c) = &auth.cert {
            c.refs()?;
            let mut fields = Vec::new();
            if let Some(role) = c.vault_role.as_ref().filter(|r| !r.is_empty()) {
                fields.push(("name", role.clone()));
            }
            return Ok(Login::Mount {
                method: "cert",
                mount: or_default(&c.path, "cert"),
                suffix: "login".into(),
                fields,
                secrets: Vec::new(),
            });
        }
        if auth.iam.is_some() {
            return Err(unsupported("iam"));
        }
        if auth.gcp.is_some() {
            return Err(unsupported("gcp"));
        }
        Err(invalid_config(
            "auth: no authentication method is configured (expected one of tokenSecretRef, appRole, \
             kubernetes, userPass, jwt, cert)",
        ))
    }

    /// `checkAndSet.required`.
    pub fn cas_required(&self) -> bool {
        self.check_and_set.as_ref().is_some_and(|c| c.required)
    }

    /// Exactly the server's origin under `/v1/`: GET/LIST to read, POST to log in, PUT/DELETE
    /// for PushSecret's writes.
    pub fn egress(&self) -> Result<Vec<EgressRule>, ProviderError> {
        let origin = crate::paths::Origin::parse(&self.server)?;
        Ok(vec![EgressRule {
            schemes: vec![origin.scheme.clone()],
            host: origin.host.clone(),
            ports: vec![origin.port],
            methods: ["GET", "POST", "PUT", "DELETE", "LIST"]
                .map(String::from)
                .to_vec(),
            path_prefixes: vec![format!("{}/v1/", origin.base_path)],
        }])
    }
}

fn unsupported(method: &str) -> ProviderError {
    invalid_config(format!(
        "auth.{method}: the {method} auth method is not supported by the Ampoule vault plugin \
         (OpenBao does not ship it); use appRole, kubernetes, jwt, userPass, cert or tokenSecretRef"
    ))
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
