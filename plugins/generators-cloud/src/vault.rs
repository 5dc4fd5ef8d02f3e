//! ESO's VaultDynamicSecret generator: one Vault call (`method` on `path`) with ESO's Vault
//! provider config (`provider`, parsed, authenticated and TLS-configured by the vault plugin's
//! own modules, plugins/vault), the answer's `data`, `auth` or the whole response as keys.
//!
//! - `method`: GET (default; `parameters` as the query is not sent, ESO's `GetParameters` is),
//!   LIST, DELETE, anything else writes `parameters` as the JSON body.
//! - `resultType`: `Data` (default), `Auth`, `Raw`; each member through ESO's GetByteValue.
//! - An empty answer (no body, or 404 on a read) is an error unless `allowEmptyResponse`.
//! - State: when the answer carries a lease (`lease_id`), `{"leaseId": …}`; `cleanup` revokes
//!   it (`PUT sys/leases/revoke`), and an already-gone lease is success. (ESO's own generator
//!   leaves leases to expire.)
//! - Egress: the server's origin only: `method` on `/v1/<path>`, POST on `/v1/auth/` when the
//!   login needs it, PUT on `/v1/sys/leases/revoke`.

use std::collections::BTreeMap;

use ampoule_sdk::{
    CredentialRequest, EgressRule, ProviderError, StoreContext, StoreKind, errors::invalid_config,
};
use ampoule_vault_core::api::{self, Api};
use ampoule_vault_core::auth::Auth;
use ampoule_vault_core::config::{self, Config, Login};
use ampoule_vault_core::paths::Origin;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Output;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    path: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    parameters: Option<Value>,
    #[serde(default)]
    get_parameters: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    result_type: Option<String>,
    #[serde(default)]
    allow_empty_response: bool,
    provider: Value,
    #[serde(skip)]
    config: Option<Config>,
}

impl Spec {
    pub fn parse(spec: &str) -> Result<Spec, ProviderError> {
        let mut s: Spec = serde_json::from_str(spec)
            .map_err(|e| invalid_config(format!("unable to parse spec: {e}")))?;
        if s.provider.is_null() {
            return Err(invalid_config("no Vault provider config in spec"));
        }
        let c = config::parse(&s.provider.to_string())?;
        c.check()?;
        s.config = Some(c);
        if s.path.trim_matches('/').is_empty() {
            return Err(invalid_config("path must be set"));
        }
        match s.result_type.as_deref() {
            None | Some("" | "Data" | "Auth" | "Raw") => {}
            Some(other) => return Err(invalid_config(format!("unknown resultType {other:?}"))),
        }
        Ok(s)
    }

    fn config(&self) -> Result<&Config, ProviderError> {
        self.config
            .as_ref()
            .ok_or_else(|| ProviderError::Internal("vault config not parsed".into()))
    }

    fn method(&self) -> String {
        match self.method.as_deref() {
            None | Some("") => "GET".into(),
            Some(m) => m.to_ascii_uppercase(),
        }
    }

    fn path(&self) -> &str {
        self.path.trim_matches('/')
    }

    pub fn egress(&self) -> Result<Vec<EgressRule>, ProviderError> {
        let c = self.config()?;
        let o = Origin::parse(&c.server)?;
        let rule = |method: &str, prefix: String| EgressRule {
            schemes: vec![o.scheme.clone()],
            host: o.host.clone(),
            ports: vec![o.port],
            methods: vec![method.to_owned()],
            path_prefixes: vec![prefix],
        };
        let method = match self.method().as_str() {
            "GET" | "LIST" | "DELETE" => self.method(),
            // Vault's client writes with PUT; this component sends POST (Vault treats both alike).
            _ => "POST".into(),
        };
        let mut out = vec![rule(
            &method,
            format!(
                "{}/v1/{}",
                o.base_path,
                ampoule_vault_core::paths::encode(self.path())
            ),
        )];
        if matches!(c.login()?, Login::Mount { .. }) {
            out.push(rule("POST", format!("{}/v1/auth/", o.base_path)));
        }
        out.push(rule("PUT", format!("{}/v1/sys/leases/revoke", o.base_path)));
        Ok(out)
    }

