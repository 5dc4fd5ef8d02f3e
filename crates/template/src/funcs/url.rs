//! sprig's `urlParse` and `urlJoin`, on a port of the parts of Go's `net/url` they use
//! (`url.Parse`, `URL.String`, `URL.Hostname`, `Userinfo.String`). The `url` crate follows
//! the WHATWG rules instead, which differ (opaque URLs, host checks, escaping), so it is
//! not used here.

use std::collections::BTreeMap;

use super::{Func, Ty, bin_value, f, s};
use crate::gofmt::quote;
use crate::value::Value;

mod escape;

use escape::{Mode, escape, escaped, text, unescape};

pub fn lookup(name: &str) -> Option<Func> {
    Some(match name {
        "urlParse" => f(&[Ty::Str], |_, a| url_parse(s(&a[0]))),
        "urlJoin" => f(&[Ty::MapAny], |_, a| url_join(&a[0])),
        _ => return None,
    })
}

fn url_parse(raw: &str) -> Result<Value, String> {
    let u = parse(raw.as_bytes()).map_err(|e| format!("unable to parse url: {e}"))?;
    let userinfo = u.user.as_ref().map(userinfo_string).unwrap_or_default();
    let hostname = hostname(&u.host).to_vec();
    let entries: BTreeMap<String, Value> = [
        ("scheme", u.scheme),
        ("host", u.host),
        ("hostname", hostname),
        ("path", u.path),
        ("query", u.raw_query),
        ("opaque", u.opaque),
        ("fragment", u.fragment),
        ("userinfo", userinfo),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), bin_value(v)))
    .collect();
    Ok(Value::map(entries))
}

fn url_join(d: &Value) -> Result<Value, String> {
    let Value::Map(m, _) = d else {
        return Ok(Value::String(String::new()));
    };
    let m = m.borrow();
    let get = |key: &str| -> Result<Vec<u8>, String> {
        match m.get(key) {
            None => Ok(vec![]),
            Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
            Some(Value::Bytes(b)) => Ok(b.clone()),
            Some(Value::Nil) => {
                Err("runtime error: invalid memory address or nil pointer dereference".into())
            }
            Some(other) => Err(format!(
                "unable to parse {key} key, must be of type string, but {} found",
                other.kind_name()
            )),
        }
    };
    let mut u = Url {
        scheme: get("scheme")?,
        host: get("host")?,
        path: get("path")?,
        raw_query: get("query")?,
        opaque: get("opaque")?,
        fragment: get("fragment")?,
        ..Url::default()
    };
    let userinfo = get("userinfo")?;
    if !userinfo.is_empty() {
        let mut probe = b"proto://".to_vec();
        probe.extend_from_slice(&userinfo);
        probe.extend_from_slice(b"@host");
        let parsed = parse(&probe).map_err(|e| format!("unable to parse userinfo in dict: {e}"))?;
        u.user = parsed.user;
    }
    Ok(bin_value(u.to_bytes()))
}

/// The fields of Go's `url.URL` that `Parse` sets and `String` reads.
#[derive(Default)]
struct Url {
    scheme: Vec<u8>,
    opaque: Vec<u8>,
    /// Username and, when set, password (both unescaped).
    user: Option<(Vec<u8>, Option<Vec<u8>>)>,
    host: Vec<u8>,
    path: Vec<u8>,
    raw_path: Vec<u8>,
    raw_query: Vec<u8>,
    fragment: Vec<u8>,
    raw_fragment: Vec<u8>,
    force_query: bool,
    omit_host: bool,
}

fn find(s: &[u8], c: u8) -> Option<usize> {
    s.iter().position(|&x| x == c)
}

fn rfind(s: &[u8], c: u8) -> Option<usize> {
    s.iter().rposition(|&x| x == c)
}

/// Go's `url.Parse`, with its error text (`parse "…": …`).
fn parse(raw: &[u8]) -> Result<Url, String> {
    let (u, frag) = match find(raw, b'#') {
        Some(i) => (&raw[..i], Some(&raw[i + 1..])),
        None => (raw, None),
    };
    let wrap = |src: &[u8], e: String| format!("parse {}: {e}", quote(&text(src)));
    let mut url = parse_no_frag(u).map_err(|e| wrap(u, e))?;
    if let Some(frag) = frag.filter(|f| !f.is_empty()) {
        url.fragment = unescape(frag, Mode::Fragment).map_err(|e| wrap(raw, e))?;
        url.raw_fragment = if escape(&url.fragment, Mode::Fragment) == frag {
            vec![]
        } else {
            frag.to_vec()
        };
    }
    Ok(url)
}

