//! TLS to the server, as ESO: `caBundle` or `caProvider` replace the trusted roots with exactly
//! that bundle; a client certificate comes from `auth.cert` (when it is the login in effect) or
//! else from `tls.certSecretRef`/`keySecretRef`. The material is handed to the host
//! (`ampoule:host/tls`) in `open`; it applies to this store's connections only.

use ampoule_sdk::bindings::ampoule::host::credentials::SecretKeyRef;
use ampoule_sdk::errors::invalid_config;
use ampoule_sdk::{
    ConfigMapKeyRef, CredentialRequest, CredentialSource, ProviderError, StoreContext, StoreKind,
    credential,
};
use base64::Engine as _;
use serde::Deserialize;

use crate::config::{Config, KeyRef, Login};

/// ESO's `CAProvider`: a Secret or ConfigMap key holding the PEM bundle.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct CaProvider {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

/// ESO's `VaultCertAuth`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertAuth {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub vault_role: Option<String>,
    #[serde(default)]
    pub client_cert: Option<KeyRef>,
    #[serde(default)]
    pub secret_ref: Option<KeyRef>,
}

/// Names under which the TLS material is requested.
pub mod cred {
    pub const CA: &str = "ca-provider";
    pub const TLS_CERT: &str = "tls-cert";
    pub const TLS_KEY: &str = "tls-key";
    pub const CERT_AUTH_CERT: &str = "cert-auth-client-cert";
    pub const CERT_AUTH_KEY: &str = "cert-auth-client-key";
}

fn need(r: Option<&KeyRef>, what: &str) -> Result<KeyRef, ProviderError> {
    match r {
        Some(r) if !r.name.is_empty() && !r.key.is_empty() => Ok(r.clone()),
        _ => Err(invalid_config(format!("{what}: name and key must be set"))),
    }
}

impl CertAuth {
    /// The certificate and key references, both required (as ESO).
    pub fn refs(&self) -> Result<(KeyRef, KeyRef), ProviderError> {
        Ok((
            need(self.client_cert.as_ref(), "auth.cert.clientCert")?,
            need(self.secret_ref.as_ref(), "auth.cert.secretRef")?,
        ))
    }
}

/// `tls.certSecretRef`/`keySecretRef` with ESO's default keys; both or neither.
fn client_tls(config: &Config) -> Result<Option<(KeyRef, KeyRef)>, ProviderError> {
    let Some(tls) = &config.tls else {
        return Ok(None);
    };
    let with_default = |r: &KeyRef, key: &str| KeyRef {
        key: if r.key.is_empty() {
            key.into()
        } else {
            r.key.clone()
        },
        ..r.clone()
    };
    match (&tls.cert_secret_ref, &tls.key_secret_ref) {
        (None, None) => Ok(None),
        (Some(c), Some(k)) if !c.name.is_empty() && !k.name.is_empty() => Ok(Some((
            with_default(c, "tls.crt"),
            with_default(k, "tls.key"),
        ))),
        (Some(_), Some(_)) => Err(invalid_config(
            "tls.certSecretRef and tls.keySecretRef need a name",
        )),
        _ => Err(invalid_config(
            "when provided, both ClientTLS.ClientCert and ClientTLS.SecretRef should be provided",
        )),
    }
}

fn uses_cert_login(config: &Config) -> bool {
    matches!(config.login(), Ok(Login::Mount { method: "cert", .. }))
}

fn https(config: &Config) -> bool {
    crate::paths::Origin::parse(&config.server).is_ok_and(|o| o.scheme == "https")
}

/// Offline checks; warnings for settings plain http ignores.
pub fn check(config: &Config) -> Result<Vec<String>, ProviderError> {
    let mut warnings = Vec::new();
    let bundle = config.ca_bundle.as_deref().filter(|b| !b.is_empty());
    if let Some(b) = bundle {
        decode_bundle(b)?;
    } else if let Some(p) = &config.ca_provider {
        if p.kind != "Secret" && p.kind != "ConfigMap" {
            return Err(invalid_config(format!(
                "caProvider.type must be Secret or ConfigMap, not {:?}",
                p.kind
            )));
        }
        if p.name.is_empty() || p.key.is_empty() {
            return Err(invalid_config("caProvider: name and key must be set"));
        }
    }
    let client = client_tls(config)?;
    let custom = bundle.is_some() || config.ca_provider.is_some() || client.is_some();
    if custom && !https(config) {
        warnings.push("caBundle/caProvider/tls ignored: the server uses plain http".to_owned());
    }
    if uses_cert_login(config) && !https(config) {
        return Err(invalid_config(
            "auth.cert: certificate login needs an https server (the certificate is presented in the TLS handshake)",
        ));
    }
    Ok(warnings)
}

fn secret(name: &str, r: &KeyRef) -> CredentialRequest {
    CredentialRequest {
        name: name.to_owned(),
        source: CredentialSource::SecretKey(SecretKeyRef {
            name: r.name.clone(),
            key: r.key.clone(),
            namespace: r.namespace.clone(),
        }),
    }
}

