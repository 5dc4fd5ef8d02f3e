//! The AWS SigV4 test suite (aws-sig-v4-test-suite, 2015-08-30 edition): credentials
//! AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, us-east-1, service `service`,
//! 20150830T123600Z, host example.amazonaws.com. Each vector: name, method, raw path, raw query
//! pairs, extra headers (besides host and x-amz-date), body, expected signed headers and signature.

use super::*;

type Vector = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static [(&'static str, &'static str)],
    &'static str,
    &'static str,
    &'static str,
);

const TOKEN: &str = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
const UNRESERVED: &str = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const HDATE: &str = "host;x-amz-date";

const VECTORS: &[Vector] = &[
    (
        "get-vanilla",
        "GET",
        "/",
        &[],
        &[],
        "",
        HDATE,
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    ),
    (
        "post-vanilla",
        "POST",
        "/",
        &[],
        &[],
        "",
        HDATE,
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    ),
    (
        "get-vanilla-query-order-key-case",
        "GET",
        "/",
        &[("Param2", "value2"), ("Param1", "value1")],
        &[],
        "",
        HDATE,
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    ),
    (
        "get-vanilla-empty-query-key",
        "GET",
        "/",
        &[("Param1", "value1")],
        &[],
        "",
        HDATE,
        "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
    ),
    (
        "get-vanilla-query-unreserved",
        "GET",
        "/",
        &[(UNRESERVED, UNRESERVED)],
        &[],
        "",
        HDATE,
        "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
    ),
    (
        "get-vanilla-utf8-query",
        "GET",
        "/",
        &[("ሴ", "bar")],
        &[],
        "",
        HDATE,
        "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
    ),
    (
        "get-unreserved",
        "GET",
        "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        &[],
        &[],
        "",
        HDATE,
        "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
    ),
    (
        "get-utf8",
        "GET",
        "/ሴ",
        &[],
        &[],
        "",
        HDATE,
        "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
    ),
    (
        "get-header-key-duplicate",
        "GET",
        "/",
        &[],
        &[
            ("My-Header1", "value2"),
            ("My-Header1", "value2"),
            ("My-Header1", "value1"),
        ],
        "",
        "host;my-header1;x-amz-date",
        "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
    ),
    (
        "get-header-value-order",
        "GET",
        "/",
        &[],
        &[
            ("My-Header1", "value4"),
            ("My-Header1", "value1"),
            ("My-Header1", "value3"),
            ("My-Header1", "value2"),
        ],
        "",
        "host;my-header1;x-amz-date",
        "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
    ),
    (
        "get-header-value-trim",
        "GET",
        "/",
        &[],
        &[("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")],
        "",
        "host;my-header1;my-header2;x-amz-date",
        "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    ),
    (
        "post-header-key-sort",
        "POST",
        "/",
        &[],
        &[("My-Header1", "value1")],
        "",
        "host;my-header1;x-amz-date",
        "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
    ),
    (
        "post-header-value-case",
        "POST",
        "/",
        &[],
        &[("My-Header1", "VALUE1")],
        "",
        "host;my-header1;x-amz-date",
        "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
    ),
    (
        "post-vanilla-query",
        "POST",
        "/",
        &[("Param1", "value1")],
        &[],
        "",
        HDATE,
        "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
    ),
    (
        "post-sts-header-before",
        "POST",
        "/",
        &[],
        &[("X-Amz-Security-Token", TOKEN)],
        "",
        "host;x-amz-date;x-amz-security-token",
        "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
    ),
    (
        "post-x-www-form-urlencoded",
        "POST",
        "/",
        &[],
        &[("Content-Type", "application/x-www-form-urlencoded")],
        "Param1=value1",
        "content-type;host;x-amz-date",
        "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
    ),
    (
        "post-x-www-form-urlencoded-parameters",
        "POST",
        "/",
        &[],
        &[(
            "Content-Type",
            "application/x-www-form-urlencoded; charset=utf8",
        )],
        "Param1=value1",
        "content-type;host;x-amz-date",
        "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe",
    ),
];

fn creds() -> Credentials {
    Credentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        session_token: None,
    }
}

#[test]
fn aws_sigv4_test_suite() {
    for (name, method, path, query, extra, body, signed, signature) in VECTORS {
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        let mut headers = vec![
            ("Host".to_owned(), "example.amazonaws.com".to_owned()),
            ("X-Amz-Date".to_owned(), "20150830T123600Z".to_owned()),
        ];
        headers.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let req = Canonical {
            method,
            path,
            query: &query,
            headers: &headers,
            payload: body.as_bytes(),
        };
        let got = authorization(&req, &creds(), "us-east-1", "service", "20150830T123600Z");
        let want = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders={signed}, Signature={signature}"
        );
        assert_eq!(got, want, "vector {name}");
    }
}

#[test]
fn get_vanilla_canonical_request() {
    let headers = vec![
        ("host".to_owned(), "example.amazonaws.com".to_owned()),
        ("x-amz-date".to_owned(), "20150830T123600Z".to_owned()),
    ];
    let req = Canonical {
        method: "GET",
        path: "/",
        query: &[],
        headers: &headers,
        payload: b"",
    };
    let (creq, _) = canonical_request(&req);
    assert_eq!(
        creq,
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn sign_request_matches_post_vanilla_and_sts() {
    let mut req = Request::new("POST", "https://example.amazonaws.com/");
    sign(
        &mut req,
        &creds(),
        "us-east-1",
        "service",
        "20150830T123600Z",
    );
    let auth = &req.headers.last().unwrap().1;
    assert!(auth.ends_with("5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"));
    let mut with_token = creds();
    with_token.session_token = Some(TOKEN.into());
    let mut req = Request::new("POST", "https://example.amazonaws.com/");
    sign(
        &mut req,
        &with_token,
        "us-east-1",
        "service",
        "20150830T123600Z",
    );
    let auth = &req.headers.last().unwrap().1;
    assert!(auth.ends_with("85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"));
    assert!(!format!("{with_token:?}").contains("EXAMPLEKEY"));
}
