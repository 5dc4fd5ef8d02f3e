//! The cases of plugin_aws.rs.

use std::process::{Child, Command};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_manager_values_versions_binary_metadata_find_and_not_found() {
    let ep = ground().aws_endpoint().to_owned();
    let n = unique("sm");
    let script = "\
sm.create_secret(Name=P+'/db', SecretString=json.dumps({'user':'u1','pass':'p1','a.b':'dotted','n':{'x':[1,2]}}), Tags=[{'Key':'team','Value':P}])
v2 = sm.put_secret_value(SecretId=P+'/db', SecretString=json.dumps({'user':'u2','pass':'p2'}))['VersionId']
sm.create_secret(Name=P+'/bin', SecretBinary=bytes([0,1,2,255]), Tags=[{'Key':'team','Value':P}])
sm.create_secret(Name=P+'/gone', SecretString='x')
sm.delete_secret(SecretId=P+'/gone', RecoveryWindowInDays=7)
print(v2)";
    let v2 = boto(&ep, &n, script).trim().to_owned();
    let p = provider(
        static_creds("ground", "ground-secret"),
        endpoints(&ep),
        &[port_of(&ep)],
    )
    .await;
    let s = store(&n, aws_config("SecretsManager", json!({})));
    let key = format!("{n}/db");
    assert_eq!(
        get(&p, &s, rr(&key, Some("user"), None, false))
            .await
            .unwrap(),
        "u2"
    );
    assert_eq!(
        get(&p, &s, rr(&key, Some("user"), Some("AWSPREVIOUS"), false))
            .await
            .unwrap(),
        "u1"
    );
    assert_eq!(
        get(
            &p,
            &s,
            rr(&key, Some("pass"), Some(&format!("uuid/{v2}")), false)
        )
        .await
        .unwrap(),
        "p2"
    );
    assert_eq!(
        get(&p, &s, rr(&key, Some("a.b"), Some("AWSPREVIOUS"), false))
            .await
            .unwrap(),
        "dotted"
    );
    assert_eq!(
        get(&p, &s, rr(&key, Some("n.x.1"), Some("AWSPREVIOUS"), false))
            .await
            .unwrap(),
        "2"
    );
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
    // metadataPolicy Fetch: tags
    assert_eq!(
        get(&p, &s, rr(&key, Some("team"), None, true))
            .await
            .unwrap(),
        n
    );
    // prefix
    let sp = store(
        &n,
        aws_config("SecretsManager", json!({"prefix": format!("{n}/")})),
    );
    assert_eq!(
        get(&p, &sp, rr("db", Some("pass"), None, false))
            .await
            .unwrap(),
        "p2"
    );
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
    for missing in [format!("{n}/missing"), format!("{n}/gone")] {
        let err = get(&p, &s, rr(&missing, None, None, false))
            .await
            .unwrap_err();
        assert!(matches!(err, ProviderError::NotFound), "{missing}: {err:?}");
    }
    // find by name regexp, by tag
    let found = c
        .get_all_secrets(&FindRef {
            name_regexp: Some(format!("^{n}/(db|bin)$")),
            ..FindRef::default()
        })
        .await
        .unwrap();
    assert_eq!(
        found.keys().cloned().collect::<Vec<_>>(),
        [format!("{n}/bin"), format!("{n}/db")]
    );
    let by_tag = c
        .get_all_secrets(&FindRef {
            tags: [("team".to_string(), n.clone())].into(),
            ..FindRef::default()
        })
        .await
        .unwrap();
    assert_eq!(by_tag.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_store_versions_find_and_tags() {
    let ep = ground().aws_endpoint().to_owned();
    let n = unique("ps");
    let script = "\
ssm.put_parameter(Name='/'+P+'/app/db', Value=json.dumps({'user':'v1'}), Type='SecureString')
ssm.put_parameter(Name='/'+P+'/app/db', Value=json.dumps({'user':'v2'}), Type='SecureString', Overwrite=True)
ssm.put_parameter(Name='/'+P+'/app/other', Value='plain', Type='String', Tags=[{'Key':'team','Value':P}])
print('ok')";
    boto(&ep, &n, script);
    let p = provider(
        static_creds("ground", "ground-secret"),
        endpoints(&ep),
        &[port_of(&ep)],
    )
    .await;
    let s = store(&n, aws_config("ParameterStore", json!({})));
    let key = format!("/{n}/app/db");
    assert_eq!(
        get(&p, &s, rr(&key, Some("user"), None, false))
            .await
            .unwrap(),
        "v2"
    );
    assert_eq!(
        get(&p, &s, rr(&key, Some("user"), Some("1"), false))
            .await
            .unwrap(),
        "v1"
    );
    assert_eq!(
        get(
            &p,
            &s,
            rr(&format!("/{n}/app/other"), Some("team"), None, true)
        )
        .await
        .unwrap(),
        n
    );
    let err = get(&p, &s, rr(&format!("/{n}/nope"), None, None, false))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::NotFound), "{err:?}");
    let (c, _) = p.open(&s).await.unwrap();
    let found = c
        .get_all_secrets(&FindRef {
            path: Some(format!("/{n}")),
            name_regexp: Some("db$".into()),
            ..FindRef::default()
        })
        .await
        .unwrap();
    assert_eq!(found.keys().cloned().collect::<Vec<_>>(), [key]);
    let by_tag = c
        .get_all_secrets(&FindRef {
            tags: [("team".to_string(), n.clone())].into(),
            ..FindRef::default()
        })
        .await
        .unwrap();
    assert_eq!(
        by_tag.keys().cloned().collect::<Vec<_>>(),
        [format!("/{n}/app/other")]
    );
}

