//! The real `ampoule run` binary against the ground: a ProviderClass pulls the `fake` component
//! from the ground's OCI registry by digest, and an ExternalSecret syncs through it — provider
//! code running only inside the sandbox.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{WAIT, apply, crds, data, unique};
use kube::api::Api;
use serde_json::json;

#[tokio::test]
async fn fake_provider_pulled_from_the_registry_syncs_through_the_sandbox() {
    let g = ground::ground();
    let client = g.client().await;
    crds(&client).await;
    let ns = g.namespace("e2e-fake").await;
    let class = unique("e2e");

    // Push the fake component built by this build to the ground's registry.
    let wasm = std::path::Path::new(ampoule::plugin::distribution::embedded::BUILD_DIR)
        .join("ampoule_fake.wasm");
    let repo = format!("oci://{}/ampoule/fake-{class}", g.registry());
    let manifest_digest = common::push(&wasm, &format!("{repo}:test"));
    let component_digest = ampoule::plugin::Digest::of(&std::fs::read(&wasm).unwrap()).to_string();

    // A ProviderClass for `fake`, by digest (the operator resolves nothing at run time).
    let pc_name = format!("fake-{class}");
    apply(&client, None, json!({
        "apiVersion": "ampoule.dev/v1alpha1", "kind": "ProviderClass", "metadata": {"name": pc_name},
        "spec": {"provider": "fake", "module": {"image": format!("{repo}@{manifest_digest}")},
                 "sandbox": {"limits": {"memory": "32Mi", "timeout": "5s"}}}
    }))
    .await
    .unwrap();

    let cache = std::env::temp_dir().join(unique("ampoule-cache"));
    let log = std::env::temp_dir().join(format!("{ns}.log"));
    let _op = common::operator(Some(&ns), &class, &cache, &log);
    apply(&client, Some(&ns), json!({
        "apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "fake"},
        "spec": {"controller": class, "provider": {"fake": {"data": [
            {"key": "/db/password", "value": "s3cr3t"},
            {"key": "/db/config", "value": "{\"user\":\"app\",\"port\":5432}"}
        ]}}}
    }))
    .await
    .unwrap();
    apply(&client, Some(&ns), json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "app"},
        "spec": {"secretStoreRef": {"name": "fake"}, "refreshInterval": "1m",
                 "data": [{"secretKey": "password", "remoteRef": {"key": "/db/password"}},
                          {"secretKey": "user", "remoteRef": {"key": "/db/config", "property": "user"}}]}
    }))
    .await
    .unwrap();

    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), &ns);
    let secret = ground::eventually(
        WAIT * 2,
        "the Secret written through the sandboxed fake plugin",
        || async { secrets.get_opt("app").await.unwrap() },
    )
    .await;
    assert_eq!(data(&secret)["password"], "s3cr3t");
    assert_eq!(data(&secret)["user"], "app");

    // The store's status names the digest that ran; the class's status the same.
    let store = common::get(&client, Some(&ns), "secretstores", "fake")
        .await
        .unwrap();
    assert_eq!(
        store.data["status"]["plugin"]["digest"],
        json!(component_digest),
        "{:?}",
        store.data["status"]
    );
    let pcs: Api<ampoule::crd::ProviderClass> = Api::all(client.clone());
    // The class status is written right after the class binds, which may trail the first sync.
    let status = ground::eventually(WAIT, "the ProviderClass status", || async {
        pcs.get(&pc_name)
            .await
            .unwrap()
            .status
            .filter(|s| s.digest.is_some())
    })
    .await;
    assert_eq!(status.digest.as_deref(), Some(component_digest.as_str()));
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(
        (ready.reason.as_deref(), &ready.status),
        (Some("Loaded"), &ampoule::crd::ConditionStatus::True)
    );
    let _ = pcs.delete(&pc_name, &Default::default()).await;
    let _ = std::fs::remove_dir_all(&cache);
}
