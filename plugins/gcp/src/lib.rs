//! ESO's `gcpsm` provider (`spec.provider.gcpsm`) as a sandboxed plugin: Google Secret Manager
//! over its REST API.
//!
//! - Auth: `auth.secretRef` (service-account key JSON → RS256 JWT → OAuth2 token endpoint),
//!   `auth.workloadIdentity` (TokenRequest for the KSA with audience `<project>.svc.id.goog` →
//!   identity binding token → `generateAccessToken` for the GSA the host read from the KSA's
//!   `iam.gke.io/gcp-service-account` annotation; without it the federated token, as ESO),
//!   `auth.workloadIdentityFederation` (`serviceAccountRef` + `audience` → STS token exchange →
//!   optional `generateAccessToken`).
//! - Tokens are cached in the host's per-store cache until 5 minutes before expiry.
//! - Endpoints: ProviderClass settings `endpoints.{secretmanager,sts,securetoken,iamcredentials,
//!   oauth2}`, else Google's hosts (`secretmanager.<location>.rep.googleapis.com` for `location`).
//! - PushSecret (see `push`): `managed-by: external-secrets` labels, property merge, labels and
//!   annotations from the metadata, a new version only when the payload changes.

mod api;
mod auth;
mod config;
mod push;
mod sm;

use ampoule_plugin_common::{gjson, json_map};
use ampoule_sdk::errors::internal;
use ampoule_sdk::{
    Capabilities, Client, CredentialRequest, EgressRule, FindQuery, Guest, GuestClient,
    ProviderError, ProviderInfo, PushRequest, SecretMap, SecretRef, StoreContext, Validation,
};

use crate::config::{Config, Settings};
use crate::sm::Sm;

struct Gcp;

impl Guest for Gcp {
    type Client = GcpClient;

    fn describe() -> ProviderInfo {
        ProviderInfo {
            name: "gcpsm".into(),
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

struct GcpClient {
    cfg: Config,
    settings: Settings,
    token: String,
}

impl GcpClient {
    fn sm(&self) -> (String, String) {
        (self.cfg.secretmanager(&self.settings), self.cfg.parent())
    }

    fn with_sm<T>(&self, f: impl FnOnce(&Sm<'_>) -> T) -> T {
        let (base, parent) = self.sm();
        f(&Sm {
            base: &base,
            parent: &parent,
            token: &self.token,
            latest_or_fetch: self.cfg.secret_version_selection_policy.as_deref()
                == Some("LatestOrFetch"),
        })
    }
}

impl GuestClient for GcpClient {
    fn open(config: String, ctx: StoreContext) -> Result<Client, ProviderError> {
        let cfg = config::parse(&config)?;
        let settings = config::settings(&ctx.settings)?;
        let token = auth::token(&cfg, &settings, ctx.store_namespace.as_deref())?;
        Ok(Client::new(GcpClient {
            cfg,
            settings,
            token,
        }))
    }

    fn validate(&self) -> Result<Validation, ProviderError> {
        // As ESO: opening the client already obtained a token.
        Ok(Validation::Valid)
    }

    fn get_secret(&self, secret: SecretRef) -> Result<Vec<u8>, ProviderError> {
        if secret.fetch_metadata {
            return self.with_sm(|sm| sm.metadata(&secret.key, secret.property.as_deref()));
        }
        let data = self.with_sm(|sm| sm.access(&secret.key, secret.version.as_deref()))?;
        match secret.property.as_deref().filter(|p| !p.is_empty()) {
            None => Ok(data),
            Some(p) => gjson::property(&data, p).ok_or_else(|| {
                internal(format!("key {p} does not exist in secret {}", secret.key))
            }),
        }
    }

    fn get_secret_map(&self, secret: SecretRef) -> Result<SecretMap, ProviderError> {
        let data = self.get_secret(secret)?;
        json_map(&data).map_err(internal)
    }

    fn get_all_secrets(&self, query: FindQuery) -> Result<SecretMap, ProviderError> {
        if query.name_regexp.is_none() && query.tags.is_empty() {
            return Err(ProviderError::InvalidConfig(
                "find: name.regexp or tags is required".into(),
            ));
        }
        self.with_sm(|sm| sm.find(&query))
    }

    fn push_secret(&self, req: PushRequest) -> Result<(), ProviderError> {
        self.with_sm(|sm| sm.push(&req))
    }

    fn delete_secret(
        &self,
        remote_key: String,
        _property: Option<String>,
    ) -> Result<(), ProviderError> {
        self.with_sm(|sm| sm.delete(&remote_key))
    }

    fn secret_exists(
        &self,
        remote_key: String,
        _property: Option<String>,
    ) -> Result<bool, ProviderError> {
        match self.with_sm(|sm| sm.access(&remote_key, None)) {
            Ok(_) => Ok(true),
            Err(ProviderError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

ampoule_sdk::export!(Gcp with_types_in ampoule_sdk::bindings);
