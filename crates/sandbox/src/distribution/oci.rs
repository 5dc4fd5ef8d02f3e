//! OCI: pull a component by digest (CNCF wasm artifact), verify it, push one, inspect one.
//!
//! Layout accepted: config `application/vnd.wasm.config.v0+json` (or the legacy
//! `application/vnd.wasm.config.v1+json`), exactly one layer `application/wasm` (or the legacy
//! `application/vnd.wasm.content.layer.v1+wasm`). oci-client checks the manifest digest of a
//! by-digest reference and the blob digest; we check the layer's sha256 again and cap sizes.
//! Registries on 127.0.0.1/localhost are spoken to over plain HTTP.

use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use crate::Digest;

pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
pub const LEGACY_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v1+json";
pub const LAYER_MEDIA_TYPE: &str = "application/wasm";
pub const LEGACY_LAYER_MEDIA_TYPE: &str = "application/vnd.wasm.content.layer.v1+wasm";
/// Largest component we pull.
pub const MAX_MODULE_BYTES: i64 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("invalid OCI reference {0:?}: {1}")]
    Reference(String, String),
    #[error("resolving {0}: {1}")]
    Resolve(String, String),
    #[error("pulling {0}: {1}")]
    Pull(String, String),
    #[error("pushing {0}: {1}")]
    Push(String, String),
    #[error("{0} is not a wasm component artifact: {1}")]
    Layout(String, String),
    #[error("{0}: component of {1} bytes exceeds the cap of {MAX_MODULE_BYTES}")]
    TooLarge(String, i64),
    #[error("{0}: layer digest mismatch (manifest says {1}, content is {2})")]
    DigestMismatch(String, String, String),
}

impl OciError {
    pub fn category(&self) -> &'static str {
        match self {
            OciError::Reference(..) => "reference",
            OciError::Resolve(..) => "resolve",
            OciError::Pull(..) => "pull",
            OciError::Push(..) => "push",
            OciError::Layout(..) => "layout",
            OciError::TooLarge(..) => "too_large",
            OciError::DigestMismatch(..) => "digest_mismatch",
        }
    }
}

/// A verified component pulled from a registry.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// `repo@sha256:…` of the manifest: what status shows.
    pub manifest_digest: String,
    /// sha256 of the component bytes: what the sandbox runs and caches by.
    pub digest: Digest,
    pub bytes: Vec<u8>,
}

/// Parses `oci://host/repo:tag`, `oci://host/repo@sha256:…` or the same without `oci://`.
pub fn parse(image: &str) -> Result<Reference, OciError> {
    let text = image.strip_prefix("oci://").unwrap_or(image);
    text.parse::<Reference>()
        .map_err(|e| OciError::Reference(image.to_owned(), e.to_string()))
}

