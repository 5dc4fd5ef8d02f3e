//! The cases of plugin_aws.rs.

use ampoule::provider::{ProviderClient, RemoteRef};

use super::*;

/// The shared moto of the ground, with the ground's keys.
async fn ground_moto() -> (String, WasmProvider) {
    let ep = ground().aws_endpoint().to_owned();
    let p = provider_at(&ep, "ground", "ground-secret").await;
    (ep, p)
}

/// A secret `<prefix>-<random>` holding `value` in the ground's moto: (endpoint, name).
fn moto_secret(prefix: &str, value: &str) -> (String, String) {
    let ep = ground().aws_endpoint().to_owned();
    let n = unique(prefix);
    let script = format!("sm.create_secret(Name=P, SecretString='{value}')\nprint('ok')");
    boto(&ep, &n, &script);
    (ep, n)
}

/// The keys a find returns, in order.
async fn found(c: &dyn ProviderClient, find: FindRef) -> Vec<String> {
    c.get_all_secrets(&find)
        .await
        .unwrap()
        .into_keys()
        .collect()
}

/// A find of the secrets tagged `team` = `n`.
fn tagged(n: &str) -> FindRef {
    FindRef {
        tags: [("team".to_string(), n.to_owned())].into(),
        ..FindRef::default()
    }
}

/// Asserts the text each remote ref reads through store `s`.
async fn reads(p: &WasmProvider, s: &StoreContext, cases: Vec<(RemoteRef, &str)>) {
    for (r, want) in cases {
        let what = format!("{} {:?} {:?}", r.key, r.property, r.version);
        assert_eq!(get(p, s, r).await.unwrap(), want, "{what}");
    }
}

