//! The ground's node runs real Pods: kubelet + containerd + runc registered as `ground-node`
//! (tests/ground/lib/node.sh). The Pods run the probe image the ground built and pushed to its
//! registry (tests/ground/node/probe); kube-scheduler binds them, kubelet starts them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Duration;

use ground::{Ground, eventually, ground};
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::Api;
use kube::api::{DeleteParams, LogParams, PostParams};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

/// The node's name; fails the test when the ground was started without a node.
fn node_name(g: &Ground) -> String {
    let name = g.var("GROUND_NODE");
    assert!(
        name != "0",
        "this ground runs without a node (GROUND_NODE=0): restart it with tests/ground/down && tests/ground/up"
    );
    name.to_string()
}

/// The apiserver's port on 127.0.0.1 (Pods are told it explicitly: there is no kube-proxy).
fn apiserver_port(g: &Ground) -> String {
    let url = g.var("KUBE_APISERVER");
    let port = url
        .strip_prefix("https://127.0.0.1:")
        .unwrap_or_else(|| panic!("KUBE_APISERVER is not on 127.0.0.1: {url}"));
    port.to_string()
}

/// A namespace whose `default` ServiceAccount and `kube-root-ca.crt` ConfigMap exist: the
/// ServiceAccount admission plugin rejects Pods before the first, kubelet cannot mount the
/// token volume before the second.
async fn pod_namespace(g: &Ground, prefix: &str) -> String {
    let ns = g.namespace(prefix).await;
    let client = g.client().await;
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), &ns);
    eventually(WAIT, "the namespace's default ServiceAccount", || {
        let sas = sas.clone();
        async move { sas.get_opt("default").await.unwrap().map(|_| ()) }
    })
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(client, &ns);
    let ca = eventually(
        WAIT,
        "kube-controller-manager to publish kube-root-ca.crt",
        || {
            let cms = cms.clone();
            async move {
                let cm = cms.get_opt("kube-root-ca.crt").await.unwrap()?;
                cm.data?.get("ca.crt").cloned()
            }
        },
    )
    .await;
    let ground_ca = std::fs::read_to_string(g.var("KUBE_CA_FILE")).unwrap();
    assert_eq!(
        ca.trim(),
        ground_ca.trim(),
        "kube-root-ca.crt must carry the apiserver's CA"
    );
    ns
}

async fn logs(pods: &Api<Pod>, name: &str) -> String {
    pods.logs(name, &LogParams::default())
        .await
        .unwrap_or_default()
}

#[tokio::test]
async fn node_is_ready_on_loopback() {
    let g = ground();
    let name = node_name(g);
    let nodes: Api<Node> = Api::all(g.client().await);
    let node = nodes.get(&name).await.unwrap();
    let status = node.status.unwrap();
    let ready = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .expect("a Ready condition");
    assert_eq!(ready.status, "True", "{ready:?}");
    let addresses: Vec<(String, String)> = status
        .addresses
        .unwrap_or_default()
        .into_iter()
        .map(|a| (a.type_, a.address))
        .collect();
    assert_eq!(
        addresses,
        vec![("InternalIP".to_string(), "127.0.0.1".to_string())]
    );
    let info = status.node_info.unwrap();
    assert_eq!(info.kubelet_version, "v1.36.3");
    assert_eq!(info.container_runtime_version, "containerd://2.4.2");
    let taints = node.spec.unwrap().taints.unwrap_or_default();
    assert!(
        taints.iter().all(|t| t.effect != "NoSchedule"),
        "{taints:?}"
    );
}

