//! PKCS#12 (RFC 7292) as `software.sslmate.com/src/go-pkcs12` v0.7 reads it (`DecodeChain`)
//! and writes it with its `Modern` encoder (PBES2/PBKDF2-HMAC-SHA-256/AES-256-CBC, an
//! HMAC-SHA-256 MAC, 2048 iterations, 16-byte salts), drawing salts and IVs from the
//! template's seeded stream in go-pkcs12's order, so the bytes equal Go's for the same seed.

use aes::cipher::{BlockEncryptMut as _, KeyIvInit as _};
use sha2::Digest as _;

use super::der::{self, R};
use super::keys::{self, PrivateKey};
use super::pbe::{
    OID_AES256_CBC, OID_HMAC_SHA256, OID_PBES2, OID_PBKDF2, OID_SHA256, bmp, bmp_password,
    mac_digest, not_impl, pb_decrypt, unbmp,
};
use super::x509::Cert;
use crate::rng::Rng;

const OID_DATA: &str = "1.2.840.113549.1.7.1";
const OID_ENCRYPTED_DATA: &str = "1.2.840.113549.1.7.6";
const OID_KEY_BAG: &str = "1.2.840.113549.1.12.10.1.1";
const OID_SHROUDED_KEY_BAG: &str = "1.2.840.113549.1.12.10.1.2";
const OID_CERT_BAG: &str = "1.2.840.113549.1.12.10.1.3";
const OID_X509_CERT: &str = "1.2.840.113549.1.9.22.1";
const OID_LOCAL_KEY_ID: &str = "1.2.840.113549.1.9.21";
const OID_FRIENDLY_NAME: &str = "1.2.840.113549.1.9.20";
const OID_JAVA_TRUST_STORE: &str = "2.16.840.1.113894.746875.1.1";
const OID_ANY_EKU: &str = "2.5.29.37.0";

const ITERATIONS: i64 = 2048;
const SALT_LEN: usize = 16;

/// The safe bags of a PFX and the password that verified its MAC.
/// A safe bag: its type OID (DER) and its value.
type Bag = (Vec<u8>, Vec<u8>);

fn safe_bags(pfx: &[u8], password: Vec<u8>) -> R<(Vec<Bag>, Vec<u8>)> {
    let outer = der::read_only(pfx, der::SEQUENCE)
        .map_err(|e| format!("pkcs12: error reading P12 data: {e}"))?;
    let f =
        der::children(outer.body).map_err(|e| format!("pkcs12: error reading P12 data: {e}"))?;
    if f.len() < 2 || der::small_int(f[0])? != 3 {
        return Err(not_impl("can only decode v3 PFX PDU's"));
    }
    let ci = der::children(f[1].body)?;
    if !ci.first().is_some_and(|t| der::is_oid(*t, OID_DATA)) {
        return Err(not_impl("only password-protected PFX is implemented"));
    }
    let content = ci.get(1).ok_or("pkcs12: missing content")?;
    let auth_safe = der::read_only(content.body, der::OCTET_STRING)?.body;
    let mut password = password;
    match f.get(2) {
        None => {
            if password != [0, 0] {
                return Err("pkcs12: no MAC in data".into());
            }
        }
        Some(mac) => {
            let m = der::children(mac.body)?;
            let di = der::children(m.first().ok_or("pkcs12: malformed MAC")?.body)?;
            let alg = der::read(di.first().ok_or("pkcs12: malformed MAC")?.body)?.0;
            let digest = di.get(1).ok_or("pkcs12: malformed MAC")?.body;
            let salt = m.get(1).ok_or("pkcs12: malformed MAC")?.body;
            let iter = m
                .get(2)
                .map(|t| der::small_int(*t))
                .transpose()?
                .unwrap_or(1);
            if mac_digest(alg, salt, iter, auth_safe, &password)? != digest {
                if password != [0, 0] || mac_digest(alg, salt, iter, auth_safe, &[])? != digest {
                    return Err("pkcs12: decryption password incorrect".into());
                }
                password = vec![];
            }
        }
    }
    let mut bags = vec![];
    let safes = der::children(der::read_only(auth_safe, der::SEQUENCE)?.body)?;
    if safes.is_empty() || safes.len() > 2 {
        return Err(not_impl(&format!(
            "expected between 1 and 2 items in the authenticated safe, but this file has {}",
            safes.len()
        )));
    }
    for safe in safes {
        let c = der::children(safe.body)?;
        let oid = *c.first().ok_or("pkcs12: malformed content info")?;
        let body = c.get(1).map_or(&[][..], |t| t.body);
        let data = if der::is_oid(oid, OID_DATA) {
            der::read_only(body, der::OCTET_STRING)?.body.to_vec()
        } else if der::is_oid(oid, OID_ENCRYPTED_DATA) {
            let ed = der::children(der::read_only(body, der::SEQUENCE)?.body)?;
            if ed.len() < 2 || der::small_int(ed[0])? != 0 {
                return Err(not_impl("only version 0 of EncryptedData is supported"));
            }
            let eci = der::children(ed[1].body)?;
            let alg = *eci.get(1).ok_or("pkcs12: malformed encrypted content")?;
            let enc = eci.get(2).map_or(&[][..], |t| t.body);
            pb_decrypt(alg, enc, &password)?
        } else {
            return Err(not_impl(
                "only data and encryptedData content types are supported in authenticated safe",
            ));
        };
        for bag in der::children(der::read_only(&data, der::SEQUENCE)?.body)? {
            let b = der::children(bag.body)?;
            let id = b.first().ok_or("pkcs12: malformed safe bag")?;
            let value = b.get(1).ok_or("pkcs12: malformed safe bag")?.body;
            bags.push((id.raw.to_vec(), value.to_vec()));
        }
    }
    Ok((bags, password))
}