/// Asserts that reading `key` through store `s` is NotFound.
async fn not_found(p: &WasmProvider, s: &StoreContext, key: &str) {
    let err = get(p, s, rr(key, None, None, false)).await.unwrap_err();
    assert!(matches!(err, ProviderError::NotFound), "{key}: {err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_manager_values_versions_binary_metadata_find_and_not_found() {
    let (ep, p) = ground_moto().await;
    let n = unique("sm");
    let script = "\
sm.create_secret(Name=P+'/db', SecretString=json.dumps({'user':'u1','pass':'p1','a.b':'dotted','n':{'x':[1,2]}}), Tags=[{'Key':'team','Value':P}])
v2 = sm.put_secret_value(SecretId=P+'/db', SecretString=json.dumps({'user':'u2','pass':'p2'}))['VersionId']
sm.create_secret(Name=P+'/bin', SecretBinary=bytes([0,1,2,255]), Tags=[{'Key':'team','Value':P}])
sm.create_secret(Name=P+'/gone', SecretString='x')
sm.delete_secret(SecretId=P+'/gone', RecoveryWindowInDays=7)
print(v2)";
    let v2 = boto(&ep, &n, script).trim().to_owned();
    let s = store(&n, aws_config("SecretsManager", json!({})));
    let key = format!("{n}/db");
    let v2 = format!("uuid/{v2}");
    #[rustfmt::skip]
    reads(&p, &s, vec![
        (rr(&key, Some("user"), None, false), "u2"),
        (rr(&key, Some("user"), Some("AWSPREVIOUS"), false), "u1"),
        (rr(&key, Some("pass"), Some(&v2), false), "p2"),
        (rr(&key, Some("a.b"), Some("AWSPREVIOUS"), false), "dotted"),
        (rr(&key, Some("n.x.1"), Some("AWSPREVIOUS"), false), "2"),
        // metadataPolicy Fetch: tags
        (rr(&key, Some("team"), None, true), &n),
    ]).await;
    let err = get(&p, &s, rr(&key, Some("nope"), None, false))
        .await
        .unwrap_err();
    assert!(
        !matches!(err, ProviderError::NotFound),
        "a missing property is not NotFound: {err:?}"
    );
    // binary, raw
    let (c, _) = p.open(&s).await.unwrap();
    let bin = c
        .get_secret(&rr(&format!("{n}/bin"), None, None, false))
        .await
        .unwrap();
    assert_eq!(bin.expose().as_slice(), &[0, 1, 2, 255]);
    // prefix
    let sp = store(
        &n,
        aws_config("SecretsManager", json!({"prefix": format!("{n}/")})),
    );
    reads(&p, &sp, vec![(rr("db", Some("pass"), None, false), "p2")]).await;
    // map
    let map = c
        .get_secret_map(&rr(&key, None, None, false))
        .await
        .unwrap();
    assert_eq!(
        map.get("user").map(|v| v.expose().clone()),
        Some(b"u2".to_vec())
    );
    // NotFound: missing and marked for deletion
    not_found(&p, &s, &format!("{n}/missing")).await;
    not_found(&p, &s, &format!("{n}/gone")).await;
    // find by name regexp, by tag
    let by_name = FindRef {
        name_regexp: Some(format!("^{n}/(db|bin)$")),
        ..FindRef::default()
    };
    assert_eq!(
        found(&*c, by_name).await,
        [format!("{n}/bin"), format!("{n}/db")]
    );
    assert_eq!(found(&*c, tagged(&n)).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_store_versions_find_and_tags() {
    let (ep, p) = ground_moto().await;
    let n = unique("ps");
    let script = "\
ssm.put_parameter(Name='/'+P+'/app/db', Value=json.dumps({'user':'v1'}), Type='SecureString')
ssm.put_parameter(Name='/'+P+'/app/db', Value=json.dumps({'user':'v2'}), Type='SecureString', Overwrite=True)
ssm.put_parameter(Name='/'+P+'/app/other', Value='plain', Type='String', Tags=[{'Key':'team','Value':P}])
print('ok')";
    boto(&ep, &n, script);
    let s = store(&n, aws_config("ParameterStore", json!({})));
    let key = format!("/{n}/app/db");
    let other = format!("/{n}/app/other");
    #[rustfmt::skip]
    reads(&p, &s, vec![
        (rr(&key, Some("user"), None, false), "v2"),
        (rr(&key, Some("user"), Some("1"), false), "v1"),
        (rr(&other, Some("team"), None, true), &n),
    ]).await;
    not_found(&p, &s, &format!("/{n}/nope")).await;
    let (c, _) = p.open(&s).await.unwrap();
    let by_path = FindRef {
        path: Some(format!("/{n}")),
        name_regexp: Some("db$".into()),
        ..FindRef::default()
    };
    assert_eq!(found(&*c, by_path).await, [key]);
    assert_eq!(found(&*c, tagged(&n)).await, [other]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assume_role_chain_is_cached_sts_calls_per_100_reconciles() {
    let (ep, n) = moto_secret("sts", "v");
    // STS through a relay that keeps what passed, to count the AssumeRole* requests.
    let relay = cloud::Relay::start(port_of(&ep)).await;
    let settings = json!({"endpoints": {"secretsmanager": ep, "sts": format!("http://127.0.0.1:{}", relay.port)}});
    let p = provider(
        static_creds("ground", "ground-secret"),
        settings,
        &[port_of(&ep), relay.port],
    )
    .await;
    let cfg = aws_config(
        "SecretsManager",
        json!({
        "additionalRoles": ["arn:aws:iam::123456789012:role/first"],
        "role": "arn:aws:iam::123456789012:role/eso", "externalID": "ext-1",
        "sessionTags": [{"key": "team", "value": "a"}], "transitiveTagKeys": ["team"]}),
    );
    let s = store(&n, cfg);
    for _ in 0..100 {
        assert_eq!(get(&p, &s, rr(&n, None, None, false)).await.unwrap(), "v");
    }
    let calls = relay.count("Action=AssumeRole");
    println!("STS AssumeRole calls for 100 reconciles (2-role chain): {calls}");
    assert_eq!(
        calls, 2,
        "one call per role in the chain per credential lifetime"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_identity_then_assume_role() {
    let (ep, n) = moto_secret("irsa", "irsa-ok");
    let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDplc28iLCJhdWQiOiJzdHMuYW1hem9uYXdzLmNvbSJ9.c2ln";
    // What the host resolves: the ServiceAccount's role annotation and its token.
    let creds = |role: &str| {
        Creds(HashMap::from([
            ("web-identity-token".into(), jwt.as_bytes().to_vec()),
            ("role-arn".into(), role.as_bytes().to_vec()),
        ]))
    };
    let cfg = json!({"service": "SecretsManager", "region": "us-east-1", "role": "arn:aws:iam::123456789012:role/on-top",
        "auth": {"jwt": {"serviceAccountRef": {"name": "eso"}}}});
    let p = provider(
        creds("arn:aws:iam::123456789012:role/irsa"),
        endpoints(&ep),
        &[port_of(&ep)],
    )
    .await;
    assert_eq!(
        get(&p, &store(&n, cfg.clone()), rr(&n, None, None, false))
            .await
            .unwrap(),
        "irsa-ok"
    );
    // No eks.amazonaws.com/role-arn annotation (the host hands over an empty value).
    let p = provider(creds(""), endpoints(&ep), &[port_of(&ep)]).await;
    let err = get(&p, &store(&n, cfg), rr(&n, None, None, false))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::InvalidConfig(m) if m.contains("eks.amazonaws.com/role-arn") && m.contains("\"eso\"")),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn egress_denied_when_the_region_needs_a_host_outside_the_grant() {
    let ep = ground().aws_endpoint().to_owned();
    // No endpoint settings: the store needs secretsmanager.eu-west-3.amazonaws.com, the ceiling
    // only grants moto's port on loopback.
    let p = provider(
        static_creds("ground", "ground-secret"),
        json!({}),
        &[port_of(&ep)],
    )
    .await;
    let mut cfg = aws_config("SecretsManager", json!({}));
    cfg["region"] = json!("eu-west-3");
    let err = get(
        &p,
        &store(&unique("egress"), cfg),
        rr("x", None, None, false),
    )
    .await
    .unwrap_err();
    plugin_common::assert_egress_denied(&err);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigv4_verified_by_moto_wrong_key_is_unauthorized() {
    // A private moto: switching verification on in the shared one would break parallel tests.
    let moto = cloud::moto().await;
    let script = "\
sm.create_secret(Name=P, SecretString='verified')
iam.create_user(UserName='eso')
iam.put_user_policy(UserName='eso', PolicyName='all', PolicyDocument=json.dumps({'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'*','Resource':'*'}]}))
k = iam.create_access_key(UserName='eso')['AccessKey']
urllib.request.urlopen(urllib.request.Request(EP + '/moto-api/reset-auth', data=b'0', method='POST', headers={'Content-Type':'text/plain'}))
print(k['AccessKeyId'], k['SecretAccessKey'])";
    let out = boto(&moto.url, "verified", script);
    let (ak, sk) = out.trim().split_once(' ').unwrap();
    let s = store("sigv4", aws_config("SecretsManager", json!({})));
    let good = provider_at(&moto.url, ak, sk).await;
    reads(
        &good,
        &s,
        vec![(rr("verified", None, None, false), "verified")],
    )
    .await;
    let bad = provider_at(&moto.url, ak, "not-the-secret").await;
    let err = get(&bad, &s, rr("verified", None, None, false))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Unauthorized(_)), "{err:?}");
    assert!(!format!("{err:?}").contains("not-the-secret"));
}
