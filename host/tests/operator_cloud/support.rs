//! Helpers of operator_cloud.rs: private servers (moto, the GCP fake) a test may configure as it
//! likes, a relay that records the requests passing through it, the cloud ProviderClasses, the
//! seed's manifests and the apiserver's request counters.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::Secret;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{self, Killed, WAIT, apply};

/// Held for a whole test: a ProviderClass serves a provider key cluster-wide, so the tests that
/// point the `aws` class at their own servers take turns.
pub static AWS_CLASS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A server this test started, stopped when dropped.
pub struct Server {
    pub url: String,
    pub port: u16,
    _process: Killed,
}

async fn wait_listening(what: &str, port: u16) {
    ground::eventually(WAIT, what, || async move {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    })
    .await;
}

/// A private moto server (from the ground's Python environment).
pub async fn moto() -> Server {
    let port = common::free_port();
    let bin =
        std::path::Path::new(ground::ground().var("GROUND_PYTHON")).with_file_name("moto_server");
    let process = Killed(
        Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_listening("a private moto", port).await;
    Server {
        url: format!("http://127.0.0.1:{port}"),
        port,
        _process: process,
    }
}

/// A private GCP fake (tests/ground/gcp-fake), so its token counters are this test's alone.
pub async fn gcp_fake() -> Server {
    let g = ground::ground();
    let port = common::free_port();
    let process = Killed(
        g.python()
            .arg(g.repo.join("tests/ground/gcp-fake/server.py"))
            .args(["--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_listening("a private GCP fake", port).await;
    Server {
        url: format!("http://127.0.0.1:{port}"),
        port,
        _process: process,
    }
}

/// Runs a Python script with `EP` (the endpoint) and boto3 clients `sm`, `ssm`, `iam` bound to it,
/// and a GCP helper `gcp(method, path, body)`; returns its stdout.
pub fn python(endpoint: &str, script: &str) -> String {
    let mut child = ground::ground()
        .python()
        .args(["-", endpoint])
        .env("AWS_ACCESS_KEY_ID", "ground")
        .env("AWS_SECRET_ACCESS_KEY", "ground-secret")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let prelude = "import sys, json, base64, urllib.request, boto3\nEP = sys.argv[1]\n\
        sm = boto3.client('secretsmanager', endpoint_url=EP, region_name='us-east-1')\n\
        ssm = boto3.client('ssm', endpoint_url=EP, region_name='us-east-1')\n\
        iam = boto3.client('iam', endpoint_url=EP, region_name='us-east-1')\n\
        def gcp(method, path, body=None):\n    req = urllib.request.Request(EP + path, method=method,\n        \
        data=json.dumps(body).encode() if body is not None else None, headers={'Content-Type': 'application/json'})\n    \
        return json.load(urllib.request.urlopen(req))\n";
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{prelude}{script}").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "setup script failed");
    String::from_utf8(out.stdout).unwrap()
}

/// What one client connection sent.
type Sent = Arc<Mutex<Vec<u8>>>;

/// A TCP relay to a loopback port that keeps what clients sent through it, per connection.
pub struct Relay {
    pub port: u16,
    sent: Arc<Mutex<Vec<Sent>>>,
}

impl Relay {
    pub async fn start(upstream: u16) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sent: Arc<Mutex<Vec<Sent>>> = Arc::default();
        let all = sent.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let buf: Sent = Arc::default();
                all.lock().unwrap().push(buf.clone());
                tokio::spawn(async move {
                    let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    else {
                        return;
                    };
                    let (mut ri, mut wi) = inbound.split();
                    let (mut ro, mut wo) = outbound.split();
                    let up = async {
                        let mut chunk = vec![0u8; 65536];
                        while let Ok(n) = ri.read(&mut chunk).await {
                            if n == 0 {
                                break;
                            }
                            buf.lock().unwrap().extend_from_slice(&chunk[..n]);
                            if wo.write_all(&chunk[..n]).await.is_err() {
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
        Relay { port, sent }
    }

    /// Everything clients sent, one string per connection.
    pub fn sent(&self) -> Vec<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .map(|b| String::from_utf8_lossy(&b.lock().unwrap()).into_owned())
            .collect()
    }

    /// How many requests carried `marker` (e.g. `Action=AssumeRoleWithWebIdentity`).
    pub fn count(&self, marker: &str) -> usize {
        self.sent().iter().map(|s| s.matches(marker).count()).sum()
    }
}

/// Applies the ProviderClass serving `provider` with `settings`, egress allowed to these loopback
/// ports only.
pub async fn class(client: &kube::Client, provider: &str, settings: Value, ports: &[u16]) {
    let allow: Vec<Value> = ports
        .iter()
        .map(|p| json!({"host": "127.0.0.1", "ports": [p]}))
        .collect();
    apply(client, None, json!({"apiVersion": "ampoule.dev/v1alpha1", "kind": "ProviderClass", "metadata": {"name": provider},
        "spec": {"provider": provider, "settings": settings,
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

/// The seed's YAML with the namespace (and, for stores, the controller class) substituted.
pub fn seed(file: &str, ns: &str, class: Option<&str>) -> Value {
    let g = ground::ground();
    let text = std::fs::read_to_string(g.repo.join("tests/fixtures/seed").join(file))
        .unwrap()
        .replace("namespace: production", &format!("namespace: {ns}"));
    let mut v: Value = serde_norway::from_str(&text).unwrap();
    if let Some(class) = class {
        v["spec"]["controller"] = json!(class);
    }
    v
}

/// The seed's ServiceAccount, with annotations.
pub async fn service_account(client: &kube::Client, ns: &str, name: &str, annotations: Value) {
    apply(
        client,
        Some(ns),
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": name, "annotations": annotations}}),
    )
    .await
    .unwrap();
}

/// The Ready condition of an ExternalSecret: (status, reason, message).
pub async fn es_ready(
    client: &kube::Client,
    ns: &str,
    name: &str,
) -> Option<(String, String, String)> {
    let es = common::get(client, Some(ns), "externalsecrets", name).await?;
    let c = es.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?
        .clone();
    let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
    Some((s("status"), s("reason"), s("message")))
}

/// Waits until the Secret exists and `check` accepts it.
pub async fn wait_secret(
    client: &kube::Client,
    ns: &str,
    name: &str,
    what: &str,
    check: impl Fn(&Secret) -> bool,
) -> Secret {
    common::wait_secret_within(client, ns, name, WAIT, what, check).await
}

/// Waits until the ExternalSecret's Ready condition has this status and reason.
pub async fn wait_es(
    client: &kube::Client,
    ns: &str,
    name: &str,
    status: &str,
    reason: &str,
) -> String {
    ground::eventually(WAIT, &format!("{name} Ready={status} {reason}"), || async {
        let (s, r, m) = es_ready(client, ns, name).await?;
        (s == status && r == reason).then_some(m)
    })
    .await
}

/// Notes of the Warning events about one object.
pub async fn warnings(client: &kube::Client, ns: &str, name: &str) -> Vec<String> {
    let api: kube::Api<k8s_openapi::api::events::v1::Event> =
        kube::Api::namespaced(client.clone(), ns);
    api.list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.type_.as_deref() == Some("Warning"))
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .filter_map(|e| e.note)
        .collect()
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
pub async fn backend_reached(
    client: &kube::Client,
    ns: &str,
    log: &std::path::Path,
    store: &str,
    needle: &str,
) {
    apply(client, Some(ns), external_secret("probe", store, "probe"))
        .await
        .unwrap();
    ground::eventually(
        WAIT,
        &format!("{needle:?} in the operator's log"),
        || async {
            std::fs::read_to_string(log)
                .ok()?
                .contains(needle)
                .then_some(())
        },
    )
    .await;
}

/// Every event note, store and ExternalSecret status in a namespace, and the operator's log: the
/// text a secret must never appear in.
pub async fn visible_text(client: &kube::Client, ns: &str, log: &std::path::Path) -> String {
    let api: kube::Api<k8s_openapi::api::events::v1::Event> =
        kube::Api::namespaced(client.clone(), ns);
    let mut text: Vec<String> = api
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|e| e.note)
        .collect();
    for plural in ["secretstores", "externalsecrets"] {
        let ar = kube::api::ApiResource {
            group: "external-secrets.io".into(),
            version: "v1".into(),
            api_version: "external-secrets.io/v1".into(),
            kind: String::new(),
            plural: plural.into(),
        };
        let list = kube::Api::<kube::api::DynamicObject>::namespaced_with(client.clone(), ns, &ar)
            .list(&Default::default())
            .await
            .unwrap();
        text.extend(list.items.iter().map(|o| o.data["status"].to_string()));
    }
    text.push(std::fs::read_to_string(log).unwrap_or_default());
    text.join("\n")
}

/// Waits for a SecretStore to be Ready. The first operator of a build compiles the components
/// (minutes on a busy 2-core machine); later ones load them from the cache.
pub async fn store_ready(client: &kube::Client, ns: &str, name: &str) {
    ground::eventually(
        std::time::Duration::from_secs(300),
        &format!("SecretStore {name} Ready"),
        || async {
            let obj = common::get(client, Some(ns), "secretstores", name).await?;
            (common::ready(&obj)? == "True").then_some(())
        },
    )
    .await;
}

pub use common::force_sync;

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