fn is_loopback(registry: &str) -> bool {
    let host = registry.rsplit_once(':').map_or(registry, |(h, _)| h);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// A client that speaks plain HTTP only to a loopback registry.
pub fn client_for(reference: &Reference) -> Client {
    // reqwest is built without a bundled provider: everything in the process uses ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let registry = reference.resolve_registry().to_owned();
    let protocol = if is_loopback(&registry) {
        ClientProtocol::HttpsExcept(vec![registry])
    } else {
        ClientProtocol::Https
    };
    Client::new(ClientConfig {
        protocol,
        ..ClientConfig::default()
    })
}

/// Resolves a tag to the manifest digest once (a digest reference is returned as is).
pub async fn resolve(image: &str, auth: &RegistryAuth) -> Result<Reference, OciError> {
    let reference = parse(image)?;
    if reference.digest().is_some() {
        return Ok(reference);
    }
    let digest = client_for(&reference)
        .fetch_manifest_digest(&reference, auth)
        .await
        .map_err(|e| OciError::Resolve(image.to_owned(), e.to_string()))?;
    Ok(reference.clone_with_digest(digest))
}

fn check_layout(image: &str, manifest: &OciImageManifest) -> Result<(), OciError> {
    let bad = |why: String| OciError::Layout(image.to_owned(), why);
    let config = manifest.config.media_type.as_str();
    if config != CONFIG_MEDIA_TYPE && config != LEGACY_CONFIG_MEDIA_TYPE {
        return Err(bad(format!("config media type {config}")));
    }
    let [layer] = manifest.layers.as_slice() else {
        return Err(bad(format!(
            "{} layers (expected exactly one)",
            manifest.layers.len()
        )));
    };
    if layer.media_type != LAYER_MEDIA_TYPE && layer.media_type != LEGACY_LAYER_MEDIA_TYPE {
        return Err(bad(format!("layer media type {}", layer.media_type)));
    }
    if layer.size > MAX_MODULE_BYTES || layer.size < 0 {
        return Err(OciError::TooLarge(image.to_owned(), layer.size));
    }
    Ok(())
}

/// Pulls by digest (resolving a tag first) and verifies layout, sizes and digests.
pub async fn pull(image: &str, auth: &RegistryAuth) -> Result<Pulled, OciError> {
    let reference = resolve(image, auth).await?;
    let client = client_for(&reference);
    let pull_err = |e: oci_client::errors::OciDistributionError| {
        OciError::Pull(image.to_owned(), e.to_string())
    };
    let (manifest, manifest_digest) = client
        .pull_image_manifest(&reference, auth)
        .await
        .map_err(pull_err)?;
    check_layout(image, &manifest)?;
    let layer = &manifest.layers[0];
    let mut bytes = Vec::with_capacity(usize::try_from(layer.size).unwrap_or(0));
    client
        .pull_blob(&reference, layer, &mut bytes)
        .await
        .map_err(pull_err)?;
    if bytes.len() as i64 > MAX_MODULE_BYTES {
        return Err(OciError::TooLarge(image.to_owned(), bytes.len() as i64));
    }
    let digest = Digest::of(&bytes);
    if digest.as_str() != layer.digest {
        return Err(OciError::DigestMismatch(
            image.to_owned(),
            layer.digest.clone(),
            digest.to_string(),
        ));
    }
    Ok(Pulled {
        manifest_digest,
        digest,
        bytes,
    })
}

/// Pushes a component as a CNCF wasm artifact; returns the manifest digest.
pub async fn push(bytes: Vec<u8>, image: &str, auth: &RegistryAuth) -> Result<String, OciError> {
    let reference = parse(image)?;
    let digest = Digest::of(&bytes);
    let config = serde_json::json!({
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [digest.as_str()],
    });
    let config = Config::new(
        config.to_string().into_bytes(),
        CONFIG_MEDIA_TYPE.to_owned(),
        None,
    );
    let layers = [ImageLayer::new(bytes, LAYER_MEDIA_TYPE.to_owned(), None)];
    let client = client_for(&reference);
    let push_err = |e: oci_client::errors::OciDistributionError| {
        OciError::Push(image.to_owned(), e.to_string())
    };
    client
        .push(&reference, &layers, config, auth, None)
        .await
        .map_err(push_err)?;
    client
        .fetch_manifest_digest(&reference, auth)
        .await
        .map_err(push_err)
}

/// The manifest of `image` as pretty JSON, with its digest.
pub async fn inspect(image: &str, auth: &RegistryAuth) -> Result<(String, String), OciError> {
    let reference = parse(image)?;
    let client = client_for(&reference);
    let (manifest, digest) = client
        .pull_image_manifest(&reference, auth)
        .await
        .map_err(|e| OciError::Pull(image.to_owned(), e.to_string()))?;
    let text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    Ok((digest, text))
}

/// Anonymous, or basic auth from `OCI_USERNAME` / `OCI_PASSWORD` (for the CLI).
pub fn auth_from_env() -> RegistryAuth {
    match (std::env::var("OCI_USERNAME"), std::env::var("OCI_PASSWORD")) {
        (Ok(user), Ok(pass)) => RegistryAuth::Basic(user, pass),
        _ => RegistryAuth::Anonymous,
    }
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_loopback() {
        let r = parse("oci://127.0.0.1:5000/ampoule/fake@sha256:0000000000000000000000000000000000000000000000000000000000000000").unwrap();
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert!(r.digest().is_some());
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost"));
        assert!(!is_loopback("ghcr.io"));
        assert!(parse("oci://UPPER/Case").is_err());
    }
}
