//! The ProviderClass controller on the ground: classes bind concurrently, a class whose registry
//! is down when it is created becomes Ready once the registry is back (backoff retries, no change
//! to the class), and a class whose pull stalls holds back no other class and is abandoned when
//! its spec changes or it is deleted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ampoule::controller::provider_class::{Classes, controller_namespace};
use ampoule::crd::{ConditionStatus, ProviderClass};
use ampoule::plugin::distribution::oci;
use ampoule::plugin::{NoCredentials, Sandbox, SandboxConfig, WasmProvider};
use kube::api::{Api, Patch, PatchParams, PostParams};
use oci_client::secrets::RegistryAuth;
use serde_json::json;
use tokio::io::AsyncReadExt;

/// Both tests run a controller that watches every class, and one stops the shared registry:
/// they take turns.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A ProviderClass controller running in this test's runtime.
struct Controller {
    wasm: Arc<WasmProvider>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn controller(client: &kube::Client) -> Controller {
    let sandbox = Sandbox::new(SandboxConfig::default()).unwrap();
    let wasm = Arc::new(WasmProvider::new(sandbox.clone(), Arc::new(NoCredentials)));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let classes = Classes::new(client.clone(), sandbox, wasm.clone(), tx);
    let task = tokio::spawn(async move {
        let drain = async { while rx.recv().await.is_some() {} };
        tokio::join!(classes.run(), drain);
    });
    Controller { wasm, task }
}

/// Deletes a namespace of the test even when it fails.
struct DropNamespace(String);

impl Drop for DropNamespace {
    fn drop(&mut self) {
        let _ = ground::ground()
            .command("kubectl")
            .args(["delete", "namespace", "--ignore-not-found", "--wait=false"])
            .arg(&self.0)
            .output();
    }
}

/// Pushes the fake component to the ground's registry; returns its image and component digest.
async fn push_fake(repo: &str) -> (String, String) {
    let fake = ampoule::plugin::distribution::embedded::find("fake").unwrap();
    let image = format!("oci://{}/ampoule/{repo}:1", ground::ground().registry());
    oci::push(fake.bytes.to_vec(), &image, &RegistryAuth::Anonymous)
        .await
        .unwrap();
    (image, fake.digest.to_owned())
}

async fn create(api: &Api<ProviderClass>, name: &str, image: &str) -> ProviderClass {
    let pc: ProviderClass = serde_json::from_value(json!({
        "apiVersion": "ampoule.dev/v1alpha1", "kind": "ProviderClass",
        "metadata": {"name": name},
        "spec": {"provider": name, "module": {"image": image}}
    }))
    .unwrap();
    api.create(&PostParams::default(), &pc).await.unwrap()
}

/// The class's Ready condition: (status, reason, message).
async fn ready(api: &Api<ProviderClass>, name: &str) -> Option<(ConditionStatus, String, String)> {
    let pc = api.get(name).await.ok()?;
    let c = pc
        .status?
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Ready")?;
    Some((
        c.status,
        c.reason.unwrap_or_default(),
        c.message.unwrap_or_default(),
    ))
}

async fn wait_ready(api: &Api<ProviderClass>, name: &str, within: Duration) {
    ground::eventually(within, &format!("class {name} to be Ready"), || async {
        ready(api, name)
            .await
            .filter(|r| r.0 == ConditionStatus::True)
            .map(|_| ())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_created_while_its_registry_is_down_binds_when_it_is_back() {
    let _turn = SERIAL.lock().await;
    let g = ground::ground();
    let client = g.client().await;
    common::crds(&client).await;
    let id = format!("{:08x}", rand::random::<u32>());
    let name = format!("pc-down-{id}");
    let _cleanup = common::DeleteClasses(vec![name.clone()]);
    let (image, digest) = push_fake(&name).await;
    let running = controller(&client);
    let api: Api<ProviderClass> = Api::all(client.clone());

    // The registry goes down for 12 s (tests/ground/restart stops it, waits, starts it again).
    let mut restart = tokio::process::Command::new(g.repo.join("tests/ground/restart"))
        .args(["registry", "12"])
        .env("GROUND_DIR", &g.dir)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let registry = g.registry().to_owned();
    ground::eventually(Duration::from_secs(20), "the registry to stop", || {
        let registry = registry.clone();
        async move {
            tokio::net::TcpStream::connect(&registry)
                .await
                .is_err()
                .then_some(())
        }
    })
    .await;
    let created = create(&api, &name, &image).await;
    let (status, reason, message) = ground::eventually(
        Duration::from_secs(10),
        "the first pull to fail",
        || async { ready(&api, &name).await },
    )
    .await;
    assert_eq!(
        (status, reason.as_str()),
        (ConditionStatus::False, "PullFailed"),
        "{message}"
    );
    assert!(running.wasm.digest(&name).is_none());

    // Nothing changes the class: the controller's own retries bind it once the registry is up
    // (down 12 s; attempts 1, 2, 4, 8, 16 s apart).
    wait_ready(&api, &name, Duration::from_secs(60)).await;
    assert!(
        restart.wait().await.unwrap().success(),
        "tests/ground/restart failed"
    );
    let now = api.get(&name).await.unwrap();
    assert_eq!(now.metadata.generation, created.metadata.generation);
    assert_eq!(now.status.unwrap().digest.as_deref(), Some(digest.as_str()));
    assert_eq!(running.wasm.digest(&name).as_deref(), Some(digest.as_str()));
}

/// A registry that accepts connections and never answers. Counts the connections it accepted
/// and those the client closed.
struct Stall {
    addr: std::net::SocketAddr,
    accepted: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Stall {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn stall() -> Stall {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(AtomicUsize::new(0));
    let (a, c) = (accepted.clone(), closed.clone());
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            a.fetch_add(1, Ordering::SeqCst);
            let c = c.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {}
                c.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    Stall {
        addr,
        accepted,
        closed,
        task,
    }
}

async fn at_least(what: &str, counter: &AtomicUsize, n: usize) {
    ground::eventually(Duration::from_secs(20), what, || async {
        (counter.load(Ordering::SeqCst) >= n).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_pull_holds_back_no_other_class_and_a_newer_spec_or_a_deletion_ends_it() {
    let _turn = SERIAL.lock().await;
    let g = ground::ground();
    let client = g.client().await;
    common::crds(&client).await;
    let id = format!("{:08x}", rand::random::<u32>());
    let [stuck, gone, good] = ["stuck", "gone", "good"].map(|n| format!("pc-{n}-{id}"));
    let _cleanup = common::DeleteClasses(vec![stuck.clone(), gone.clone(), good.clone()]);
    let (image, digest) = push_fake(&good).await;
    let server = stall().await;
    let stalled = format!("oci://{}/ampoule/stall:1", server.addr);
    let running = controller(&client);
    let api: Api<ProviderClass> = Api::all(client.clone());

    create(&api, &stuck, &stalled).await;
    create(&api, &gone, &stalled).await;
    at_least("both stalled pulls to connect", &server.accepted, 2).await;
    create(&api, &good, &image).await;
    wait_ready(&api, &good, Duration::from_secs(60)).await;
    assert_eq!(running.wasm.digest(&good).as_deref(), Some(digest.as_str()));
    // The stalled ones are still pulling: nothing written for them.
    assert!(ready(&api, &stuck).await.is_none());
    assert!(ready(&api, &gone).await.is_none());
    assert_eq!(server.closed.load(Ordering::SeqCst), 0);

    // A newer spec abandons the stalled pull (its connection is closed) and binds at once.
    api.patch(
        &stuck,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"module": {"image": image}}})),
    )
    .await
    .unwrap();
    wait_ready(&api, &stuck, Duration::from_secs(60)).await;
    assert_eq!(
        running.wasm.digest(&stuck).as_deref(),
        Some(digest.as_str())
    );
    at_least("the superseded pull to be closed", &server.closed, 1).await;

    // A deletion abandons it too.
    api.delete(&gone, &Default::default()).await.unwrap();
    at_least("the deleted class's pull to be closed", &server.closed, 2).await;
    assert!(running.wasm.digest(&gone).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_secret_without_a_namespace_is_read_in_the_controllers_namespace() {
    let _turn = SERIAL.lock().await;
    let g = ground::ground();
    let admin = g.client().await;
    common::crds(&admin).await;
    let id = format!("{:08x}", rand::random::<u32>());
    let name = format!("pc-pull-{id}");
    let _cleanup = common::DeleteClasses(vec![name.clone()]);
    let (image, digest) = push_fake(&name).await;
    // The controller's client defaults to a namespace of its own, as a pod's in-cluster config
    // defaults to the pod's namespace; `default` holds no pull secret of this name.
    let home = g.namespace("pc-home").await;
    let _home = DropNamespace(home.clone());
    let kubeconfig = kube::config::Kubeconfig::read_from(g.kubeconfig()).unwrap();
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    config.default_namespace = home.clone();
    let client = kube::Client::try_from(config).unwrap();
    let expected = controller_namespace(std::env::var("POD_NAMESPACE").ok(), &home);
    let running = controller(&client);
    let api: Api<ProviderClass> = Api::all(client.clone());

    let secret = format!("pull-{id}");
    let pc: ProviderClass = serde_json::from_value(json!({
        "apiVersion": "ampoule.dev/v1alpha1", "kind": "ProviderClass",
        "metadata": {"name": name},
        "spec": {"provider": name, "module": {"image": image, "pullSecretRef": {"name": secret}}}
    }))
    .unwrap();
    api.create(&PostParams::default(), &pc).await.unwrap();
    let (status, reason, message) = ground::eventually(
        Duration::from_secs(20),
        "the first pull to fail",
        || async { ready(&api, &name).await },
    )
    .await;
    assert_eq!(
        (status, reason.as_str()),
        (ConditionStatus::False, "PullFailed"),
        "{message}"
    );
    assert!(
        message.starts_with(&format!(
            "could not load {image}: could not read pull secret {expected}/{secret}:"
        )) && message.ends_with(&format!("nothing serves provider {name}")),
        "{message}"
    );

    // The secret appears in the controller's namespace: a retry reads it and the class binds.
    let auths = json!({"auths": {g.registry(): {"username": "robot", "password": "pw"}}});
    let pull: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": secret},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": auths.to_string()}
    }))
    .unwrap();
    Api::<k8s_openapi::api::core::v1::Secret>::namespaced(admin.clone(), &expected)
        .create(&PostParams::default(), &pull)
        .await
        .unwrap();
    wait_ready(&api, &name, Duration::from_secs(60)).await;
    assert_eq!(running.wasm.digest(&name).as_deref(), Some(digest.as_str()));
}
