//! PushSecret against the ground's moto, through a relay that counts the API calls: create with
//! the managed-by tag, property merge, no write when nothing changed, refusal of unmanaged
//! secrets and parameters, ESO's push metadata, secret-exists and delete.

use ampoule::provider::{ProviderClient, ProviderError};
use common::cloud::Relay;
use plugin_common::{push, remote};

use super::*;

/// Calls that change something in Secrets Manager or Parameter Store.
const WRITES: [&str; 10] = [
    "secretsmanager.CreateSecret",
    "secretsmanager.PutSecretValue",
    "secretsmanager.TagResource",
    "secretsmanager.UntagResource",
    "secretsmanager.DeleteSecret",
    "AmazonSSM.PutParameter",
    "AmazonSSM.AddTagsToResource",
    "AmazonSSM.RemoveTagsFromResource",
    "AmazonSSM.DeleteParameter",
    "secretsmanager.PutResourcePolicy",
];

/// (all calls, writes) that passed the relay.
fn calls(relay: &Relay) -> (usize, usize) {
    let all = relay.count("x-amz-target: ");
    let writes = WRITES
        .iter()
        .map(|op| relay.count(&format!("x-amz-target: {op}\r\n")))
        .sum();
    (all, writes)
}

/// A provider whose Secrets Manager and SSM endpoints are a relay in front of the ground's moto.
async fn relayed() -> (String, Relay, WasmProvider) {
    let ep = ground().aws_endpoint().to_owned();
    let relay = Relay::start(port_of(&ep)).await;
    let via = format!("http://127.0.0.1:{}", relay.port);
    let p = provider(
        static_creds("ground", "ground-secret"),
        json!({"endpoints": {"secretsmanager": via, "ssm": via, "sts": ep}}),
        &[port_of(&ep), relay.port],
    )
    .await;
    (ep, relay, p)
}

async fn client(p: &WasmProvider, name: &str, config: Value) -> Box<dyn ProviderClient> {
    p.open(&store(name, config)).await.unwrap().0
}

