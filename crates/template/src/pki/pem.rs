//! PEM exactly as Go's `encoding/pem` reads and writes it (ESO's functions are built on it:
//! junk between blocks is skipped, a malformed block is passed over, not an error).

use base64::Engine as _;

/// One PEM block: its type line and decoded bytes (headers are kept in order of appearance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub kind: String,
    pub headers: Vec<(String, String)>,
    pub bytes: Vec<u8>,
}

const PEM_END: &[u8] = b"\n-----END ";
const BEGIN: &[u8] = b"-----BEGIN ";
const EOL: &[u8] = b"-----";

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

fn trim_right_sp(b: &[u8]) -> &[u8] {
    let end = b
        .iter()
        .rposition(|c| *c != b' ' && *c != b'\t')
        .map_or(0, |i| i + 1);
    &b[..end]
}

/// `(line, rest, consumed)`: a line without its `\n`/`\r\n` and trailing blanks.
fn get_line(data: &[u8]) -> (&[u8], &[u8], usize) {
    let (i, j) = match data.iter().position(|c| *c == b'\n') {
        None => (data.len(), data.len()),
        Some(i) if i > 0 && data[i - 1] == b'\r' => (i - 1, i + 1),
        Some(i) => (i, i + 1),
    };
    (trim_right_sp(&data[..i]), &data[j..], j)
}

fn go_b64(data: &[u8]) -> Option<Vec<u8>> {
    let clean: Vec<u8> = data
        .iter()
        .copied()
        .filter(|c| !matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(clean).ok()
}

/// Go's `pem.Decode`: the first well-formed block and what follows it, or `None`.
pub fn decode(data: &[u8]) -> Option<(Block, &[u8])> {
    let mut rest = data;
    let mut trailer: isize = 0;
    loop {
        if trailer < 0 || trailer as usize > rest.len() {
            return None;
        }
        rest = &rest[trailer as usize..];
        let end = find(rest, PEM_END)? as isize;
        trailer = end + PEM_END.len() as isize;
        let Some(begin) = rfind(&rest[..end as usize], BEGIN) else {
            continue;
        };
        if begin > 0 && rest[begin - 1] != b'\n' {
            continue;
        }
        let skip = (begin + BEGIN.len()) as isize;
        rest = &rest[skip as usize..];
        let mut end = end - skip;
        trailer -= skip;
        let (type_line, r, consumed) = get_line(rest);
        rest = r;
        end -= consumed as isize;
        trailer -= consumed as isize;
        let Some(kind) = type_line.strip_suffix(EOL) else {
            continue;
        };
        let mut headers = vec![];
        loop {
            if rest.is_empty() {
                return None;
            }
            let (line, next, consumed) = get_line(rest);
            let Some(colon) = line.iter().position(|c| *c == b':') else {
                break;
            };
            let key = String::from_utf8_lossy(line[..colon].trim_ascii()).into_owned();
            let val = String::from_utf8_lossy(line[colon + 1..].trim_ascii()).into_owned();
            headers.push((key, val));
            rest = next;
            end -= consumed as isize;
            trailer -= consumed as isize;
        }
        if !headers.is_empty() && end < 0 {
            continue;
        }
        if trailer < 0 || trailer as usize > rest.len() {
            continue;
        }
        let end_trailer = &rest[trailer as usize..];
        let tlen = kind.len() + EOL.len();
        if end_trailer.len() < tlen {
            continue;
        }
        let (head, rest_of_line) = end_trailer.split_at(tlen);
        if !head.starts_with(kind) || !head.ends_with(EOL) {
            continue;
        }
        if !get_line(rest_of_line).0.is_empty() {
            continue;
        }
        let bytes = if end > 0 {
            match go_b64(&rest[..end as usize]) {
                Some(b) => b,
                None => continue,
            }
        } else {
            vec![]
        };
        let after = (end + PEM_END.len() as isize - 1).max(0) as usize;
        let (_, r, _) = get_line(&rest[after.min(rest.len())..]);
        let block = Block {
            kind: String::from_utf8_lossy(kind).into_owned(),
            headers,
            bytes,
        };
        return Some((block, r));
    }
}

/// Every block in `data`, in order (Go's `for { block, rest = pem.Decode(rest) }` loop),
/// and the bytes left after the last one.
pub fn decode_all(mut data: &[u8]) -> (Vec<Block>, &[u8]) {
    let mut out = vec![];
    while let Some((b, rest)) = decode(data) {
        out.push(b);
        data = rest;
    }
    (out, data)
}

/// Go's `pem.EncodeToMemory` (headers: `Proc-Type` first, then sorted).
pub fn encode(kind: &str, headers: &[(String, String)], bytes: &[u8]) -> String {
    let mut out = format!("-----BEGIN {kind}-----\n");
    if !headers.is_empty() {
        let mut hs: Vec<&(String, String)> = headers.iter().collect();
        hs.sort_by(|a, b| (a.0 != "Proc-Type", &a.0).cmp(&(b.0 != "Proc-Type", &b.0)));
        for (k, v) in hs {
            out.push_str(&format!("{k}: {v}\n"));
        }
        out.push('\n');
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {kind}-----\n"));
    out
}

/// A block with no headers.
pub fn encode_plain(kind: &str, bytes: &[u8]) -> String {
    encode(kind, &[], bytes)
}
