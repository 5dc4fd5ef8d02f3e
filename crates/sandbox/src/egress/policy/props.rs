//! Property tests (issue 17): the egress URL normaliser and matcher never panic on arbitrary
//! URLs, hosts and ports; normalisation is idempotent; a policy that grants nothing allows
//! nothing; a store layer only narrows; spellings of one host get one decision.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;
use crate::config::{AllowRule, EgressSpec, LimitsSpec, Quantity};

fn config() -> ProptestConfig {
    // `ProptestConfig::default()` reads `PROPTEST_CASES`; without it, 256 cases.
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 256;
    }
    c
}

const HOSTS: &[&str] = &[
    "example.com",
    "vault.example.com",
    "a.b.example.com",
    "EXAMPLE.com.",
    "example.com..",
    "169.254.169.254",
    "10.0.0.1",
    "127.0.0.1",
    "[::1]",
    "[::ffff:10.0.0.1]",
    "[fe80::1]",
    "[2001:db8::1]",
    "8.8.8.8",
    "localhost",
    ".",
    "a%2eb",
];

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(HOSTS).prop_map(str::to_owned),
        "[a-zA-Z0-9.-]{0,12}",
        "[a-z]{1,6}\\.example\\.com\\.?",
    ]
}

fn path() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        Just("v1".to_owned()),
        Just("kv".to_owned()),
        Just(".".to_owned()),
        Just("..".to_owned()),
        Just("%2e%2E".to_owned()),
        Just("%2F".to_owned()),
        Just("%5c".to_owned()),
        Just("%00".to_owned()),
        Just("%".to_owned()),
        Just("%zz".to_owned()),
        Just(String::new()),
        "[a-zA-Z0-9%._~-]{0,6}",
    ];
    (
        prop::collection::vec(segment, 0..5),
        prop::option::of("[a-z=&]{0,6}"),
    )
        .prop_map(|(segments, query)| {
            let mut p = String::new();
            for s in segments {
                p.push('/');
                p.push_str(&s);
            }
            if let Some(q) = query {
                p.push('?');
                p.push_str(&q);
            }
            p
        })
}

/// A URL that may or may not be valid: scheme, userinfo, host, port and path all vary.
fn url() -> impl Strategy<Value = String> {
    let scheme = prop::sample::select(&["http", "https", "HTTPS", "ftp", "file"][..]);
    let port = prop_oneof![
        Just(String::new()),
        any::<u16>().prop_map(|p| format!(":{p}")),
        prop::sample::select(&[":443", ":80", ":8200", ":", ":99999", ":0"][..])
            .prop_map(str::to_owned),
    ];
    let userinfo = prop::sample::select(&["", "", "", "u@", "u:p@"][..]);
    prop_oneof![
        4 => (scheme, userinfo, host(), port, path()).prop_map(|(s, u, h, p, path)| {
            format!("{s}://{u}{h}{p}{path}")
        }),
        1 => "\\PC{0,40}",
    ]
}

fn method() -> impl Strategy<Value = String> {
    prop::sample::select(&["GET", "get", "POST", "PUT", "DELETE", "LIST", ""][..])
        .prop_map(str::to_owned)
}

fn rule() -> impl Strategy<Value = AllowRule> {
    let rule_host = prop_oneof![
        host(),
        Just("*".to_owned()),
        Just("*.example.com".to_owned()),
        Just("*.EXAMPLE.com.".to_owned()),
    ];
    (
        rule_host,
        prop::collection::vec(prop::sample::select(&["http", "https", "HTTP"][..]), 0..2),
        prop::collection::vec(prop::sample::select(&[80u16, 443, 8200, 0][..]), 0..3),
        prop::collection::vec(prop::sample::select(&["GET", "post", "LIST"][..]), 0..2),
        prop::collection::vec(prop::sample::select(&["/v1/", "/v1", "/", "/kv"][..]), 0..2),
    )
        .prop_map(|(host, schemes, ports, methods, prefixes)| AllowRule {
            host,
            schemes: schemes.into_iter().map(str::to_owned).collect(),
            ports,
            methods: methods.into_iter().map(str::to_owned).collect(),
            path_prefixes: prefixes.into_iter().map(str::to_owned).collect(),
        })
}