/// A hostNetwork Pod (no nodeName: kube-scheduler binds it) calls the apiserver with the
/// ServiceAccount token the admission plugin mounted, sees its memory limit in its cgroup, and
/// gets SIGTERM when it is deleted.
#[tokio::test]
async fn pod_calls_the_apiserver_with_its_token_and_gets_sigterm() {
    let g = ground();
    let node = node_name(g);
    let ns = pod_namespace(g, "node-probe").await;
    let client = g.client().await;
    // The token's identity may list Pods of its namespace: RBAC applies to it like in a cluster.
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), &ns);
    let binding = serde_json::from_value(json!({
        "metadata": {"name": "default-view"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": ns}]
    }))
    .unwrap();
    bindings
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();

    let markers = PathBuf::from(g.var("NODE_DIR")).join("markers").join(&ns);
    std::fs::create_dir_all(&markers).unwrap();
    let pods: Api<Pod> = Api::namespaced(client, &ns);
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "probe"},
        "spec": {
            "hostNetwork": true,
            "terminationGracePeriodSeconds": 20,
            "containers": [{
                "name": "probe",
                "image": g.var("NODE_PROBE_IMAGE"),
                "env": [
                    {"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
                    {"name": "KUBERNETES_SERVICE_PORT", "value": apiserver_port(g)},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "PROBE_MARKER_DIR", "value": "/markers"}
                ],
                "resources": {"limits": {"memory": "64Mi", "cpu": "100m"}},
                "volumeMounts": [{"name": "markers", "mountPath": "/markers"}]
            }],
            "volumes": [{"name": "markers", "hostPath": {"path": markers, "type": "Directory"}}]
        }
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();

    let log = eventually(WAIT, "the probe to log `probe: ready`", || {
        let pods = pods.clone();
        async move {
            let log = logs(&pods, "probe").await;
            log.contains("probe: ready").then_some(log)
        }
    })
    .await;
    let created = pods.get("probe").await.unwrap();
    let spec = created.spec.unwrap();
    assert_eq!(spec.node_name.as_deref(), Some(node.as_str()));
    assert_eq!(spec.service_account_name.as_deref(), Some("default"));
    assert!(
        spec.volumes
            .unwrap_or_default()
            .iter()
            .any(|v| v.name.starts_with("kube-api-access-") && v.projected.is_some()),
        "the ServiceAccount admission plugin adds the projected token volume"
    );
    let user = format!("system:serviceaccount:{ns}:default");
    assert!(
        log.contains(&format!(
            "probe: selfsubjectreview status=201 username={user}\n"
        )),
        "{log}"
    );
    assert!(
        log.contains("probe: list pods status=200 count=1\n"),
        "{log}"
    );
    assert!(
        log.contains("probe: memory.limit_in_bytes=67108864\n"),
        "{log}"
    );

    pods.delete("probe", &DeleteParams::default())
        .await
        .unwrap();
    eventually(WAIT, "the Pod to be gone", || {
        let pods = pods.clone();
        async move { pods.get_opt("probe").await.unwrap().is_none().then_some(()) }
    })
    .await;
    let marker = std::fs::read_to_string(markers.join("probe.terminated")).unwrap_or_else(|e| {
        panic!(
            "the probe recorded no SIGTERM in {}: {e}",
            markers.display()
        )
    });
    assert!(marker.starts_with("got SIGTERM at "), "{marker}");

    g.drop_namespace(&ns).await;
    std::fs::remove_dir_all(&markers).unwrap();
}

/// A Pod on the Pod network (an isolated tap device) that exceeds its memory limit is killed by
/// the kernel's OOM killer in its cgroup, and kubelet reports OOMKilled.
#[tokio::test]
async fn memory_limit_is_enforced() {
    let g = ground();
    node_name(g);
    let ns = pod_namespace(g, "node-oom").await;
    let pods: Api<Pod> = Api::namespaced(g.client().await, &ns);
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "hog"},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": false,
            "containers": [{
                "name": "hog",
                "image": g.var("NODE_PROBE_IMAGE"),
                "args": ["hog"],
                "resources": {"limits": {"memory": "32Mi", "cpu": "200m"}}
            }]
        }
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();

    let terminated = eventually(WAIT, "the hog container to terminate", || {
        let pods = pods.clone();
        async move {
            let pod = pods.get("hog").await.unwrap();
            let status = pod.status?.container_statuses?.into_iter().next()?;
            status.state?.terminated
        }
    })
    .await;
    let log = logs(&pods, "hog").await;
    assert_eq!(
        terminated.reason.as_deref(),
        Some("OOMKilled"),
        "{terminated:?}\n{log}"
    );
    assert_eq!(terminated.exit_code, 137, "{terminated:?}");
    // It did allocate (so it ran) but never held 32 MiB of heap: the limit stopped it.
    let held: Vec<u32> = log
        .lines()
        .filter_map(|l| l.strip_prefix("probe: hog holds "))
        .filter_map(|l| l.strip_suffix(" MiB"))
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(!held.is_empty(), "{log}");
    assert!(held.iter().all(|&n| n < 32), "{log}");

    g.drop_namespace(&ns).await;
}
