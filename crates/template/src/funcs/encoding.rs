//! sprig encodings, hashes, paths and URLs.

use base64::Engine as _;
use sha2::Digest as _;

use super::{Func, Ty, b64_std, f, s};
use crate::value::Value;

fn st(x: String) -> Result<Value, String> {
    Ok(Value::String(x))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn lookup(name: &str) -> Option<Func> {
    use Ty::Str;
    Some(match name {
        "b64enc" => f(&[Ty::Bin], |_, a| st(b64_std(super::bin(&a[0])))),
        "b64dec" => f(&[Str], |_, a| Ok(b64dec(s(&a[0])))),
        "b32enc" => f(&[Str], |_, a| st(b32enc(s(&a[0]).as_bytes()))),
        "b32dec" => f(&[Str], |_, a| st(b32dec(s(&a[0])))),
        "hexdec" => f(&[Str], |_, a| Ok(hexdec(s(&a[0]).as_bytes()))),
        "sha1sum" => f(&[Str], |_, a| {
            st(hex(&sha1::Sha1::digest(s(&a[0]).as_bytes())))
        }),
        "sha256sum" => f(&[Str], |_, a| {
            st(hex(&sha2::Sha256::digest(s(&a[0]).as_bytes())))
        }),
        "sha512sum" => f(&[Str], |_, a| {
            st(hex(&sha2::Sha512::digest(s(&a[0]).as_bytes())))
        }),
        "adler32sum" => f(&[Str], |_, a| st(adler32(s(&a[0]).as_bytes()).to_string())),
        "base" | "osBase" => f(&[Str], |_, a| st(base(s(&a[0])))),
        "dir" | "osDir" => f(&[Str], |_, a| st(dir(s(&a[0])))),
        "clean" | "osClean" => f(&[Str], |_, a| st(clean(s(&a[0])))),
        "ext" | "osExt" => f(&[Str], |_, a| {
            let p = s(&a[0]);
            let tail = &p[p.rfind('/').map_or(0, |i| i + 1)..];
            st(tail
                .rfind('.')
                .map_or(String::new(), |i| tail[i..].to_string()))
        }),
        "isAbs" | "osIsAbs" => f(&[Str], |_, a| Ok(Value::Bool(s(&a[0]).starts_with('/')))),
        _ => return None,
    })
}

/// sprig's `b64dec`: the decoded string (binary results travel as `[]byte`, see
/// [`super::bin_value`]), or the decoding error's text.
fn b64dec(s: &str) -> Value {
    Value::String(match base64::engine::general_purpose::STANDARD.decode(s) {
        Ok(b) => return super::bin_value(b),
        Err(base64::DecodeError::InvalidByte(i, _)) => {
            format!("illegal base64 data at input byte {i}")
        }
        Err(base64::DecodeError::InvalidLastSymbol(i, _)) => {
            format!("illegal base64 data at input byte {i}")
        }
        Err(_) => format!("illegal base64 data at input byte {}", s.len() / 4 * 4),
    })
}

/// ESO's vendored sprig `hexdec`: `hex.DecodeString`, the decoded string (binary as
/// `[]byte`, see [`super::bin_value`]) or the decoding error's text.
fn hexdec(src: &[u8]) -> Value {
    let val = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let bad = |c: u8| {
        let r = char::from(c);
        let printable = r == ' ' || r.is_ascii_graphic() || (r > '\u{a0}' && r != '\u{ad}');
        Value::String(if printable {
            format!("encoding/hex: invalid byte: U+{:04X} '{r}'", u32::from(c))
        } else {
            format!("encoding/hex: invalid byte: U+{:04X}", u32::from(c))
        })
    };
    let mut out = Vec::with_capacity(src.len() / 2);
    for pair in src.chunks(2) {
        let Some(hi) = val(pair[0]) else {
            return bad(pair[0]);
        };
        let Some(&lo) = pair.get(1) else {
            return Value::String("encoding/hex: odd length hex string".into());
        };
        let Some(lo) = val(lo) else {
            return bad(lo);
        };
        out.push((hi << 4) | lo);
    }
    super::bin_value(out)
}

const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn b32enc(b: &[u8]) -> String {
    let mut out = String::new();
    for chunk in b.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = u64::from_be_bytes([0, 0, 0, buf[0], buf[1], buf[2], buf[3], buf[4]]);
        let chars = [2, 4, 5, 7, 8][chunk.len() - 1];
        for k in 0..8 {
            if k < chars {
                out.push(B32[((n >> (35 - 5 * k)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b32dec(s: &str) -> String {
    let clean: Vec<u8> = s.bytes().filter(|c| *c != b'\n' && *c != b'\r').collect();
    let mut out = vec![];
    if !clean.len().is_multiple_of(8) {
        return format!("illegal base32 data at input byte {}", clean.len() / 8 * 8);
    }
    for (ci, chunk) in clean.chunks(8).enumerate() {
        let mut n: u64 = 0;
        let mut valid = 0;
        for (k, c) in chunk.iter().enumerate() {
            let v = if *c == b'=' {
                0
            } else {
                match B32.iter().position(|x| x == c) {
                    Some(p) if valid == k => {
                        valid += 1;
                        p as u64
                    }
                    _ => return format!("illegal base32 data at input byte {}", ci * 8 + k),
                }
            };
            n = (n << 5) | v;
        }
        let bytes = n.to_be_bytes();
        let take = match valid {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            _ => return format!("illegal base32 data at input byte {}", ci * 8 + valid),
        };
        out.extend_from_slice(&bytes[3..3 + take]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn adler32(b: &[u8]) -> u32 {
    let (mut a, mut s) = (1u32, 0u32);
    for x in b {
        a = (a + u32::from(*x)) % 65521;
        s = (s + a) % 65521;
    }
    (s << 16) | a
}

/// `path.Clean`.
pub fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = vec![];
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

fn base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    t[t.rfind('/').map_or(0, |i| i + 1)..].to_string()
}

fn dir(p: &str) -> String {
    let d = &p[..p.rfind('/').map_or(0, |i| i + 1)];
    clean(d)
}