fn sandbox(rules: Vec<AllowRule>, private: Option<PrivateNetworks>) -> SandboxSpec {
    SandboxSpec {
        egress: Some(EgressSpec {
            allow: rules,
            private_networks: private,
        }),
        limits: LimitsSpec::default(),
    }
}

fn private() -> impl Strategy<Value = Option<PrivateNetworks>> {
    prop::option::of(prop::sample::select(
        &[PrivateNetworks::Allow, PrivateNetworks::Deny][..],
    ))
}

fn check(p: &EgressPolicy, method: &str, url: &str) -> Option<Result<Target, Denial>> {
    let uri: http::Uri = url.parse().ok()?;
    Some(p.check(method, &uri, std::iter::empty()))
}

/// The URL a target stands for (what a request to it would be sent to).
fn url_of(t: &Target) -> String {
    let host = match &t.host {
        Host::Name(n) => n.clone(),
        Host::Ip(IpAddr::V6(ip)) => format!("[{ip}]"),
        Host::Ip(ip) => ip.to_string(),
    };
    format!("{}://{host}:{}{}", t.scheme, t.port, t.path)
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| IpAddr::V4(Ipv4Addr::from(o))),
        any::<[u16; 8]>().prop_map(|s| IpAddr::V6(Ipv6Addr::from(s))),
        any::<[u8; 4]>().prop_map(|o| IpAddr::V6(Ipv4Addr::from(o).to_ipv6_mapped())),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_urls_never_panic(url in url(), method in method(), rules in prop::collection::vec(rule(), 0..3)) {
        let requested = rules.iter().map(Rule::from_allow).collect();
        let ceiling = sandbox(rules.clone(), None);
        let p = EgressPolicy::new(requested, Some(&ceiling), Some(&ceiling))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        if let Ok(uri) = url.parse::<http::Uri>() {
            let _ = parse_target(&uri);
            let _ = p.check(&method, &uri, [("X-A", b"1".as_slice()), ("host", b"x".as_slice())]);
        }
        let _ = p.granted();
        for r in &rules {
            let _ = Rule::from_allow(r).describe();
        }
    }

    /// Parsing the URL a target stands for gives the same target.
    #[test]
    fn normalisation_is_idempotent(url in url()) {
        let Ok(uri) = url.parse::<http::Uri>() else { return Ok(()) };
        let Ok(target) = parse_target(&uri) else { return Ok(()) };
        let again: http::Uri = url_of(&target)
            .parse()
            .map_err(|e| TestCaseError::fail(format!("{}: {e}", url_of(&target))))?;
        prop_assert_eq!(parse_target(&again), Ok(target), "{}", url);
    }

    /// Nothing requested: nothing allowed, whatever the ceiling and the store allow.
    #[test]
    fn a_policy_that_grants_nothing_allows_nothing(
        url in url(),
        method in method(),
        ceiling in prop::collection::vec(rule(), 0..3),
        store in prop::collection::vec(rule(), 0..3),
    ) {
        let ceiling = sandbox(ceiling, Some(PrivateNetworks::Allow));
        let store = sandbox(store, None);
        for p in [
            EgressPolicy::new(Vec::new(), None, None),
            EgressPolicy::new(Vec::new(), Some(&ceiling), Some(&store)),
        ] {
            let p = p.map_err(|e| TestCaseError::fail(e.to_string()))?;
            if let Some(r) = check(&p, &method, &url) {
                prop_assert!(r.is_err(), "{} {} allowed: {:?}", method, url, r);
            }
        }
    }

    /// A store's sandbox only narrows: what it allows, the policy without it allows too, and an
    /// allowed target is one every layer's rules match.
    #[test]
    fn a_store_only_narrows(
        url in url(),
        method in method(),
        requested in prop::collection::vec(rule(), 1..3),
        ceiling in prop::collection::vec(rule(), 0..3),
        store in prop::collection::vec(rule(), 0..3),
        ceiling_private in private(),
        store_private in private(),
    ) {
        let requested: Vec<Rule> = requested.iter().map(Rule::from_allow).collect();
        let ceiling = sandbox(ceiling, ceiling_private);
        let store = sandbox(store, store_private);
        let wide = EgressPolicy::new(requested.clone(), Some(&ceiling), None)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let narrow = EgressPolicy::new(requested, Some(&ceiling), Some(&store))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(!narrow.private_networks || wide.private_networks);
        let Some(Ok(target)) = check(&narrow, &method, &url) else { return Ok(()) };
        prop_assert_eq!(check(&wide, &method, &url), Some(Ok(target.clone())));
        let m = method.to_ascii_uppercase();
        for layer in [Some(&narrow.requested), Some(&narrow.ceiling), narrow.store.as_ref()]
            .into_iter()
            .flatten()
        {
            prop_assert!(layer.iter().any(|r| r.matches(&target, &m)));
        }
        prop_assert!(target.path.starts_with('/'));
        prop_assert!(!target.path.split('/').any(|s| s == "." || s == ".."));
    }

    /// Upper case and a trailing dot in the host do not change the decision.
    #[test]
    fn spellings_of_a_host_get_one_decision(
        name in "[a-z]{1,6}(\\.example)?\\.com",
        path in path(),
        requested in prop::collection::vec(rule(), 1..3),
    ) {
        let p = EgressPolicy::new(requested.iter().map(Rule::from_allow).collect(), None, None)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let plain = check(&p, "GET", &format!("https://{name}{path}"));
        for variant in [name.to_ascii_uppercase(), format!("{name}."), format!("{name}..")] {
            let other = check(&p, "GET", &format!("https://{variant}{path}"));
            prop_assert_eq!(&other, &plain, "{} vs {}", variant, name);
        }
    }

    /// After DNS: without privateNetworks only public addresses pass; a mapped IPv4 address is
    /// judged as the IPv4 address.
    #[test]
    fn addresses_are_vetted_by_class(ip in ip(), allow_private in any::<bool>()) {
        let spec = sandbox(
            Vec::new(),
            Some(if allow_private { PrivateNetworks::Allow } else { PrivateNetworks::Deny }),
        );
        let p = EgressPolicy::new(vec![Rule::any()], Some(&spec), None)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let class = classify(ip);
        let allowed = p.vet_address(&Host::Name("h".into()), ip).is_ok();
        let want = match class {
            NetClass::Public => true,
            NetClass::Private | NetClass::Loopback => allow_private,
            NetClass::LinkLocal | NetClass::Reserved => false,
        };
        prop_assert_eq!(allowed, want, "{} is {:?}", ip, class);
        if let IpAddr::V6(v6) = ip
            && let Some(v4) = v6.to_ipv4_mapped()
        {
            prop_assert_eq!(class, classify(IpAddr::V4(v4)));
        }
    }

    /// A store's limits only lower the class's; arbitrary quantities and durations never panic.
    #[test]
    fn limits_only_narrow(
        memory in prop::option::of("[0-9]{0,21}(Mi|Gi|k|M|x)?"),
        timeout in prop::option::of("([0-9]{0,21}(ms|s|m|h)){1,3}"),
        requests in prop::option::of(any::<u32>()),
        response in prop::option::of(any::<u64>()),
    ) {
        let spec = LimitsSpec {
            memory: memory.map(Quantity::Str),
            timeout,
            requests,
            response_bytes: response.map(Quantity::Int),
        };
        let base = Limits::default();
        if let Ok(l) = base.narrow(&spec) {
            prop_assert!(l.memory_bytes <= base.memory_bytes);
            prop_assert!(l.timeout <= base.timeout);
            prop_assert!(l.requests <= base.requests);
            prop_assert!(l.response_bytes <= base.response_bytes);
            prop_assert!(l.total_bytes <= base.total_bytes);
            prop_assert!(l.connect_timeout <= l.timeout);
        }
        let _ = Limits::from_ceiling(&spec);
    }
}
