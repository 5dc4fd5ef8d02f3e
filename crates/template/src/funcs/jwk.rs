//! ESO's `jwkPublicKeyPem`, `jwkPrivateKeyPem` (lestrrat-go/jwx v2 `jwk.ParseKey` + Go's
//! x509 marshalling) and `rsaDecrypt` (`runtime/template/v2/jwk.go`, `decrypt.go`).

use base64::Engine as _;
use rsa::BigUint;
use serde_json::Value as J;

use super::{Func, Ty, bin, bin_value, f, s};
use crate::pki::keys::{self, Curve, PrivateKey, PublicKey};
use crate::pki::pem;
use crate::value::Value;

enum Jwk {
    Private(PrivateKey),
    Public(PublicKey),
    /// `kty: oct`: Go's raw key is a `[]byte`.
    Symmetric,
}

fn b64(o: &serde_json::Map<String, J>, k: &str) -> Result<Option<Vec<u8>>, String> {
    let Some(v) = o.get(k) else {
        return Ok(None);
    };
    let text = v
        .as_str()
        .ok_or_else(|| format!("failed to decode field {k}: expected string"))?;
    let norm: String = text
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(norm)
        .map(Some)
        .map_err(|e| format!("failed to decode field {k}: {e}"))
}

fn need(o: &serde_json::Map<String, J>, k: &str) -> Result<Vec<u8>, String> {
    b64(o, k)?.ok_or_else(|| format!("required field {k} is missing"))
}

fn parse(text: &str) -> Result<Jwk, String> {
    let j: J = serde_json::from_str(text)
        .map_err(|e| format!("failed to unmarshal JSON into key hint: {e}"))?;
    let o = j
        .as_object()
        .ok_or("failed to unmarshal JSON into key hint")?;
    let kty = o.get("kty").and_then(J::as_str).unwrap_or("");
    let big = |k: &str| need(o, k).map(|b| BigUint::from_bytes_be(&b));
    match kty {
        "RSA" => {
            let (n, e) = (big("n")?, big("e")?);
            if o.contains_key("d") {
                let k = keys::rsa_from_parts(n, e, big("d")?, big("p")?, big("q")?)?;
                Ok(Jwk::Private(k))
            } else {
                rsa::RsaPublicKey::new(n, e)
                    .map(|k| Jwk::Public(PublicKey::Rsa(k)))
                    .map_err(|e| format!("failed to create RSA public key: {e}"))
            }
        }
        "EC" => {
            let crv = o.get("crv").and_then(J::as_str).unwrap_or("");
            let curve =
                Curve::from_jwk(crv).ok_or_else(|| format!("invalid curve algorithm {crv}"))?;
            let pad = |b: Vec<u8>| {
                let mut v = vec![0u8; curve.size().saturating_sub(b.len())];
                v.extend(b);
                v
            };
            let mut point = vec![4u8];
            point.extend(pad(need(o, "x")?));
            point.extend(pad(need(o, "y")?));
            match b64(o, "d")? {
                Some(d) => Ok(Jwk::Private(keys::ec_key(curve, &d, Some(point))?)),
                None => Ok(Jwk::Public(PublicKey::Ec { curve, point })),
            }
        }
        "OKP" => {
            let crv = o.get("crv").and_then(J::as_str).unwrap_or("");
            let arr = |b: Vec<u8>| -> Result<[u8; 32], String> {
                b.try_into().map_err(|_| "invalid key length".to_string())
            };
            let x = arr(need(o, "x")?)?;
            let d = b64(o, "d")?.map(arr).transpose()?;
            match (crv, d) {
                ("Ed25519", Some(seed)) => Ok(Jwk::Private(PrivateKey::Ed25519 { seed })),
                ("Ed25519", None) => Ok(Jwk::Public(PublicKey::Ed25519(x))),
                ("X25519", Some(key)) => Ok(Jwk::Private(PrivateKey::X25519 { key })),
                ("X25519", None) => Ok(Jwk::Public(PublicKey::X25519(x))),
                _ => Err(format!("invalid curve algorithm {crv}")),
            }
        }
        "oct" => Ok(Jwk::Symmetric),
        other => Err(format!("invalid key type from JSON ({other})")),
    }
}

fn public_go_type(k: &PublicKey) -> &'static str {
    match k {
        PublicKey::Rsa(_) => "*rsa.PublicKey",
        PublicKey::Ec { .. } => "*ecdsa.PublicKey",
        PublicKey::Ed25519(_) => "ed25519.PublicKey",
        PublicKey::X25519(_) => "*ecdh.PublicKey",
    }
}

fn public_pem(text: &str) -> Result<Value, String> {
    match parse(text)? {
        Jwk::Public(k) => Ok(Value::String(pem::encode_plain(
            "PUBLIC KEY",
            &keys::marshal_pkix(&k),
        ))),
        Jwk::Private(k) => Err(format!(
            "x509: unsupported public key type: {}",
            k.go_type()
        )),
        Jwk::Symmetric => Err("x509: unsupported public key type: []uint8".into()),
    }
}

fn private_pem(text: &str) -> Result<Value, String> {
    match parse(text)? {
        Jwk::Private(k) => Ok(Value::String(pem::encode_plain(
            "PRIVATE KEY",
            &keys::marshal_pkcs8(&k),
        ))),
        Jwk::Public(k) => Err(format!(
            "x509: unknown key type while marshaling PKCS#8: {}",
            public_go_type(&k)
        )),
        Jwk::Symmetric => Err("x509: unknown key type while marshaling PKCS#8: []uint8".into()),
    }
}

fn rsa_decrypt(scheme: &str, hash: &str, input: &[u8], key: &str) -> Result<Value, String> {
    match scheme {
        "None" => return Ok(bin_value(input.to_vec())),
        "RSA-OAEP" => {}
        other => return Err(format!("decryption scheme {other} is not supported")),
    }
    let (block, _) = pem::decode(key.as_bytes()).ok_or("failed to decode PEM block")?;
    let key =
        keys::parse_any(&block.bytes).map_err(|e| format!("could not parse private key: {e}"))?;
    let PrivateKey::Rsa(k) = key else {
        return Err("could not parse RSA private key".into());
    };
    let padding = match hash {
        "SHA1" => rsa::Oaep::new::<sha1::Sha1>(),
        "SHA512" => rsa::Oaep::new::<sha2::Sha512>(),
        _ => rsa::Oaep::new::<sha2::Sha256>(),
    };
    k.decrypt(padding, input)
        .map(bin_value)
        .map_err(|_| "error decrypting data with RSA: crypto/rsa: decryption error".into())
}

pub fn lookup(name: &str) -> Option<Func> {
    use Ty::{Bin, Str};
    Some(match name {
        "jwkPublicKeyPem" => f(&[Str], |_, a| public_pem(s(&a[0]))),
        "jwkPrivateKeyPem" => f(&[Str], |_, a| private_pem(s(&a[0]))),
        "rsaDecrypt" => f(&[Str, Str, Bin, Str], |_, a| {
            rsa_decrypt(s(&a[0]), s(&a[1]), bin(&a[2]), s(&a[3]))
        }),
        _ => return None,
    })
}