    pub fn credentials(&self) -> Result<Vec<CredentialRequest>, ProviderError> {
        let c = self.config()?;
        ampoule_vault_core::tls::request_config_maps(c)?;
        c.request_controller_identity()?;
        c.credentials()
    }

    /// The API, a token, and the store context the vault modules expect.
    fn session(&self, namespace: &str) -> Result<(Api, Auth, Option<String>), ProviderError> {
        let c = self.config()?;
        let ctx = StoreContext {
            kind: StoreKind::SecretStore,
            name: "generator".into(),
            store_namespace: Some(namespace.to_owned()),
            caller_namespace: Some(namespace.to_owned()),
            settings: "{}".into(),
        };
        ampoule_vault_core::tls::apply(c, &ctx)?;
        let api = Api::new(c)?;
        let auth = Auth::new(c, &ctx)?;
        let token = auth.token(&api, false)?.value;
        Ok((api, auth, token))
    }

    pub fn generate(&self, namespace: &str) -> Result<(Output, Option<String>), ProviderError> {
        let (api, _auth, token) = self.session(namespace)?;
        let method = self.method();
        let op = format!("unable to get dynamic secret ({method} {})", self.path());
        let query: Option<String> = if method == "GET" && !self.get_parameters.is_empty() {
            let q: Vec<String> = self
                .get_parameters
                .iter()
                .flat_map(|(k, vs)| {
                    vs.iter().map(move |v| {
                        format!(
                            "{}={}",
                            ampoule_plugin_common::url_encode(k),
                            ampoule_plugin_common::url_encode(v)
                        )
                    })
                })
                .collect();
            Some(q.join("&"))
        } else {
            None
        };
        let (send_method, body) = match method.as_str() {
            "GET" | "LIST" | "DELETE" => (method.as_str(), None),
            _ => (
                "POST",
                Some(
                    self.parameters
                        .clone()
                        .filter(|p| !p.is_null())
                        .unwrap_or(json!({})),
                ),
            ),
        };
        let resp = api.send(
            send_method,
            self.path(),
            query.as_deref(),
            token.as_deref(),
            body.as_ref(),
            None,
        )?;
        let read = matches!(method.as_str(), "GET" | "LIST");
        let empty = resp.body.iter().all(u8::is_ascii_whitespace);
        if (resp.status == 404 && read) || (resp.is_success() && empty) {
            if self.allow_empty_response {
                return Ok((Vec::new(), None));
            }
            return Err(ProviderError::Internal(format!(
                "{op}: empty response from Vault"
            )));
        }
        if !resp.is_success() {
            return Err(api::error(&op, &resp, false));
        }
        let answer = api::json(&resp, &op)?;
        let picked = match self.result_type.as_deref() {
            Some("Auth") => answer.get("auth").cloned().unwrap_or(Value::Null),
            Some("Raw") => answer.clone(),
            _ => answer.get("data").cloned().unwrap_or(Value::Null),
        };
        let data = match picked {
            Value::Object(m) => m
                .iter()
                .map(|(k, v)| (k.clone(), ampoule_plugin_common::gojson::byte_value(v)))
                .collect(),
            Value::Null => Vec::new(),
            _ => return Err(ProviderError::Internal(format!("{op}: not a JSON object"))),
        };
        let state = answer
            .get("lease_id")
            .and_then(Value::as_str)
            .filter(|l| !l.is_empty())
            .map(|l| json!({ "leaseId": l }).to_string());
        Ok((data, state))
    }

    pub fn cleanup(&self, state: &str, namespace: &str) -> Result<(), ProviderError> {
        let state: Value = serde_json::from_str(state)
            .map_err(|_| invalid_config("VaultDynamicSecret state is not JSON"))?;
        let Some(lease) = state.get("leaseId").and_then(Value::as_str) else {
            return Ok(());
        };
        let (api, _auth, token) = self.session(namespace)?;
        let resp = api.send(
            "PUT",
            "sys/leases/revoke",
            None,
            token.as_deref(),
            Some(&json!({ "lease_id": lease })),
            None,
        )?;
        // Vault answers 204 for a revoked lease, also for one already gone.
        if resp.is_success() {
            return Ok(());
        }
        let errors = api::vault_errors(&resp.body);
        if resp.status == 400 && errors.contains("invalid lease") {
            return Ok(());
        }
        Err(api::error("unable to revoke the lease", &resp, false))
    }
}
