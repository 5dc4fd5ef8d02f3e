//! ESO's SSHKey generator: `keyType` rsa (default, `keySize` bits, default 2048), ed25519, or
//! ecdsa (`keySize` 256, the default; other sizes are refused by this component). Returns
//! `privateKey`, an unencrypted OpenSSH private key (`openssh-key-v1` in a PEM block, 64
//! columns as Go writes it), and `publicKey`, an authorized_keys line ending in a newline; a
//! `comment` is stored in the private key and appended to the public line.

use base64::Engine as _;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use serde::Deserialize;

use crate::random::HostRng;
use crate::{Error, Output};

/// RSA sizes this component makes (Go refuses fewer than 1024 bits). 2048 bits take about 2 s
/// in the sandbox; 4096 may need a longer deadline than the default 10 s.
pub const RSA_BITS: std::ops::RangeInclusive<usize> = 1024..=4096;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    #[serde(default)]
    pub key_type: String,
    #[serde(default)]
    pub key_size: Option<i64>,
    #[serde(default)]
    pub comment: String,
}

/// What to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Rsa(usize),
    Ed25519,
    EcdsaP256,
}

impl Spec {
    pub fn parse(spec: &str) -> Result<Spec, Error> {
        serde_json::from_str(spec).map_err(|e| Error::Spec(format!("unable to parse spec: {e}")))
    }

    pub fn check(&self) -> Result<Key, Error> {
        match self.key_type.as_str() {
            "" | "rsa" => {
                let bits = self.key_size.unwrap_or(2048);
                usize::try_from(bits)
                    .ok()
                    .filter(|b| RSA_BITS.contains(b))
                    .map(Key::Rsa)
                    .ok_or_else(|| {
                        Error::Spec(format!(
                            "rsa keySize must be {} to {} bits, got {bits}",
                            RSA_BITS.start(),
                            RSA_BITS.end()
                        ))
                    })
            }
            "ed25519" => Ok(Key::Ed25519),
            "ecdsa" => match self.key_size {
                None | Some(256) => Ok(Key::EcdsaP256),
                Some(other) => Err(Error::Spec(format!(
                    "ecdsa keySize {other} is not supported by this generator (256 is)"
                ))),
            },
            other => Err(Error::Spec(format!("unsupported key type: {other}"))),
        }
    }

    pub fn generate(&self) -> Result<Output, Error> {
        let (private, public) = make(self.check()?, &self.comment)?;
        Ok(vec![
            ("privateKey".to_owned(), private.into_bytes()),
            ("publicKey".to_owned(), public.into_bytes()),
        ])
    }
}

/// SSH wire encoding (RFC 4251): strings and mpints with a u32 length.
#[derive(Default)]
struct Wire(Vec<u8>);

impl Wire {
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn string(&mut self, s: &[u8]) -> &mut Self {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s);
        self
    }
    /// A non-negative integer from its big-endian bytes: no leading zeroes, one zero byte when
    /// the high bit is set, empty for zero.
    fn mpint(&mut self, be: &[u8]) -> &mut Self {
        let start = be.iter().position(|b| *b != 0).unwrap_or(be.len());
        let digits = &be[start..];
        if digits.first().is_some_and(|b| b & 0x80 != 0) {
            self.u32(digits.len() as u32 + 1);
            self.0.push(0);
            self.0.extend_from_slice(digits);
        } else {
            self.string(digits);
        }
        self
    }
}

/// (private-key PEM, authorized_keys line).
fn make(key: Key, comment: &str) -> Result<(String, String), Error> {
    let mut public = Wire::default();
    let mut private = Wire::default();
    let name: &str = match key {
        Key::Rsa(bits) => {
            let k = rsa::RsaPrivateKey::new(&mut HostRng, bits)
                .map_err(|e| Error::Generate(format!("unable to generate SSH key: {e}")))?;
            let [p, q] = k.primes() else {
                return Err(Error::Generate(
                    "an RSA key with more than two primes".into(),
                ));
            };
            let iqmp = k
                .crt_coefficient()
                .ok_or_else(|| Error::Generate("an RSA key without a CRT coefficient".into()))?;
            let (n, e) = (k.n().to_bytes_be(), k.e().to_bytes_be());
            public.string(b"ssh-rsa").mpint(&e).mpint(&n);
            private
                .string(b"ssh-rsa")
                .mpint(&n)
                .mpint(&e)
                .mpint(&k.d().to_bytes_be())
                .mpint(&iqmp.to_bytes_be())
                .mpint(&p.to_bytes_be())
                .mpint(&q.to_bytes_be());
            "ssh-rsa"
        }
        Key::Ed25519 => {
            let mut seed = [0u8; 32];
            crate::random::fill(&mut seed)?;
            let k = ed25519_dalek::SigningKey::from_bytes(&seed);
            let pk = k.verifying_key().to_bytes();
            public.string(b"ssh-ed25519").string(&pk);
            let mut both = seed.to_vec();
            both.extend_from_slice(&pk);
            private.string(b"ssh-ed25519").string(&pk).string(&both);
            "ssh-ed25519"
        }
        Key::EcdsaP256 => {
            let k = p256::SecretKey::random(&mut HostRng);
            let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
                &k.public_key(),
                false,
            );
            public
                .string(b"ecdsa-sha2-nistp256")
                .string(b"nistp256")
                .string(point.as_bytes());
            private
                .string(b"ecdsa-sha2-nistp256")
                .string(b"nistp256")
                .string(point.as_bytes())
                .mpint(&k.to_bytes());
            "ecdsa-sha2-nistp256"
        }
    };
    private.string(comment.as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut line = format!("{name} {}", b64.encode(&public.0));
    if !comment.is_empty() {
        line.push(' ');
        line.push_str(comment);
    }
    line.push('\n');
    Ok((pem(&envelope(&public.0, &private.0)?), line))
}

/// The unencrypted `openssh-key-v1` container around one key.
fn envelope(public: &[u8], private: &[u8]) -> Result<Vec<u8>, Error> {
    let mut check = [0u8; 4];
    crate::random::fill(&mut check)?;
    let check = u32::from_be_bytes(check);
    let mut section = Wire::default();
    section.u32(check).u32(check);
    section.0.extend_from_slice(private);
    // Pad to the cipher block size of "none" (8) with 1, 2, 3, …
    let mut pad = 1u8;
    while section.0.len() % 8 != 0 {
        section.0.push(pad);
        pad += 1;
    }
    let mut out = Wire(b"openssh-key-v1\0".to_vec());
    out.string(b"none")
        .string(b"none")
        .string(b"")
        .u32(1)
        .string(public)
        .string(&section.0);
    Ok(out.0)
}

fn pem(der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN OPENSSH PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END OPENSSH PRIVATE KEY-----\n");
    out
}

#[cfg(test)]
mod tests;
