//! sprig's certificate generators, checked by Go's own `crypto/x509`: the certificates this
//! engine generates (random keys and serials, so the conformance cases cannot compare them)
//! are parsed by the Go oracle (`-inspect`), which reports subject, SANs, validity, CA flag,
//! key usages, key identifiers and whether the signature verifies under the issuer's key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ampoule_template::{Delims, Env, GoTime, Value, render};
use serde_json::{Value as J, json};

const NOW: &str = "2024-05-06T07:08:09Z";

fn fixture(path: &str) -> String {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::read_to_string(dir.join(path)).unwrap()
}

fn env(seed: u8) -> Env {
    Env {
        now: GoTime::parse_rfc3339(NOW).unwrap(),
        seed: [seed; 32],
    }
}

fn data() -> Value {
    Value::string_map([
        ("rsa", fixture("pki/root.key")),
        ("rsa1", fixture("pki/leaf.pkcs1.key")),
        ("ec", fixture("pki/ecleaf.sec1.key")),
        ("ed", fixture("certgen/ed25519.key")),
    ])
}

/// Renders `template` (which must print `toJson` of a list of certificates) with seed `seed`.
fn certs(template: &str, seed: u8) -> Vec<(String, String)> {
    let out = render("t", template, &data(), &env(seed), &Delims::default()).unwrap();
    let list: Vec<J> = serde_json::from_str(&out).unwrap();
    list.iter()
        .map(|c| {
            (
                c["Cert"].as_str().unwrap().to_string(),
                c["Key"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn inspect(cert: &str, parent: &str) -> J {
    let out = common::inspect_certs(&json!([{ "cert": cert, "parent": parent }]));
    let r = out.into_iter().next().unwrap();
    assert!(
        r.get("error").is_none(),
        "Go cannot parse the certificate: {r}"
    );
    r
}

const KU_DIGITAL_SIGNATURE: i64 = 1;
const KU_KEY_ENCIPHERMENT: i64 = 4;
const KU_CERT_SIGN: i64 = 32;
const EKU_SERVER_AUTH: i64 = 1;
const EKU_CLIENT_AUTH: i64 = 2;

fn assert_common(r: &J, days: i64) {
    assert_eq!(r["not_before"], NOW, "{r}");
    let start = GoTime::parse_rfc3339(NOW).unwrap().unix;
    let end = GoTime::from_unix(start + days * 86_400).format("2006-01-02T15:04:05Z");
    assert_eq!(r["not_after"], end.as_str(), "{r}");
    assert_eq!(r["basic_constraints_valid"], true, "{r}");
    assert_eq!(
        r["ext_key_usage"],
        json!([EKU_SERVER_AUTH, EKU_CLIENT_AUTH]),
        "{r}"
    );
    assert_eq!(r["signature_verified"], true, "{r}");
    let bits = r["serial_bits"].as_i64().unwrap();
    assert!((100..=128).contains(&bits), "a 128-bit random serial: {r}");
}

fn assert_ca(r: &J, cn: &str, days: i64) {
    assert_common(r, days);
    assert_eq!(r["subject"], format!("CN={cn}"), "{r}");
    assert_eq!(r["issuer"], r["subject"], "{r}");
    assert_eq!(r["is_ca"], true, "{r}");
    assert_eq!(
        r["key_usage"],
        KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT | KU_CERT_SIGN,
        "{r}"
    );
    assert_eq!(r["subject_key_id"].as_str().unwrap().len(), 40, "{r}");
    assert_eq!(r["authority_key_id"], "", "{r}");
}

fn assert_leaf(r: &J, cn: &str, days: i64, dns: J, ips: J) {
    assert_common(r, days);
    let subject = if cn.is_empty() {
        String::new()
    } else {
        format!("CN={cn}")
    };
    assert_eq!(r["subject"], subject, "{r}");
    assert_eq!(r["is_ca"], false, "{r}");
    assert_eq!(
        r["key_usage"],
        KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT,
        "{r}"
    );
    assert_eq!(r["subject_key_id"], "", "{r}");
    assert_eq!(r["dns_names"], dns, "{r}");
    assert_eq!(r["ips"], ips, "{r}");
}

#[test]
fn generated_cas_and_signed_leaves_parse_and_verify_in_go() {
    for (key, sig, pk) in [
        (".rsa", "SHA256-RSA", "RSA"),
        (".ec", "ECDSA-SHA256", "ECDSA"),
        (".ed", "Ed25519", "Ed25519"),
    ] {
        let t = format!(
            r#"{{{{ $ca := genCAWithKey "Ampoule CA" 30 {key} }}}}{{{{ $c := genSignedCertWithKey "svc.example.com" (list "10.0.0.1" "2001:db8::5") (list "svc.example.com" "*.svc.example.com") 10 $ca {key} }}}}{{{{ toJson (list $ca $c) }}}}"#
        );
        let got = certs(&t, 1);
        let [(ca, _), (leaf, _)] = got.as_slice() else {
            panic!("two certificates");
        };
        let r = inspect(ca, "");
        assert_ca(&r, "Ampoule CA", 30);
        assert_eq!(r["signature_algorithm"], sig, "{r}");
        assert_eq!(r["public_key_algorithm"], pk, "{r}");
        let l = inspect(leaf, ca);
        assert_leaf(
            &l,
            "svc.example.com",
            10,
            json!(["svc.example.com", "*.svc.example.com"]),
            json!(["10.0.0.1", "2001:db8::5"]),
        );
        assert_eq!(l["issuer"], "CN=Ampoule CA", "{l}");
        assert_eq!(l["authority_key_id"], r["subject_key_id"], "{l}");
        assert_eq!(l["signature_algorithm"], sig, "{l}");
    }
}

#[test]
fn a_leaf_does_not_verify_under_another_ca() {
    let t = r#"{{ $a := genCAWithKey "A" 1 .ec }}{{ $b := genCAWithKey "B" 1 .rsa }}{{ $c := genSignedCertWithKey "x" nil nil 1 $a .ed }}{{ toJson (list $b $c) }}"#;
    let got = certs(t, 2);
    let r = inspect(&got[1].0, &got[0].0);
    assert_eq!(r["signature_verified"], false, "{r}");
}

#[test]
fn generated_keys_self_signed_certs_and_generated_cas() {
    let t = r#"{{ $s := genSelfSignedCert "host" (list "127.0.0.1" "::ffff:10.1.2.3") (list "localhost") 7 }}{{ $ca := genCA "Gen CA" 10000 }}{{ $l := genSignedCert "" nil (list "only.example") 2 $ca }}{{ $k := genSelfSignedCertWithKey "k" nil nil 1 .rsa1 }}{{ toJson (list $s $ca $l $k) }}"#;
    let got = certs(t, 3);
    let s = inspect(&got[0].0, "");
    assert_leaf(
        &s,
        "host",
        7,
        json!(["localhost"]),
        json!(["127.0.0.1", "10.1.2.3"]),
    );
    assert_eq!(s["issuer"], "CN=host");
    assert!(got[0].1.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
    // 10000 days: past 2049, so NotAfter is a GeneralizedTime.
    let ca = inspect(&got[1].0, "");
    assert_ca(&ca, "Gen CA", 10000);
    // An empty subject: the SAN extension is then critical, and Go still parses it.
    let l = inspect(&got[2].0, &got[1].0);
    assert_leaf(&l, "", 2, json!(["only.example"]), json!([]));
    // The key given is returned in PKCS #1 form.
    assert_eq!(got[3].1, fixture("pki/leaf.pkcs1.key"));
}

#[test]
fn keys_and_serials_come_from_the_host_seed() {
    let t = r#"{{ toJson (list (genCAWithKey "x" 1 .ec) (genSelfSignedCertWithKey "y" nil nil 1 (genPrivateKey "ed25519"))) }}"#;
    let a = certs(t, 4);
    assert_eq!(a, certs(t, 4), "same seed, same output");
    let b = certs(t, 5);
    assert_ne!(a[0].0, b[0].0, "another seed, another serial");
    assert_ne!(a[1].1, b[1].1, "another seed, another key");
}

/// Reads the INTEGERs of a DER SEQUENCE (short and long lengths; enough for a DSA key).
fn der_integers(der: &[u8]) -> Vec<rsa::BigUint> {
    fn len(b: &[u8], i: &mut usize) -> usize {
        let first = b[*i];
        *i += 1;
        if first < 0x80 {
            return usize::from(first);
        }
        let n = usize::from(first & 0x7f);
        let v = b[*i..*i + n]
            .iter()
            .fold(0usize, |a, x| a << 8 | usize::from(*x));
        *i += n;
        v
    }
    assert_eq!(der[0], 0x30);
    let mut i = 1;
    let end = len(der, &mut i) + i;
    assert_eq!(end, der.len());
    let mut out = vec![];
    while i < end {
        assert_eq!(der[i], 0x02, "an INTEGER");
        i += 1;
        let n = len(der, &mut i);
        out.push(rsa::BigUint::from_bytes_be(&der[i..i + n]));
        i += n;
    }
    out
}

#[test]
fn generated_dsa_keys_are_l2048_n256_and_consistent() {
    use base64::Engine as _;
    let pem = render(
        "t",
        r#"{{ genPrivateKey "dsa" }}"#,
        &Value::Nil,
        &env(6),
        &Delims::default(),
    )
    .unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(pem.starts_with("-----BEGIN DSA PRIVATE KEY-----\n"));
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    let [version, p, q, g, y, x] = der_integers(&der).try_into().unwrap();
    let one = rsa::BigUint::from(1u8);
    assert_eq!(version, rsa::BigUint::from(0u8));
    assert_eq!((p.bits(), q.bits()), (2048, 256));
    assert_eq!((&p - &one) % &q, rsa::BigUint::from(0u8), "q divides p-1");
    assert_eq!(g.modpow(&q, &p), one, "g has order q");
    assert!(x > rsa::BigUint::from(0u8) && x < q);
    assert_eq!(g.modpow(&x, &p), y, "y = g^x mod p");
}
