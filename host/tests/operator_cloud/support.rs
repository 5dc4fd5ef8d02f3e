//! Helpers of operator_cloud.rs: the cloud ProviderClasses, ServiceAccounts, probes of a store's
//! backend and the apiserver's request counters. The servers and the relay are common::cloud's.

use serde_json::{Value, json};

pub use crate::common::cloud::{Relay, Server, gcp_fake, moto, python};
use crate::common::operator::Operated;
use crate::common::{WAIT, apply};

/// Held for a whole test: a ProviderClass serves a provider key cluster-wide, so the tests that
/// point the `aws` (or `gcpsm`) class at their own servers take turns.
static AWS_CLASS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
static GCP_CLASS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A test's turn with one ProviderClass: the class is deleted when the turn ends, before the
/// next test's turn begins (fields drop in order).
pub struct ClassTurn {
    _class: ClassGuard,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

/// Waits for this test's turn with the `aws` ProviderClass.
pub async fn aws_turn() -> ClassTurn {
    ClassTurn {
        _turn: AWS_CLASS.lock().await,
        _class: ClassGuard("aws"),
    }
}

/// Waits for this test's turn with the `gcpsm` ProviderClass.
pub async fn gcp_turn() -> ClassTurn {
    ClassTurn {
        _turn: GCP_CLASS.lock().await,
        _class: ClassGuard("gcpsm"),
    }
}

/// Applies the ProviderClass serving `provider` with `settings`, egress allowed to these loopback
/// ports only.
pub async fn class(client: &kube::Client, provider: &str, settings: Value, ports: &[u16]) {
    class_granting(client, provider, settings, ports, false).await;
}

/// [`class`], its stores allowed the operator's own identity or not
/// (`spec.credentials.allowControllerIdentity`).
pub async fn class_granting(
    client: &kube::Client,
    provider: &str,
    settings: Value,
    ports: &[u16],
    controller_identity: bool,
) {
    let allow: Vec<Value> = ports
        .iter()
        .map(|p| json!({"host": "127.0.0.1", "ports": [p]}))
        .collect();
    apply(client, None, json!({"apiVersion": "ampoule.dev/v1alpha1", "kind": "ProviderClass", "metadata": {"name": provider},
        "spec": {"provider": provider, "settings": settings,
            "credentials": {"allowControllerIdentity": controller_identity},
            "sandbox": {"egress": {"allow": allow, "privateNetworks": "Allow"}, "limits": {"timeout": "10s"}}}}))
    .await
    .unwrap();
}

/// Deletes the ProviderClass when the test ends, so no later operator binds a dead endpoint.
pub struct ClassGuard(pub &'static str);

impl Drop for ClassGuard {
    fn drop(&mut self) {
        let _ = ground::ground()
            .command("kubectl")
            .args(["delete", "providerclass", self.0, "--ignore-not-found"])
            .output();
    }
}

/// A ServiceAccount with annotations in the operator's namespace.
pub async fn service_account(op: &Operated, name: &str, annotations: Value) {
    op.apply(json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": name, "annotations": annotations}}))
        .await;
}

/// An ExternalSecret reading one key from a store.
pub fn external_secret(name: &str, store: &str, key: &str) -> Value {
    json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": name},
        "spec": {"secretStoreRef": {"name": store}, "data": [{"secretKey": "value", "remoteRef": {"key": key}}]}})
}

/// Waits until the operator called the store's backend (a probe ExternalSecret's failure,
/// `needle`, is in its log). An ExternalSecret reconciled before the operator's store cache
/// sees the store Ready records "not ready" under reason UpdateFailed, and kube-runtime's
/// Recorder only counts later UpdateFailed events up under that first note (its dedup key has
/// no note); after this, a new ExternalSecret's first Warning is the backend's answer.
pub async fn backend_reached(op: &Operated, store: &str, needle: &str) {
    op.apply(external_secret("probe", store, "probe")).await;
    ground::eventually(
        WAIT,
        &format!("{needle:?} in the operator's log"),
        || async {
            std::fs::read_to_string(&op.log)
                .ok()?
                .contains(needle)
                .then_some(())
        },
    )
    .await;
}

/// The apiserver's `apiserver_request_total` summed over codes for one resource, subresource and
/// verb (to count the host's TokenRequests and ServiceAccount reads).
pub async fn apiserver_requests(
    client: &kube::Client,
    resource: &str,
    subresource: &str,
    verb: &str,
) -> u64 {
    let req = http::Request::get("/metrics").body(Vec::new()).unwrap();
    let text = client.request_text(req).await.unwrap();
    let want = [
        format!("resource=\"{resource}\""),
        format!("subresource=\"{subresource}\""),
        format!("verb=\"{verb}\""),
    ];
    text.lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
        .filter(|l| want.iter().all(|w| l.contains(w.as_str())))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// The payload of a JWT (unverified), as JSON.
pub fn jwt_claims(jwt: &str) -> Value {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}
