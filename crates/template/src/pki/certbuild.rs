//! Certificate creation as Go's `x509.CreateCertificate` does it for sprig's templates:
//! version 3, the signer's default algorithm (SHA-256 with RSA, ECDSA P-256 with SHA-256,
//! Ed25519), Go's extension order and encodings, and its subject key identifier
//! (the first 20 bytes of the SHA-256 of the public key bits, Go 1.25+).

use rsa::traits::PublicKeyParts as _;
use sha2::Digest as _;

use super::der::{self, R};
use super::keys::{Curve, OID_ED25519, PrivateKey, PublicKey, marshal_pkix};
use super::x509::Cert;
use crate::time::GoTime;

const OID_SHA256_RSA: &str = "1.2.840.113549.1.1.11";
const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_CN: &str = "2.5.4.3";
const OID_KEY_USAGE: &str = "2.5.29.15";
const OID_EXT_KEY_USAGE: &str = "2.5.29.37";
const OID_BASIC_CONSTRAINTS: &str = "2.5.29.19";
const OID_SKID: &str = "2.5.29.14";
const OID_AKID: &str = "2.5.29.35";
const OID_SAN: &str = "2.5.29.17";
const OID_SERVER_AUTH: &str = "1.3.6.1.5.5.7.3.1";
const OID_CLIENT_AUTH: &str = "1.3.6.1.5.5.7.3.2";

/// What sprig's `getBaseCertTemplate` (plus the CA overrides) puts in a certificate.
pub struct Template<'a> {
    /// The serial number's big-endian magnitude.
    pub serial: &'a [u8],
    pub common_name: &'a str,
    /// IP addresses in Go's encoding: 4 bytes for IPv4 (mapped ones included), else 16.
    pub ips: &'a [Vec<u8>],
    pub dns_names: &'a [String],
    pub not_before: GoTime,
    pub not_after: GoTime,
    /// A CA: `keyCertSign` usage, `isCA` and a subject key identifier.
    pub is_ca: bool,
}

const NOT_A_SIGNER: &str = "x509: certificate private key does not implement crypto.Signer";

/// The public half of a private key that a certificate can carry (Go's x509 has no
/// X25519 certificates).
pub fn public_key(k: &PrivateKey) -> R<PublicKey> {
    Ok(match k {
        PrivateKey::Rsa(r) => PublicKey::Rsa(r.to_public_key()),
        PrivateKey::Ec { curve, public, .. } => PublicKey::Ec {
            curve: *curve,
            point: public.clone(),
        },
        PrivateKey::Ed25519 { seed } => PublicKey::Ed25519(
            ed25519_dalek::SigningKey::from_bytes(seed)
                .verifying_key()
                .to_bytes(),
        ),
        PrivateKey::X25519 { .. } => {
            return Err("x509: unsupported public key type: *ecdh.PublicKey".into());
        }
    })
}

/// The BIT STRING contents of a SubjectPublicKeyInfo (what the key identifier hashes).
fn public_key_bits(k: &PublicKey) -> Vec<u8> {
    match k {
        PublicKey::Rsa(r) => der::seq(&[
            &der::uint_bytes(&r.n().to_bytes_be()),
            &der::uint_bytes(&r.e().to_bytes_be()),
        ]),
        PublicKey::Ec { point, .. } => point.clone(),
        PublicKey::Ed25519(p) | PublicKey::X25519(p) => p.to_vec(),
    }
}

/// The AlgorithmIdentifier Go signs with for `k`.
fn signature_algorithm(k: &PrivateKey) -> R<Vec<u8>> {
    Ok(match k {
        PrivateKey::Rsa(_) => der::seq(&[&der::oid(OID_SHA256_RSA), &[der::NULL, 0]]),
        PrivateKey::Ec {
            curve: Curve::P256, ..
        } => der::seq(&[&der::oid(OID_ECDSA_SHA256)]),
        PrivateKey::Ec { .. } => {
            return Err(
                "x509: ECDSA signing is implemented for P-256 keys only in this engine".into(),
            );
        }
        PrivateKey::Ed25519 { .. } => der::seq(&[&der::oid(OID_ED25519)]),
        PrivateKey::X25519 { .. } => return Err(NOT_A_SIGNER.into()),
    })
}

fn sign(k: &PrivateKey, tbs: &[u8]) -> R<Vec<u8>> {
    match k {
        PrivateKey::Rsa(r) => {
            // DigestInfo for SHA-256, then the hash: PKCS #1 v1.5 with SHA-256.
            let mut info = vec![
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ];
            info.extend_from_slice(&sha2::Sha256::digest(tbs));
            r.sign(rsa::Pkcs1v15Sign::new_unprefixed(), &info)
                .map_err(|e| format!("crypto/rsa: {e}"))
        }
        PrivateKey::Ec {
            curve: Curve::P256,
            d,
            ..
        } => {
            use p256::ecdsa::signature::Signer as _;
            let key = p256::ecdsa::SigningKey::from_slice(d)
                .map_err(|_| "crypto/ecdsa: invalid private key".to_string())?;
            let sig: p256::ecdsa::Signature = key.sign(tbs);
            let (r, s) = sig.split_bytes();
            Ok(der::seq(&[&der::uint_bytes(&r), &der::uint_bytes(&s)]))
        }
        PrivateKey::Ed25519 { seed } => {
            use ed25519_dalek::Signer as _;
            Ok(ed25519_dalek::SigningKey::from_bytes(seed)
                .sign(tbs)
                .to_bytes()
                .to_vec())
        }
        _ => signature_algorithm(k).map(|_| vec![]),
    }
}

