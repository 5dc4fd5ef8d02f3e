//! JWT signing checked with the public half of a throwaway test key.

use rsa::RsaPublicKey;
use rsa::pkcs8::DecodePublicKey;

use super::*;

const KEY: &[u8] = include_bytes!("test-key.json");
const PUB: &str = include_str!("test-key.pub.pem");

#[test]
fn jwt_is_rs256_signed_with_the_key() {
    let (jwt, email) =
        signed_jwt(KEY, "https://oauth2.googleapis.com/token", 1_700_000_000).unwrap();
    assert_eq!(email, "eso@p.iam.gserviceaccount.com");
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let dec = |s: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .unwrap()
    };
    let header: Value = serde_json::from_slice(&dec(parts[0])).unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], "kid1");
    let claims: Value = serde_json::from_slice(&dec(parts[1])).unwrap();
    assert_eq!(claims["aud"], "https://oauth2.googleapis.com/token");
    assert_eq!(claims["exp"], 1_700_003_600);
    let public = RsaPublicKey::from_public_key_pem(PUB).unwrap();
    let input = format!("{}.{}", parts[0], parts[1]);
    public
        .verify(
            Pkcs1v15Sign::new::<sha2::Sha256>(),
            &sha256(input.as_bytes()),
            &dec(parts[2]),
        )
        .unwrap();
}

#[test]
fn bad_keys_are_invalid_config_without_material() {
    let err = signed_jwt(br#"{"client_email":"a","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}"#, "x", 0)
        .unwrap_err();
    assert!(matches!(err, ProviderError::InvalidConfig(ref m) if !m.contains("AAAA")));
}

#[test]
fn rfc3339() {
    assert_eq!(parse_rfc3339("2015-08-30T12:36:00Z"), Some(1_440_938_160));
    assert_eq!(parse_rfc3339("2015-08-30T12:36:00.5Z"), Some(1_440_938_160));
}
