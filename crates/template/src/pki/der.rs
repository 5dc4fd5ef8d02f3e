//! A minimal DER reader and writer: what PKCS#12, PKCS#8 and X.509 need here.

/// Universal tags used in this crate.
pub const INTEGER: u8 = 0x02;
pub const BIT_STRING: u8 = 0x03;
pub const OCTET_STRING: u8 = 0x04;
pub const NULL: u8 = 0x05;
pub const OID: u8 = 0x06;
pub const BMP_STRING: u8 = 0x1e;
pub const SEQUENCE: u8 = 0x30;
pub const SET: u8 = 0x31;

/// One TLV: its tag byte, its contents and its full encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub body: &'a [u8],
    pub raw: &'a [u8],
}

pub type R<T> = Result<T, String>;

fn malformed<T>() -> R<T> {
    Err("asn1: syntax error: data truncated".into())
}

/// Reads one TLV from the front of `data`; returns it and the rest.
pub fn read(data: &[u8]) -> R<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = data.split_first().map_or_else(malformed, Ok)?;
    if tag & 0x1f == 0x1f {
        return Err("asn1: structure error: multi-byte tags are not supported".into());
    }
    let (&l0, rest) = rest.split_first().map_or_else(malformed, Ok)?;
    let (len, rest) = if l0 < 0x80 {
        (usize::from(l0), rest)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err("asn1: structure error: length too large or indefinite".into());
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |a, b| (a << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return malformed();
    }
    let hdr = data.len() - rest.len();
    Ok((
        Tlv {
            tag,
            body: &rest[..len],
            raw: &data[..hdr + len],
        },
        &rest[len..],
    ))
}

/// Reads exactly one TLV of `tag` that fills `data`.
pub fn read_only(data: &[u8], tag: u8) -> R<Tlv<'_>> {
    let (t, rest) = read(data)?;
    if !rest.is_empty() {
        return Err("trailing data".into());
    }
    expect(t, tag)
}

pub fn expect(t: Tlv<'_>, tag: u8) -> R<Tlv<'_>> {
    if t.tag == tag {
        Ok(t)
    } else {
        Err(format!(
            "asn1: structure error: tags don't match (expected tag {tag:#04x}, got {:#04x})",
            t.tag
        ))
    }
}

/// The TLVs inside a constructed value.
pub fn children(body: &[u8]) -> R<Vec<Tlv<'_>>> {
    let mut out = vec![];
    let mut rest = body;
    while !rest.is_empty() {
        let (t, r) = read(rest)?;
        out.push(t);
        rest = r;
    }
    Ok(out)
}

/// A non-negative INTEGER's magnitude without leading zero bytes.
pub fn uint(t: Tlv<'_>) -> R<&[u8]> {
    let t = expect(t, INTEGER)?;
    let mut b = t.body;
    if b.first().is_some_and(|x| x & 0x80 != 0) {
        return Err("asn1: negative integer".into());
    }
    while b.len() > 1 && b[0] == 0 {
        b = &b[1..];
    }
    Ok(b)
}

pub fn small_int(t: Tlv<'_>) -> R<i64> {
    let t = expect(t, INTEGER)?;
    if t.body.is_empty() || t.body.len() > 8 {
        return Err("asn1: integer too large".into());
    }
    let neg = t.body[0] & 0x80 != 0;
    let mut v: i64 = if neg { -1 } else { 0 };
    for b in t.body {
        v = (v << 8) | i64::from(*b);
    }
    Ok(v)
}

// ---- writer ----

pub fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = body.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(body);
    out
}

pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(SEQUENCE, &parts.concat())
}

/// A SET OF, elements sorted by encoding as DER requires.
pub fn set_of(mut parts: Vec<Vec<u8>>) -> Vec<u8> {
    parts.sort();
    tlv(SET, &parts.concat())
}

pub fn octets(b: &[u8]) -> Vec<u8> {
    tlv(OCTET_STRING, b)
}

/// An unsigned big-endian magnitude as a DER INTEGER.
pub fn uint_bytes(mag: &[u8]) -> Vec<u8> {
    let start = mag
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(mag.len().saturating_sub(1));
    let mag = if mag.is_empty() {
        &[0u8][..]
    } else {
        &mag[start..]
    };
    let mut body = vec![];
    if mag[0] & 0x80 != 0 {
        body.push(0);
    }
    body.extend_from_slice(mag);
    tlv(INTEGER, &body)
}

pub fn int(v: i64) -> Vec<u8> {
    let b = v.to_be_bytes();
    let mut i = 0;
    while i < 7 && ((b[i] == 0 && b[i + 1] & 0x80 == 0) || (b[i] == 0xff && b[i + 1] & 0x80 != 0)) {
        i += 1;
    }
    tlv(INTEGER, &b[i..])
}

/// Context-specific tag number `n`, constructed (explicit) or primitive (implicit).
pub fn ctx(n: u8, constructed: bool, body: &[u8]) -> Vec<u8> {
    tlv(0x80 | if constructed { 0x20 } else { 0 } | n, body)
}

pub fn bit_string(b: &[u8]) -> Vec<u8> {
    let mut body = vec![0];
    body.extend_from_slice(b);
    tlv(BIT_STRING, &body)
}

/// Encodes a dotted OID string (a constant of this crate).
pub fn oid(dotted: &str) -> Vec<u8> {
    tlv(OID, &oid_body(dotted))
}

pub fn oid_body(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted.split('.').filter_map(|a| a.parse().ok()).collect();
    let mut body = vec![];
    let mut push = |mut v: u64| {
        let mut tmp = vec![(v & 0x7f) as u8];
        v >>= 7;
        while v > 0 {
            tmp.push(0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        tmp.reverse();
        body.extend_from_slice(&tmp);
    };
    if arcs.len() >= 2 {
        push(arcs[0] * 40 + arcs[1]);
    }
    for a in arcs.iter().skip(2) {
        push(*a);
    }
    body
}

/// Whether `t` is the OID `dotted`.
pub fn is_oid(t: Tlv<'_>, dotted: &str) -> bool {
    t.tag == OID && t.body == oid_body(dotted).as_slice()
}

/// Dotted form of an OID body, for error messages.
pub fn oid_string(body: &[u8]) -> String {
    let mut arcs = vec![];
    let mut v: u64 = 0;
    for (i, b) in body.iter().enumerate() {
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() && i < body.len() {
                let first = (v / 40).min(2);
                arcs.push(first);
                arcs.push(v - first * 40);
            } else {
                arcs.push(v);
            }
            v = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}
