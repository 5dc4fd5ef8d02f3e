//! Templates: no templateFrom object of another namespace, no privileged Secret types
//! (GHSA-fq7h-9x26-6j22), no `getSecretKey` (GHSA-77v3-r3jw-j2v2).

use ampoule::crd::template::rules;
use base64::Engine as _;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

use super::common::operator::Operated;
use super::common::{apply, data};
use super::{assert_never_visible, es, marker, operator, secret_in, tenant_secret};

/// A `fake` store `fake` serving `app` = `{"user": <a marker>}`; returns the marker.
async fn fake_store(op: &Operated) -> String {
    let user = marker("app-user");
    let value = json!({"user": user}).to_string();
    op.store(json!({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "fake"},
        "spec": {"controller": op.class, "provider": {"fake": {"data": [{"key": "app", "value": value}]}}}}))
        .await;
    user
}

/// An ExternalSecret of `app` with this target template.
fn templated(name: &str, template: Value) -> Value {
    es(
        name,
        json!({"refreshInterval": "1h", "secretStoreRef": {"name": "fake"},
            "target": {"template": template}, "dataFrom": [{"extract": {"key": "app"}}]}),
    )
}

/// The ExternalSecret's Ready=False message, once it fails.
async fn refused(op: &Operated, name: &str) -> String {
    op.wait_es(name, "False", "SecretSyncedError").await
}

#[tokio::test]
async fn template_from_never_reads_another_namespace() {
    let op = operator("adv-tplfrom").await;
    let user = fake_store(&op).await;
    let other = ground::ground().namespace("adv-tplfrom-owner").await;
    let (cm_bait, secret_bait) = (marker("configmap-template"), marker("secret-template"));
    apply(
        &op.client,
        Some(&other),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "tpl"}, "data": {"t": cm_bait}}),
    )
    .await
    .unwrap();
    secret_in(&op.client, &other, "tpl", &[("t", &secret_bait)]).await;
    for (name, kind, plural) in [
        ("from-cm", "configMap", "configmaps"),
        ("from-secret", "secret", "secrets"),
    ] {
        let from = json!([{kind: {"name": "tpl", "namespace": other, "items": [{"key": "t"}]}}]);
        // ESO's TemplateRef has no namespace: server-side apply refuses the field, a create
        // (kubectl create, client-side apply) has it dropped (structural pruning, a warning).
        let obj = templated(name, json!({"templateFrom": from}));
        let err = apply(&op.client, Some(&op.ns), obj.clone())
            .await
            .expect_err("server-side apply refuses an undeclared field");
        assert!(
            err.to_string().contains(&format!(
                "templateFrom[0].{kind}.namespace: field not declared in schema"
            )),
            "{err}"
        );
        let mut obj = obj;
        obj["metadata"]["namespace"] = json!(op.ns);
        let obj: kube::api::DynamicObject = serde_json::from_value(obj).unwrap();
        let ar = super::common::eso_resource("externalsecrets");
        Api::<kube::api::DynamicObject>::namespaced_with(op.client.clone(), &op.ns, &ar)
            .create(&PostParams::default(), &obj)
            .await
            .unwrap();
        let stored = super::common::get(&op.client, Some(&op.ns), "externalsecrets", name)
            .await
            .unwrap();
        assert_eq!(
            stored.data["spec"]["target"]["template"]["templateFrom"][0][kind],
            json!({"name": "tpl", "items": [{"key": "t", "templateAs": "Values"}]}),
            "no namespace is stored"
        );
        let msg = refused(&op, name).await;
        assert_eq!(
            msg,
            format!(
                "could not apply template: error fetching templateFrom data: {plural} \"tpl\" not found"
            ),
            "read in the ExternalSecret's own namespace"
        );
        op.warning(Some(name), &["templateFrom"]).await;
        assert!(tenant_secret(&op, name).await.is_none());
    }
    assert_never_visible(&op, &[&other], &[&cm_bait, &secret_bait, &user], &[]).await;
    ground::ground().drop_namespace(&other).await;
}