fn metadata(spec: Value) -> Option<Value> {
    Some(
        json!({"apiVersion": "kubernetes.external-secrets.io/v1alpha1",
                "kind": "PushSecretMetadata", "spec": spec}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_manager_push_merge_unchanged_unmanaged_metadata_exists_and_delete() {
    let (ep, relay, p) = relayed().await;
    let n = unique("push");
    let c = client(
        &p,
        &n,
        aws_config(
            "SecretsManager",
            json!({"secretsManager": {"forceDeleteWithoutRecovery": true}}),
        ),
    )
    .await;
    let app = format!("{n}/app");

    let before = calls(&relay);
    c.push_secret(&push(&app, Some("user"), "admin", None))
        .await
        .unwrap();
    let first = calls(&relay);
    println!(
        "secrets manager first push: calls {} writes {}",
        first.0 - before.0,
        first.1 - before.1
    );
    assert_eq!((first.0 - before.0, first.1 - before.1), (2, 1));
    let script = "\
d = sm.describe_secret(SecretId=P)
v = sm.get_secret_value(SecretId=P)
print(json.dumps({'tags': {t['Key']: t['Value'] for t in d['Tags']}, 'desc': d.get('Description'),
  'binary': v['SecretBinary'].decode(), 'string': 'SecretString' in v}))";
    let got: Value = serde_json::from_str(&boto(&ep, &app, script)).unwrap();
    assert_eq!(
        got,
        json!({"tags": {"managed-by": "external-secrets"}, "desc": "secret 'managed-by:external-secrets'",
               "binary": r#"{"user":"admin"}"#, "string": false})
    );

    c.push_secret(&push(&app, Some("user"), "admin", None))
        .await
        .unwrap();
    let again = calls(&relay);
    println!(
        "secrets manager unchanged re-push: calls {} writes {}",
        again.0 - first.0,
        again.1 - first.1
    );
    assert_eq!(again.1, first.1, "no write when nothing changed");

    c.push_secret(&push(&app, Some("pass"), "p1", None))
        .await
        .unwrap();
    assert_eq!(calls(&relay).1 - again.1, 1);
    assert_eq!(
        get(
            &p,
            &store(&n, aws_config("SecretsManager", json!({}))),
            rr(&app, None, None, false)
        )
        .await
        .unwrap(),
        r#"{"pass":"p1","user":"admin"}"#
    );

    // A whole-Secret push as SecretString with a description and tags; tags reconcile.
    let whole = format!("{n}/whole");
    let meta = |tags: Value| {
        metadata(json!({"secretPushFormat": "string", "description": "from ampoule", "tags": tags}))
    };
    c.push_secret(&push(
        &whole,
        None,
        r#"{"a":"1"}"#,
        meta(json!({"team": "a", "old": "x"})),
    ))
    .await
    .unwrap();
    let w = calls(&relay);
    c.push_secret(&push(
        &whole,
        None,
        r#"{"a":"1"}"#,
        meta(json!({"team": "a", "old": "x"})),
    ))
    .await
    .unwrap();
    assert_eq!(calls(&relay).1, w.1, "same value, same tags: no write");
    c.push_secret(&push(
        &whole,
        None,
        r#"{"a":"1"}"#,
        meta(json!({"team": "b"})),
    ))
    .await
    .unwrap();
    assert_eq!(
        calls(&relay).1 - w.1,
        2,
        "UntagResource and TagResource, no new version"
    );
    let script = "\
d = sm.describe_secret(SecretId=P)
v = sm.get_secret_value(SecretId=P)
print(json.dumps({'tags': {t['Key']: t['Value'] for t in d['Tags']}, 'desc': d.get('Description'),
  'string': v.get('SecretString'), 'versions': len(d['VersionIdsToStages'])}))";
    let got: Value = serde_json::from_str(&boto(&ep, &whole, script)).unwrap();
    assert_eq!(
        got,
        json!({"tags": {"managed-by": "external-secrets", "team": "b"}, "desc": "from ampoule",
               "string": r#"{"a":"1"}"#, "versions": 1})
    );

    // Metadata the plugin cannot honour is refused before anything is written.
    let w = calls(&relay);
    for spec in [
        json!({"resourcePolicy": {"policySourceRef": {"kind": "ConfigMap", "name": "p", "key": "k"}}}),
        json!({"replicationLocations": ["eu-west-1"]}),
        json!({"secretPushFormat": "yaml"}),
        json!({"tags": {"managed-by": "me"}}),
        json!({"unknownField": 1}),
    ] {
        let err = c
            .push_secret(&push(
                &format!("{n}/meta"),
                None,
                "v",
                metadata(spec.clone()),
            ))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ProviderError::InvalidConfig(_)),
            "{spec}: {err:?}"
        );
    }
    assert_eq!(calls(&relay), w);

    // Someone else's secret: refused (no value in the message) and left alone by delete.
    let foreign = format!("{n}/foreign");
    boto(
        &ep,
        &foreign,
        "sm.create_secret(Name=P, SecretString='theirs')\nprint('ok')",
    );
    let err = c
        .push_secret(&push(&foreign, None, "mine", None))
        .await
        .unwrap_err();
    assert_eq!(err.category(), "forbidden", "{err}");
    assert!(
        err.to_string().contains("not managed by external-secrets")
            && !err.to_string().contains("theirs")
            && !err.to_string().contains("mine"),
        "{err}"
    );
    c.delete_secret(&remote(&foreign, None)).await.unwrap();
    let left = boto(
        &ep,
        &foreign,
        "print(sm.get_secret_value(SecretId=P)['SecretString'])",
    );
    assert_eq!(left.trim(), "theirs");

    // A property push into a secret that is not JSON.
    let text = format!("{n}/text");
    c.push_secret(&push(&text, None, "plain", None))
        .await
        .unwrap();
    let err = c
        .push_secret(&push(&text, Some("k"), "v", None))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("requires a json secret"), "{err}");

    assert!(c.secret_exists(&remote(&app, None)).await.unwrap());
    assert!(
        !c.secret_exists(&remote(&format!("{n}/none"), None))
            .await
            .unwrap()
    );

    // forceDeleteWithoutRecovery: gone at once; deleting again is fine.
    c.delete_secret(&remote(&app, None)).await.unwrap();
    let gone = boto(
        &ep,
        &app,
        "\
try:
    sm.describe_secret(SecretId=P); print('there')
except sm.exceptions.ResourceNotFoundException:
    print('gone')",
    );
    assert_eq!(gone.trim(), "gone");
    c.delete_secret(&remote(&app, None)).await.unwrap();
    assert!(!c.secret_exists(&remote(&app, None)).await.unwrap());

    // recoveryWindowInDays: scheduled for deletion.
    let window = client(
        &p,
        &n,
        aws_config(
            "SecretsManager",
            json!({"secretsManager": {"recoveryWindowInDays": 7}}),
        ),
    )
    .await;
    window.delete_secret(&remote(&whole, None)).await.unwrap();
    let scheduled = boto(
        &ep,
        &whole,
        "print('DeletedDate' in sm.describe_secret(SecretId=P))",
    );
    assert_eq!(scheduled.trim(), "True");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_store_push_unchanged_unmanaged_metadata_and_delete() {
    let (ep, relay, p) = relayed().await;
    let n = format!("/{}", unique("push"));
    let c = client(&p, &n, aws_config("ParameterStore", json!({}))).await;
    let param = format!("{n}/p");

    let before = calls(&relay);
    c.push_secret(&push(&param, None, "v1", None))
        .await
        .unwrap();
    let first = calls(&relay);
    println!(
        "parameter store first push: calls {} writes {}",
        first.0 - before.0,
        first.1 - before.1
    );
    assert_eq!((first.0 - before.0, first.1 - before.1), (2, 1));
    let script = "\
v = ssm.get_parameter(Name=P, WithDecryption=True)['Parameter']
t = ssm.list_tags_for_resource(ResourceType='Parameter', ResourceId=P)['TagList']
print(json.dumps({'value': v['Value'], 'type': v['Type'], 'tags': {x['Key']: x['Value'] for x in t}}))";
    let got: Value = serde_json::from_str(&boto(&ep, &param, script)).unwrap();
    assert_eq!(
        got,
        json!({"value": "v1", "type": "String", "tags": {"managed-by": "external-secrets"}})
    );

    c.push_secret(&push(&param, None, "v1", None))
        .await
        .unwrap();
    let again = calls(&relay);
    println!(
        "parameter store unchanged re-push: calls {} writes {}",
        again.0 - first.0,
        again.1 - first.1
    );
    assert_eq!(again.1, first.1, "no write when nothing changed");

    // A new value as a SecureString with a tag: overwrite, then the tag.
    let meta = metadata(json!({"secretType": "SecureString", "tags": {"team": "a"}}));
    c.push_secret(&push(&param, None, "v2", meta))
        .await
        .unwrap();
    assert_eq!(calls(&relay).1 - again.1, 2);
    let got: Value = serde_json::from_str(&boto(&ep, &param, script)).unwrap();
    assert_eq!(
        got,
        json!({"value": "v2", "type": "SecureString", "tags": {"managed-by": "external-secrets", "team": "a"}})
    );

    // Properties merge into a JSON parameter.
    let json_param = format!("{n}/json");
    c.push_secret(&push(&json_param, Some("user"), "u", None))
        .await
        .unwrap();
    c.push_secret(&push(&json_param, Some("pass"), "p", None))
        .await
        .unwrap();
    let s = store(&n, aws_config("ParameterStore", json!({})));
    assert_eq!(
        get(&p, &s, rr(&json_param, None, None, false))
            .await
            .unwrap(),
        r#"{"pass":"p","user":"u"}"#
    );

    let foreign = format!("{n}/foreign");
    boto(
        &ep,
        &foreign,
        "ssm.put_parameter(Name=P, Value='theirs', Type='String')\nprint('ok')",
    );
    let err = c
        .push_secret(&push(&foreign, None, "mine", None))
        .await
        .unwrap_err();
    assert_eq!(err.category(), "forbidden", "{err}");
    assert!(!err.to_string().contains("theirs"), "{err}");
    c.delete_secret(&remote(&foreign, None)).await.unwrap();
    assert_eq!(
        get(&p, &s, rr(&foreign, None, None, false)).await.unwrap(),
        "theirs"
    );

    assert!(c.secret_exists(&remote(&param, None)).await.unwrap());
    c.delete_secret(&remote(&param, None)).await.unwrap();
    assert!(!c.secret_exists(&remote(&param, None)).await.unwrap());
    c.delete_secret(&remote(&param, None)).await.unwrap();
    let err = get(&p, &s, rr(&param, None, None, false))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::NotFound), "{err:?}");
}
