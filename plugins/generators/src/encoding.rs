//! The encodings of ESO's Password `encoding` field: raw, base64, base64url, base32, hex (Go's
//! standard encodings, with padding).

use base64::Engine as _;

/// `encoding` of a Password spec. Anything else is returned raw, as ESO does.
pub fn encode(bytes: &[u8], encoding: &str) -> Vec<u8> {
    match encoding {
        "base64" => base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .into_bytes(),
        "base64url" => base64::engine::general_purpose::URL_SAFE
            .encode(bytes)
            .into_bytes(),
        "base32" => base32(bytes).into_bytes(),
        "hex" => hex(bytes).into_bytes(),
        _ => bytes.to_vec(),
    }
}

/// Whether ESO knows `encoding`.
pub fn known(encoding: &str) -> bool {
    matches!(encoding, "raw" | "base64" | "base64url" | "base32" | "hex")
}

/// RFC 4648 base32 with padding (Go's `base32.StdEncoding`).
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    for chunk in bytes.chunks(5) {
        let mut block = [0u8; 5];
        block[..chunk.len()].copy_from_slice(chunk);
        let bits = block.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        // Output characters that carry input bits; the rest of the 8 are padding.
        let used = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < used {
                let index = ((bits >> (35 - i * 5)) & 0x1f) as usize;
                out.push(char::from(ALPHABET[index]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "MY======"),
            ("fo", "MZXQ===="),
            ("foo", "MZXW6==="),
            ("foob", "MZXW6YQ="),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI======"),
        ] {
            assert_eq!(base32(input.as_bytes()), want, "{input}");
        }
        assert_eq!(hex(b"\x00\xffa"), "00ff61");
    }

    #[test]
    fn encodings_as_go() {
        assert_eq!(encode(b"a?>", "base64"), b"YT8+");
        assert_eq!(encode(b"a?>", "base64url"), b"YT8-");
        assert_eq!(encode(b"ab", "base64"), b"YWI=");
        assert_eq!(encode(b"ab", "raw"), b"ab");
        assert_eq!(encode(b"ab", "other"), b"ab");
        assert_eq!(encode(b"ab", "hex"), b"6162");
    }
}
