//! Smoke tests proving each server of the test ground is real and wired together.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use ground::{eventually, ground, run};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ObjectMeta, PostParams};
use kube::core::GroupVersionKind;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn crd_with_cel_rule_rejects_violating_object() {
    let g = ground();
    let client = g.client().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.smoke.ampoule.dev"},
        "spec": {
            "group": "smoke.ampoule.dev",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {"spec": {
                        "type": "object",
                        "properties": {"min": {"type": "integer"}, "max": {"type": "integer"}},
                        "x-kubernetes-validations": [{"rule": "self.min <= self.max", "message": "min must not exceed max"}]
                    }}
                }}
            }]
        }
    }))
    .unwrap();
    let _ = crds.create(&PostParams::default(), &crd).await;
    eventually(WAIT, "the CRD to be established", || {
        let crds = crds.clone();
        async move {
            let c = crds.get("widgets.smoke.ampoule.dev").await.ok()?;
            let established = c
                .status?
                .conditions?
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            established.then_some(())
        }
    })
    .await;

    let ns = g.namespace("smoke-cel").await;
    let gvk = GroupVersionKind::gvk("smoke.ampoule.dev", "v1", "Widget");
    let widgets: Api<DynamicObject> =
        Api::namespaced_with(client, &ns, &ApiResource::from_gvk(&gvk));
    let object = |name: &str, min: i64, max: i64| -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "smoke.ampoule.dev/v1", "kind": "Widget",
            "metadata": {"name": name}, "spec": {"min": min, "max": max}
        }))
        .unwrap()
    };
    // Creating a CRD is eventually consistent for its REST endpoint as well.
    eventually(WAIT, "a valid Widget to be accepted", || {
        let widgets = widgets.clone();
        let ok = object("ok", 1, 2);
        async move {
            widgets
                .create(&PostParams::default(), &ok)
                .await
                .ok()
                .map(|_| ())
        }
    })
    .await;
    let err = widgets
        .create(&PostParams::default(), &object("bad", 3, 2))
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 422, "{status:?}");
            assert!(
                status.message.contains("min must not exceed max"),
                "{}",
                status.message
            );
        }
        other => panic!("expected a 422 from the CEL rule, got {other:?}"),
    }
    g.drop_namespace(&ns).await;
}

