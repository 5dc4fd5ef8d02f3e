use base64::Engine as _;

use super::*;

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// Reads SSH wire strings.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn u32(&mut self) -> u32 {
        let (h, t) = self.0.split_at(4);
        self.0 = t;
        u32::from_be_bytes(h.try_into().unwrap())
    }
    fn string(&mut self) -> &'a [u8] {
        let n = self.u32() as usize;
        let (h, t) = self.0.split_at(n);
        self.0 = t;
        h
    }
}

fn private_blob(pem: &str) -> Vec<u8> {
    let mut lines = pem.lines();
    assert_eq!(lines.next(), Some("-----BEGIN OPENSSH PRIVATE KEY-----"));
    let body: Vec<&str> = lines.take_while(|l| !l.starts_with("-----END")).collect();
    assert!(body.iter().all(|l| l.len() <= 64));
    assert!(pem.ends_with("-----END OPENSSH PRIVATE KEY-----\n"));
    b64(&body.concat())
}

/// (public blob of the line, the private section's fields after the check ints).
fn open(out: &Output) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    assert_eq!(out[0].0, "privateKey");
    assert_eq!(out[1].0, "publicKey");
    let pem = std::str::from_utf8(&out[0].1).unwrap();
    let blob = private_blob(pem);
    let rest = blob.strip_prefix(b"openssh-key-v1\0".as_slice()).unwrap();
    let mut r = Reader(rest);
    assert_eq!(r.string(), b"none");
    assert_eq!(r.string(), b"none");
    assert_eq!(r.string(), b"");
    assert_eq!(r.u32(), 1);
    let public_in_private = r.string().to_vec();
    let section = r.string().to_vec();
    assert!(r.0.is_empty());
    assert_eq!(section.len() % 8, 0);
    let line = std::str::from_utf8(&out[1].1).unwrap();
    assert!(line.ends_with('\n'));
    let public_line = b64(line.split(' ').nth(1).unwrap().trim_end());
    assert_eq!(public_line, public_in_private);
    (public_line, section, out[1].1.clone())
}

#[test]
fn ed25519_round_trips() {
    let out = Spec::parse(r#"{"keyType":"ed25519","comment":"me@host"}"#)
        .unwrap()
        .generate()
        .unwrap();
    let (public, section, line) = open(&out);
    assert!(line.starts_with(b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"));
    assert!(line.ends_with(b" me@host\n"));
    let mut r = Reader(&section);
    assert_eq!(r.u32(), r.u32());
    assert_eq!(r.string(), b"ssh-ed25519");
    let pk = r.string().to_vec();
    let both = r.string();
    assert_eq!(both.len(), 64);
    assert_eq!(&both[32..], pk.as_slice());
    // The public key is the seed's.
    let seed: [u8; 32] = both[..32].try_into().unwrap();
    let derived = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
    assert_eq!(derived.to_bytes().as_slice(), pk.as_slice());
    assert_eq!(r.string(), b"me@host");
    let mut pub_reader = Reader(&public);
    assert_eq!(pub_reader.string(), b"ssh-ed25519");
    assert_eq!(pub_reader.string(), pk.as_slice());
    // Padding 1, 2, 3, …
    for (i, b) in r.0.iter().enumerate() {
        assert_eq!(usize::from(*b), i + 1);
    }
}

#[test]
fn rsa_is_consistent() {
    let out = Spec::parse(r#"{"keySize":1024}"#)
        .unwrap()
        .generate()
        .unwrap();
    let (_, section, line) = open(&out);
    assert!(line.starts_with(b"ssh-rsa AAAAB3NzaC1yc2E"));
    // No comment: the line is "type base64\n".
    assert_eq!(line.iter().filter(|b| **b == b' ').count(), 1);
    let mut r = Reader(&section);
    r.u32();
    r.u32();
    assert_eq!(r.string(), b"ssh-rsa");
    let big = |b: &[u8]| rsa::BigUint::from_bytes_be(b);
    let n = big(r.string());
    let e = big(r.string());
    let d = big(r.string());
    let iqmp = big(r.string());
    let p = big(r.string());
    let q = big(r.string());
    assert_eq!(n.bits(), 1024);
    assert_eq!(&p * &q, n);
    assert_eq!(e, rsa::BigUint::from(65537u32));
    assert_eq!((&iqmp * &q) % &p, rsa::BigUint::from(1u32));
    // e·d ≡ 1 mod lcm(p-1, q-1), so m^(e·d) = m mod n.
    let m = rsa::BigUint::from(42u32);
    assert_eq!(m.modpow(&e, &n).modpow(&d, &n), m);
}

#[test]
fn ecdsa_p256_shape() {
    let out = Spec::parse(r#"{"keyType":"ecdsa"}"#)
        .unwrap()
        .generate()
        .unwrap();
    let (public, _, line) = open(&out);
    assert!(line.starts_with(b"ecdsa-sha2-nistp256 "));
    let mut r = Reader(&public);
    assert_eq!(r.string(), b"ecdsa-sha2-nistp256");
    assert_eq!(r.string(), b"nistp256");
    let point = r.string();
    assert_eq!((point.len(), point[0]), (65, 4));
}

#[test]
fn defaults_and_refusals() {
    assert_eq!(Spec::parse("{}").unwrap().check().unwrap(), Key::Rsa(2048));
    assert_eq!(
        Spec::parse(r#"{"keyType":"rsa","keySize":4096}"#)
            .unwrap()
            .check()
            .unwrap(),
        Key::Rsa(4096)
    );
    for spec in [
        r#"{"keyType":"dsa"}"#,
        r#"{"keySize":512}"#,
        r#"{"keyType":"ecdsa","keySize":384}"#,
        r#"{"keySize":"big"}"#,
    ] {
        assert!(Spec::parse(spec).and_then(|s| s.check()).is_err(), "{spec}");
    }
}

#[test]
fn mpint_encoding() {
    let enc = |b: &[u8]| {
        let mut w = Wire::default();
        w.mpint(b);
        w.0
    };
    assert_eq!(enc(&[]), [0, 0, 0, 0]);
    assert_eq!(enc(&[0, 0]), [0, 0, 0, 0]);
    assert_eq!(enc(&[0x7f]), [0, 0, 0, 1, 0x7f]);
    assert_eq!(enc(&[0, 0x80]), [0, 0, 0, 2, 0, 0x80]);
}