fn get_scheme(raw: &[u8]) -> Result<(&[u8], &[u8]), String> {
    for (i, &c) in raw.iter().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return Err("missing protocol scheme".into()),
            b':' => return Ok((&raw[..i], &raw[i + 1..])),
            _ => return Ok((b"", raw)),
        }
    }
    Ok((b"", raw))
}

fn parse_no_frag(raw: &[u8]) -> Result<Url, String> {
    if raw.iter().any(|&b| b < b' ' || b == 0x7f) {
        return Err("net/url: invalid control character in URL".into());
    }
    let mut url = Url::default();
    if raw == b"*" {
        url.path = b"*".to_vec();
        return Ok(url);
    }
    let (scheme, mut rest) = get_scheme(raw)?;
    url.scheme = scheme.to_ascii_lowercase();
    let questions = rest.iter().filter(|&&c| c == b'?').count();
    if rest.ends_with(b"?") && questions == 1 {
        url.force_query = true;
        rest = &rest[..rest.len() - 1];
    } else if let Some(i) = find(rest, b'?') {
        url.raw_query = rest[i + 1..].to_vec();
        rest = &rest[..i];
    }
    if !rest.starts_with(b"/") {
        if !url.scheme.is_empty() {
            url.opaque = rest.to_vec();
            return Ok(url);
        }
        let segment = &rest[..find(rest, b'/').unwrap_or(rest.len())];
        if segment.contains(&b':') {
            return Err("first path segment in URL cannot contain colon".into());
        }
    }
    if (!url.scheme.is_empty() || !rest.starts_with(b"///")) && rest.starts_with(b"//") {
        let mut authority = &rest[2..];
        rest = b"";
        if let Some(i) = find(authority, b'/') {
            (authority, rest) = (&authority[..i], &authority[i..]);
        }
        (url.user, url.host) = parse_authority(&url.scheme, authority)?;
    } else if !url.scheme.is_empty() && rest.starts_with(b"/") {
        url.omit_host = true;
    }
    url.path = unescape(rest, Mode::Path)?;
    url.raw_path = if escape(&url.path, Mode::Path) == rest {
        vec![]
    } else {
        rest.to_vec()
    };
    Ok(url)
}

type Authority = (Option<(Vec<u8>, Option<Vec<u8>>)>, Vec<u8>);

fn parse_authority(scheme: &[u8], authority: &[u8]) -> Result<Authority, String> {
    let at = rfind(authority, b'@');
    let host = parse_host(scheme, &authority[at.map_or(0, |i| i + 1)..])?;
    let Some(at) = at else {
        return Ok((None, host));
    };
    let userinfo = &authority[..at];
    let valid = String::from_utf8_lossy(userinfo)
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._:~!$&'()*+,;=%@".contains(c));
    if !valid {
        return Err("net/url: invalid userinfo".into());
    }
    let user = match find(userinfo, b':') {
        None => (unescape(userinfo, Mode::UserPassword)?, None),
        Some(i) => (
            unescape(&userinfo[..i], Mode::UserPassword)?,
            Some(unescape(&userinfo[i + 1..], Mode::UserPassword)?),
        ),
    };
    Ok((Some(user), host))
}

fn valid_optional_port(port: &[u8]) -> bool {
    match port.split_first() {
        None => true,
        Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    }
}

fn invalid_port(port: &[u8]) -> String {
    format!("invalid port {} after host", quote(&text(port)))
}

