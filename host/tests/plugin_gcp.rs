//! The gcp plugin in the sandbox against the ground's GCP fake (Secret Manager REST API and the
//! token endpoints), and the fake itself checked with Google's official Python client. Every test
//! uses its own project, so they run in parallel. PushSecret's tests use a private fake each.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

mod common;
mod plugin_common;

use std::collections::HashMap;

use ampoule::plugin::WasmProvider;
use ampoule::provider::{FindRef, ProviderError, SecretProvider, StoreContext};
use ground::{ground, run};
use serde_json::{Value, json};

use plugin_common::{Creds, get, rr};

/// Held by the tests that mint OAuth2 tokens at the shared fake, whose counters are global: the
/// token count of one is not disturbed by another.
static OAUTH2: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const SA_KEY: &[u8] = include_bytes!("../../plugins/gcp/src/auth/test-key.json");

fn project(prefix: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{}", std::process::id(), t % 1_000_000_000)
}

fn settings(extra: Value) -> Value {
    let ep = ground().gcp_endpoint();
    let s = json!({"endpoints": {"secretmanager": ep, "sts": ep, "securetoken": ep, "iamcredentials": ep, "oauth2": ep}});
    plugin_common::merged(s, extra)
}

async fn provider(creds: Creds, settings: Value) -> WasmProvider {
    let port = plugin_common::port_of(ground().gcp_endpoint());
    let class = plugin_common::loopback_class("gcpsm", settings, &[port]);
    plugin_common::provider("ampoule_gcp", "gcpsm", creds, Some(class)).await
}

fn store(name: &str, config: Value) -> StoreContext {
    plugin_common::store_for("gcpsm", name, config)
}

fn key_config(project: &str, extra: Value) -> Value {
    let c = json!({"projectID": project, "auth": {"secretRef": {"secretAccessKeySecretRef": {"name": "gcp", "key": "sa.json"}}}});
    plugin_common::merged(c, extra)
}

/// Test setup through the fake's REST API (a few lines of Python with the stdlib).
fn setup(project: &str, script: &str) {
    let prelude = "import sys, json, base64, urllib.request\nEP, P = sys.argv[1], sys.argv[2]\n\
def call(method, path, body=None):\n    req = urllib.request.Request(EP + '/v1/projects/' + P + path, method=method,\n        data=json.dumps(body).encode() if body is not None else None, headers={'Content-Type': 'application/json'})\n    return json.load(urllib.request.urlopen(req))\n\
def secret(name, labels=None, annotations=None):\n    call('POST', '/secrets?secretId=' + name, {'replication': {'automatic': {}}, 'labels': labels or {}, 'annotations': annotations or {}})\n\
def version(name, data):\n    return call('POST', '/secrets/' + name + ':addVersion', {'payload': {'data': base64.b64encode(data).decode()}})\n";
    ground::run_with_input(
        ground()
            .python()
            .args(["-", ground().gcp_endpoint(), project]),
        format!("{prelude}{script}").as_bytes(),
    );
}

fn stats() -> Value {
    let out = run(ground().python().args(["-c", "import sys,urllib.request;print(urllib.request.urlopen(sys.argv[1]+'/fake/stats').read().decode())", ground().gcp_endpoint()]));
    serde_json::from_str(out.trim()).unwrap()
}

