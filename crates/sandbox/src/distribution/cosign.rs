//! cosign signatures of components, in the format `cosign sign --key` writes ("simple signing"):
//! the signature manifest of `repo@sha256:H` is tagged `sha256-H.sig` in the same repository; each
//! of its layers (`application/vnd.dev.cosign.simplesigning.v1+json`) is a JSON payload naming the
//! signed manifest digest, with the base64 ECDSA P-256 / SHA-256 signature of those bytes in the
//! layer annotation `dev.cosignproject.cosign/signature`.
//!
//! [`verify`] runs before any component bytes are pulled: a signature counts only when it verifies
//! with one of the public keys a ProviderClass names AND its payload names the exact manifest
//! digest that will be pulled. Keyless (Fulcio/Rekor) signatures are not supported.

use std::collections::BTreeMap;

use base64::Engine;
use oci_client::client::{Config, ImageLayer};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey};
use sha2::{Digest as _, Sha256};

use super::oci::client_for;

pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
const PAYLOAD_TYPE: &str = "cosign container image signature";
const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// Largest signature payload read (cosign's are a few hundred bytes).
const MAX_PAYLOAD_BYTES: i64 = 64 << 10;
/// Most signature layers looked at for one image.
const MAX_SIGNATURES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum CosignError {
    #[error("cosign public key {index}: {reason}")]
    PublicKey { index: usize, reason: String },
    #[error("signing key: {0}")]
    PrivateKey(String),
    #[error("{0} is not pinned to a digest")]
    NoDigest(String),
    #[error("{image} has no cosign signature (nothing at {tag}: {reason})")]
    Unsigned {
        image: String,
        tag: String,
        reason: String,
    },
    #[error("reading the cosign signatures of {image}: {reason}")]
    Fetch { image: String, reason: String },
    #[error(
        "{image}: none of its {signatures} cosign signature(s) is valid for {digest} with the {keys} configured public key(s)"
    )]
    NoValidSignature {
        image: String,
        digest: String,
        signatures: usize,
        keys: usize,
    },
    #[error("signing {image}: {reason}")]
    Sign { image: String, reason: String },
}

impl CosignError {
    pub fn category(&self) -> &'static str {
        match self {
            CosignError::PublicKey { .. } => "public_key",
            CosignError::PrivateKey(_) => "private_key",
            CosignError::NoDigest(_) => "no_digest",
            CosignError::Unsigned { .. } => "unsigned",
            CosignError::Fetch { .. } => "fetch",
            CosignError::NoValidSignature { .. } => "invalid_signature",
            CosignError::Sign { .. } => "sign",
        }
    }
}

/// Which key verified which signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Index of the public key (in the order given) that verified a signature.
    pub key: usize,
    /// Signature layers found for the image.
    pub signatures: usize,
}

/// Parses PEM public keys (`-----BEGIN PUBLIC KEY-----`, as `cosign generate-key-pair` writes
/// `cosign.pub`). Only ECDSA P-256 keys are supported.
pub fn parse_public_keys(pems: &[String]) -> Result<Vec<VerifyingKey>, CosignError> {
    pems.iter()
        .enumerate()
        .map(|(index, pem)| {
            VerifyingKey::from_public_key_pem(pem.trim()).map_err(|e| CosignError::PublicKey {
                index,
                reason: format!("not a PEM ECDSA P-256 public key ({e})"),
            })
        })
        .collect()
}

/// Parses an unencrypted PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`, e.g. from
/// `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`).
pub fn parse_private_key(pem: &str) -> Result<SigningKey, CosignError> {
    SigningKey::from_pkcs8_pem(pem.trim()).map_err(|e| {
        CosignError::PrivateKey(format!(
            "not an unencrypted PKCS#8 PEM ECDSA P-256 private key ({e})"
        ))
    })
}

/// `sha256:H` → `sha256-H.sig`.
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replacen(':', "-", 1))
}

/// The simple-signing payload cosign signs for `repository@digest`.
pub fn payload(reference: &Reference, digest: &str) -> Vec<u8> {
    serde_json::json!({
        "critical": {
            "identity": {"docker-reference": format!("{}/{}", reference.registry(), reference.repository())},
            "image": {"docker-manifest-digest": digest},
            "type": PAYLOAD_TYPE,
        },
        "optional": null,
    })
    .to_string()
    .into_bytes()
}

/// Whether a (signature-verified) payload claims exactly `digest`.
fn claims(payload: &[u8], digest: &str) -> bool {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(payload) else {
        return false;
    };
    let critical = &value["critical"];
    critical["type"] == PAYLOAD_TYPE && critical["image"]["docker-manifest-digest"] == digest
}

fn decode_signature(annotation: &str) -> Option<Signature> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(annotation.trim())
        .ok()?;
    Signature::from_der(&raw)
        .or_else(|_| Signature::from_slice(&raw))
        .ok()
}

fn is_not_found(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|e| {
            matches!(
                e.code,
                OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown
            )
        }),
        _ => false,
    }
}

fn signature_ref(reference: &Reference, digest: &str) -> Reference {
    Reference::with_tag(
        reference.registry().to_owned(),
        reference.repository().to_owned(),
        signature_tag(digest),
    )
}

