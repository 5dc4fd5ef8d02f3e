//! ESO's `aws` provider (`spec.provider.aws`) as a sandboxed plugin: Secrets Manager and
//! Parameter Store over their JSON 1.1 APIs, SigV4 signed in the plugin, STS for roles.
//!
//! - Auth: `auth.secretRef` (static keys, optional session token) or `auth.jwt.serviceAccountRef`
//!   (as ESO's IRSA: the host reads the ServiceAccount's `eks.amazonaws.com/role-arn` annotation
//!   and requests its token for `eks.amazonaws.com/audience`, default `sts.amazonaws.com`, then
//!   `AssumeRoleWithWebIdentity`); then `additionalRoles` and `role` chained with `AssumeRole`
//!   (`externalID`, `sessionTags`, `transitiveTagKeys` on `role`).
//! - STS results are cached in the host's per-store cache until 5 minutes before expiry.
//! - Endpoints come only from the ProviderClass settings (`endpoints.{secretsmanager,ssm,sts}`),
//!   else the regional AWS hosts; the requested egress is exactly those endpoints.
//! - Within one client (one reconcile) each (key, version, value|metadata) is fetched once.
//! - PushSecret on both services (see `push`): `managed-by: external-secrets` tags, property
//!   merge, no write when nothing changed, ESO's push metadata.

mod api;
mod config;
mod push;
pub mod sigv4;
mod sm;
mod ssm;
mod sts;
pub mod time;

use std::cell::RefCell;
use std::collections::HashMap;

use ampoule_plugin_common::{gjson, json_map};
use ampoule_sdk::errors::internal;
use ampoule_sdk::{
    Capabilities, Client, CredentialRequest, EgressRule, FindQuery, Guest, GuestClient,
    ProviderError, ProviderInfo, PushRequest, SecretMap, SecretRef, StoreContext, Validation,
};

use crate::api::JsonService;
use crate::config::{Config, Service, Settings};
use crate::sigv4::Credentials;

/// ESO's property step: the whole payload, or a gjson path into it (missing → an error that is
/// not NotFound, as in ESO).
pub(crate) fn property(
    data: Vec<u8>,
    path: Option<&str>,
    key: &str,
) -> Result<Vec<u8>, ProviderError> {
    match path.filter(|p| !p.is_empty()) {
        None => Ok(data),
        Some(p) => gjson::property(&data, p)
            .ok_or_else(|| internal(format!("key {p} does not exist in secret {key}"))),
    }
}

struct Aws;

impl Guest for Aws {
    type Client = AwsClient;

    fn describe() -> ProviderInfo {
        ProviderInfo {
            name: "aws".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            capabilities: Capabilities::READ | Capabilities::WRITE,
            config_schema: None,
        }
    }

    fn validate_config(config: String) -> Result<Vec<String>, ProviderError> {
        config::parse(&config)?;
        Ok(Vec::new())
    }

    fn requested_egress(
        config: String,
        settings: String,
    ) -> Result<Vec<EgressRule>, ProviderError> {
        config::parse(&config)?.egress(&config::settings(&settings)?)
    }

    fn requested_credentials(config: String) -> Result<Vec<CredentialRequest>, ProviderError> {
        let config = config::parse(&config)?;
        config.request_controller_identity()?;
        Ok(config.credentials())
    }
}

struct AwsClient {
    cfg: Config,
    settings: Settings,
    creds: Credentials,
    memo: RefCell<HashMap<String, Vec<u8>>>,
}

impl AwsClient {
    fn with_service<T>(&self, f: impl FnOnce(&JsonService<'_>, bool) -> T) -> T {
        let ssm = self.cfg.service == Some(Service::ParameterStore);
        let (signing_name, target_prefix) = if ssm {
            ("ssm", "AmazonSSM")
        } else {
            ("secretsmanager", "secretsmanager")
        };
        let svc = JsonService {
            endpoint: self.cfg.service_endpoint(&self.settings),
            signing_name,
            target_prefix,
            region: &self.cfg.region,
            creds: &self.creds,
        };
        f(&svc, ssm)
    }

    /// The raw payload (before the property step), memoised per client.
    fn fetch(&self, r: &SecretRef) -> Result<Vec<u8>, ProviderError> {
        let memo_key = format!(
            "{}#{}#{}",
            r.key,
            r.version.as_deref().unwrap_or_default(),
            if r.fetch_metadata { "TAG" } else { "SECRET" }
        );
        if let Some(hit) = self.memo.borrow().get(&memo_key) {
            return Ok(hit.clone());
        }
        let whole = SecretRef {
            property: None,
            ..r.clone()
        };
        let data = self.with_service(|svc, ssm| {
            if ssm {
                ssm::get(svc, &self.cfg.prefix, &whole)
            } else {
                sm::get(svc, &self.cfg.prefix, &whole)
            }
        })?;
        self.memo.borrow_mut().insert(memo_key, data.clone());
        Ok(data)
    }
}

impl GuestClient for AwsClient {
    fn open(config: String, ctx: StoreContext) -> Result<Client, ProviderError> {
        let cfg = config::parse(&config)?;
        let settings = config::settings(&ctx.settings)?;
        let creds = sts::resolve(&cfg, &settings)?;
        Ok(Client::new(AwsClient {
            cfg,
            settings,
            creds,
            memo: RefCell::new(HashMap::new()),
        }))
    }

    fn validate(&self) -> Result<Validation, ProviderError> {
        // As ESO: resolving the credentials (done in `open`, with STS when a role is set) is the check.
        Ok(Validation::Valid)
    }

    fn get_secret(&self, secret: SecretRef) -> Result<Vec<u8>, ProviderError> {
        let data = self.fetch(&secret)?;
        property(data, secret.property.as_deref(), &secret.key)
    }

    fn get_secret_map(&self, secret: SecretRef) -> Result<SecretMap, ProviderError> {
        let data = self.get_secret(secret)?;
        json_map(&data).map_err(internal)
    }

    fn get_all_secrets(&self, query: FindQuery) -> Result<SecretMap, ProviderError> {
        self.with_service(|svc, is_ssm| {
            if is_ssm {
                ssm::find(svc, &query)
            } else {
                sm::find(svc, &query)
            }
        })
    }

    fn push_secret(&self, req: PushRequest) -> Result<(), ProviderError> {
        self.memo.borrow_mut().clear();
        self.with_service(|svc, ssm| {
            if ssm {
                push::ssm_push(svc, &self.cfg, &req)
            } else {
                push::sm_push(svc, &self.cfg, &req)
            }
        })
    }

    fn delete_secret(
        &self,
        remote_key: String,
        _property: Option<String>,
    ) -> Result<(), ProviderError> {
        self.memo.borrow_mut().clear();
        self.with_service(|svc, ssm| {
            if ssm {
                push::ssm_delete(svc, &self.cfg, &remote_key)
            } else {
                push::sm_delete(svc, &self.cfg, &remote_key)
            }
        })
    }

    fn secret_exists(
        &self,
        remote_key: String,
        _property: Option<String>,
    ) -> Result<bool, ProviderError> {
        let r = SecretRef {
            key: remote_key,
            property: None,
            version: None,
            fetch_metadata: false,
        };
        match self.fetch(&r) {
            Ok(_) => Ok(true),
            Err(ProviderError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

ampoule_sdk::export!(Aws with_types_in ampoule_sdk::bindings);
