//! ESO's own functions over PEM, X.509 and PKCS#12 (`runtime/template/v2/pkcs12.go`,
//! `pem.go`, `pem_chain.go`), with their error texts.

use super::{Ctx, Func, Ty, b64_std, bin, f, s, str_list};
use crate::pki::keys::{self, PrivateKey};
use crate::pki::x509::{self, Cert};
use crate::pki::{pem, pkcs12};
use crate::value::Value;

const CERTIFICATE: &str = "CERTIFICATE";
/// What Go's `text/template` reports when a function dereferences a nil PEM block.
const NIL_DEREF: &str = "runtime error: invalid memory address or nil pointer dereference";

fn st(x: String) -> Result<Value, String> {
    Ok(Value::String(x))
}

fn certs_pem(certs: &[&Cert]) -> String {
    certs
        .iter()
        .map(|c| pem::encode_plain(CERTIFICATE, &c.raw))
        .collect()
}

fn key_pem(k: &PrivateKey) -> String {
    pem::encode_plain("PRIVATE KEY", &keys::marshal_pkcs8(k))
}

fn pkcs12_key(pass: &str, input: &[u8]) -> Result<Value, String> {
    let (key, _, _) = pkcs12::decode_chain(input, pass)
        .map_err(|e| format!("unable to decode pkcs12 with password: {e}"))?;
    st(key_pem(&key))
}

fn pkcs12_cert(pass: &str, input: &[u8]) -> Result<Value, String> {
    let (_, leaf, cas) = pkcs12::decode_chain(input, pass)
        .map_err(|e| format!("unable to decode pkcs12 certificate with password: {e}"))?;
    let mut all = vec![leaf];
    all.extend(cas);
    let refs: Vec<&Cert> = all.iter().collect();
    match order_chain(all.clone()) {
        Ok(ordered) => st(certs_pem(&ordered.iter().collect::<Vec<_>>())),
        Err(_) => st(certs_pem(&refs)),
    }
}

/// ESO's `fetchX509CertChains`: leaf first, following authority key ids to the root.
fn order_chain(certs: Vec<Cert>) -> Result<Vec<Cert>, String> {
    let n = certs.len();
    let mut parent: Vec<Option<usize>> = vec![None; n];
    let mut is_parent = vec![false; n];
    for i in 0..n {
        if let Some(j) =
            (0..n).find(|j| *j != i && certs[i].authority_key_id == certs[*j].subject_key_id)
        {
            is_parent[j] = true;
            parent[i] = Some(j);
        }
    }
    let mut leaf = None;
    for (i, p) in is_parent.iter().enumerate() {
        if !p {
            if leaf.is_some() {
                return Err("found multiple leaf or disjunct certificates".into());
            }
            leaf = Some(i);
        }
    }
    let mut cur = Some(leaf.ok_or("no leaf certificate found")?);
    let mut out = vec![];
    while let Some(i) = cur {
        if out.len() >= n {
            return Err("constructing chain resulted in cycle".into());
        }
        out.push(certs[i].clone());
        cur = parent[i];
    }
    Ok(out)
}

fn parse_chain(input: &str) -> Result<Vec<Cert>, String> {
    x509::parse_pem_chain(input.as_bytes())
}

/// ESO's `parseCaCerts`: every PEM block must be a certificate, up to the last byte.
fn parse_ca_certs(mut rest: &[u8]) -> Result<Vec<Cert>, String> {
    let mut out = vec![];
    while !rest.is_empty() {
        let (block, r) = pem::decode(rest).ok_or(NIL_DEREF)?;
        out.push(Cert::parse(&block.bytes)?);
        rest = r;
    }
    Ok(out)
}

fn first_cert(input: &str) -> Result<(Cert, &[u8]), String> {
    let (block, rest) = pem::decode(input.as_bytes()).ok_or(NIL_DEREF)?;
    Ok((Cert::parse(&block.bytes)?, rest))
}

fn to_pkcs12(
    c: &mut Ctx<'_>,
    cert: &Cert,
    key: &str,
    cas: &[Cert],
    pass: &str,
) -> Result<Value, String> {
    let (block, _) = pem::decode(key.as_bytes()).ok_or(NIL_DEREF)?;
    let key = keys::parse_any(&block.bytes)?;
    st(b64_std(&pkcs12::encode(c.rng(), &key, cert, cas, pass)?))
}

fn truststore(c: &mut Ctx<'_>, certs: &str, pass: &str) -> Result<Value, String> {
    let cas = parse_ca_certs(certs.as_bytes())?;
    st(b64_std(&pkcs12::encode_trust_store(c.rng(), &cas, pass)?))
}

