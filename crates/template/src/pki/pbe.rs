//! Password-based encryption and MACs of PKCS#12: the RFC 7292 appendix B KDF, PBE with
//! 3DES/RC2 (legacy stores), PBES2 with PBKDF2 and AES-CBC, and the PFX MAC.

use aes::cipher::{BlockDecryptMut as _, InnerIvInit as _, KeyIvInit as _};
use hmac::Mac as _;

use super::der::{self, R, Tlv};

pub(super) const OID_SHA1: &str = "1.3.14.3.2.26";
pub(super) const OID_SHA256: &str = "2.16.840.1.101.3.4.2.1";
pub(super) const OID_SHA512: &str = "2.16.840.1.101.3.4.2.3";
pub(super) const OID_PBE_3DES: &str = "1.2.840.113549.1.12.1.3";
pub(super) const OID_PBE_RC2_128: &str = "1.2.840.113549.1.12.1.5";
pub(super) const OID_PBE_RC2_40: &str = "1.2.840.113549.1.12.1.6";
pub(super) const OID_PBES2: &str = "1.2.840.113549.1.5.13";
pub(super) const OID_PBKDF2: &str = "1.2.840.113549.1.5.12";
pub(super) const OID_HMAC_SHA1: &str = "1.2.840.113549.2.7";
pub(super) const OID_HMAC_SHA256: &str = "1.2.840.113549.2.9";
pub(super) const OID_HMAC_SHA512: &str = "1.2.840.113549.2.11";
pub(super) const OID_AES128_CBC: &str = "2.16.840.1.101.3.4.1.2";
pub(super) const OID_AES192_CBC: &str = "2.16.840.1.101.3.4.1.22";
pub(super) const OID_AES256_CBC: &str = "2.16.840.1.101.3.4.1.42";

pub(super) fn not_impl(what: &str) -> String {
    format!("pkcs12: {what}")
}

/// The password as go-pkcs12 encodes it: UCS-2 big endian, zero terminated.
pub fn bmp_password(s: &str) -> R<Vec<u8>> {
    let mut out = bmp(s)?;
    out.extend_from_slice(&[0, 0]);
    Ok(out)
}

pub(super) fn bmp(s: &str) -> R<Vec<u8>> {
    let mut out = Vec::with_capacity(2 * s.len() + 2);
    for c in s.chars() {
        let u = u32::from(c);
        if u > 0xffff {
            return Err(
                "pkcs12: string contains characters that cannot be encoded in UCS-2".into(),
            );
        }
        out.extend_from_slice(&(u as u16).to_be_bytes());
    }
    Ok(out)
}

pub(super) fn unbmp(b: &[u8]) -> String {
    let b = b.strip_suffix(&[0, 0]).unwrap_or(b);
    let units: Vec<u16> = b
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// RFC 7292 appendix B key derivation with hash `H` (`u` output, `v` block bytes).
fn kdf<H: sha2::Digest>(
    v: usize,
    salt: &[u8],
    password: &[u8],
    iter: i64,
    id: u8,
    size: usize,
) -> Vec<u8> {
    let fill = |p: &[u8]| -> Vec<u8> {
        if p.is_empty() {
            return vec![];
        }
        let n = v * p.len().div_ceil(v);
        p.iter().copied().cycle().take(n).collect()
    };
    let mut i_buf = fill(salt);
    i_buf.extend(fill(password));
    let mut out = vec![];
    while out.len() < size {
        let mut a = H::new()
            .chain_update(vec![id; v])
            .chain_update(&i_buf)
            .finalize()
            .to_vec();
        for _ in 1..iter.max(1) {
            a = H::digest(&a).to_vec();
        }
        out.extend_from_slice(&a);
        if out.len() < size {
            let b: Vec<u8> = a.iter().copied().cycle().take(v).collect();
            for chunk in i_buf.chunks_mut(v) {
                let mut carry = 1u16;
                for k in (0..v).rev() {
                    let s = u16::from(chunk[k]) + u16::from(b[k]) + carry;
                    chunk[k] = s as u8;
                    carry = s >> 8;
                }
            }
        }
    }
    out.truncate(size);
    out
}

fn sha1_kdf(salt: &[u8], pw: &[u8], iter: i64, id: u8, size: usize) -> Vec<u8> {
    kdf::<sha1::Sha1>(64, salt, pw, iter, id, size)
}

fn unpad(mut d: Vec<u8>, block: usize) -> R<Vec<u8>> {
    let n = usize::from(*d.last().ok_or("pkcs12: empty encrypted data")?);
    if n == 0 || n > block || d.len() < n || d[d.len() - n..].iter().any(|b| usize::from(*b) != n) {
        return Err("pkcs12: decryption error, incorrect padding".into());
    }
    d.truncate(d.len() - n);
    Ok(d)
}

fn cbc_decrypt<C>(key: &[u8], iv: &[u8], data: &[u8]) -> R<Vec<u8>>
where
    C: aes::cipher::BlockDecrypt + aes::cipher::BlockCipher + aes::cipher::KeyInit,
{
    let dec = cbc::Decryptor::<C>::new_from_slices(key, iv).map_err(|e| format!("pkcs12: {e}"))?;
    let mut buf = data.to_vec();
    dec.decrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut buf)
        .map_err(|_| "pkcs12: input is not a multiple of the block size".to_string())?;
    Ok(buf)
}

