//! The credentials a config references (`requested-credentials`), by the names `auth` asks for.

use ampoule_sdk::bindings::ampoule::host::credentials::{SecretKeyRef, ServiceAccountRef};
use ampoule_sdk::{ControllerIdentity, CredentialRequest, CredentialSource, ProviderError};

use crate::config::{Config, KeyRef, Login, SaRef, cred};

impl Config {
    /// The credentials this config references, by the names the auth module asks for.
    pub fn credentials(&self) -> Result<Vec<CredentialRequest>, ProviderError> {
        let mut out = crate::tls::credentials(self)?;
        let Some(auth) = &self.auth else {
            return Ok(out);
        };
        match self.login()? {
            Login::Anonymous => {}
            Login::Token => {
                if let Some(r) = &auth.token_secret_ref {
                    out.push(secret(cred::TOKEN, r, None));
                }
            }
            Login::Mount { method, .. } => match method {
                "appRole" => {
                    if let Some(a) = &auth.app_role {
                        if let Some(r) = a
                            .role_ref
                            .as_ref()
                            .filter(|_| a.role_id.as_deref().is_none_or(str::is_empty))
                        {
                            out.push(secret(cred::ROLE_ID, r, None));
                        }
                        if let Some(r) = &a.secret_ref {
                            out.push(secret(cred::SECRET_ID, r, None));
                        }
                    }
                }
                "kubernetes" => {
                    if let Some(k) = &auth.kubernetes {
                        match (&k.service_account_ref, &k.secret_ref) {
                            (Some(sa), _) => out.push(sa_token(sa, Vec::new())),
                            (None, Some(r)) => out.push(secret(cred::JWT, r, Some("token"))),
                            (None, None) => {}
                        }
                    }
                }
                "userPass" => {
                    if let Some(r) = auth.user_pass.as_ref().and_then(|u| u.secret_ref.as_ref()) {
                        out.push(secret(cred::PASSWORD, r, None));
                    }
                }
                "jwt" => {
                    if let Some(j) = &auth.jwt {
                        match (&j.secret_ref, &j.kubernetes_service_account_token) {
                            (Some(r), _) => out.push(secret(cred::JWT, r, None)),
                            (None, Some(t)) => {
                                let extra = t
                                    .audiences
                                    .clone()
                                    .unwrap_or_else(|| vec!["vault".to_owned()]);
                                out.push(sa_token(&t.service_account_ref, extra));
                            }
                            (None, None) => {}
                        }
                    }
                }
                _ => {}
            },
        }
        Ok(out)
    }

    /// Whether the login is the operator's own: kubernetes auth without serviceAccountRef or
    /// secretRef (ESO then reads the controller's mounted token).
    pub fn uses_controller_identity(&self) -> bool {
        let kubernetes = self.auth.as_ref().and_then(|a| a.kubernetes.as_ref());
        matches!(
            self.login(),
            Ok(Login::Mount {
                method: "kubernetes",
                ..
            })
        ) && kubernetes.is_some_and(|k| k.service_account_ref.is_none() && k.secret_ref.is_none())
    }

    /// Asks the host for the operator's token when the login is the operator's own (only from
    /// `requested-credentials`): the apiserver's own audience, as the token ESO reads from the
    /// controller's Pod.
    pub fn request_controller_identity(&self) -> Result<(), ProviderError> {
        if self.uses_controller_identity() {
            ampoule_sdk::request_controller_identity(
                cred::JWT,
                &ControllerIdentity::Token(Vec::new()),
            )?;
        }
        Ok(())
    }

    /// True for a ClusterSecretStore whose credentials resolve in each caller's namespace
    /// (ESO's referent authentication): validation then reports `unknown`.
    pub fn is_referent(&self) -> bool {
        self.credentials().is_ok_and(|creds| {
            creds.iter().any(|c| match &c.source {
                CredentialSource::SecretKey(s) => s.namespace.is_none(),
                CredentialSource::ServiceAccountToken(s) => s.namespace.is_none(),
                CredentialSource::ServiceAccountAnnotation(s) => s.namespace.is_none(),
                CredentialSource::AnnotatedToken(s) => s.namespace.is_none(),
            })
        })
    }
}

fn secret(name: &str, r: &KeyRef, default_key: Option<&str>) -> CredentialRequest {
    let key = match (r.key.as_str(), default_key) {
        ("", Some(d)) => d.to_owned(),
        (k, _) => k.to_owned(),
    };
    CredentialRequest {
        name: name.to_owned(),
        source: CredentialSource::SecretKey(SecretKeyRef {
            name: r.name.clone(),
            key,
            namespace: r.namespace.clone(),
        }),
    }
}

fn sa_token(sa: &SaRef, extra: Vec<String>) -> CredentialRequest {
    let mut audiences = sa.audiences.clone();
    audiences.extend(extra);
    CredentialRequest {
        name: cred::JWT.to_owned(),
        source: CredentialSource::ServiceAccountToken(ServiceAccountRef {
            name: sa.name.clone(),
            namespace: sa.namespace.clone(),
            audiences,
        }),
    }
}