/// The Secret keys TLS needs (a Secret caProvider, the client certificate and key).
pub fn credentials(config: &Config) -> Result<Vec<CredentialRequest>, ProviderError> {
    let mut out = Vec::new();
    if !https(config) {
        return Ok(out);
    }
    if config.ca_bundle.as_deref().is_none_or(str::is_empty)
        && let Some(p) = config.ca_provider.as_ref().filter(|p| p.kind == "Secret")
    {
        out.push(secret(
            cred::CA,
            &KeyRef {
                name: p.name.clone(),
                key: p.key.clone(),
                namespace: p.namespace.clone(),
            },
        ));
    }
    if uses_cert_login(config) {
        if let Some(c) = config.auth.as_ref().and_then(|a| a.cert.as_ref()) {
            let (cert, key) = c.refs()?;
            out.push(secret(cred::CERT_AUTH_CERT, &cert));
            out.push(secret(cred::CERT_AUTH_KEY, &key));
        }
    } else if let Some((cert, key)) = client_tls(config)? {
        out.push(secret(cred::TLS_CERT, &cert));
        out.push(secret(cred::TLS_KEY, &key));
    }
    Ok(out)
}

/// Asks the host for a ConfigMap caProvider (only from `requested-credentials`).
pub fn request_config_maps(config: &Config) -> Result<(), ProviderError> {
    if !https(config) || config.ca_bundle.as_deref().is_some_and(|b| !b.is_empty()) {
        return Ok(());
    }
    if let Some(p) = config
        .ca_provider
        .as_ref()
        .filter(|p| p.kind == "ConfigMap")
    {
        ampoule_sdk::request_config_map(
            cred::CA,
            &ConfigMapKeyRef {
                name: p.name.clone(),
                key: p.key.clone(),
                namespace: p.namespace.clone(),
            },
        )?;
    }
    Ok(())
}

/// `caBundle` is base64 in the store's JSON (a `[]byte`); the decoded bytes are PEM, or (as ESO
/// also accepts) base64 of the PEM once more. A plain PEM string is taken as is.
fn decode_bundle(bundle: &str) -> Result<Vec<u8>, ProviderError> {
    let is_pem = |b: &[u8]| b.windows(11).any(|w| w == b"-----BEGIN ");
    if is_pem(bundle.as_bytes()) {
        return Ok(bundle.as_bytes().to_vec());
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let once = b64
        .decode(bundle.trim())
        .map_err(|e| invalid_config(format!("caBundle: not base64: {e}")))?;
    if is_pem(&once) {
        return Ok(once);
    }
    let compact: Vec<u8> = once
        .into_iter()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    match b64.decode(compact) {
        Ok(twice) if is_pem(&twice) => Ok(twice),
        _ => Err(invalid_config("caBundle: not a PEM certificate bundle")),
    }
}

/// Hands the trust anchors and client identity to the host, in `open`.
pub fn apply(config: &Config, ctx: &StoreContext) -> Result<(), ProviderError> {
    if !https(config) {
        return Ok(());
    }
    if let Some(b) = config.ca_bundle.as_deref().filter(|b| !b.is_empty()) {
        ampoule_sdk::tls::set_trust(&decode_bundle(b)?).map_err(|e| with_prefix(e, "caBundle"))?;
    } else if let Some(p) = &config.ca_provider {
        if ctx.kind == StoreKind::ClusterSecretStore && p.namespace.is_none() {
            return Err(invalid_config("missing namespace on caProvider secret"));
        }
        let pem = credential(cred::CA)?;
        ampoule_sdk::tls::set_trust(&pem).map_err(|e| with_prefix(e, "caProvider"))?;
    }
    let names = if uses_cert_login(config) {
        Some((cred::CERT_AUTH_CERT, cred::CERT_AUTH_KEY, "auth.cert"))
    } else if client_tls(config)?.is_some() {
        Some((cred::TLS_CERT, cred::TLS_KEY, "tls"))
    } else {
        None
    };
    // A ClusterSecretStore whose references resolve in each caller's namespace (ESO's referent
    // authentication) has no client certificate while the store itself is validated: the host
    // resolves it per ExternalSecret, and validation then reports `unknown`.
    let validating_referent = ctx.kind == StoreKind::ClusterSecretStore
        && ctx.caller_namespace.is_none()
        && config.is_referent();
    if let Some((cert, key, what)) = names {
        match (credential(cert), credential(key)) {
            (Ok(cert), Ok(key)) => ampoule_sdk::tls::set_client_identity(&cert, &key)
                .map_err(|e| with_prefix(e, what))?,
            _ if validating_referent => {}
            (Err(e), _) | (_, Err(e)) => return Err(e),
        }
    }
    Ok(())
}

fn with_prefix(e: ProviderError, what: &str) -> ProviderError {
    match e {
        ProviderError::InvalidConfig(m) => invalid_config(format!("{what}: {m}")),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    #[test]
    fn bundles_decode_like_eso() {
        let b64 = base64::engine::general_purpose::STANDARD;
        assert_eq!(decode_bundle(PEM).unwrap(), PEM.as_bytes());
        assert_eq!(decode_bundle(&b64.encode(PEM)).unwrap(), PEM.as_bytes());
        let twice = b64.encode(b64.encode(PEM));
        assert_eq!(decode_bundle(&twice).unwrap(), PEM.as_bytes());
        assert!(decode_bundle("bm90IHBlbQ==").is_err());
        assert!(decode_bundle("%%%").is_err());
    }
}