#[test]
fn the_fake_satisfies_googles_official_client() {
    let script = ground().repo.join("tests/ground/gcp-fake/check_client.py");
    let out = run(ground()
        .python()
        .arg(script)
        .args([ground().gcp_endpoint(), &project("client")]));
    assert_eq!(out.trim(), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_auth_access_versions_property_metadata_find_and_not_found() {
    let _oauth2 = OAUTH2.lock().await;
    let pr = project("key");
    setup(
        &pr,
        "\
secret('db', {'team': 'a'}, {'owner': 'me'})
version('db', json.dumps({'user': 'u1', 'a.b': 'dotted'}).encode())
version('db', json.dumps({'user': 'u2', 'n': [1, 2]}).encode())
secret('bin', {'team': 'a'})
version('bin', bytes([0, 1, 255]))
secret('other')
version('other', b'x')
secret('rot')
version('rot', b'old')
version('rot', b'new')
call('POST', '/secrets/rot/versions/2:disable', {})
",
    );
    let creds = Creds(HashMap::from([("sa-key".to_string(), SA_KEY.to_vec())]));
    let p = provider(creds, settings(json!({}))).await;
    let s = store(&pr, key_config(&pr, json!({})));
    let before = stats()["oauth2"].as_u64().unwrap_or(0);
    assert_eq!(
        get(&p, &s, rr("db", Some("user"), None, false))
            .await
            .unwrap(),
        "u2"
    );
    assert_eq!(
        get(&p, &s, rr("db", Some("a.b"), Some("1"), false))
            .await
            .unwrap(),
        "dotted"
    );
    assert_eq!(
        get(&p, &s, rr("db", Some("n.1"), None, false))
            .await
            .unwrap(),
        "2"
    );
    assert_eq!(
        get(&p, &s, rr("db", Some("labels.team"), None, true))
            .await
            .unwrap(),
        "a"
    );
    let meta: Value =
        serde_json::from_str(&get(&p, &s, rr("db", None, None, true)).await.unwrap()).unwrap();
    assert_eq!(
        meta,
        json!({"annotations": {"owner": "me"}, "labels": {"team": "a"}})
    );
    let (c, _) = p.open(&s).await.unwrap();
    assert_eq!(
        c.get_secret(&rr("bin", None, None, false))
            .await
            .unwrap()
            .expose()
            .as_slice(),
        &[0, 1, 255]
    );
    let err = get(&p, &s, rr("missing", None, None, false))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::NotFound), "{err:?}");
    // LatestOrFail: a disabled latest fails (not NotFound); LatestOrFetch falls back to version 1
    let err = get(&p, &s, rr("rot", None, None, false)).await.unwrap_err();
    assert!(!matches!(err, ProviderError::NotFound), "{err:?}");
    let fetch = store(
        &pr,
        key_config(
            &pr,
            json!({"secretVersionSelectionPolicy": "LatestOrFetch"}),
        ),
    );
    assert_eq!(
        get(&p, &fetch, rr("rot", None, None, false)).await.unwrap(),
        "old"
    );
    // find
    let by_name = c
        .get_all_secrets(&FindRef {
            name_regexp: Some("^(db|other)$".into()),
            ..FindRef::default()
        })
        .await
        .unwrap();
    assert_eq!(by_name.keys().cloned().collect::<Vec<_>>(), ["db", "other"]);
    let by_label = c
        .get_all_secrets(&FindRef {
            tags: [("team".to_string(), "a".to_string())].into(),
            ..FindRef::default()
        })
        .await
        .unwrap();
    assert_eq!(by_label.keys().cloned().collect::<Vec<_>>(), ["bin", "db"]);
    // token cached: 100 more reconciles, still one OAuth2 call for this store
    for _ in 0..100 {
        get(&p, &s, rr("other", None, None, false)).await.unwrap();
    }
    let calls = stats()["oauth2"].as_u64().unwrap_or(0) - before;
    println!("OAuth2 token calls for 100+ reconciles (key auth): {calls}");
    assert_eq!(calls, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_identity_exchanges_and_impersonates_once_per_token_lifetime() {
    let pr = project("wi");
    setup(
        &pr,
        "secret('cloudsql')\nversion('cloudsql', json.dumps({'password': 'pw'}).encode())\n",
    );
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let claims = base64_url(
        format!(r#"{{"sub":"system:serviceaccount:default:eso","exp":{exp}}}"#).as_bytes(),
    );
    let ksa = format!("eyJhbGciOiJSUzI1NiJ9.{claims}.c2ln");
    // What the host resolves: the KSA's token and its iam.gke.io/gcp-service-account annotation.
    let creds = Creds(HashMap::from([
        ("ksa-token".to_string(), ksa.into_bytes()),
        (
            "gcp-service-account".to_string(),
            b"eso@p.iam.gserviceaccount.com".to_vec(),
        ),
    ]));
    let p = provider(creds, settings(json!({}))).await;
    let cfg = json!({"projectID": pr, "auth": {"workloadIdentity": {"clusterName": "c", "clusterLocation": "europe-west1",
        "serviceAccountRef": {"name": "eso"}}}});
    let s = store(&pr, cfg);
    let before = stats();
    for _ in 0..100 {
        assert_eq!(
            get(&p, &s, rr("cloudsql", Some("password"), None, false))
                .await
                .unwrap(),
            "pw"
        );
    }
    let after = stats();
    let delta = |k: &str| after[k].as_u64().unwrap_or(0) - before[k].as_u64().unwrap_or(0);
    println!(
        "token calls for 100 reconciles (workload identity): identitybinding {} iamcredentials {}",
        delta("identitybinding"),
        delta("iamcredentials")
    );
    assert_eq!((delta("identitybinding"), delta("iamcredentials")), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn egress_denied_for_a_location_outside_the_grant() {
    let _oauth2 = OAUTH2.lock().await;
    let creds = Creds(HashMap::from([("sa-key".to_string(), SA_KEY.to_vec())]));
    // Only oauth2 points at the fake: the regional Secret Manager host is outside the grant.
    let p = provider(
        creds,
        json!({"endpoints": {"oauth2": ground().gcp_endpoint()}}),
    )
    .await;
    let pr = project("egress");
    let err = get(
        &p,
        &store(&pr, key_config(&pr, json!({"location": "europe-west1"}))),
        rr("x", None, None, false),
    )
    .await
    .unwrap_err();
    plugin_common::assert_egress_denied(&err);
}

fn base64_url(data: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// PushSecret against a private fake (so its state is this test's alone), Secret Manager calls
/// through a relay that counts them: (fake, relay, provider).
async fn push_env() -> (common::cloud::Server, common::cloud::Relay, WasmProvider) {
    let fake = common::cloud::gcp_fake().await;
    let relay = common::cloud::Relay::start(fake.port).await;
    let creds = Creds(HashMap::from([("sa-key".to_string(), SA_KEY.to_vec())]));
    let s = json!({"endpoints": {"secretmanager": format!("http://127.0.0.1:{}", relay.port),
                                 "oauth2": fake.url}});
    let class = plugin_common::loopback_class("gcpsm", s, &[fake.port, relay.port]);
    let p = plugin_common::provider("ampoule_gcp", "gcpsm", creds, Some(class)).await;
    (fake, relay, p)
}

/// (Secret Manager calls, writes) that passed the relay.
fn sm_calls(relay: &common::cloud::Relay) -> (usize, usize) {
    let n = |m: &str| relay.count(&format!("{m} /v1/projects/"));
    let writes = n("POST") + n("PATCH") + n("DELETE");
    (n("GET") + writes, writes)
}

/// The secret's resource and latest payload at the fake (`null`s when missing).
fn remote_state(fake: &common::cloud::Server, pr: &str, key: &str) -> Value {
    let script = "\
import urllib.error
def get(path):
    try:
        return gcp('GET', '/v1/projects/' + P + path)
    except urllib.error.HTTPError:
        return None
name = sys.argv[3]
s = get('/secrets/' + name)
v = get('/secrets/' + name + '/versions/latest:access')
print(json.dumps({'labels': (s or {}).get('labels'), 'annotations': (s or {}).get('annotations'),
  'replication': (s or {}).get('replication'),
  'payload': base64.b64decode(v['payload']['data']).decode() if v else None}))";
    let out = common::cloud::python_with(
        &fake.url,
        pr,
        &format!("sys.argv.append({key:?})\n{script}"),
    );
    serde_json::from_str(out.trim()).unwrap()
}

fn gcp_meta(spec: Value) -> Option<Value> {
    Some(
        json!({"apiVersion": "kubernetes.external-secrets.io/v1alpha1",
                "kind": "PushSecretMetadata", "spec": spec}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_merge_unchanged_unmanaged_metadata_exists_and_delete() {
    use plugin_common::{push, remote};
    let (fake, relay, p) = push_env().await;
    let pr = project("push");
    let (c, _) = p
        .open(&store(&pr, key_config(&pr, json!({}))))
        .await
        .unwrap();

    // A whole-Secret push with labels and annotations: create, then one version.
    let meta =
        |team: &str| gcp_meta(json!({"labels": {"team": team}, "annotations": {"owner": "me"}}));
    let before = sm_calls(&relay);
    c.push_secret(&push("db", None, r#"{"a":"1"}"#, meta("a")))
        .await
        .unwrap();
    let first = sm_calls(&relay);
    println!(
        "gcp first push: calls {} writes {}",
        first.0 - before.0,
        first.1 - before.1
    );
    assert_eq!((first.0 - before.0, first.1 - before.1), (3, 2));
    assert_eq!(
        remote_state(&fake, &pr, "db"),
        json!({"labels": {"managed-by": "external-secrets", "team": "a"}, "annotations": {"owner": "me"},
               "replication": {"automatic": {}}, "payload": r#"{"a":"1"}"#})
    );
    c.push_secret(&push("db", None, r#"{"a":"1"}"#, meta("a")))
        .await
        .unwrap();
    let again = sm_calls(&relay);
    println!(
        "gcp unchanged re-push: calls {} writes {}",
        again.0 - first.0,
        again.1 - first.1
    );
    assert_eq!((again.0 - first.0, again.1 - first.1), (2, 0));
    // New labels, same payload: one label update, no version.
    c.push_secret(&push("db", None, r#"{"a":"1"}"#, meta("b")))
        .await
        .unwrap();
    assert_eq!(sm_calls(&relay).1 - again.1, 1);
    assert_eq!(
        remote_state(&fake, &pr, "db")["labels"],
        json!({"managed-by": "external-secrets", "team": "b"})
    );

    // Properties merge into the JSON payload; the same value again writes nothing.
    c.push_secret(&push("app", Some("user"), "admin", None))
        .await
        .unwrap();
    c.push_secret(&push("app", Some("pass"), "p1", None))
        .await
        .unwrap();
    let w = sm_calls(&relay);
    c.push_secret(&push("app", Some("user"), "admin", None))
        .await
        .unwrap();
    assert_eq!(sm_calls(&relay).1, w.1);
    assert_eq!(
        remote_state(&fake, &pr, "app")["payload"],
        r#"{"pass":"p1","user":"admin"}"#
    );

    // Replication from the metadata.
    c.push_secret(&push(
        "repl",
        None,
        "v",
        gcp_meta(json!({"replicationLocation": "europe-west1"})),
    ))
    .await
    .unwrap();
    assert_eq!(
        remote_state(&fake, &pr, "repl")["replication"],
        json!({"userManaged": {"replicas": [{"location": "europe-west1"}]}})
    );

    // What cannot be honoured is refused before any write.
    let w = sm_calls(&relay);
    for (prop, spec) in [
        (Some("k"), json!({"labels": {"x": "y"}})),
        (None, json!({"topics": ["projects/p/topics/t"]})),
        (None, json!({"mergePolicy": "Sometimes"})),
        (None, json!({"unknown": 1})),
    ] {
        let err = c
            .push_secret(&push("meta", prop, "v", gcp_meta(spec.clone())))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ProviderError::InvalidConfig(_)),
            "{spec}: {err:?}"
        );
    }
    assert_eq!(sm_calls(&relay).1, w.1);

    // Someone else's secret: refused for whole and property pushes, left alone by delete.
    common::cloud::python_with(
        &fake.url,
        &pr,
        "gcp('POST', '/v1/projects/' + P + '/secrets?secretId=foreign', {'replication': {'automatic': {}}})\n\
         gcp('POST', '/v1/projects/' + P + '/secrets/foreign:addVersion', {'payload': {'data': base64.b64encode(b'theirs').decode()}})\n",
    );
    for prop in [None, Some("k")] {
        let err = c
            .push_secret(&push("foreign", prop, "mine", None))
            .await
            .unwrap_err();
        assert_eq!(err.category(), "forbidden", "{err}");
        assert!(
            err.to_string().contains("not managed by external-secrets")
                && !err.to_string().contains("theirs"),
            "{err}"
        );
    }
    c.delete_secret(&remote("foreign", None)).await.unwrap();
    assert_eq!(remote_state(&fake, &pr, "foreign")["payload"], "theirs");

    assert!(c.secret_exists(&remote("app", None)).await.unwrap());
    assert!(!c.secret_exists(&remote("none", None)).await.unwrap());
    c.delete_secret(&remote("app", Some("user"))).await.unwrap();
    assert_eq!(remote_state(&fake, &pr, "app")["labels"], Value::Null);
    c.delete_secret(&remote("app", None)).await.unwrap();
    assert!(!c.secret_exists(&remote("app", None)).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_sandbox_allowing_only_reads_denies_the_push() {
    let (fake, relay, p) = push_env().await;
    let pr = project("ro");
    let mut s = store(&pr, key_config(&pr, json!({})));
    // Reads from Secret Manager, and the token endpoint: nothing else.
    let spec = json!({"egress": {"allow": [
        {"host": "127.0.0.1", "ports": [relay.port], "methods": ["GET"]},
        {"host": "127.0.0.1", "ports": [fake.port], "methods": ["POST"]}],
        "privateNetworks": "Allow"}});
    s.sandbox = Some(std::sync::Arc::new(serde_json::from_value(spec).unwrap()));
    let (c, _) = p.open(&s).await.unwrap();
    let err = c
        .push_secret(&plugin_common::push("db", None, "v", None))
        .await
        .unwrap_err();
    plugin_common::assert_egress_denied(&err);
    assert_eq!(sm_calls(&relay).1, 0, "no write reached the fake");
    assert_eq!(remote_state(&fake, &pr, "db")["labels"], Value::Null);
}
