use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};

use super::*;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_slice(&[seed; 32]).unwrap()
}

fn public_pem(key: &SigningKey) -> String {
    key.verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap()
}

fn reference() -> Reference {
    crate::distribution::oci::parse("oci://127.0.0.1:5000/ampoule/fake:1").unwrap()
}

const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

#[test]
fn signature_tag_is_cosigns() {
    assert_eq!(
        signature_tag(DIGEST),
        "sha256-1111111111111111111111111111111111111111111111111111111111111111.sig"
    );
}

#[test]
fn keys_parse_from_pem_and_junk_is_named_by_position() {
    let keys =
        parse_public_keys(&[public_pem(&key(1)), format!("\n{}\n", public_pem(&key(2)))]).unwrap();
    assert_eq!(keys[1], *key(2).verifying_key());
    let err = parse_public_keys(&[
        public_pem(&key(1)),
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----".into(),
    ])
    .unwrap_err();
    assert!(
        matches!(err, CosignError::PublicKey { index: 1, .. }),
        "{err}"
    );
    let private = key(3).to_pkcs8_pem(LineEnding::LF).unwrap();
    assert_eq!(parse_private_key(&private).unwrap(), key(3));
    // A private key is not a public key, and the other way round.
    assert!(parse_public_keys(&[private.to_string()]).is_err());
    assert!(parse_private_key(&public_pem(&key(3))).is_err());
}

#[test]
fn payload_claims_exactly_its_digest() {
    let payload = payload(&reference(), DIGEST);
    let text = String::from_utf8(payload.clone()).unwrap();
    assert!(
        text.contains("\"docker-reference\":\"127.0.0.1:5000/ampoule/fake\""),
        "{text}"
    );
    assert!(claims(&payload, DIGEST));
    assert!(!claims(&payload, &DIGEST.replace('1', "2")));
    assert!(!claims(b"not json", DIGEST));
    let other_type = text.replace(PAYLOAD_TYPE, "something else");
    assert!(!claims(other_type.as_bytes(), DIGEST));
}

#[test]
fn signatures_decode_from_der_or_raw_and_verify_only_with_their_key() {
    let payload = payload(&reference(), DIGEST);
    let signature: Signature = key(1).sign(&payload);
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let der = decode_signature(&b64(signature.to_der().as_bytes())).unwrap();
    let raw = decode_signature(&b64(&signature.to_bytes())).unwrap();
    assert_eq!(der, raw);
    assert!(key(1).verifying_key().verify(&payload, &der).is_ok());
    assert!(key(2).verifying_key().verify(&payload, &der).is_err());
    let mut tampered = payload.clone();
    tampered[10] ^= 1;
    assert!(key(1).verifying_key().verify(&tampered, &der).is_err());
    assert!(decode_signature("not base64!").is_none());
    assert!(decode_signature(&b64(b"short")).is_none());
}
