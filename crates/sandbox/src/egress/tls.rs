//! Per-instance TLS for plugin egress (`ampoule:host/tls`): the trust anchors and the client
//! identity a plugin sets for its own store, and the rustls configs built from them, cached by
//! (CA hash, identity hash) so a reconcile does not rebuild one each time. The egress policy is
//! untouched: these settings only change how a granted origin's TLS is verified and answered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest as _, Sha256};

/// Configs kept at most; the cache starts over when full (a config is cheap to rebuild).
const CACHE_MAX: usize = 256;
/// PEM accepted per call (a CA bundle or a chain plus key).
const PEM_MAX: usize = 1 << 20;

type Hash = [u8; 32];
/// (CA hash, identity hash).
type CacheKey = (Option<Hash>, Option<Hash>);

/// CA certificates a plugin trusts instead of the web PKI roots.
#[derive(Clone)]
pub struct Trust {
    certs: Vec<CertificateDer<'static>>,
    hash: Hash,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Trust({} CA certificates)", self.certs.len())
    }
}

/// A client certificate chain and its private key. Never printed.
pub struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    hash: Hash,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            hash: self.hash,
        }
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

fn hash(parts: &[&[u8]]) -> Hash {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    h.finalize().into()
}

fn certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    if pem.len() > PEM_MAX {
        return Err(format!("{what}: larger than {PEM_MAX} bytes"));
    }
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what}: not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{what}: no PEM CERTIFICATE block"));
    }
    Ok(certs)
}

impl Trust {
    /// Parses a PEM bundle; every certificate must be usable as a trust anchor.
    pub fn from_pem(pem: &[u8]) -> Result<Trust, String> {
        let certs = certs(pem, "CA bundle")?;
        let mut roots = rustls::RootCertStore::empty();
        for (i, c) in certs.iter().enumerate() {
            roots
                .add(c.clone())
                .map_err(|e| format!("CA bundle: certificate {}: {e}", i + 1))?;
        }
        let parts: Vec<&[u8]> = certs.iter().map(|c| c.as_ref()).collect();
        Ok(Trust {
            hash: hash(&parts),
            certs,
        })
    }
}

impl Identity {
    /// Parses a PEM chain (leaf first) and a PEM private key, and checks they belong together.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Identity, String> {
        let chain = certs(cert_pem, "client certificate")?;
        if key_pem.len() > PEM_MAX {
            return Err(format!("client key: larger than {PEM_MAX} bytes"));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| format!("client key: no usable PEM private key: {e}"))?;
        let provider = rustls::crypto::ring::default_provider();
        let signing = provider
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(|e| format!("client key: {e}"))?;
        rustls::sign::CertifiedKey::new(chain.clone(), signing)
            .keys_match()
            .map_err(|e| format!("client certificate and key do not match: {e}"))?;
        let mut parts: Vec<&[u8]> = chain.iter().map(|c| c.as_ref()).collect();
        parts.push(key.secret_der());
        Ok(Identity {
            hash: hash(&parts),
            chain,
            key,
        })
    }
}

/// Built configs by (CA hash, identity hash), shared by the sandbox's stores: a store only ever
/// gets a config built from material it supplied itself.
#[derive(Default)]
pub struct TlsCache {
    configs: Mutex<HashMap<CacheKey, Arc<rustls::ClientConfig>>>,
}

impl TlsCache {
    fn get_or_build(
        &self,
        trust: Option<&Trust>,
        identity: Option<&Identity>,
    ) -> Result<Arc<rustls::ClientConfig>, String> {
        let key = (trust.map(|t| t.hash), identity.map(|i| i.hash));
        if let Some(hit) = self.configs.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(hit);
        }
        let config = build(trust, identity)?;
        if let Ok(mut map) = self.configs.lock() {
            if map.len() >= CACHE_MAX {
                map.clear();
            }
            map.insert(key, config.clone());
        }
        Ok(config)
    }

    /// Configs currently cached (for tests and metrics).
    pub fn len(&self) -> usize {
        self.configs.lock().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A rustls client config on ring: the web PKI roots, or exactly `trust`; with `identity` as the
/// client certificate when given.
pub fn build(
    trust: Option<&Trust>,
    identity: Option<&Identity>,
) -> Result<Arc<rustls::ClientConfig>, String> {
    let roots = match trust {
        None => rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
        Some(t) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in &t.certs {
                roots
                    .add(c.clone())
                    .map_err(|e| format!("CA bundle: {e}"))?;
            }
            roots
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some(i) => builder
            .with_client_auth_cert(i.chain.clone(), i.key.clone_key())
            .map_err(|e| format!("client certificate: {e}"))?,
    };
    Ok(Arc::new(config))
}

/// One instance's TLS: the sandbox default until the plugin sets trust or an identity, then a
/// config built (or found in the cache) on the first HTTPS request.
pub struct InstanceTls {
    default: Arc<rustls::ClientConfig>,
    cache: Arc<TlsCache>,
    trust: Option<Trust>,
    identity: Option<Identity>,
    built: Option<Arc<rustls::ClientConfig>>,
}

impl InstanceTls {
    pub fn new(default: Arc<rustls::ClientConfig>, cache: Arc<TlsCache>) -> Self {
        InstanceTls {
            default,
            cache,
            trust: None,
            identity: None,
            built: None,
        }
    }

    pub fn set_trust(&mut self, pem: &[u8]) -> Result<(), String> {
        self.trust = Some(Trust::from_pem(pem)?);
        self.built = None;
        Ok(())
    }

    pub fn set_identity(&mut self, cert_pem: &[u8], key_pem: &[u8]) -> Result<(), String> {
        self.identity = Some(Identity::from_pem(cert_pem, key_pem)?);
        self.built = None;
        Ok(())
    }

    /// The config for this instance's next HTTPS connection.
    pub fn config(&mut self) -> Result<Arc<rustls::ClientConfig>, String> {
        if self.trust.is_none() && self.identity.is_none() {
            return Ok(self.default.clone());
        }
        if let Some(c) = &self.built {
            return Ok(c.clone());
        }
        let c = self
            .cache
            .get_or_build(self.trust.as_ref(), self.identity.as_ref())?;
        self.built = Some(c.clone());
        Ok(c)
    }
}

impl std::fmt::Debug for InstanceTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceTls")
            .field("trust", &self.trust)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_refused_with_a_reason() {
        let e = Trust::from_pem(b"not pem").unwrap_err();
        assert!(e.contains("no PEM CERTIFICATE"), "{e}");
        let e = Identity::from_pem(b"", b"").unwrap_err();
        assert!(e.contains("client certificate"), "{e}");
    }

    #[test]
    fn without_settings_the_sandbox_default_is_used_and_nothing_is_cached() {
        let cache = Arc::new(TlsCache::default());
        let default = build(None, None).unwrap();
        let mut tls = InstanceTls::new(default.clone(), cache.clone());
        assert!(Arc::ptr_eq(&default, &tls.config().unwrap()));
        assert!(cache.is_empty());
        assert!(
            tls.set_trust(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .is_err()
        );
        assert!(
            Arc::ptr_eq(&default, &tls.config().unwrap()),
            "a refused bundle changes nothing"
        );
    }

    #[test]
    fn identities_never_print() {
        let id = format!(
            "{:?}",
            InstanceTls::new(build(None, None).unwrap(), Arc::default())
        );
        assert!(id.contains("identity: None"), "{id}");
    }
}