/// A TCP relay to `upstream` that counts STS `AssumeRole*` requests passing through.
async fn counting_relay(upstream: u16, count: Arc<AtomicUsize>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let mut outbound = tokio::net::TcpStream::connect(("127.0.0.1", upstream))
                    .await
                    .unwrap();
                let (mut ri, mut wi) = inbound.split();
                let (mut ro, mut wo) = outbound.split();
                let up = async {
                    let mut buf = vec![0u8; 65536];
                    while let Ok(n) = ri.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        let seen = String::from_utf8_lossy(&buf[..n])
                            .matches("Action=AssumeRole")
                            .count();
                        count.fetch_add(seen, Ordering::SeqCst);
                        if wo.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = wo.shutdown().await;
                };
                let down = tokio::io::copy(&mut ro, &mut wi);
                let _ = tokio::join!(up, down);
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assume_role_chain_is_cached_sts_calls_per_100_reconciles() {
    let ep = ground().aws_endpoint().to_owned();
    let n = unique("sts");
    boto(
        &ep,
        &n,
        "sm.create_secret(Name=P, SecretString='v')\nprint('ok')",
    );
    let count = Arc::new(AtomicUsize::new(0));
    let relay = counting_relay(port_of(&ep), count.clone()).await;
    let settings =
        json!({"endpoints": {"secretsmanager": ep, "sts": format!("http://127.0.0.1:{relay}")}});
    let p = provider(
        static_creds("ground", "ground-secret"),
        settings,
        &[port_of(&ep), relay],
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
    let calls = count.load(Ordering::SeqCst);
    println!("STS AssumeRole calls for 100 reconciles (2-role chain): {calls}");
    assert_eq!(
        calls, 2,
        "one call per role in the chain per credential lifetime"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_identity_then_assume_role() {
    let ep = ground().aws_endpoint().to_owned();
    let n = unique("irsa");
    boto(
        &ep,
        &n,
        "sm.create_secret(Name=P, SecretString='irsa-ok')\nprint('ok')",
    );
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
    // The host denies the request before DNS; the plugin sees wasi:http's denial as Forbidden.
    assert!(
        matches!(&err, ProviderError::Forbidden(m) if m.contains("denied by the sandbox egress policy")),
        "{err:?}"
    );
}

struct Moto(Child);
impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigv4_verified_by_moto_wrong_key_is_unauthorized() {
    // A private moto: switching verification on in the shared one would break parallel tests.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let moto_bin =
        std::path::Path::new(ground().var("GROUND_PYTHON")).with_file_name("moto_server");
    let _moto = Moto(
        Command::new(moto_bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let ep = format!("http://127.0.0.1:{port}");
    ground::eventually(std::time::Duration::from_secs(30), "private moto", || {
        let ep = ep.clone();
        async move { std::net::TcpStream::connect(ep.trim_start_matches("http://")).ok() }
    })
    .await;
    let script = "\
import urllib.request
sm.create_secret(Name=P, SecretString='verified')
iam.create_user(UserName='eso')
iam.put_user_policy(UserName='eso', PolicyName='all', PolicyDocument=json.dumps({'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'*','Resource':'*'}]}))
k = iam.create_access_key(UserName='eso')['AccessKey']
urllib.request.urlopen(urllib.request.Request(ep + '/moto-api/reset-auth', data=b'0', method='POST', headers={'Content-Type':'text/plain'}))
print(k['AccessKeyId'], k['SecretAccessKey'])";
    let out = boto(&ep, "verified", script);
    let (ak, sk) = out.trim().split_once(' ').unwrap();
    let s = store("sigv4", aws_config("SecretsManager", json!({})));
    let good = provider(static_creds(ak, sk), endpoints(&ep), &[port]).await;
    assert_eq!(
        get(&good, &s, rr("verified", None, None, false))
            .await
            .unwrap(),
        "verified"
    );
    let bad = provider(static_creds(ak, "not-the-secret"), endpoints(&ep), &[port]).await;
    let err = get(&bad, &s, rr("verified", None, None, false))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Unauthorized(_)), "{err:?}");
    assert!(!format!("{err:?}").contains("not-the-secret"));
}