fn cert_of_bag(value: &[u8]) -> R<Cert> {
    let cb = der::children(
        der::read_only(value, der::SEQUENCE)
            .map_err(|e| format!("pkcs12: error decoding cert bag: {e}"))?
            .body,
    )?;
    if !cb.first().is_some_and(|t| der::is_oid(*t, OID_X509_CERT)) {
        return Err(not_impl(
            "only X509 certificates are supported in cert bags",
        ));
    }
    let data = der::read_only(
        cb.get(1).ok_or("pkcs12: malformed cert bag")?.body,
        der::OCTET_STRING,
    )?
    .body;
    Cert::parse(data)
}

/// go-pkcs12's `DecodeChain`: the private key, the leaf and the other certificates.
pub fn decode_chain(pfx: &[u8], password: &str) -> R<(PrivateKey, Cert, Vec<Cert>)> {
    let (bags, pw) = safe_bags(pfx, bmp_password(password)?)?;
    let (mut key, mut leaf, mut cas) = (None, None, vec![]);
    for (id, value) in bags {
        let id = der::read(&id)?.0;
        if der::is_oid(id, OID_CERT_BAG) {
            let c = cert_of_bag(&value)?;
            if leaf.is_none() {
                leaf = Some(c);
            } else {
                cas.push(c);
            }
        } else if der::is_oid(id, OID_KEY_BAG) || der::is_oid(id, OID_SHROUDED_KEY_BAG) {
            if key.is_some() {
                return Err("pkcs12: expected exactly one key bag".into());
            }
            let plain = if der::is_oid(id, OID_KEY_BAG) {
                value
            } else {
                let info = der::children(
                    der::read_only(&value, der::SEQUENCE)
                        .map_err(|e| {
                            format!("pkcs12: error decoding PKCS#8 shrouded key bag: {e}")
                        })?
                        .body,
                )?;
                let (alg, enc) = match info.as_slice() {
                    [a, e, ..] => (*a, e.body),
                    _ => return Err("pkcs12: error decoding PKCS#8 shrouded key bag".into()),
                };
                pb_decrypt(alg, enc, &pw)
                    .map_err(|e| format!("pkcs12: error decrypting PKCS#8 shrouded key bag: {e}"))?
            };
            key = Some(
                keys::parse_pkcs8(&plain)
                    .map_err(|e| format!("pkcs12: error parsing PKCS#8 private key: {e}"))?,
            );
        }
    }
    let leaf = leaf.ok_or("pkcs12: certificate missing")?;
    let key = key.ok_or("pkcs12: private key missing")?;
    Ok((key, leaf, cas))
}

// ---- encoding (go-pkcs12 `Modern`) ----

fn pbes2_encrypt(rng: &mut Rng, data: &[u8], password: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let salt = rng.bytes(SALT_LEN);
    let iv = rng.bytes(16);
    let prf = der::seq(&[&der::oid(OID_HMAC_SHA256)]);
    let kdf_params = der::seq(&[&der::octets(&salt), &der::int(ITERATIONS), &prf]);
    let alg = der::seq(&[
        &der::oid(OID_PBES2),
        &der::seq(&[
            &der::seq(&[&der::oid(OID_PBKDF2), &kdf_params]),
            &der::seq(&[&der::oid(OID_AES256_CBC), &der::octets(&iv)]),
        ]),
    ]);
    let utf8 = unbmp(password);
    let mut key = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(utf8.as_bytes(), &salt, ITERATIONS as u32, &mut key);
    let enc = cbc::Encryptor::<aes::Aes256>::new((&key).into(), iv.as_slice().into())
        .encrypt_padded_vec_mut::<aes::cipher::block_padding::Pkcs7>(data);
    (alg, enc)
}