fn pbkdf2_key(prf: Option<Tlv<'_>>, pw: &[u8], salt: &[u8], iter: u32, len: usize) -> R<Vec<u8>> {
    let mut key = vec![0u8; len];
    match prf {
        None => pbkdf2::pbkdf2_hmac::<sha1::Sha1>(pw, salt, iter, &mut key),
        Some(t) if der::is_oid(t, OID_HMAC_SHA1) => {
            pbkdf2::pbkdf2_hmac::<sha1::Sha1>(pw, salt, iter, &mut key)
        }
        Some(t) if der::is_oid(t, OID_HMAC_SHA256) => {
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pw, salt, iter, &mut key)
        }
        Some(t) if der::is_oid(t, OID_HMAC_SHA512) => {
            pbkdf2::pbkdf2_hmac::<sha2::Sha512>(pw, salt, iter, &mut key)
        }
        Some(t) => {
            return Err(not_impl(&format!(
                "pbes2 prf {} is not supported",
                der::oid_string(t.body)
            )));
        }
    }
    Ok(key)
}

/// Decrypts `data` under AlgorithmIdentifier `alg` (PKCS#12 PBE or PBES2).
pub(super) fn pb_decrypt(alg: Tlv<'_>, data: &[u8], password: &[u8]) -> R<Vec<u8>> {
    let f = der::children(der::expect(alg, der::SEQUENCE)?.body)?;
    let oid = *f.first().ok_or("pkcs12: malformed algorithm")?;
    let params = f
        .get(1)
        .copied()
        .ok_or("pkcs12: missing algorithm parameters")?;
    if data.is_empty() {
        return Err("pkcs12: empty encrypted data".into());
    }
    if der::is_oid(oid, OID_PBES2) {
        let p = der::children(params.body)?;
        let (kdf_alg, scheme) = match p.as_slice() {
            [k, s] => (der::children(k.body)?, der::children(s.body)?),
            _ => return Err("pkcs12: malformed PBES2 parameters".into()),
        };
        if !kdf_alg.first().is_some_and(|t| der::is_oid(*t, OID_PBKDF2)) {
            return Err(not_impl("pbes2 kdf algorithm is not supported"));
        }
        let kp = der::children(
            kdf_alg
                .get(1)
                .ok_or("pkcs12: missing PBKDF2 parameters")?
                .body,
        )?;
        let salt = der::expect(
            *kp.first().ok_or("pkcs12: missing salt")?,
            der::OCTET_STRING,
        )
        .map_err(|_| not_impl("only octet string salts are supported for pbes2/pbkdf2"))?;
        let iter = der::small_int(*kp.get(1).ok_or("pkcs12: missing iterations")?)?;
        let prf = kp
            .iter()
            .skip(2)
            .find(|t| t.tag == der::SEQUENCE)
            .map(|t| der::read(t.body).map(|x| x.0))
            .transpose()?;
        let s_oid = *scheme
            .first()
            .ok_or("pkcs12: malformed encryption scheme")?;
        let iv = scheme.get(1).map_or(&[][..], |t| t.body);
        let key_len = if der::is_oid(s_oid, OID_AES256_CBC) {
            32
        } else if der::is_oid(s_oid, OID_AES192_CBC) {
            24
        } else if der::is_oid(s_oid, OID_AES128_CBC) {
            16
        } else {
            return Err(not_impl(&format!(
                "pbes2 algorithm {} is not supported",
                der::oid_string(s_oid.body)
            )));
        };
        let utf8 = unbmp(password);
        let key = pbkdf2_key(
            prf,
            utf8.as_bytes(),
            salt.body,
            u32::try_from(iter).unwrap_or(1),
            key_len,
        )?;
        if !data.len().is_multiple_of(16) {
            return Err("pkcs12: input is not a multiple of the block size".into());
        }
        let out = match key_len {
            32 => cbc_decrypt::<aes::Aes256>(&key, iv, data)?,
            24 => cbc_decrypt::<aes::Aes192>(&key, iv, data)?,
            _ => cbc_decrypt::<aes::Aes128>(&key, iv, data)?,
        };
        return unpad(out, 16);
    }
    let p = der::children(params.body)?;
    let salt = der::expect(*p.first().ok_or("pkcs12: missing salt")?, der::OCTET_STRING)?.body;
    let iter = der::small_int(*p.get(1).ok_or("pkcs12: missing iterations")?)?;
    if !data.len().is_multiple_of(8) {
        return Err("pkcs12: input is not a multiple of the block size".into());
    }
    let iv = sha1_kdf(salt, password, iter, 2, 8);
    let out = if der::is_oid(oid, OID_PBE_3DES) {
        cbc_decrypt::<des::TdesEde3>(&sha1_kdf(salt, password, iter, 1, 24), &iv, data)?
    } else if der::is_oid(oid, OID_PBE_RC2_128) || der::is_oid(oid, OID_PBE_RC2_40) {
        let len = if der::is_oid(oid, OID_PBE_RC2_40) {
            5
        } else {
            16
        };
        let key = sha1_kdf(salt, password, iter, 1, len);
        let c = rc2::Rc2::new_with_eff_key_len(&key, len * 8);
        let mut dec = cbc::Decryptor::<rc2::Rc2>::inner_iv_slice_init(c, &iv)
            .map_err(|e| format!("pkcs12: {e}"))?;
        let mut buf = data.to_vec();
        for block in buf.chunks_mut(8) {
            dec.decrypt_block_mut(block.into());
        }
        buf
    } else {
        return Err(not_impl(&format!(
            "pbe algorithm {} is not supported",
            der::oid_string(oid.body)
        )));
    };
    unpad(out, 8)
}

pub(super) fn mac_digest(
    alg: Tlv<'_>,
    salt: &[u8],
    iter: i64,
    message: &[u8],
    password: &[u8],
) -> R<Vec<u8>> {
    macro_rules! hm {
        ($h:ty, $v:expr, $u:expr) => {{
            let key = kdf::<$h>($v, salt, password, iter, 3, $u);
            let mut m = hmac::Hmac::<$h>::new_from_slice(&key).map_err(|e| e.to_string())?;
            m.update(message);
            Ok(m.finalize().into_bytes().to_vec())
        }};
    }
    if der::is_oid(alg, OID_SHA1) {
        hm!(sha1::Sha1, 64, 20)
    } else if der::is_oid(alg, OID_SHA256) {
        hm!(sha2::Sha256, 64, 32)
    } else if der::is_oid(alg, OID_SHA512) {
        hm!(sha2::Sha512, 128, 64)
    } else {
        Err(not_impl(&format!(
            "MAC digest algorithm not supported: {}",
            der::oid_string(alg.body)
        )))
    }
}
