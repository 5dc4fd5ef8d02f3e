//! The escaping half of Go's `net/url` (its `shouldEscape` table, `unescape`, `escape`,
//! `EscapedPath`/`EscapedFragment`).

use crate::gofmt::quote;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Path,
    Host,
    Zone,
    UserPassword,
    Fragment,
}

pub(super) fn should_escape(c: u8, mode: Mode) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    if matches!(mode, Mode::Host | Mode::Zone) && b"!$&'()*+,;=:[]<>\"".contains(&c) {
        return false;
    }
    match c {
        b'-' | b'_' | b'.' | b'~' => false,
        b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?' | b'@' => match mode {
            Mode::Path => c == b'?',
            Mode::UserPassword => matches!(c, b'@' | b'/' | b'?' | b':'),
            Mode::Fragment => false,
            Mode::Host | Mode::Zone => true,
        },
        b'!' | b'(' | b')' | b'*' if mode == Mode::Fragment => false,
        _ => true,
    }
}

pub(super) fn unhex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c.wrapping_sub(b'A').wrapping_add(10),
    }
}

pub(super) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub(super) fn unescape(s: &[u8], mode: Mode) -> Result<Vec<u8>, String> {
    let escape_err = |at: &[u8]| format!("invalid URL escape {}", quote(&text(at)));
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                if i + 2 >= s.len()
                    || !s[i + 1].is_ascii_hexdigit()
                    || !s[i + 2].is_ascii_hexdigit()
                {
                    return Err(escape_err(&s[i..s.len().min(i + 3)]));
                }
                let seq = &s[i..i + 3];
                if mode == Mode::Host && unhex(s[i + 1]) < 8 && seq != b"%25" {
                    return Err(escape_err(seq));
                }
                if mode == Mode::Zone {
                    let v = (unhex(s[i + 1]) << 4) | unhex(s[i + 2]);
                    if seq != b"%25" && v != b' ' && should_escape(v, Mode::Host) {
                        return Err(escape_err(seq));
                    }
                }
                i += 3;
            }
            c => {
                if matches!(mode, Mode::Host | Mode::Zone) && c < 0x80 && should_escape(c, mode) {
                    return Err(format!(
                        "invalid character {} in host name",
                        quote(&text(&s[i..=i]))
                    ));
                }
                i += 1;
            }
        }
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            out.push((unhex(s[i + 1]) << 4) | unhex(s[i + 2]));
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Ok(out)
}

pub(super) fn escape(s: &[u8], mode: Mode) -> Vec<u8> {
    const UPPER: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(s.len());
    for &c in s {
        if should_escape(c, mode) {
            out.extend_from_slice(&[b'%', UPPER[usize::from(c >> 4)], UPPER[usize::from(c & 15)]]);
        } else {
            out.push(c);
        }
    }
    out
}

pub(super) fn valid_encoded(s: &[u8], mode: Mode) -> bool {
    s.iter()
        .all(|&c| b"!$&'()*+,;=:@[]%".contains(&c) || !should_escape(c, mode))
}

/// `EscapedPath`/`EscapedFragment`: the raw form when it is a valid escaping of the
/// decoded one, else a fresh escaping.
pub(super) fn escaped(raw: &[u8], decoded: &[u8], mode: Mode) -> Vec<u8> {
    if !raw.is_empty()
        && valid_encoded(raw, mode)
        && unescape(raw, mode).is_ok_and(|p| p == decoded)
    {
        return raw.to_vec();
    }
    if mode == Mode::Path && decoded == b"*" {
        return b"*".to_vec();
    }
    escape(decoded, mode)
}