fn attr(oid: &str, value: &[u8]) -> Vec<u8> {
    der::seq(&[&der::oid(oid), &der::tlv(der::SET, value)])
}

fn safe_bag(oid: &str, value: &[u8], attrs: Vec<Vec<u8>>) -> Vec<u8> {
    der::seq(&[
        &der::oid(oid),
        &der::ctx(0, true, value),
        &der::set_of(attrs),
    ])
}

fn cert_bag(cert_der: &[u8], attrs: Vec<Vec<u8>>) -> Vec<u8> {
    let value = der::seq(&[
        &der::oid(OID_X509_CERT),
        &der::ctx(0, true, &der::octets(cert_der)),
    ]);
    safe_bag(OID_CERT_BAG, &value, attrs)
}

fn encrypted_content(rng: &mut Rng, bags: &[Vec<u8>], password: &[u8]) -> Vec<u8> {
    let data = der::tlv(der::SEQUENCE, &bags.concat());
    let (alg, enc) = pbes2_encrypt(rng, &data, password);
    let eci = der::seq(&[&der::oid(OID_DATA), &alg, &der::ctx(0, false, &enc)]);
    let ed = der::seq(&[&der::int(0), &eci]);
    der::seq(&[&der::oid(OID_ENCRYPTED_DATA), &der::ctx(0, true, &ed)])
}

fn data_content(bytes: &[u8]) -> Vec<u8> {
    der::seq(&[&der::oid(OID_DATA), &der::ctx(0, true, &der::octets(bytes))])
}

fn pfx(rng: &mut Rng, safes: &[Vec<u8>], password: &[u8]) -> R<Vec<u8>> {
    let auth_safe = der::tlv(der::SEQUENCE, &safes.concat());
    let salt = rng.bytes(SALT_LEN);
    let digest = mac_digest(
        der::read(&der::oid(OID_SHA256))?.0,
        &salt,
        ITERATIONS,
        &auth_safe,
        password,
    )?;
    let mac = der::seq(&[
        &der::seq(&[&der::seq(&[&der::oid(OID_SHA256)]), &der::octets(&digest)]),
        &der::octets(&salt),
        &der::int(ITERATIONS),
    ]);
    Ok(der::seq(&[&der::int(3), &data_content(&auth_safe), &mac]))
}

/// `pkcs12.Modern.Encode(key, cert, caCerts, password)`.
pub fn encode(
    rng: &mut Rng,
    key: &PrivateKey,
    cert: &Cert,
    cas: &[Cert],
    password: &str,
) -> R<Vec<u8>> {
    let pw = bmp_password(password)?;
    let fp = sha1::Sha1::digest(&cert.raw);
    let local_id = attr(OID_LOCAL_KEY_ID, &der::octets(&fp));
    let mut certs = vec![cert_bag(&cert.raw, vec![local_id.clone()])];
    certs.extend(cas.iter().map(|c| cert_bag(&c.raw, vec![])));
    let (alg, enc) = pbes2_encrypt(rng, &keys::marshal_pkcs8(key), &pw);
    let shrouded = der::seq(&[&alg, &der::octets(&enc)]);
    let key_bag = safe_bag(OID_SHROUDED_KEY_BAG, &shrouded, vec![local_id]);
    let cert_safe = encrypted_content(rng, &certs, &pw);
    let key_safe = data_content(&der::tlv(der::SEQUENCE, &key_bag));
    pfx(rng, &[cert_safe, key_safe], &pw)
}

/// `pkcs12.Modern.EncodeTrustStore(certs, password)`: every certificate marked trusted for
/// any purpose (Java's attribute), named by its subject.
pub fn encode_trust_store(rng: &mut Rng, certs: &[Cert], password: &str) -> R<Vec<u8>> {
    let pw = bmp_password(password)?;
    let trusted = attr(OID_JAVA_TRUST_STORE, &der::oid(OID_ANY_EKU));
    let mut bags = vec![];
    for c in certs {
        let name = der::tlv(der::BMP_STRING, &bmp(&c.subject_string())?);
        bags.push(cert_bag(
            &c.raw,
            vec![trusted.clone(), attr(OID_FRIENDLY_NAME, &name)],
        ));
    }
    let safe = encrypted_content(rng, &bags, &pw);
    pfx(rng, &[safe], &pw)
}