const SA_TOKEN: &str = "kubernetes.io/service-account-token";
const SA_NAME: &str = "kubernetes.io/service-account.name";

/// Templates that would have the apiserver mint a ServiceAccount token (or carry a bootstrap
/// token) into a Secret the tenant reads, and ESO's message refusing each.
fn privileged() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        (
            "sa-annotation",
            json!({"type": SA_TOKEN, "metadata": {"annotations": {SA_NAME: "default"}}}),
            rules::SA_TOKEN_ANNOTATION_MSG,
        ),
        (
            "sa-template-from",
            json!({"type": SA_TOKEN, "templateFrom": [{"target": "Annotations", "literal": format!("{SA_NAME}: default")}]}),
            rules::SA_TOKEN_TEMPLATE_FROM_MSG,
        ),
        (
            "sa-template-from-case",
            json!({"type": SA_TOKEN, "templateFrom": [{"target": "aNNotations", "literal": format!("{SA_NAME}: default")}]}),
            rules::SA_TOKEN_TEMPLATE_FROM_MSG,
        ),
        (
            "bootstrap",
            json!({"type": "bootstrap.kubernetes.io/token", "data": {"token-id": "abcdef", "token-secret": "0123456789abcdef"}}),
            rules::BOOTSTRAP_TOKEN_MSG,
        ),
    ]
}

/// GHSA-fq7h-9x26-6j22 (CVE-2026-42876): an ExternalSecret could create a service-account-token
/// Secret (kube-controller-manager, which the ground runs, then writes a token of the named
/// ServiceAccount into it) or a bootstrap token. Refused at admission in every version and in
/// ClusterExternalSecrets; and at reconcile for objects admission never saw (stored before the
/// rule existed, e.g. under ESO with `failurePolicy: Ignore`): they are written straight into
/// etcd here.
#[tokio::test]
async fn privileged_templates_are_refused_at_admission_and_at_reconcile() {
    let op = operator("adv-privileged").await;
    let user = fake_store(&op).await;
    for (name, template, msg) in privileged() {
        for version in ["v1", "v1beta1"] {
            let mut obj = templated(name, template.clone());
            obj["apiVersion"] = json!(format!("external-secrets.io/{version}"));
            assert_refused(apply(&op.client, Some(&op.ns), obj).await, msg, name);
        }
        let ces = json!({"apiVersion": "external-secrets.io/v1", "kind": "ClusterExternalSecret",
            "metadata": {"name": format!("{}-{name}", op.ns)},
            "spec": {"namespaces": [op.ns], "externalSecretSpec": templated(name, template.clone())["spec"]}});
        assert_refused(apply(&op.client, None, ces).await, msg, name);
    }

    for (name, template, _) in privileged() {
        plant(&op.ns, templated(name, template)).await;
    }
    for (name, _, msg) in privileged() {
        let got = refused(&op, name).await;
        assert!(got.contains(msg), "{name}: {got}");
        op.warning(Some(name), &[msg]).await;
    }
    let secrets = op.secrets().list(&Default::default()).await.unwrap();
    for s in &secrets.items {
        let t = s.type_.as_deref().unwrap_or_default();
        assert!(
            t != SA_TOKEN && t != "bootstrap.kubernetes.io/token",
            "a privileged Secret was written: {:?} {t}",
            s.metadata.name
        );
    }
    assert_never_visible(&op, &[], &[&user], &[]).await;
    for (name, _, _) in privileged() {
        assert!(tenant_secret(&op, name).await.is_none(), "{name}");
        let _ = kube::Api::<ampoule::crd::ExternalSecret>::namespaced(op.client.clone(), &op.ns)
            .delete(name, &Default::default())
            .await;
    }
}