#[tokio::test]
async fn token_request_logs_into_openbao_and_reads_kv() {
    let g = ground();
    let client = g.client().await;
    let ns = g.namespace("smoke-bao").await;
    let sas: Api<ServiceAccount> = Api::namespaced(client, &ns);
    let sa = ServiceAccount {
        metadata: ObjectMeta {
            name: Some("reader".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    sas.create(&PostParams::default(), &sa).await.unwrap();
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            audiences: Some(vec!["vault".into()]),
            expiration_seconds: Some(600),
            ..Default::default()
        }),
        ..Default::default()
    };
    let jwt = sas
        .create_token_request("reader", &PostParams::default(), &request)
        .await
        .unwrap()
        .status
        .unwrap()
        .token;

    let http = reqwest::Client::new();
    let bao =
        |method: reqwest::Method, path: String, token: Option<String>, body: Option<Value>| {
            let http = http.clone();
            let url = format!("{}/v1/{path}", g.vault_addr());
            async move {
                let mut req = http.request(method, url);
                if let Some(t) = token {
                    req = req.header("X-Vault-Token", t);
                }
                if let Some(b) = body {
                    req = req.json(&b);
                }
                let resp = req.send().await.unwrap();
                let status = resp.status();
                let text = resp.text().await.unwrap();
                assert!(status.is_success(), "{status}: {text}");
                if text.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str::<Value>(&text).unwrap()
                }
            }
        };
    let root = Some(g.vault_token().to_string());
    let path = format!("smoke/{ns}");
    bao(
        reqwest::Method::POST,
        format!("secret/data/{path}"),
        root.clone(),
        Some(json!({"data": {"password": "s3cr3t"}})),
    )
    .await;
    bao(
        reqwest::Method::PUT,
        format!("sys/policies/acl/{ns}"),
        root.clone(),
        Some(json!({"policy": format!("path \"secret/data/{path}\" {{ capabilities = [\"read\"] }}")})),
    )
    .await;
    bao(
        reqwest::Method::POST,
        format!("auth/kubernetes/role/{ns}"),
        root,
        Some(json!({"bound_service_account_names": ["reader"], "bound_service_account_namespaces": [ns],
                    "audience": "vault", "token_policies": [ns], "token_ttl": "10m"})),
    )
    .await;
    // OpenBao sends a TokenReview to the ground's apiserver to accept this login.
    let login = bao(
        reqwest::Method::POST,
        "auth/kubernetes/login".into(),
        None,
        Some(json!({"role": ns, "jwt": jwt})),
    )
    .await;
    let token = login["auth"]["client_token"].as_str().unwrap().to_string();
    assert_eq!(
        login["auth"]["metadata"]["service_account_namespace"],
        json!(ns)
    );
    let read = bao(
        reqwest::Method::GET,
        format!("secret/data/{path}"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(read["data"]["data"]["password"], json!("s3cr3t"));
    g.drop_namespace(&ns).await;
}

#[tokio::test]
async fn owner_reference_is_garbage_collected() {
    let g = ground();
    let ns = g.namespace("smoke-gc").await;
    let cms: Api<ConfigMap> = Api::namespaced(g.client().await, &ns);
    let owner = cms
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: ObjectMeta {
                    name: Some("owner".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let child = ConfigMap {
        metadata: ObjectMeta {
            name: Some("child".into()),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                name: "owner".into(),
                uid: owner.metadata.uid.clone().unwrap(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        ..Default::default()
    };
    cms.create(&PostParams::default(), &child).await.unwrap();
    cms.delete("owner", &DeleteParams::default()).await.unwrap();
    eventually(
        WAIT,
        "kube-controller-manager's garbage collector to delete the child",
        || {
            let cms = cms.clone();
            async move { cms.get_opt("child").await.unwrap().is_none().then_some(()) }
        },
    )
    .await;
    g.drop_namespace(&ns).await;
}

#[test]
fn moto_serves_secrets_manager_and_ssm() {
    let g = ground();
    let script = r#"
import boto3, os, uuid
name = "smoke/" + uuid.uuid4().hex
sm = boto3.client("secretsmanager")
sm.create_secret(Name=name, SecretString='{"password":"hunter2"}')
assert sm.get_secret_value(SecretId=name)["SecretString"] == '{"password":"hunter2"}'
ssm = boto3.client("ssm")
ssm.put_parameter(Name="/" + name, Value="p4ss", Type="SecureString")
p = ssm.get_parameter(Name="/" + name, WithDecryption=True)["Parameter"]
assert p["Type"] == "SecureString" and p["Value"] == "p4ss", p
sts = boto3.client("sts")
assert sts.get_caller_identity()["Account"]
print("ok")
"#;
    let out = run(g.python().arg("-c").arg(script));
    assert_eq!(out.trim(), "ok");
}

#[tokio::test]
async fn registry_round_trips_a_wasm_artifact_by_digest() {
    let g = ground();
    let http = reqwest::Client::new();
    let base = format!(
        "http://{}/v2/smoke/artifact-{:08x}",
        g.registry(),
        std::process::id()
    );
    let wasm: Vec<u8> = b"\0asm\x0d\0\x01\0smoke-test-component".to_vec();
    let config = br#"{"architecture":"wasm","os":"wasip2"}"#.to_vec();
    let digest = |b: &[u8]| format!("sha256:{:x}", Sha256::digest(b));

    for blob in [&config, &wasm] {
        let resp = http
            .post(format!("{base}/blobs/uploads/"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202);
        let location = resp.headers()["location"].to_str().unwrap().to_string();
        let url = if location.starts_with("http") {
            location
        } else {
            format!("http://{}{location}", g.registry())
        };
        let sep = if url.contains('?') { '&' } else { '?' };
        let put = http
            .put(format!("{url}{sep}digest={}", digest(blob)))
            .body(blob.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 201, "{}", put.text().await.unwrap());
    }
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.wasm.config.v0+json", "digest": digest(&config), "size": config.len()},
        "layers": [{"mediaType": "application/wasm", "digest": digest(&wasm), "size": wasm.len()}]
    }))
    .unwrap();
    let put = http
        .put(format!("{base}/manifests/v1"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    assert_eq!(
        put.headers()["docker-content-digest"].to_str().unwrap(),
        digest(&manifest)
    );

    let got = http
        .get(format!("{base}/manifests/{}", digest(&manifest)))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    let got = got.bytes().await.unwrap();
    assert_eq!(digest(&got), digest(&manifest));
    let parsed: Value = serde_json::from_slice(&got).unwrap();
    assert_eq!(
        parsed["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    let layer = parsed["layers"][0]["digest"].as_str().unwrap().to_string();
    let blob = http
        .get(format!("{base}/blobs/{layer}"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        blob.as_ref(),
        wasm.as_slice(),
        "the layer pulled by digest must be byte-identical"
    );
}

#[test]
fn helm_lints_and_renders_the_chart() {
    let g = ground();
    let chart = g.repo.join("charts/ampoule");
    let version = run(g.command("helm").args(["version", "--short"]));
    assert!(version.starts_with("v3."), "helm 3 expected, got {version}");
    run(g.command("helm").arg("lint").arg("--strict").arg(&chart));
    let rendered = run(g
        .command("helm")
        .args(["template", "smoke"])
        .arg(&chart)
        .args(["--namespace", "ampoule-system"]));
    assert!(rendered.contains("kind: ServiceAccount"), "{rendered}");
}
