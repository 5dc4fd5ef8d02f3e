//! sprig's password and symmetric-crypto functions: `bcrypt`, `htpasswd`, `derivePassword`,
//! `encryptAES`, `decryptAES`. Salts and IVs come from the seeded stream ([`Ctx::rng`]).

use aes::cipher::{BlockDecryptMut as _, BlockEncryptMut as _, KeyIvInit as _};
use base64::Engine as _;
use hmac::Mac as _;
use sha2::Digest as _;

use super::{Ctx, Func, Ty, b64_std, bin_value, f, i, s};
use crate::value::Value;

fn st(x: String) -> Result<Value, String> {
    Ok(Value::String(x))
}

const BCRYPT_ALPHABET: &[u8] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const BCRYPT_COST: u32 = 10;

fn bcrypt_b64(b: &[u8]) -> String {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::BCRYPT,
        base64::engine::general_purpose::NO_PAD,
    );
    debug_assert_eq!(
        base64::alphabet::BCRYPT.as_str().as_bytes(),
        BCRYPT_ALPHABET
    );
    engine.encode(b)
}

/// `golang.org/x/crypto/bcrypt.GenerateFromPassword(password, 10)` with a seeded salt.
fn bcrypt_hash(c: &mut Ctx<'_>, password: &[u8]) -> Result<String, String> {
    if password.len() > 72 {
        return Err("bcrypt: password length exceeds 72 bytes".into());
    }
    let salt = c.rng().bytes(16);
    Ok(bcrypt_with(BCRYPT_COST, &salt, password))
}

/// The `$2a$` hash of `password` under `salt` (16 bytes) and `cost`.
fn bcrypt_with(cost: u32, salt: &[u8], password: &[u8]) -> String {
    let mut key = password.to_vec();
    key.push(0);
    let mut state = <blowfish::Blowfish>::bc_init_state();
    state.salted_expand_key(salt, &key);
    for _ in 0..(1u32 << cost) {
        state.bc_expand_key(&key);
        state.bc_expand_key(salt);
    }
    let mut ctext = [
        0x4f72_7068u32,
        0x6561_6e42,
        0x6568_6f6c,
        0x6465_7253,
        0x6372_7944,
        0x6f75_6274,
    ];
    for k in (0..6).step_by(2) {
        for _ in 0..64 {
            let [l, r] = state.bc_encrypt([ctext[k], ctext[k + 1]]);
            ctext[k] = l;
            ctext[k + 1] = r;
        }
    }
    let out: Vec<u8> = ctext.iter().flat_map(|w| w.to_be_bytes()).collect();
    format!(
        "$2a${cost:02}${}{}",
        bcrypt_b64(salt),
        bcrypt_b64(&out[..23])
    )
}

fn bcrypt(c: &mut Ctx<'_>, input: &str) -> String {
    bcrypt_hash(c, input.as_bytes())
        .unwrap_or_else(|e| format!("failed to encrypt string with bcrypt: {e}"))
}

fn htpasswd(c: &mut Ctx<'_>, user: &str, password: &str, algo: &str) -> String {
    if user.contains(':') {
        return format!("invalid username: {user}");
    }
    if algo == "sha" {
        return format!(
            "{user}:{{SHA}}{}",
            b64_std(&sha1::Sha1::digest(password.as_bytes()))
        );
    }
    format!("{user}:{}", bcrypt(c, password))
}

fn templates(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return None,
    })
}

fn class_chars(c: u8) -> &'static [u8] {
    match c {
        b'V' => b"AEIOU",
        b'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
        b'v' => b"aeiou",
        b'c' => b"bcdfghjklmnpqrstvwxyz",
        b'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        b'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        b'n' => b"0123456789",
        b'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
        _ => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
    }
}

