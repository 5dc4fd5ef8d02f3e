//! The parts of an X.509 certificate ESO's functions read: its DER, key identifiers,
//! subject and subject alternative names.

use super::der::{self, R};

const OID_SKI: &str = "2.5.29.14";
const OID_SAN: &str = "2.5.29.17";
const OID_AKI: &str = "2.5.29.35";

/// A parsed certificate (Go's `*x509.Certificate`, as far as used here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cert {
    pub raw: Vec<u8>,
    pub subject: Vec<u8>,
    pub subject_key_id: Vec<u8>,
    pub authority_key_id: Vec<u8>,
    pub dns_names: Vec<String>,
    pub emails: Vec<String>,
    pub ips: Vec<String>,
    pub uris: Vec<String>,
    /// The SubjectPublicKeyInfo DER.
    pub spki: Vec<u8>,
}

fn malformed(what: &str) -> String {
    format!("x509: malformed {what}")
}

impl Cert {
    /// `x509.ParseCertificate` (structure only; signatures are not checked, as in Go).
    pub fn parse(data: &[u8]) -> R<Cert> {
        let outer = der::read_only(data, der::SEQUENCE).map_err(|_| malformed("certificate"))?;
        let parts = der::children(outer.body).map_err(|_| malformed("certificate"))?;
        let [tbs, _alg, _sig] = parts.as_slice() else {
            return Err(malformed("certificate"));
        };
        let tbs = der::expect(*tbs, der::SEQUENCE).map_err(|_| malformed("tbs certificate"))?;
        let mut f = der::children(tbs.body).map_err(|_| malformed("tbs certificate"))?;
        if f.first().is_some_and(|t| t.tag == 0xa0) {
            f.remove(0);
        }
        if f.len() < 6 {
            return Err(malformed("tbs certificate"));
        }
        let mut cert = Cert {
            raw: data.to_vec(),
            subject: f[4].raw.to_vec(),
            subject_key_id: vec![],
            authority_key_id: vec![],
            dns_names: vec![],
            emails: vec![],
            ips: vec![],
            uris: vec![],
            spki: f[5].raw.to_vec(),
        };
        let Some(ext) = f.iter().find(|t| t.tag == 0xa3) else {
            return Ok(cert);
        };
        let list = der::read_only(ext.body, der::SEQUENCE).map_err(|_| malformed("extensions"))?;
        for e in der::children(list.body)? {
            let ef = der::children(e.body)?;
            let (Some(id), Some(val)) = (ef.first(), ef.last()) else {
                return Err(malformed("extension"));
            };
            let val = der::expect(*val, der::OCTET_STRING)
                .map_err(|_| malformed("extension value"))?
                .body;
            if der::is_oid(*id, OID_SKI) {
                cert.subject_key_id = der::read_only(val, der::OCTET_STRING)
                    .map_err(|_| "x509: invalid subject key identifier".to_string())?
                    .body
                    .to_vec();
            } else if der::is_oid(*id, OID_AKI) {
                let s = der::read_only(val, der::SEQUENCE)
                    .map_err(|_| "x509: invalid authority key identifier".to_string())?;
                if let Some(k) = der::children(s.body)?.iter().find(|t| t.tag == 0x80) {
                    cert.authority_key_id = k.body.to_vec();
                }
            } else if der::is_oid(*id, OID_SAN) {
                cert.read_sans(val)?;
            }
        }
        Ok(cert)
    }

    fn read_sans(&mut self, val: &[u8]) -> R<()> {
        let s = der::read_only(val, der::SEQUENCE).map_err(|_| malformed("SAN extension"))?;
        for n in der::children(s.body)? {
            let text = || String::from_utf8_lossy(n.body).into_owned();
            match n.tag {
                0x81 => self.emails.push(text()),
                0x82 => self.dns_names.push(text()),
                0x86 => self.uris.push(text()),
                0x87 => self.ips.push(ip_string(n.body).ok_or_else(|| {
                    format!("x509: cannot parse IP address of length {}", n.body.len())
                })?),
                _ => {}
            }
        }
        Ok(())
    }

    /// Go's `cert.Subject.String()` (RFC 2253 order and escaping).
    pub fn subject_string(&self) -> String {
        name_string(&self.subject)
    }
}

/// Go's `net.IP.String()`.
pub fn ip_string(b: &[u8]) -> Option<String> {
    match b.len() {
        4 => Some(std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()),
        16 => {
            let a: [u8; 16] = b.try_into().ok()?;
            if a[..10].iter().all(|x| *x == 0) && a[10] == 0xff && a[11] == 0xff {
                return Some(std::net::Ipv4Addr::new(a[12], a[13], a[14], a[15]).to_string());
            }
            Some(std::net::Ipv6Addr::from(a).to_string())
        }
        _ => None,
    }
}

fn attr_name(oid: &[u8]) -> Option<&'static str> {
    let dotted = der::oid_string(oid);
    Some(match dotted.as_str() {
        "2.5.4.6" => "C",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.3" => "CN",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.17" => "POSTALCODE",
        _ => return None,
    })
}

fn escape(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        let esc = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && matches!(c, ' ' | '#'))
            || (i == chars.len() - 1 && *c == ' ');
        if esc {
            out.push('\\');
        }
        out.push(*c);
    }
    out
}

/// Go's `pkix.Name.String()` over an RDNSequence DER.
pub fn name_string(name: &[u8]) -> String {
    let Ok(seq) = der::read_only(name, der::SEQUENCE) else {
        return String::new();
    };
    let Ok(rdns) = der::children(seq.body) else {
        return String::new();
    };
    let mut parts = vec![];
    for rdn in rdns.iter().rev() {
        let mut atvs = vec![];
        for atv in der::children(rdn.body).unwrap_or_default() {
            let f = der::children(atv.body).unwrap_or_default();
            let (Some(t), Some(v)) = (f.first(), f.get(1)) else {
                continue;
            };
            match attr_name(t.body) {
                Some(n) => atvs.push(format!("{n}={}", escape(&String::from_utf8_lossy(v.body)))),
                None => {
                    let hex: String = v.raw.iter().map(|b| format!("{b:02x}")).collect();
                    atvs.push(format!("{}=#{hex}", der::oid_string(t.body)));
                }
            }
        }
        parts.push(atvs.join("+"));
    }
    parts.join(",")
}

/// Splits PEM text into certificates (ESO's `parseCaCerts`/`pemToNodes`).
pub fn parse_pem_chain(data: &[u8]) -> R<Vec<Cert>> {
    super::pem::decode_all(data)
        .0
        .iter()
        .map(|b| Cert::parse(&b.bytes))
        .collect()
}
