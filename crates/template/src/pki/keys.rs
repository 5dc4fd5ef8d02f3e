//! Private and public keys as Go's `crypto/x509` parses and marshals them
//! (PKCS#1, PKCS#8, SEC 1, PKIX), for RSA, ECDSA (P-224..P-521), Ed25519 and X25519.

use rsa::BigUint;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};

use super::der::{self, R, Tlv};

pub const OID_RSA: &str = "1.2.840.113549.1.1.1";
pub const OID_EC: &str = "1.2.840.10045.2.1";
pub const OID_ED25519: &str = "1.3.101.112";
pub const OID_X25519: &str = "1.3.101.110";

/// A named curve: its OID, its name and its scalar length in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P224,
    P256,
    P384,
    P521,
}

impl Curve {
    pub fn oid(self) -> &'static str {
        match self {
            Curve::P224 => "1.3.132.0.33",
            Curve::P256 => "1.2.840.10045.3.1.7",
            Curve::P384 => "1.3.132.0.34",
            Curve::P521 => "1.3.132.0.35",
        }
    }

    pub fn size(self) -> usize {
        match self {
            Curve::P224 => 28,
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    pub fn from_oid(t: Tlv<'_>) -> Option<Curve> {
        [Curve::P224, Curve::P256, Curve::P384, Curve::P521]
            .into_iter()
            .find(|c| der::is_oid(t, c.oid()))
    }

    pub fn from_jwk(name: &str) -> Option<Curve> {
        match name {
            "P-256" => Some(Curve::P256),
            "P-384" => Some(Curve::P384),
            "P-521" => Some(Curve::P521),
            _ => None,
        }
    }
}

/// A private key (Go: `*rsa.PrivateKey`, `*ecdsa.PrivateKey`, `ed25519.PrivateKey`,
/// `*ecdh.PrivateKey`).
#[derive(Debug, Clone)]
pub enum PrivateKey {
    Rsa(Box<rsa::RsaPrivateKey>),
    /// `d` padded to the curve size; `public` the uncompressed point.
    Ec {
        curve: Curve,
        d: Vec<u8>,
        public: Vec<u8>,
    },
    Ed25519 {
        seed: [u8; 32],
    },
    X25519 {
        key: [u8; 32],
    },
}

/// A public key (Go: `*rsa.PublicKey`, `*ecdsa.PublicKey`, `ed25519.PublicKey`, ...).
#[derive(Debug, Clone)]
pub enum PublicKey {
    Rsa(rsa::RsaPublicKey),
    Ec { curve: Curve, point: Vec<u8> },
    Ed25519([u8; 32]),
    X25519([u8; 32]),
}

fn big(t: Tlv<'_>) -> R<BigUint> {
    Ok(BigUint::from_bytes_be(der::uint(t)?))
}

pub fn rsa_from_parts(n: BigUint, e: BigUint, d: BigUint, p: BigUint, q: BigUint) -> R<PrivateKey> {
    rsa::RsaPrivateKey::from_components(n, e, d, vec![p, q])
        .map(|k| PrivateKey::Rsa(Box::new(k)))
        .map_err(|e| format!("crypto/rsa: invalid key: {e}"))
}

/// `x509.ParsePKCS1PrivateKey`.
pub fn parse_pkcs1(b: &[u8]) -> R<PrivateKey> {
    let s = der::read_only(b, der::SEQUENCE)?;
    let f = der::children(s.body)?;
    if f.len() < 9 {
        return Err("x509: failed to parse private key".into());
    }
    if der::small_int(f[0])? > 1 {
        return Err("x509: unsupported private key version".into());
    }
    rsa_from_parts(big(f[1])?, big(f[2])?, big(f[3])?, big(f[4])?, big(f[5])?)
}

/// `x509.ParseECPrivateKey` (SEC 1), with the curve from `outer` when the key omits it.
pub fn parse_sec1(b: &[u8], outer: Option<Curve>) -> R<PrivateKey> {
    let s = der::read_only(b, der::SEQUENCE)?;
    let f = der::children(s.body)?;
    if f.len() < 2 || der::small_int(f[0])? != 1 {
        return Err("x509: failed to parse EC private key".into());
    }
    let d = der::expect(f[1], der::OCTET_STRING)?.body;
    let mut curve = outer;
    let mut public = None;
    for t in &f[2..] {
        match t.tag {
            0xa0 => curve = curve.or(Curve::from_oid(der::read(t.body)?.0)),
            0xa1 => {
                let bits = der::expect(der::read(t.body)?.0, der::BIT_STRING)?.body;
                public = bits.get(1..).map(<[u8]>::to_vec);
            }
            _ => {}
        }
    }
    let curve = curve.ok_or("x509: unknown elliptic curve")?;
    ec_key(curve, d, public)
}

/// An EC key from its scalar; the public point is recomputed where this crate can (P-256)
/// as Go does, else taken from the encoding.
pub fn ec_key(curve: Curve, d: &[u8], public: Option<Vec<u8>>) -> R<PrivateKey> {
    let size = curve.size();
    let d = d
        .iter()
        .skip_while(|b| **b == 0)
        .copied()
        .collect::<Vec<_>>();
    if d.len() > size {
        return Err("x509: invalid private key length".into());
    }
    let mut padded = vec![0u8; size - d.len()];
    padded.extend_from_slice(&d);
    let public = if curve == Curve::P256 {
        let sk = p256::SecretKey::from_slice(&padded).map_err(|_| "x509: invalid elliptic key")?;
        use p256::elliptic_curve::sec1::ToEncodedPoint as _;
        sk.public_key().to_encoded_point(false).as_bytes().to_vec()
    } else {
        public.ok_or("x509: EC private key without its public key is not supported here")?
    };
    Ok(PrivateKey::Ec {
        curve,
        d: padded,
        public,
    })
}

/// `x509.ParsePKCS8PrivateKey`.
pub fn parse_pkcs8(b: &[u8]) -> R<PrivateKey> {
    let s = der::read_only(b, der::SEQUENCE)?;
    let f = der::children(s.body)?;
    if f.len() < 3 {
        return Err("x509: failed to parse private key".into());
    }
    let alg = der::children(der::expect(f[1], der::SEQUENCE)?.body)?;
    let oid = *alg.first().ok_or("x509: malformed algorithm")?;
    let key = der::expect(f[2], der::OCTET_STRING)?.body;
    if der::is_oid(oid, OID_RSA) {
        parse_pkcs1(key)
            .map_err(|e| format!("x509: failed to parse RSA private key embedded in PKCS#8: {e}"))
    } else if der::is_oid(oid, OID_EC) {
        let curve = alg.get(1).and_then(|t| Curve::from_oid(*t));
        parse_sec1(key, curve)
            .map_err(|e| format!("x509: failed to parse EC private key embedded in PKCS#8: {e}"))
    } else if der::is_oid(oid, OID_ED25519) || der::is_oid(oid, OID_X25519) {
        let inner = der::read_only(key, der::OCTET_STRING)?.body;
        let k: [u8; 32] = inner
            .try_into()
            .map_err(|_| "x509: invalid curve private key length".to_string())?;
        Ok(if der::is_oid(oid, OID_ED25519) {
            PrivateKey::Ed25519 { seed: k }
        } else {
            PrivateKey::X25519 { key: k }
        })
    } else {
        Err(format!(
            "x509: PKCS#8 wrapping contained private key with unknown algorithm: {}",
            der::oid_string(oid.body)
        ))
    }
}

fn alg_id(oid: &str, params: Option<&[u8]>) -> Vec<u8> {
    match params {
        Some(p) => der::seq(&[&der::oid(oid), p]),
        None => der::seq(&[&der::oid(oid)]),
    }
}

fn ubig(b: &BigUint) -> Vec<u8> {
    der::uint_bytes(&b.to_bytes_be())
}

/// `x509.MarshalPKCS1PrivateKey` (two primes).
pub fn marshal_pkcs1(k: &rsa::RsaPrivateKey) -> Vec<u8> {
    let primes = k.primes();
    let one = BigUint::from(1u8);
    let (p, q) = (&primes[0], &primes[1]);
    let dp = k.d() % (p - &one);
    let dq = k.d() % (q - &one);
    let two = BigUint::from(2u8);
    let qinv = q.modpow(&(p - &two), p);
    der::seq(&[
        &der::int(0),
        &ubig(k.n()),
        &ubig(k.e()),
        &ubig(k.d()),
        &ubig(p),
        &ubig(q),
        &ubig(&dp),
        &ubig(&dq),
        &ubig(&qinv),
    ])
}

/// `x509.MarshalECPrivateKey` (with the curve) or the PKCS#8 inner form (without).
pub fn marshal_sec1(curve: Curve, d: &[u8], public: &[u8], with_curve: bool) -> Vec<u8> {
    let mut parts = vec![der::int(1), der::octets(d)];
    if with_curve {
        parts.push(der::ctx(0, true, &der::oid(curve.oid())));
    }
    parts.push(der::ctx(1, true, &der::bit_string(public)));
    der::tlv(der::SEQUENCE, &parts.concat())
}

/// `x509.MarshalPKCS8PrivateKey`.
pub fn marshal_pkcs8(k: &PrivateKey) -> Vec<u8> {
    let (alg, key) = match k {
        PrivateKey::Rsa(r) => (alg_id(OID_RSA, Some(&[der::NULL, 0])), marshal_pkcs1(r)),
        PrivateKey::Ec { curve, d, public } => (
            alg_id(OID_EC, Some(&der::oid(curve.oid()))),
            marshal_sec1(*curve, d, public, false),
        ),
        PrivateKey::Ed25519 { seed } => (alg_id(OID_ED25519, None), der::octets(seed)),
        PrivateKey::X25519 { key } => (alg_id(OID_X25519, None), der::octets(key)),
    };
    der::seq(&[&der::int(0), &alg, &der::octets(&key)])
}

/// `x509.MarshalPKIXPublicKey`.
pub fn marshal_pkix(k: &PublicKey) -> Vec<u8> {
    let (alg, bits) = match k {
        PublicKey::Rsa(r) => (
            alg_id(OID_RSA, Some(&[der::NULL, 0])),
            der::seq(&[&ubig(r.n()), &ubig(r.e())]),
        ),
        PublicKey::Ec { curve, point } => {
            (alg_id(OID_EC, Some(&der::oid(curve.oid()))), point.clone())
        }
        PublicKey::Ed25519(p) => (alg_id(OID_ED25519, None), p.to_vec()),
        PublicKey::X25519(p) => (alg_id(OID_X25519, None), p.to_vec()),
    };
    der::seq(&[&alg, &der::bit_string(&bits)])
}

/// ESO's `parsePrivateKey`: PKCS#1, then PKCS#8, then SEC 1.
pub fn parse_any(b: &[u8]) -> R<PrivateKey> {
    parse_pkcs1(b)
        .or_else(|_| parse_pkcs8(b))
        .or_else(|_| parse_sec1(b, None))
        .map_err(|_| "unable to parse private key type".to_string())
}

impl PrivateKey {
    /// Go's type name, for error messages that print `%T`.
    pub fn go_type(&self) -> &'static str {
        match self {
            PrivateKey::Rsa(_) => "*rsa.PrivateKey",
            PrivateKey::Ec { .. } => "*ecdsa.PrivateKey",
            PrivateKey::Ed25519 { .. } => "ed25519.PrivateKey",
            PrivateKey::X25519 { .. } => "*ecdh.PrivateKey",
        }
    }
}