/// sprig's Master Password (`derivePassword counter type password user site`).
fn derive_password(counter: u32, kind: &str, password: &str, user: &str, site: &str) -> String {
    let Some(temps) = templates(kind) else {
        return format!("cannot find password template {kind}");
    };
    const SEED: &[u8] = b"com.lyndir.masterpassword";
    let mut salt = SEED.to_vec();
    salt.extend_from_slice(&(user.len() as u32).to_be_bytes());
    salt.extend_from_slice(user.as_bytes());
    let mut key = [0u8; 64];
    let params = match scrypt::Params::new(15, 8, 2, 64) {
        Ok(p) => p,
        Err(e) => return format!("failed to derive password: {e}"),
    };
    if let Err(e) = scrypt::scrypt(password.as_bytes(), &salt, &params, &mut key) {
        return format!("failed to derive password: {e}");
    }
    let mut msg = SEED.to_vec();
    msg.extend_from_slice(&(site.len() as u32).to_be_bytes());
    msg.extend_from_slice(site.as_bytes());
    msg.extend_from_slice(&counter.to_be_bytes());
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key) else {
        return "failed to derive password".into();
    };
    mac.update(&msg);
    let seed = mac.finalize().into_bytes();
    let temp = temps[usize::from(seed[0]) % temps.len()].as_bytes();
    temp.iter()
        .enumerate()
        .map(|(k, c)| {
            let chars = class_chars(*c);
            chars[usize::from(seed[k + 1]) % chars.len()] as char
        })
        .collect()
}

fn aes_key(password: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    let p = password.as_bytes();
    let n = p.len().min(32);
    key[..n].copy_from_slice(&p[..n]);
    key
}

fn encrypt_aes(c: &mut Ctx<'_>, password: &str, plain: &[u8]) -> Result<Value, String> {
    if plain.is_empty() {
        return st(String::new());
    }
    let iv = c.rng().bytes(16);
    let ct = cbc::Encryptor::<aes::Aes256>::new((&aes_key(password)).into(), iv.as_slice().into())
        .encrypt_padded_vec_mut::<aes::cipher::block_padding::Pkcs7>(plain);
    st(b64_std(&[iv, ct].concat()))
}

/// sprig's `decryptAES` (it strips the padding without checking it, as sprig does; the
/// inputs that make Go panic are errors here).
fn decrypt_aes(password: &str, crypt64: &str) -> Result<Value, String> {
    if crypt64.is_empty() {
        return st(String::new());
    }
    let crypt = base64::engine::general_purpose::STANDARD
        .decode(crypt64)
        .map_err(|e| format!("illegal base64 data: {e}"))?;
    if crypt.len() < 32 || crypt.len() % 16 != 0 {
        return Err("crypto/cipher: input not full blocks".into());
    }
    let (iv, body) = crypt.split_at(16);
    let mut buf = body.to_vec();
    cbc::Decryptor::<aes::Aes256>::new((&aes_key(password)).into(), iv.into())
        .decrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut buf)
        .map_err(|_| "crypto/cipher: input not full blocks".to_string())?;
    let pad = usize::from(*buf.last().unwrap_or(&0));
    if pad > buf.len() {
        return Err(format!(
            "runtime error: slice bounds out of range [:{}]",
            buf.len() as i64 - pad as i64
        ));
    }
    buf.truncate(buf.len() - pad);
    Ok(bin_value(buf))
}

pub fn lookup(name: &str) -> Option<Func> {
    use Ty::{Int, Str};
    Some(match name {
        "bcrypt" => f(&[Str], |c, a| st(bcrypt(c, s(&a[0])))),
        "htpasswd" => f(&[Str, Str, Str], |c, a| {
            st(htpasswd(c, s(&a[0]), s(&a[1]), s(&a[2])))
        }),
        "derivePassword" => f(&[Int, Str, Str, Str, Str], |_, a| {
            st(derive_password(
                i(&a[0]) as u32,
                s(&a[1]),
                s(&a[2]),
                s(&a[3]),
                s(&a[4]),
            ))
        }),
        "encryptAES" => f(&[Str, Str], |c, a| {
            encrypt_aes(c, s(&a[0]), s(&a[1]).as_bytes())
        }),
        "decryptAES" => f(&[Str, Str], |_, a| decrypt_aes(s(&a[0]), s(&a[1]))),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    #[test]
    fn bcrypt_matches_the_openbsd_vector() {
        // "U*U" under salt "CCCCCCCCCCCCCCCCCCCCC." at cost 5 (OpenBSD/John the Ripper vector).
        let expected = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
        let engine = base64::engine::GeneralPurpose::new(
            &base64::alphabet::BCRYPT,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone)
                .with_decode_allow_trailing_bits(true),
        );
        let salt = engine.decode("CCCCCCCCCCCCCCCCCCCCC.").unwrap_or_default();
        assert_eq!(salt.len(), 16);
        assert_eq!(super::bcrypt_with(5, &salt, b"U*U"), expected);
    }
}