/// `pkix.Name{CommonName: cn}` as an RDNSequence: PrintableString when every character is
/// in its set (Go rejects `*` and `&` there), else UTF8String; no attribute when empty.
fn name(cn: &str) -> Vec<u8> {
    if cn.is_empty() {
        return der::seq(&[]);
    }
    let printable = cn
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b));
    let value = der::tlv(if printable { 0x13 } else { 0x0c }, cn.as_bytes());
    let atv = der::seq(&[&der::oid(OID_CN), &value]);
    der::seq(&[&der::set_of(vec![atv])])
}

/// Go's `encoding/asn1` time: UTCTime for 1950..=2049, else GeneralizedTime.
fn time(t: &GoTime) -> Vec<u8> {
    let utc = GoTime { offset: 0, ..*t };
    let year: i64 = utc.format("2006").parse().unwrap_or(0);
    if (1950..2050).contains(&year) {
        der::tlv(0x17, format!("{}Z", utc.format("060102150405")).as_bytes())
    } else {
        der::tlv(
            0x18,
            format!("{}Z", utc.format("20060102150405")).as_bytes(),
        )
    }
}

fn extension(oid: &str, critical: bool, value: &[u8]) -> Vec<u8> {
    if critical {
        der::seq(&[&der::oid(oid), &[0x01, 0x01, 0xff], &der::octets(value)])
    } else {
        der::seq(&[&der::oid(oid), &der::octets(value)])
    }
}

fn extensions(t: &Template<'_>, subject_empty: bool, akid: &[u8], skid: &[u8]) -> R<Vec<u8>> {
    // digitalSignature | keyEncipherment (| keyCertSign), bit 0 first, trailing zeros cut.
    let key_usage: &[u8] = if t.is_ca {
        &[0x03, 0x02, 0x02, 0xa4]
    } else {
        &[0x03, 0x02, 0x05, 0xa0]
    };
    let mut out = vec![
        extension(OID_KEY_USAGE, true, key_usage),
        extension(
            OID_EXT_KEY_USAGE,
            false,
            &der::seq(&[&der::oid(OID_SERVER_AUTH), &der::oid(OID_CLIENT_AUTH)]),
        ),
        extension(
            OID_BASIC_CONSTRAINTS,
            true,
            &der::seq(if t.is_ca { &[&[0x01, 0x01, 0xff]] } else { &[] }),
        ),
    ];
    if !skid.is_empty() {
        out.push(extension(OID_SKID, false, &der::octets(skid)));
    }
    if !akid.is_empty() {
        out.push(extension(
            OID_AKID,
            false,
            &der::seq(&[&der::ctx(0, false, akid)]),
        ));
    }
    if !t.dns_names.is_empty() || !t.ips.is_empty() {
        let mut names = vec![];
        for d in t.dns_names {
            if !d.is_ascii() {
                return Err(format!(
                    "x509: {} cannot be encoded as an IA5String",
                    crate::gofmt::quote(d)
                ));
            }
            names.push(der::ctx(2, false, d.as_bytes()));
        }
        names.extend(t.ips.iter().map(|ip| der::ctx(7, false, ip)));
        out.push(extension(
            OID_SAN,
            subject_empty,
            &der::tlv(der::SEQUENCE, &names.concat()),
        ));
    }
    Ok(der::tlv(der::SEQUENCE, &out.concat()))
}

/// `x509.CreateCertificate(rand, template, parent, subject_key, signer)`; `parent` is `None`
/// for a self-signed certificate (the template is its own parent). `subject_key` is `None`
/// for a DSA key, which Go's x509 cannot put in a certificate.
pub fn create(
    t: &Template<'_>,
    subject_key: Option<&PrivateKey>,
    parent: Option<&Cert>,
    signer: &PrivateKey,
) -> R<Vec<u8>> {
    let alg = signature_algorithm(signer)?;
    let subject_key = match subject_key {
        Some(k) => public_key(k)?,
        None => return Err("x509: unsupported public key type: *dsa.PublicKey".into()),
    };
    let subject_key = &subject_key;
    let subject = name(t.common_name);
    let issuer = parent.map_or_else(|| subject.clone(), |p| p.subject.clone());
    let akid = match parent {
        Some(p) if issuer != subject => p.subject_key_id.clone(),
        _ => vec![],
    };
    let bits = public_key_bits(subject_key);
    let skid = if t.is_ca {
        sha2::Sha256::digest(&bits)[..20].to_vec()
    } else {
        vec![]
    };
    if let Some(p) = parent
        && marshal_pkix(&public_key(signer)?) != p.spki
    {
        return Err("x509: provided PrivateKey doesn't match parent's PublicKey".into());
    }
    let exts = extensions(t, subject == der::seq(&[]), &akid, &skid)?;
    let tbs = der::seq(&[
        &der::ctx(0, true, &der::int(2)),
        &der::uint_bytes(t.serial),
        &alg,
        &issuer,
        &der::seq(&[&time(&t.not_before), &time(&t.not_after)]),
        &subject,
        &marshal_pkix(subject_key),
        &der::ctx(3, true, &exts),
    ]);
    let sig = sign(signer, &tbs)?;
    Ok(der::seq(&[&tbs, &alg, &der::bit_string(&sig)]))
}
