//! The operator end to end: both components pushed to the ground's registry, a ProviderClass
//! pinning each by digest, an ExternalSecret synced through each.

use ampoule::plugin::Digest;
use kube::api::Api;
use serde_json::json;

use super::{bytes, compiled, polyglot};
use crate::common::{self, WAIT, apply, crds, data, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_and_python_fakes_pulled_from_the_registry_sync_through_the_operator() {
    let g = ground::ground();
    let client = g.client().await;
    crds(&client).await;
    let ns = g.namespace("e2e-polyglot").await;
    let class = unique("polyglot");
    let log = std::env::temp_dir().join(format!("{ns}.log"));
    let mut classes = Vec::new();
    let mut cleanup = common::DeleteClasses(Vec::new());
    for name in ["js-fake", "py-fake"] {
        // Push the component to the ground's registry; pin the class to the manifest digest.
        let repo = format!("oci://{}/ampoule/{name}-{class}", g.registry());
        let manifest = common::push(&polyglot()[name], &format!("{repo}:test"));
        // A provider key of its own (a third-party key), so the two never meet another class.
        let key = format!("{name}-{class}");
        cleanup.0.push(key.clone());
        apply(&client, None, json!({
            "apiVersion": "ampoule.dev/v1alpha1", "kind": "ProviderClass", "metadata": {"name": key},
            "spec": {"provider": key, "module": {"image": format!("{repo}@{manifest}")},
                     "sandbox": {"limits": {"memory": "128Mi", "timeout": "20s"}}}
        }))
        .await
        .unwrap();
        classes.push((name, key, Digest::of(&bytes(name)).to_string()));
    }
    let _op = common::operator(Some(&ns), &class, compiled(), &log);
    for (_, key, _) in &classes {
        apply(&client, Some(&ns), json!({
            "apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": key},
            "spec": {"controller": class, "provider": {key: {"data": [
                {"key": "/db/password", "value": "s3cr3t"},
                {"key": "/db/password", "value": "old", "version": "1"},
                {"key": "/db/config", "value": "{\"user\":\"app\",\"port\":5432}"}
            ]}}}
        }))
        .await
        .unwrap();
        apply(&client, Some(&ns), json!({
            "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": key},
            "spec": {"secretStoreRef": {"name": key}, "refreshInterval": "1m",
                     "data": [{"secretKey": "password", "remoteRef": {"key": "/db/password"}},
                              {"secretKey": "old", "remoteRef": {"key": "/db/password", "version": "1"}},
                              {"secretKey": "user", "remoteRef": {"key": "/db/config", "property": "user"}}],
                     "dataFrom": [{"extract": {"key": "/db/config"}}]}
        }))
        .await
        .unwrap();
    }

    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), &ns);
    let pcs: Api<ampoule::crd::ProviderClass> = Api::all(client.clone());
    for (name, key, digest) in &classes {
        // The operator compiles both components first (tens of seconds each in a debug build on a
        // busy machine): the bound is generous, nothing here measures time.
        let secret = ground::eventually(
            WAIT * 16,
            &format!(
                "the Secret written through the {name} plugin (log: {})",
                log.display()
            ),
            || async { secrets.get_opt(key).await.unwrap() },
        )
        .await;
        let got = data(&secret);
        assert_eq!(
            got.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>(),
            ["old=old", "password=s3cr3t", "port=5432", "user=app"],
            "{name}"
        );
        let store = common::get(&client, Some(&ns), "secretstores", key)
            .await
            .unwrap();
        assert_eq!(
            store.data["status"]["plugin"]["digest"],
            json!(digest),
            "{name}: {:?}",
            store.data["status"]
        );
        let status = pcs.get(key).await.unwrap().status.unwrap();
        assert_eq!(status.digest.as_deref(), Some(digest.as_str()), "{name}");
    }
    g.drop_namespace(&ns).await;
}