fn assert_refused(result: Result<kube::api::DynamicObject, kube::Error>, msg: &str, name: &str) {
    let err = result.expect_err(&format!("{name} must be refused at admission"));
    let kube::Error::Api(status) = err else {
        panic!("{name}: expected an API error, got {err:?}")
    };
    assert_eq!(status.code, 422, "{name}: {status:?}");
    assert!(status.message.contains(msg), "{name}: {}", status.message);
}

/// Stores an ExternalSecret straight into the ground's etcd (as an object stored before the CRD's
/// rules existed), bypassing admission; the apiserver serves it like any other.
async fn plant(ns: &str, mut obj: Value) {
    let name = obj["metadata"]["name"].as_str().unwrap().to_owned();
    obj["metadata"]["namespace"] = json!(ns);
    obj["metadata"]["uid"] = json!(format!(
        "{:08x}-0000-4000-8000-{:012x}",
        rand::random::<u32>(),
        rand::random::<u64>() >> 16
    ));
    obj["metadata"]["generation"] = json!(1);
    obj["metadata"]["creationTimestamp"] = json!(
        k8s_openapi::jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    );
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let key = format!("/registry/external-secrets.io/externalsecrets/{ns}/{name}");
    let endpoint = ground::ground().var("ETCD_ENDPOINT");
    let resp = reqwest::Client::new()
        .post(format!("{endpoint}/v3/kv/put"))
        .json(&json!({"key": b64(&key), "value": b64(&obj.to_string())}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "etcd put: {}", resp.status());
    let api =
        kube::Api::<ampoule::crd::ExternalSecret>::namespaced(ground::ground().client().await, ns);
    ground::eventually(
        super::common::WAIT,
        &format!("the apiserver to serve the planted {name}"),
        || async { api.get_opt(&name).await.ok().flatten() },
    )
    .await;
}

/// GHSA-77v3-r3jw-j2v2: the `getSecretKey` template function read any Secret with the
/// controller's RBAC. Ampoule has no such function: every place a template runs refuses it.
#[tokio::test]
async fn there_is_no_get_secret_key_template_function() {
    let op = operator("adv-getsecretkey").await;
    let user = fake_store(&op).await;
    let other = ground::ground().namespace("adv-getsecretkey-owner").await;
    let bait = marker("get-secret-key");
    secret_in(&op.client, &other, "db", &[("password", &bait)]).await;
    secret_in(&op.client, &op.ns, "db", &[("password", &bait)]).await;
    let call = format!("{{{{ getSecretKey \"db\" \"{other}\" \"password\" }}}}");
    let own = "{{ getSecretKey \"db\" \"password\" }}".to_owned();
    op.apply(templated("in-data", json!({"data": {"stolen": call}})))
        .await;
    op.apply(templated("own-namespace", json!({"data": {"stolen": own}})))
        .await;
    op.apply(templated(
        "in-literal",
        json!({"templateFrom": [{"literal": format!("stolen: \"{}\"", call.replace('"', "\\\""))}]}),
    ))
    .await;
    op.apply(es(
        "in-rewrite",
        json!({"refreshInterval": "1h", "secretStoreRef": {"name": "fake"},
        "dataFrom": [{"extract": {"key": "app"}, "rewrite": [{"transform": {"template": call}}]}]}),
    ))
    .await;
    for name in ["in-data", "own-namespace", "in-literal", "in-rewrite"] {
        let msg = refused(&op, name).await;
        assert!(
            msg.contains("function \"getSecretKey\" not defined"),
            "{name}: {msg}"
        );
        op.warning(Some(name), &["getSecretKey"]).await;
        assert!(tenant_secret(&op, name).await.is_none(), "{name}");
    }
    assert_never_visible(&op, &[&other], &[&bait, &user], &["db"]).await;
    assert_eq!(
        data(&tenant_secret(&op, "db").await.unwrap())["password"],
        bait
    );
    ground::ground().drop_namespace(&other).await;
}