/// The simple-signing layers of the signature manifest, `None` when there is none.
async fn signature_layers(
    client: &Client,
    sig: &Reference,
    auth: &RegistryAuth,
) -> Result<Option<Vec<OciDescriptor>>, OciDistributionError> {
    match client.pull_image_manifest(sig, auth).await {
        Ok((manifest, _)) => Ok(Some(
            manifest
                .layers
                .into_iter()
                .filter(|l| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE)
                .take(MAX_SIGNATURES)
                .collect(),
        )),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn pull_payload(
    client: &Client,
    sig: &Reference,
    layer: &OciDescriptor,
) -> Result<Vec<u8>, OciDistributionError> {
    if !(0..=MAX_PAYLOAD_BYTES).contains(&layer.size) {
        return Err(OciDistributionError::GenericError(Some(format!(
            "signature payload of {} bytes exceeds {MAX_PAYLOAD_BYTES}",
            layer.size
        ))));
    }
    let mut payload = Vec::new();
    // oci-client checks the blob against the layer digest.
    client.pull_blob(sig, layer, &mut payload).await?;
    Ok(payload)
}

/// Verifies that `reference` (pinned to a manifest digest) carries a cosign signature that one
/// of `keys` made over a payload naming that digest.
pub async fn verify(
    reference: &Reference,
    auth: &RegistryAuth,
    keys: &[VerifyingKey],
) -> Result<Verified, CosignError> {
    let image = reference.whole();
    let digest = reference
        .digest()
        .ok_or_else(|| CosignError::NoDigest(image.clone()))?
        .to_owned();
    let client = client_for(reference);
    let sig = signature_ref(reference, &digest);
    let fetch = |e: OciDistributionError| CosignError::Fetch {
        image: image.clone(),
        reason: e.to_string(),
    };
    let layers = signature_layers(&client, &sig, auth)
        .await
        .map_err(fetch)?
        .ok_or_else(|| CosignError::Unsigned {
            image: image.clone(),
            tag: signature_tag(&digest),
            reason: "manifest unknown".into(),
        })?;
    for layer in &layers {
        let Some(signature) = layer
            .annotations
            .as_ref()
            .and_then(|a| a.get(SIGNATURE_ANNOTATION))
            .and_then(|s| decode_signature(s))
        else {
            continue;
        };
        let payload = pull_payload(&client, &sig, layer).await.map_err(fetch)?;
        // The signature first: the payload is only read once a trusted key vouches for it.
        let Some(key) = keys
            .iter()
            .position(|k| k.verify(&payload, &signature).is_ok())
        else {
            continue;
        };
        if claims(&payload, &digest) {
            return Ok(Verified {
                key,
                signatures: layers.len(),
            });
        }
    }
    Err(CosignError::NoValidSignature {
        image,
        digest,
        signatures: layers.len(),
        keys: keys.len(),
    })
}

/// cosign's config blob for a signature image (an empty image whose layers are the payloads).
fn signature_config(layers: &[ImageLayer]) -> Config {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", hex::encode(Sha256::digest(&l.data))))
        .collect();
    let config = serde_json::json!({
        "architecture": "", "os": "", "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {},
    });
    Config::new(
        config.to_string().into_bytes(),
        CONFIG_MEDIA_TYPE.to_owned(),
        None,
    )
}

/// Signs `reference` (pinned to a manifest digest) as `cosign sign --key` does, keeping the
/// signatures already there. Returns the signature manifest's reference.
pub async fn sign(
    reference: &Reference,
    auth: &RegistryAuth,
    key: &SigningKey,
) -> Result<String, CosignError> {
    let image = reference.whole();
    let failed = |reason: String| CosignError::Sign {
        image: image.clone(),
        reason,
    };
    let digest = reference
        .digest()
        .ok_or_else(|| CosignError::NoDigest(image.clone()))?
        .to_owned();
    let client = client_for(reference);
    let sig = signature_ref(reference, &digest);
    let mut layers = Vec::new();
    let existing = signature_layers(&client, &sig, auth)
        .await
        .map_err(|e| failed(e.to_string()))?;
    for layer in existing.unwrap_or_default() {
        let data = pull_payload(&client, &sig, &layer)
            .await
            .map_err(|e| failed(e.to_string()))?;
        layers.push(ImageLayer::new(
            data,
            layer.media_type.clone(),
            layer.annotations.clone(),
        ));
    }
    let payload = payload(reference, &digest);
    let signature: Signature = key.sign(&payload);
    let encoded = base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes());
    let annotations = BTreeMap::from([(SIGNATURE_ANNOTATION.to_owned(), encoded)]);
    layers.push(ImageLayer::new(
        payload,
        SIMPLE_SIGNING_MEDIA_TYPE.to_owned(),
        Some(annotations),
    ));
    let config = signature_config(&layers);
    let manifest = OciImageManifest::build(&layers, &config, None);
    client
        .push(&sig, &layers, config, auth, Some(manifest))
        .await
        .map_err(|e| failed(e.to_string()))?;
    Ok(sig.whole())
}

#[cfg(test)]
mod tests;