fn parse_host(scheme: &[u8], host: &[u8]) -> Result<Vec<u8>, String> {
    match rfind(host, b'[') {
        Some(i) if i > 0 => return Err("invalid IP-literal".into()),
        Some(_) => {
            let close = rfind(host, b']').ok_or("missing ']' in host")?;
            let colon_port = &host[close + 1..];
            if !valid_optional_port(colon_port) {
                return Err(invalid_port(colon_port));
            }
            let colon_port = unescape(colon_port, Mode::Host)?;
            let hostname = &host[1..close];
            let zone_at = hostname.windows(3).position(|w| w == b"%25");
            let unescaped = match zone_at {
                Some(z) => {
                    let mut h = unescape(&hostname[..z], Mode::Host)?;
                    h.extend(unescape(&hostname[z..], Mode::Zone)?);
                    h
                }
                None => unescape(hostname, Mode::Host)?,
            };
            check_ip_literal(&unescaped)?;
            let mut out = b"[".to_vec();
            out.extend(unescaped);
            out.push(b']');
            out.extend(colon_port);
            return Ok(out);
        }
        None => {}
    }
    if let Some(first) = find(host, b':') {
        let last = rfind(host, b':').unwrap_or(first);
        // Go 1.26 keeps colons strict for http(s) hosts, lenient (last colon) elsewhere.
        let i = if scheme == b"http" || scheme == b"https" {
            first
        } else {
            last
        };
        if !valid_optional_port(&host[i..]) {
            return Err(invalid_port(&host[i..]));
        }
    }
    unescape(host, Mode::Host)
}

/// `netip.ParseAddr` must accept the literal and it must not be IPv4. Go's own parse error
/// texts are not reproduced (the cases compare those with `"error": "any"`).
fn check_ip_literal(lit: &[u8]) -> Result<(), String> {
    let lit = text(lit);
    let (addr, zone) = match lit.split_once('%') {
        Some((a, z)) => (a, Some(z)),
        None => (lit.as_str(), None),
    };
    if zone.is_none() && addr.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err("invalid IP-literal".into());
    }
    if zone == Some("") || addr.parse::<std::net::Ipv6Addr>().is_err() {
        return Err(format!(
            "invalid host: ParseAddr({}): invalid IP address",
            quote(&lit)
        ));
    }
    Ok(())
}

/// `URL.Hostname`: the host without its port and IPv6 brackets.
fn hostname(host: &[u8]) -> &[u8] {
    let mut h = host;
    if let Some(colon) = rfind(h, b':')
        && valid_optional_port(&h[colon..])
    {
        h = &h[..colon];
    }
    if h.starts_with(b"[") && h.ends_with(b"]") && h.len() >= 2 {
        h = &h[1..h.len() - 1];
    }
    h
}

/// `Userinfo.String`.
fn userinfo_string((user, pass): &(Vec<u8>, Option<Vec<u8>>)) -> Vec<u8> {
    let mut out = escape(user, Mode::UserPassword);
    if let Some(p) = pass {
        out.push(b':');
        out.extend(escape(p, Mode::UserPassword));
    }
    out
}

impl Url {
    /// `URL.String`.
    fn to_bytes(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        if !self.scheme.is_empty() {
            buf.extend_from_slice(&self.scheme);
            buf.push(b':');
        }
        if !self.opaque.is_empty() {
            buf.extend_from_slice(&self.opaque);
        } else {
            let has_user = self.user.is_some();
            let authority = !self.scheme.is_empty() || !self.host.is_empty() || has_user;
            let omitted = self.omit_host && self.host.is_empty() && !has_user;
            if authority && !omitted {
                if !self.host.is_empty() || !self.path.is_empty() || has_user {
                    buf.extend_from_slice(b"//");
                }
                if let Some(user) = &self.user {
                    buf.extend(userinfo_string(user));
                    buf.push(b'@');
                }
                buf.extend(escape(&self.host, Mode::Host));
            }
            let path = escaped(&self.raw_path, &self.path, Mode::Path);
            if !path.is_empty() && path[0] != b'/' && !self.host.is_empty() {
                buf.push(b'/');
            }
            if buf.is_empty() {
                let segment = &path[..find(&path, b'/').unwrap_or(path.len())];
                if segment.contains(&b':') {
                    buf.extend_from_slice(b"./");
                }
            }
            buf.extend(path);
        }
        if self.force_query || !self.raw_query.is_empty() {
            buf.push(b'?');
            buf.extend_from_slice(&self.raw_query);
        }
        if !self.fragment.is_empty() {
            buf.push(b'#');
            buf.extend(escaped(&self.raw_fragment, &self.fragment, Mode::Fragment));
        }
        buf
    }
}
