use std::net::IpAddr;

use super::*;
use crate::config::{AllowRule, EgressSpec, LimitsSpec, Quantity};

fn allow(host: &str, ports: &[u16], methods: &[&str], prefixes: &[&str]) -> AllowRule {
    AllowRule {
        host: host.into(),
        schemes: Vec::new(),
        ports: ports.to_vec(),
        methods: methods.iter().map(|s| s.to_string()).collect(),
        path_prefixes: prefixes.iter().map(|s| s.to_string()).collect(),
    }
}

fn ceiling(rules: Vec<AllowRule>, private: PrivateNetworks) -> SandboxSpec {
    SandboxSpec {
        egress: Some(EgressSpec {
            allow: rules,
            private_networks: Some(private),
        }),
        limits: LimitsSpec::default(),
    }
}

fn policy() -> EgressPolicy {
    let requested = vec![Rule::from_allow(&allow(
        "vault.example.com",
        &[8200],
        &[],
        &["/v1/"],
    ))];
    let c = ceiling(
        vec![
            allow("*.example.com", &[8200, 443], &["GET", "POST"], &[]),
            allow("169.254.169.254", &[80], &[], &[]),
        ],
        PrivateNetworks::Deny,
    );
    EgressPolicy::new(requested, Some(&c), None).unwrap()
}

fn check(p: &EgressPolicy, method: &str, url: &str) -> Result<Target, Denial> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| Denial::BadUrl("unparseable".into()))?;
    p.check(method, &uri, std::iter::empty())
}

#[test]
fn url_and_rule_table() {
    let p = policy();
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("GET", "https://vault.example.com:8200/v1/kv/data/x", None),
        ("get", "https://VAULT.example.com.:8200/v1/kv", None),
        ("POST", "http://vault.example.com:8200/v1/auth/login", None),
        (
            "DELETE",
            "https://vault.example.com:8200/v1/kv",
            Some("not_granted"),
        ),
        (
            "GET",
            "https://vault.example.com/v1/kv",
            Some("not_granted"),
        ),
        (
            "GET",
            "https://other.example.com:8200/v1/kv",
            Some("not_granted"),
        ),
        (
            "GET",
            "https://vault.example.com:8200/v2/kv",
            Some("not_granted"),
        ),
        (
            "GET",
            "https://vault.example.com:8200/v1",
            Some("not_granted"),
        ),
        (
            "GET",
            "https://vault.example.com:8200/v1/../sys/raw",
            Some("bad_url"),
        ),
        (
            "GET",
            "https://vault.example.com:8200/v1/./kv",
            Some("bad_url"),
        ),
        (
            "GET",
            "https://vault.example.com:8200/v1/%2e%2e/sys",
            Some("bad_url"),
        ),
        (
            "GET",
            "https://vault.example.com:8200/v1/%2E%2E/sys",
            Some("bad_url"),
        ),
        (
            "GET",
            "https://vault.example.com:8200/v1/a%2fb",
            Some("bad_url"),
        ),
        (
            "GET",
            "https://vault.example.com:8200/v1/a%5cb",
            Some("bad_url"),
        ),
        (
            "GET",
            "https://vault.example.com:8200/v1/a%zz",
            Some("bad_url"),
        ),
        (
            "GET",
            "https://user:pw@vault.example.com:8200/v1/kv",
            Some("bad_url"),
        ),
        ("GET", "ftp://vault.example.com:8200/v1/kv", Some("bad_url")),
        (
            "GET",
            "https://vault.example.com:8200/v1/kv%20x?list=true",
            None,
        ),
    ];
    for (method, url, want) in cases {
        let got = check(&p, method, url);
        assert_eq!(
            got.as_ref().err().map(Denial::category),
            *want,
            "{method} {url}: {got:?}"
        );
    }
}

#[test]
fn every_layer_must_match() {
    // The ceiling allows the host but the plugin did not request it.
    let c = ceiling(vec![allow("*", &[], &[], &[])], PrivateNetworks::Deny);
    let requested = vec![Rule::from_allow(&allow("a.example.com", &[], &[], &[]))];
    let p = EgressPolicy::new(requested.clone(), Some(&c), None).unwrap();
    assert!(check(&p, "GET", "https://a.example.com/x").is_ok());
    assert_eq!(
        check(&p, "GET", "https://b.example.com/x")
            .unwrap_err()
            .category(),
        "not_granted"
    );
    // The store narrows to GET only.
    let store = ceiling(
        vec![allow("a.example.com", &[], &["GET"], &[])],
        PrivateNetworks::Deny,
    );
    let p = EgressPolicy::new(requested.clone(), Some(&c), Some(&store)).unwrap();
    assert!(check(&p, "GET", "https://a.example.com/x").is_ok());
    assert!(check(&p, "PUT", "https://a.example.com/x").is_err());
    // A ceiling without allow rules (only privateNetworks/limits) leaves hosts bounded by the
    // request: what was requested passes, nothing else does.
    let p = EgressPolicy::new(
        requested,
        Some(&ceiling(vec![], PrivateNetworks::Allow)),
        None,
    )
    .unwrap();
    assert!(check(&p, "GET", "https://a.example.com/x").is_ok());
    assert!(check(&p, "GET", "https://b.example.com/x").is_err());
    // Nothing requested: nothing granted, even under the built-in ceiling.
    let p = EgressPolicy::new(vec![], None, None).unwrap();
    assert!(check(&p, "GET", "https://a.example.com/x").is_err());
}

