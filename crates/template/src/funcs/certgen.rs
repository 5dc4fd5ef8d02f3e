//! sprig's key and certificate generators: `genPrivateKey`, `genCA`, `genSelfSignedCert`,
//! `genSignedCert` (each also `...WithKey`) and `buildCustomCert`. Keys, serial numbers and
//! signatures draw from the seeded stream ([`Ctx::rng`]); validity starts at `Env.now`.

use base64::Engine as _;

use super::{Ctx, Func, Ty, f, i, s};
use crate::object::Object;
use crate::pki::certbuild::{self, Template};
use crate::pki::keys::{self, Curve, PrivateKey};
use crate::pki::x509::Cert;
use crate::pki::{der, pem};
use crate::rng::Rng;
use crate::time::GoTime;
use crate::value::Value;

/// The seeded stream as the `rand_core` generator RustCrypto's key generation takes.
struct Entropy<'r>(&'r mut Rng);

impl rand_core::RngCore for Entropy<'_> {
    fn next_u32(&mut self) -> u32 {
        let b = self.0.bytes(4);
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }

    fn next_u64(&mut self) -> u64 {
        self.0.u64()
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        dest.copy_from_slice(&self.0.bytes(dest.len()));
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for Entropy<'_> {}

/// A key sprig's `parsePrivateKeyPEM` accepts. DSA keys parse but cannot sign
/// (Go's `*dsa.PrivateKey` is no `crypto.Signer`), so only their validity is kept.
enum Key {
    Std(PrivateKey),
    Dsa,
}

fn rsa_key(c: &mut Ctx<'_>, bits: usize) -> Result<PrivateKey, String> {
    rsa::RsaPrivateKey::new(&mut Entropy(c.rng()), bits)
        .map(|k| PrivateKey::Rsa(Box::new(k)))
        .map_err(|e| format!("crypto/rsa: {e}"))
}

/// `pemBlockForKey`: PKCS #1 for RSA, SEC 1 for ECDSA, PKCS #8 for the rest.
fn key_pem(k: &PrivateKey) -> String {
    match k {
        PrivateKey::Rsa(r) => pem::encode_plain("RSA PRIVATE KEY", &keys::marshal_pkcs1(r)),
        PrivateKey::Ec { curve, d, public } => pem::encode_plain(
            "EC PRIVATE KEY",
            &keys::marshal_sec1(*curve, d, public, true),
        ),
        other => pem::encode_plain("PRIVATE KEY", &keys::marshal_pkcs8(other)),
    }
}

/// sprig's `generatePrivateKey`: failures are returned as the text, as sprig does.
fn gen_private_key(c: &mut Ctx<'_>, typ: &str) -> String {
    let key = match typ {
        "" | "rsa" => rsa_key(c, 4096),
        "ecdsa" => {
            let sk = p256::SecretKey::random(&mut Entropy(c.rng()));
            use p256::elliptic_curve::sec1::ToEncodedPoint as _;
            Ok(PrivateKey::Ec {
                curve: Curve::P256,
                d: sk.to_bytes().to_vec(),
                public: sk.public_key().to_encoded_point(false).as_bytes().to_vec(),
            })
        }
        "ed25519" => {
            let mut seed = [0u8; 32];
            seed.copy_from_slice(&c.rng().bytes(32));
            Ok(PrivateKey::Ed25519 { seed })
        }
        "dsa" => return dsa_key(c),
        _ => return format!("Unknown type {typ}"),
    };
    match key {
        Ok(k) => key_pem(&k),
        Err(e) => format!("failed to generate private key: {e}"),
    }
}

/// `dsa.GenerateParameters(L2048N256)` + `dsa.GenerateKey`, as sprig's `DSAKeyFormat` PEM.
fn dsa_key(c: &mut Ctx<'_>) -> String {
    let mut rng = Entropy(c.rng());
    let params = dsa::Components::generate(&mut rng, dsa::KeySize::DSA_2048_256);
    let key = dsa::SigningKey::generate(&mut rng, params);
    let p = key.verifying_key().components();
    let int = |n: &dsa::BigUint| der::uint_bytes(&n.to_bytes_be());
    let body = der::seq(&[
        &der::int(0),
        &int(p.p()),
        &int(p.q()),
        &int(p.g()),
        &int(key.verifying_key().y()),
        &int(key.x()),
    ]);
    pem::encode_plain("DSA PRIVATE KEY", &body)
}

/// sprig's `DSAKeyFormat`: SEQUENCE { version, P, Q, G, Y, X }.
fn parse_dsa(b: &[u8]) -> Result<(), String> {
    let s = der::read_only(b, der::SEQUENCE)?;
    let f = der::children(s.body)?;
    if f.len() != 6 || f.iter().any(|t| t.tag != der::INTEGER) {
        return Err("asn1: structure error: sequence truncated".into());
    }
    Ok(())
}

/// sprig's `parsePrivateKeyPEM`.
fn parse_key_pem(text: &str) -> Result<Key, String> {
    let Some((block, _)) = pem::decode(text.as_bytes()) else {
        return Err("no PEM data in input".into());
    };
    let b = &block.bytes;
    if block.kind == "PRIVATE KEY" {
        return keys::parse_pkcs8(b)
            .map(Key::Std)
            .map_err(|e| format!("decoding PEM as PKCS#8: {e}"));
    }
    let Some(alg) = block.kind.strip_suffix(" PRIVATE KEY") else {
        return Err(format!(
            "no private key data in PEM block of type {}",
            block.kind
        ));
    };
    match alg {
        "RSA" => keys::parse_pkcs1(b)
            .map(Key::Std)
            .map_err(|e| format!("parsing RSA private key from PEM: {e}")),
        "EC" => keys::parse_sec1(b, None)
            .map(Key::Std)
            .map_err(|e| format!("parsing EC private key from PEM: {e}")),
        "DSA" => parse_dsa(b)
            .map(|()| Key::Dsa)
            .map_err(|e| format!("parsing DSA private key from PEM: {e}")),
        _ => Err(format!("invalid private key type {}", block.kind)),
    }
}

fn with_key(pem_text: &str) -> Result<Key, String> {
    parse_key_pem(pem_text).map_err(|e| format!("parsing private key: {e}"))
}

/// `getNetIPs`: Go's `net.ParseIP`, IPv4 (and IPv4-mapped IPv6) kept as 4 bytes.
fn ips(v: &Value) -> Result<Vec<Vec<u8>>, String> {
    let Value::List(l, _) = v else {
        return Ok(vec![]);
    };
    l.iter()
        .map(|ip| {
            let Value::String(text) = ip else {
                return Err(format!(
                    "error parsing ip: {} is not a string",
                    crate::gofmt::to_v(ip)
                ));
            };
            match text.parse::<std::net::IpAddr>() {
                Ok(std::net::IpAddr::V4(a)) => Ok(a.octets().to_vec()),
                Ok(std::net::IpAddr::V6(a)) => Ok(a
                    .to_ipv4_mapped()
                    .map_or_else(|| a.octets().to_vec(), |m| m.octets().to_vec())),
                Err(_) => Err(format!("error parsing ip: {text}")),
            }
        })
        .collect()
}

/// `getAlternateDNSStrs`.
fn dns_names(v: &Value) -> Result<Vec<String>, String> {
    let Value::List(l, _) = v else {
        return Ok(vec![]);
    };
    l.iter()
        .map(|d| match d {
            Value::String(s) => Ok(s.clone()),
            other => Err(format!(
                "error processing alternate dns name: {} is not a string",
                crate::gofmt::to_v(other)
            )),
        })
        .collect()
}

/// The subject's names, validity and role, shared by every generator.
struct Spec {
    cn: String,
    ips: Vec<Vec<u8>>,
    dns: Vec<String>,
    days: i64,
    is_ca: bool,
}

impl Spec {
    fn new(a: &[Value], with_names: bool, is_ca: bool) -> Result<Spec, String> {
        let (ips, dns, days) = if with_names {
            (ips(&a[1])?, dns_names(&a[2])?, i(&a[3]))
        } else {
            (vec![], vec![], i(&a[1]))
        };
        Ok(Spec {
            cn: s(&a[0]).to_string(),
            ips,
            dns,
            days,
            is_ca,
        })
    }
}

/// `getCertAndKey`: the signee's certificate and key as PEM (`parent` `None`: self-signed).
fn cert_and_key(
    c: &mut Ctx<'_>,
    spec: &Spec,
    key: &Key,
    parent: Option<(&Cert, &Key)>,
) -> Result<Value, String> {
    let serial = c.rng().bytes(16);
    let now = c.env.now;
    let start = GoTime::from_unix(now.unix);
    let end = GoTime::from_unix(now.unix.saturating_add(spec.days.saturating_mul(86_400)));
    let t = Template {
        serial: &serial,
        common_name: &spec.cn,
        ips: &spec.ips,
        dns_names: &spec.dns,
        not_before: start,
        not_after: end,
        is_ca: spec.is_ca,
    };
    let creating = |e: String| format!("error creating certificate: {e}");
    let not_signer =
        || creating("x509: certificate private key does not implement crypto.Signer".into());
    // Go checks the signing key first, then the key being certified.
    let (parent_cert, signer) = match (parent, key) {
        (Some((cert, Key::Std(k))), _) => (Some(cert), k),
        (None, Key::Std(k)) => (None, k),
        (Some((_, Key::Dsa)), _) | (None, Key::Dsa) => return Err(not_signer()),
    };
    let signee = match key {
        Key::Std(k) => Some(k),
        Key::Dsa => None,
    };
    let der = certbuild::create(&t, signee, parent_cert, signer).map_err(creating)?;
    let Some(signee) = signee else {
        return Err(not_signer());
    };
    Ok(Value::Object(Object::cert(
        pem::encode_plain("CERTIFICATE", &der),
        key_pem(signee),
    )))
}

/// `generateSignedCertificateWithKeyInternal`: the CA certificate, its key, then the names.
fn signed(c: &mut Ctx<'_>, a: &[Value], key: &Key) -> Result<Value, String> {
    let Some((ca_cert, ca_key)) = (match &a[4] {
        Value::Object(o) => o.as_cert(),
        _ => None,
    }) else {
        return Err("unable to decode certificate".into());
    };
    let block = pem::decode(ca_cert.as_bytes())
        .ok_or("unable to decode certificate")?
        .0;
    let parent = Cert::parse(&block.bytes)
        .map_err(|e| format!("error parsing certificate: decodedSignerCert.Bytes: {e}"))?;
    let signer = parse_key_pem(ca_key).map_err(|e| format!("error parsing private key: {e}"))?;
    let spec = Spec::new(a, true, false)?;
    cert_and_key(c, &spec, key, Some((&parent, &signer)))
}

fn generated(c: &mut Ctx<'_>) -> Result<Key, String> {
    rsa_key(c, 2048)
        .map(Key::Std)
        .map_err(|e| format!("error generating rsa key: {e}"))
}

/// Go's `base64.StdEncoding.DecodeString` (which skips `\r` and `\n`).
fn b64(text: &str) -> Option<Vec<u8>> {
    let clean: String = text.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
    base64::engine::general_purpose::STANDARD.decode(clean).ok()
}

/// sprig's `buildCustomCertificate`.
fn build_custom(b64_cert: &str, b64_key: &str) -> Result<Value, String> {
    let cert = b64(b64_cert).ok_or("unable to decode base64 certificate")?;
    let key = b64(b64_key).ok_or("unable to decode base64 private key")?;
    let block = pem::decode(&cert).ok_or("unable to decode certificate")?.0;
    Cert::parse(&block.bytes)
        .map_err(|e| format!("error parsing certificate: decodedCert.Bytes: {e}"))?;
    let key_text = String::from_utf8_lossy(&key).into_owned();
    parse_key_pem(&key_text).map_err(|e| format!("error parsing private key: {e}"))?;
    Ok(Value::Object(Object::cert(
        String::from_utf8_lossy(&cert).into_owned(),
        key_text,
    )))
}

pub fn lookup(name: &str) -> Option<Func> {
    use Ty::{Cert as C, Int, ListAny as L, Str};
    Some(match name {
        "genPrivateKey" => f(&[Str], |c, a| {
            Ok(Value::String(gen_private_key(c, s(&a[0]))))
        }),
        "buildCustomCert" => f(&[Str, Str], |_, a| build_custom(s(&a[0]), s(&a[1]))),
        "genCA" => f(&[Str, Int], |c, a| {
            let key = generated(c)?;
            cert_and_key(c, &Spec::new(&a, false, true)?, &key, None)
        }),
        "genCAWithKey" => f(&[Str, Int, Str], |c, a| {
            let key = with_key(s(&a[2]))?;
            cert_and_key(c, &Spec::new(&a, false, true)?, &key, None)
        }),
        "genSelfSignedCert" => f(&[Str, L, L, Int], |c, a| {
            let key = generated(c)?;
            cert_and_key(c, &Spec::new(&a, true, false)?, &key, None)
        }),
        "genSelfSignedCertWithKey" => f(&[Str, L, L, Int, Str], |c, a| {
            let key = with_key(s(&a[4]))?;
            cert_and_key(c, &Spec::new(&a, true, false)?, &key, None)
        }),
        "genSignedCert" => f(&[Str, L, L, Int, C], |c, a| {
            let key = generated(c)?;
            signed(c, &a, &key)
        }),
        "genSignedCertWithKey" => f(&[Str, L, L, Int, C, Str], |c, a| {
            let key = with_key(s(&a[5]))?;
            signed(c, &a, &key)
        }),
        _ => return None,
    })
}