fn trim_junk(input: &str) -> &str {
    input.find("-----BEGIN").map_or(input, |i| &input[i..])
}

fn filter_pem(kind: &str, input: &str) -> Result<Value, String> {
    let mut data = trim_junk(input).as_bytes();
    let mut out = String::new();
    let rest = loop {
        match pem::decode(data) {
            None => break data,
            Some((b, r)) => {
                data = r;
                if b.kind.to_lowercase() == kind.to_lowercase() {
                    out.push_str(&pem::encode(&b.kind, &b.headers, &b.bytes));
                }
            }
        }
    };
    if out.is_empty() && !rest.is_empty() {
        return Err("error filtering pem: found junk".into());
    }
    st(out)
}

fn is_root(c: &Cert) -> bool {
    c.authority_key_id.is_empty() || c.authority_key_id == c.subject_key_id
}

fn filter_cert_chain(kind: &str, input: &str) -> Result<Value, String> {
    let ordered = order_chain(parse_chain(input)?)?;
    let one = |c: &Cert| st(pem::encode_plain(CERTIFICATE, &c.raw));
    match kind {
        "leaf" => {
            let c = &ordered[0];
            if !c.authority_key_id.is_empty() && c.authority_key_id != c.subject_key_id {
                return one(c);
            }
        }
        "intermediate" => {
            let mids: Vec<&Cert> = ordered.iter().skip(1).take_while(|c| !is_root(c)).collect();
            return st(certs_pem(&mids));
        }
        "root" => {
            if let Some(c) = ordered.last().filter(|c| is_root(c)) {
                return one(c);
            }
        }
        _ => {}
    }
    st(String::new())
}

fn cert_sans(input: &str) -> Result<Value, String> {
    let (block, _) =
        pem::decode(trim_junk(input).as_bytes()).ok_or("failed to decode PEM block")?;
    let c = Cert::parse(&block.bytes).map_err(|e| format!("failed to parse certificate: {e}"))?;
    let mut sans = c.dns_names.clone();
    sans.extend(c.ips.iter().cloned());
    sans.extend(c.emails.iter().cloned());
    sans.extend(c.uris.iter().cloned());
    Ok(str_list(sans))
}

pub fn lookup(name: &str) -> Option<Func> {
    use Ty::{Bin, Str};
    Some(match name {
        "pkcs12key" => f(&[Bin], |_, a| pkcs12_key("", bin(&a[0]))),
        "pkcs12keyPass" => f(&[Str, Bin], |_, a| pkcs12_key(s(&a[0]), bin(&a[1]))),
        "pkcs12cert" => f(&[Bin], |_, a| pkcs12_cert("", bin(&a[0]))),
        "pkcs12certPass" => f(&[Str, Bin], |_, a| pkcs12_cert(s(&a[0]), bin(&a[1]))),
        "pemToPkcs12" => f(&[Str, Str], |c, a| {
            to_pkcs12(c, &first_cert(s(&a[0]))?.0, s(&a[1]), &[], "")
        }),
        "pemToPkcs12Pass" => f(&[Str, Str, Str], |c, a| {
            to_pkcs12(c, &first_cert(s(&a[0]))?.0, s(&a[1]), &[], s(&a[2]))
        }),
        "fullPemToPkcs12" => f(&[Str, Str], |c, a| {
            let (leaf, rest) = first_cert(s(&a[0]))?;
            to_pkcs12(c, &leaf, s(&a[1]), &parse_ca_certs(rest)?, "")
        }),
        "fullPemToPkcs12Pass" => f(&[Str, Str, Str], |c, a| {
            let (leaf, rest) = first_cert(s(&a[0]))?;
            to_pkcs12(c, &leaf, s(&a[1]), &parse_ca_certs(rest)?, s(&a[2]))
        }),
        "pemTruststoreToPKCS12" => f(&[Str], |c, a| truststore(c, s(&a[0]), "")),
        "pemTruststoreToPKCS12Pass" => f(&[Str, Str], |c, a| truststore(c, s(&a[0]), s(&a[1]))),
        "filterPEM" => f(&[Str, Str], |_, a| filter_pem(s(&a[0]), s(&a[1]))),
        "filterCertChain" => f(&[Str, Str], |_, a| filter_cert_chain(s(&a[0]), s(&a[1]))),
        "certSANs" => f(&[Str], |_, a| cert_sans(s(&a[0]))),
        _ => return None,
    })
}