#[test]
fn suffix_wildcards_do_not_match_the_apex() {
    let p = EgressPolicy::new(
        vec![Rule::from_allow(&allow("*.example.com", &[], &[], &[]))],
        None,
        None,
    )
    .unwrap();
    assert!(check(&p, "GET", "https://a.b.example.com/").is_ok());
    assert!(check(&p, "GET", "https://example.com/").is_err());
    assert!(check(&p, "GET", "https://badexample.com/").is_err());
}

#[test]
fn forbidden_and_oversized_headers() {
    let p = policy();
    let uri: http::Uri = "https://vault.example.com:8200/v1/x".parse().unwrap();
    for name in [
        "Host",
        "proxy-authorization",
        "Transfer-Encoding",
        "x-forwarded-for",
    ] {
        let err = p.check("GET", &uri, [(name, b"v".as_slice())]).unwrap_err();
        assert_eq!(err.category(), "header", "{name}");
    }
    assert!(
        p.check("GET", &uri, [("x-vault-token", b"t".as_slice())])
            .is_ok()
    );
    let big = vec![b'a'; 70 * 1024];
    assert_eq!(
        p.check("GET", &uri, [("x-big", big.as_slice())])
            .unwrap_err()
            .category(),
        "header"
    );
}

#[test]
fn address_table() {
    let p = policy();
    let name = Host::Name("vault.example.com".into());
    let cases: &[(&str, bool)] = &[
        ("93.184.216.34", true),
        ("127.0.0.1", false),
        ("10.0.0.1", false),
        ("172.16.5.4", false),
        ("192.168.1.1", false),
        ("100.64.0.1", false),
        ("169.254.169.254", false),
        ("0.0.0.0", false),
        ("::1", false),
        ("fd00::1", false),
        ("fe80::1", false),
        ("::ffff:127.0.0.1", false),
        ("::ffff:169.254.169.254", false),
        ("64:ff9b::a00:1", false),
        ("2606:4700::1111", true),
    ];
    for (ip, ok) in cases {
        let ip: IpAddr = ip.parse().unwrap();
        assert_eq!(p.vet_address(&name, ip).is_ok(), *ok, "{ip}");
    }
    // Metadata only when the ceiling names the IP and the URL uses it literally.
    let meta: IpAddr = "169.254.169.254".parse().unwrap();
    assert!(p.vet_address(&Host::Ip(meta), meta).is_ok());
    assert!(p.vet_address(&name, meta).is_err());
}

#[test]
fn private_networks_follow_the_ceiling_and_the_store_only_narrows() {
    let requested = vec![Rule::from_allow(&allow("*", &[], &[], &[]))];
    let open = ceiling(vec![allow("*", &[], &[], &[])], PrivateNetworks::Allow);
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    let host = Host::Name("localhost".into());
    let p = EgressPolicy::new(requested.clone(), Some(&open), None).unwrap();
    assert!(p.vet_address(&host, lo).is_ok());
    let deny = ceiling(vec![allow("*", &[], &[], &[])], PrivateNetworks::Deny);
    let p = EgressPolicy::new(requested.clone(), Some(&open), Some(&deny)).unwrap();
    assert!(p.vet_address(&host, lo).is_err());
    // A store cannot widen a Deny ceiling.
    let p = EgressPolicy::new(requested, Some(&deny), Some(&open)).unwrap();
    assert!(p.vet_address(&host, lo).is_err());
    assert!(
        p.vet_address(&host, "169.254.169.254".parse().unwrap())
            .is_err()
    );
}

#[test]
fn limits_only_narrow() {
    let c = SandboxSpec {
        egress: None,
        limits: LimitsSpec {
            memory: Some(Quantity::Str("128Mi".into())),
            timeout: Some("20s".into()),
            requests: Some(10),
            response_bytes: None,
        },
    };
    let s = SandboxSpec {
        egress: None,
        limits: LimitsSpec {
            memory: Some(Quantity::Str("1Gi".into())),
            timeout: Some("5s".into()),
            requests: None,
            response_bytes: Some(Quantity::Int(1000)),
        },
    };
    let p = EgressPolicy::new(vec![], Some(&c), Some(&s)).unwrap();
    assert_eq!(p.limits.memory_bytes, 128 << 20);
    assert_eq!(p.limits.timeout, std::time::Duration::from_secs(5));
    assert_eq!(p.limits.requests, 10);
    assert_eq!(p.limits.response_bytes, 1000);
}

#[test]
fn granted_lists_requested_rules_the_ceiling_covers() {
    let p = policy();
    assert_eq!(
        p.granted(),
        vec!["* http(s)://vault.example.com:8200/v1/".to_owned()]
    );
}

/// `deny_all` is what `new` makes with nothing requested and no ceiling or store, and it lets
/// nothing out.
#[test]
fn deny_all_is_the_policy_with_nothing_requested() {
    let deny = EgressPolicy::deny_all();
    assert_eq!(deny, EgressPolicy::new(Vec::new(), None, None).unwrap());
    assert!(deny.granted().is_empty());
    assert!(check(&deny, "GET", "https://example.com/v1/x").is_err());
}
