//! Changing a ProviderClass's module, on the ground with the controllers running in this
//! process (ProviderClass, SecretStore and ExternalSecret controllers over one WasmProvider):
//! a good new digest swaps (status digest, pending cleared, a Normal event); a digest the
//! registry does not have, a blob that is not a component, a component that exports another
//! world and one whose `describe` traps each leave the old digest serving while ExternalSecrets
//! keep syncing, and say why on the class (Ready=False, Warning event) and on its stores, a
//! SecretStore and a ClusterSecretStore (`ProviderClassReady=False`, Warning event), until the
//! class recovers; N ExternalSecrets
//! refreshing every second see no failed reconcile and no wrong Secret while the class swaps
//! back and forth; a failure after a re-key or a delete binds nothing new. Without Kubernetes:
//! a client opened before a swap keeps its component.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod plugin_common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ampoule::controller::provider_class::Classes;
use ampoule::controller::{self, Parts, Settings};
use ampoule::crd::{ExternalSecret, ProviderClass};
use ampoule::plugin::distribution::oci;
use ampoule::plugin::{Digest, NoCredentials, Sandbox, SandboxConfig, WasmProvider};
use ampoule::provider::{RemoteRef, SecretProvider};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use oci_client::secrets::RegistryAuth;
use serde_json::{Value, json};

/// Every test runs a ProviderClass controller, which watches (and writes the status of) every
/// class in the cluster: they take turns.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const WAIT: Duration = Duration::from_secs(120);

/// The controllers of one test: classes, stores and ExternalSecrets of one namespace.
struct Operator {
    client: Client,
    ns: String,
    class: String,
    wasm: Arc<WasmProvider>,
    metrics: Arc<ampoule::metrics::Metrics>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn operator(prefix: &str) -> Operator {
    let g = ground::ground();
    let client = g.client().await;
    common::crds(&client).await;
    let ns = g.namespace(prefix).await;
    let sandbox = Sandbox::new(SandboxConfig {
        cache_dir: Some(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("module-cache")),
        max_instances: 64,
        ..SandboxConfig::default()
    })
    .unwrap();
    let wasm = Arc::new(WasmProvider::new(sandbox.clone(), Arc::new(NoCredentials)));
    let (changed, changes) = tokio::sync::mpsc::unbounded_channel();
    let classes = Classes::new(client.clone(), sandbox, wasm.clone(), changed);
    let settings = Settings {
        namespace: Some(ns.clone()),
        concurrent: 8,
        cluster_external_secrets: false,
        cluster_push_secrets: false,
        controller_class: common::unique("class"),
        ..Settings::default()
    };
    let class = settings.controller_class.clone();
    let metrics = Arc::new(ampoule::metrics::Metrics::new());
    let parts = Parts {
        client: client.clone(),
        provider: wasm.clone(),
        transformer: common::transformer().await,
        generators: common::generators().await,
        settings,
        metrics: metrics.clone(),
        leader: None,
        provider_changes: Some(changes),
        class_health: classes.health(),
    };
    let task = tokio::spawn(async move {
        let run = controller::run_until(parts, std::future::pending());
        let (_, result) = tokio::join!(classes.run(), run);
        if let Err(e) = result {
            eprintln!("controllers stopped: {e}");
        }
    });
    Operator {
        client,
        ns,
        class,
        wasm,
        metrics,
        task,
    }
}

/// The fake component with a custom section appended: another digest, the same behaviour
/// (custom sections carry no code).
fn fake_variant(tag: &str) -> Vec<u8> {
    let mut bytes = fake().to_vec();
    let name = b"ampoule-swap-test";
    let mut payload = vec![u8::try_from(name.len()).unwrap()];
    payload.extend_from_slice(name);
    payload.extend_from_slice(tag.as_bytes());
    bytes.push(0);
    bytes.push(u8::try_from(payload.len()).unwrap());
    bytes.extend(payload);
    bytes
}

fn fake() -> &'static [u8] {
    ampoule::plugin::distribution::embedded::find("fake")
        .unwrap()
        .bytes
}

/// Pushes `bytes` as `repo:tag` to the ground's registry; returns the image and the digest the
/// class's status will show for it.
async fn push(repo: &str, tag: &str, bytes: Vec<u8>) -> (String, String) {
    let digest = Digest::of(&bytes).to_string();
    let image = format!("oci://{}/ampoule/{repo}:{tag}", ground::ground().registry());
    oci::push(bytes, &image, &RegistryAuth::Anonymous)
        .await
        .unwrap();
    (image, digest)
}

async fn apply(client: &Client, ns: Option<&str>, obj: Value) -> DynamicObject {
    common::apply(client, ns, obj).await.unwrap()
}

async fn set_image(client: &Client, class: &str, image: &str) {
    let api: Api<ProviderClass> = Api::all(client.clone());
    api.patch(
        class,
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"module": {"image": image}}})),
    )
    .await
    .unwrap();
}

/// The class's status: (digest, pendingImage, pendingDigest, Ready status, reason, message).
#[derive(Debug, Clone, Default)]
struct ClassStatus {
    digest: Option<String>,
    pending_image: Option<String>,
    pending_digest: Option<String>,
    ready: String,
    reason: String,
    message: String,
}

async fn class_status(client: &Client, name: &str) -> ClassStatus {
    let api: Api<ProviderClass> = Api::all(client.clone());
    let status = api.get(name).await.unwrap().status.unwrap_or_default();
    let ready = status.conditions.iter().find(|c| c.type_ == "Ready");
    ClassStatus {
        digest: status.digest.clone(),
        pending_image: status.pending_image.clone(),
        pending_digest: status.pending_digest.clone(),
        ready: ready
            .map(|c| {
                serde_json::to_value(c.status)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .unwrap_or_default(),
        reason: ready.and_then(|c| c.reason.clone()).unwrap_or_default(),
        message: ready.and_then(|c| c.message.clone()).unwrap_or_default(),
    }
}

/// Waits until the class serves `digest` with nothing pending.
async fn wait_serving(client: &Client, class: &str, digest: &str) -> ClassStatus {
    ground::eventually(WAIT, &format!("class {class} serving {digest}"), || async {
        let s = class_status(client, class).await;
        (s.digest.as_deref() == Some(digest)
            && s.pending_image.is_none()
            && s.pending_digest.is_none()
            && s.ready == "True")
            .then_some(s)
    })
    .await
}

/// Waits until the class says it failed to load `image` with `reason`.
async fn wait_failed(client: &Client, class: &str, reason: &str, image: &str) -> ClassStatus {
    ground::eventually(WAIT, &format!("class {class} {reason}"), || async {
        let s = class_status(client, class).await;
        (s.ready == "False"
            && s.reason == reason
            && s.pending_image.as_deref() == Some(image)
            && s.message.starts_with(&format!("could not load {image}")))
        .then_some(s)
    })
    .await
}

/// Events about `name` in `ns` (events.k8s.io): (type, reason, note).
async fn events(client: &Client, ns: &str, name: &str) -> Vec<(String, String, String)> {
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    api.list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .map(|e| {
            (
                e.type_.unwrap_or_default(),
                e.reason.unwrap_or_default(),
                e.note.unwrap_or_default(),
            )
        })
        .collect()
}

async fn wait_event(
    client: &Client,
    ns: &str,
    name: &str,
    type_: &str,
    reason: &str,
    note_has: &str,
) -> String {
    ground::eventually(
        WAIT,
        &format!("{type_} event {reason} on {name} saying {note_has}"),
        || async {
            events(client, ns, name)
                .await
                .into_iter()
                .find(|e| e.0 == type_ && e.1 == reason && e.2.contains(note_has))
                .map(|e| e.2)
        },
    )
    .await
}

/// The store's `ProviderClassReady` condition (status, reason, message) and its Ready status.
async fn store_conditions(
    client: &Client,
    ns: &str,
    name: &str,
) -> (Option<(String, String, String)>, String) {
    conditions_of(client, Some(ns), "secretstores", name).await
}

/// [`store_conditions`] of a SecretStore (`ns` set) or ClusterSecretStore.
async fn conditions_of(
    client: &Client,
    ns: Option<&str>,
    plural: &str,
    name: &str,
) -> (Option<(String, String, String)>, String) {
    let obj = common::get(client, ns, plural, name).await.unwrap();
    let conditions = obj.data["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let find = |t: &str| conditions.iter().find(|c| c["type"] == t).cloned();
    let class = find("ProviderClassReady").map(|c| {
        (
            c["status"].as_str().unwrap_or_default().to_owned(),
            c["reason"].as_str().unwrap_or_default().to_owned(),
            c["message"].as_str().unwrap_or_default().to_owned(),
        )
    });
    let ready = find("Ready")
        .and_then(|c| c["status"].as_str().map(str::to_owned))
        .unwrap_or_default();
    (class, ready)
}

/// The digest the store's status says serves it.
async fn store_digest(client: &Client, ns: &str, name: &str) -> Option<String> {
    let obj = common::get(client, Some(ns), "secretstores", name).await?;
    obj.data["status"]["plugin"]["digest"]
        .as_str()
        .map(str::to_owned)
}

fn store(name: &str, class: &str, key: &str, entries: usize) -> Value {
    let data: Vec<Value> = (0..entries)
        .map(|i| json!({"key": format!("k{i}"), "value": format!("v{i}")}))
        .collect();
    json!({
        "apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
        "metadata": {"name": name},
        "spec": {"controller": class, "provider": {key: {"data": data}}}
    })
}

fn external_secret(i: usize, store: &str, refresh: &str) -> Value {
    json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": format!("es-{i}")},
        "spec": {
            "refreshInterval": refresh,
            "secretStoreRef": {"name": store, "kind": "SecretStore"},
            "target": {"name": format!("s-{i}")},
            "data": [{"secretKey": "value", "remoteRef": {"key": format!("k{i}")}}]
        }
    })
}

fn class_object(name: &str, key: &str, image: &str) -> Value {
    json!({
        "apiVersion": "ampoule.dev/v1alpha1", "kind": "ProviderClass",
        "metadata": {"name": name},
        "spec": {"provider": key, "module": {"image": image}}
    })
}

/// The ExternalSecret's status.refreshTime.
async fn refreshed(client: &Client, ns: &str, name: &str) -> Option<String> {
    let api: Api<ExternalSecret> = Api::namespaced(client.clone(), ns);
    let es = api.get(name).await.ok()?;
    serde_json::to_value(es.status?.refresh_time?)
        .ok()?
        .as_str()
        .map(str::to_owned)
}

/// Waits until the ExternalSecret has refreshed after `since` (its refreshTime moved) and is
/// still Ready.
async fn refreshes(client: &Client, ns: &str, name: &str) {
    let before = refreshed(client, ns, name).await;
    ground::eventually(WAIT, &format!("{name} to refresh again"), || async {
        let now = refreshed(client, ns, name).await;
        let api: Api<ExternalSecret> = Api::namespaced(client.clone(), ns);
        let es = api.get(name).await.ok()?;
        let ready = es.status.as_ref()?.ready()?.clone();
        let ok = serde_json::to_value(ready.status).ok()? == json!("True");
        (ok && now.is_some() && now != before).then_some(())
    })
    .await;
}

fn value(s: &Secret) -> Option<String> {
    let v = s.data.as_ref()?.get("value")?;
    Some(String::from_utf8_lossy(&v.0).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_new_module_leaves_the_old_one_serving_and_says_why() {
    let _turn = SERIAL.lock().await;
    let op = operator("swap").await;
    let client = &op.client;
    let id = format!("{:08x}", rand::random::<u32>());
    let name = format!("pc-swap-{id}");
    let key = format!("kv-{id}");
    let _cleanup = common::DeleteClasses(vec![name.clone()]);
    let repo = format!("swap-{id}");
    let (image_a, digest_a) = push(&repo, "a", fake().to_vec()).await;
    let (image_b, digest_b) = push(&repo, "b", fake_variant("b")).await;
    let (blob, blob_digest) = push(&repo, "blob", b"not a component".to_vec()).await;
    let (other, other_digest) = push(
        &repo,
        "other-world",
        plugin_common::component("ampoule_test_not_provider"),
    )
    .await;
    let (traps, traps_digest) = push(
        &repo,
        "traps",
        plugin_common::component("ampoule_test_describe_traps"),
    )
    .await;
    let missing = format!(
        "oci://{}/ampoule/{repo}:never-pushed",
        ground::ground().registry()
    );

    apply(client, None, class_object(&name, &key, &image_a)).await;
    wait_serving(client, &name, &digest_a).await;
    wait_event(client, "default", &name, "Normal", "Loaded", &digest_a).await;
    apply(client, Some(&op.ns), store("kv", &op.class, &key, 1)).await;
    common::wait_store_ready(client, "SecretStore", Some(&op.ns), "kv").await;
    // A ClusterSecretStore of the same key shows the class's failures as well.
    let css = format!("css-{id}");
    let _css = DeleteClusterStore(css.clone());
    let mut cluster = store(&css, &op.class, &key, 1);
    cluster["kind"] = json!("ClusterSecretStore");
    apply(client, None, cluster).await;
    common::wait_store_ready(client, "ClusterSecretStore", None, &css).await;
    apply(client, Some(&op.ns), external_secret(0, "kv", "1s")).await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &op.ns);
    ground::eventually(WAIT, "s-0 synced", || async {
        secrets
            .get_opt("s-0")
            .await
            .unwrap()
            .and_then(|s| value(&s))
            .filter(|v| v == "v0")
    })
    .await;
    assert_eq!(op.wasm.digest(&key).as_deref(), Some(digest_a.as_str()));

    // A good new digest swaps: status, event, the provider table and the store's status.
    set_image(client, &name, &image_b).await;
    wait_serving(client, &name, &digest_b).await;
    let note = wait_event(client, "default", &name, "Normal", "Swapped", &digest_b).await;
    assert!(note.contains(&format!("(was {digest_a})")), "{note}");
    assert_eq!(op.wasm.digest(&key).as_deref(), Some(digest_b.as_str()));
    ground::eventually(WAIT, "the store to report the new digest", || async {
        (store_digest(client, &op.ns, "kv").await.as_deref() == Some(digest_b.as_str()))
            .then_some(())
    })
    .await;
    assert_eq!(store_conditions(client, &op.ns, "kv").await.0, None);

    // Bad new modules: the registry has no such tag; a blob that is not a component; a
    // component of another world; a provider whose describe traps.
    let bad = [
        (missing.as_str(), "PullFailed", None),
        (blob.as_str(), "LoadFailed", Some(blob_digest.as_str())),
        (other.as_str(), "LoadFailed", Some(other_digest.as_str())),
        (traps.as_str(), "LoadFailed", Some(traps_digest.as_str())),
    ];
    for (image, reason, pending_digest) in bad {
        set_image(client, &name, image).await;
        let s = wait_failed(client, &name, reason, image).await;
        assert_eq!(s.digest.as_deref(), Some(digest_b.as_str()), "{s:?}");
        assert_eq!(s.pending_digest.as_deref(), pending_digest, "{s:?}");
        assert!(
            s.message.starts_with(&format!("could not load {image}"))
                && s.message.ends_with(&format!("; {digest_b} keeps serving")),
            "{s:?}"
        );
        if let Some(d) = pending_digest {
            assert!(s.message.contains(d), "{s:?}");
        }
        wait_event(client, "default", &name, "Warning", reason, image).await;
        // The store says why, with a Warning, and stays Ready: the old component serves it.
        let (condition, ready) = ground::eventually(
            WAIT,
            &format!("the store to show {reason} for {image}"),
            || async {
                let (c, ready) = store_conditions(client, &op.ns, "kv").await;
                c.filter(|c| c.2.contains(image)).map(|c| (c, ready))
            },
        )
        .await;
        assert_eq!(
            (condition.0.as_str(), condition.1.as_str()),
            ("False", reason)
        );
        assert_eq!(
            condition.2,
            format!("ProviderClass {name} {}", s.message),
            "the store's message is the class's"
        );
        assert_eq!(ready, "True");
        wait_event(client, &op.ns, "kv", "Warning", reason, image).await;
        let (condition, ready) = ground::eventually(
            WAIT,
            &format!("the ClusterSecretStore to show {reason} for {image}"),
            || async {
                let (c, ready) = conditions_of(client, None, "clustersecretstores", &css).await;
                c.filter(|c| c.2.contains(image)).map(|c| (c, ready))
            },
        )
        .await;
        assert_eq!(
            (condition.0.as_str(), condition.1.as_str()),
            ("False", reason)
        );
        assert_eq!(ready, "True");
        assert_eq!(op.wasm.digest(&key).as_deref(), Some(digest_b.as_str()));
        // ExternalSecrets keep syncing on the old component.
        refreshes(client, &op.ns, "es-0").await;
        let s0 = secrets.get("s-0").await.unwrap();
        assert_eq!(value(&s0).as_deref(), Some("v0"));
    }
    if let Some((t, _, note)) = events(client, &op.ns, "es-0")
        .await
        .into_iter()
        .find(|e| e.0 == "Warning")
    {
        panic!("the ExternalSecret got a Warning ({t}): {note}");
    }

    // Recovery: another good digest serves, the store's condition goes away with a Normal event.
    set_image(client, &name, &image_a).await;
    wait_serving(client, &name, &digest_a).await;
    ground::eventually(WAIT, "the store's class condition to go", || async {
        store_conditions(client, &op.ns, "kv")
            .await
            .0
            .is_none()
            .then_some(())
    })
    .await;
    wait_event(client, &op.ns, "kv", "Normal", "ProviderClassLoaded", "").await;
    ground::eventually(
        WAIT,
        "the ClusterSecretStore's class condition to go",
        || async {
            conditions_of(client, None, "clustersecretstores", &css)
                .await
                .0
                .is_none()
                .then_some(())
        },
    )
    .await;

    // A failed change reverted to the spec that serves: Ready again without a reload.
    set_image(client, &name, &missing).await;
    wait_failed(client, &name, "PullFailed", &missing).await;
    ground::eventually(WAIT, "the store to show the failure", || async {
        store_conditions(client, &op.ns, "kv").await.0.map(|_| ())
    })
    .await;
    set_image(client, &name, &image_a).await;
    wait_serving(client, &name, &digest_a).await;
    ground::eventually(WAIT, "the store's class condition to go again", || async {
        store_conditions(client, &op.ns, "kv")
            .await
            .0
            .is_none()
            .then_some(())
    })
    .await;
    assert_eq!(op.wasm.digest(&key).as_deref(), Some(digest_a.as_str()));
    ground::ground().drop_namespace(&op.ns).await;
}

/// Deletes a ClusterSecretStore when dropped.
struct DeleteClusterStore(String);

impl Drop for DeleteClusterStore {
    fn drop(&mut self) {
        let _ = ground::ground()
            .command("kubectl")
            .args([
                "delete",
                "clustersecretstore",
                "--ignore-not-found",
                "--wait=false",
            ])
            .arg(&self.0)
            .output();
    }
}

/// What the watchers saw while the class swapped.
#[derive(Default)]
struct Seen {
    /// ExternalSecret Ready conditions other than True/SecretSynced: (name, reason, message).
    not_ready: Vec<(String, String, String)>,
    /// Secret reads with a wrong or missing value: (name, value).
    wrong: Vec<(String, Option<String>)>,
    /// Rounds of reading every Secret.
    rounds: usize,
}

fn counter(text: &str, line_start: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(line_start))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_under_load_fails_no_reconcile() {
    const N: usize = 50;
    const SWAPS: usize = 6;
    let _turn = SERIAL.lock().await;
    let op = operator("swap-load").await;
    let client = op.client.clone();
    let id = format!("{:08x}", rand::random::<u32>());
    let name = format!("pc-load-{id}");
    let key = format!("kv-{id}");
    let _cleanup = common::DeleteClasses(vec![name.clone()]);
    let repo = format!("swap-load-{id}");
    let (image_a, digest_a) = push(&repo, "a", fake().to_vec()).await;
    let (image_b, digest_b) = push(&repo, "b", fake_variant("load-b")).await;
    apply(&client, None, class_object(&name, &key, &image_a)).await;
    wait_serving(&client, &name, &digest_a).await;
    apply(&client, Some(&op.ns), store("kv", &op.class, &key, N)).await;
    common::wait_store_ready(&client, "SecretStore", Some(&op.ns), "kv").await;
    for i in 0..N {
        apply(&client, Some(&op.ns), external_secret(i, "kv", "1s")).await;
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &op.ns);
    ground::eventually(WAIT, "every Secret synced", || async {
        let list = secrets.list(&Default::default()).await.ok()?;
        let ok = list
            .items
            .iter()
            .filter_map(|s| {
                let i = s.name_any().strip_prefix("s-")?.parse::<usize>().ok()?;
                (value(s)? == format!("v{i}")).then_some(())
            })
            .count();
        (ok == N).then_some(())
    })
    .await;

    // From here on, every ExternalSecret must stay Ready and every Secret right.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let es_api: Api<ExternalSecret> = Api::namespaced(client.clone(), &op.ns);
    let watch = {
        let seen = seen.clone();
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(watcher(es_api, watcher::Config::default()));
            while let Some(ev) = stream.next().await {
                let Ok(watcher::Event::Apply(es) | watcher::Event::InitApply(es)) = ev else {
                    continue;
                };
                let Some(ready) = es.status.as_ref().and_then(|s| s.ready()).cloned() else {
                    continue;
                };
                let ok = serde_json::to_value(ready.status).unwrap() == json!("True")
                    && ready.reason.as_deref() == Some("SecretSynced");
                if !ok {
                    seen.lock().unwrap().not_ready.push((
                        es.name_any(),
                        ready.reason.unwrap_or_default(),
                        ready.message.unwrap_or_default(),
                    ));
                }
            }
        })
    };
    let check = {
        let (seen, secrets) = (seen.clone(), secrets.clone());
        tokio::spawn(async move {
            loop {
                let list = secrets.list(&Default::default()).await.unwrap();
                let by_name: BTreeMap<String, Option<String>> = list
                    .items
                    .iter()
                    .map(|s| (s.name_any(), value(s)))
                    .collect();
                {
                    let mut seen = seen.lock().unwrap();
                    for i in 0..N {
                        let name = format!("s-{i}");
                        let got = by_name.get(&name).cloned().flatten();
                        if got.as_deref() != Some(format!("v{i}").as_str()) {
                            seen.wrong.push((name, got));
                        }
                    }
                    seen.rounds += 1;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let text = op.metrics.encode();
    let errors_before = counter(
        &text,
        r#"controller_runtime_reconcile_errors_total{controller="externalsecret"}"#,
    );
    let reconciles_before = counter(
        &text,
        r#"controller_runtime_reconcile_total{controller="externalsecret""#,
    );

    // Swap back and forth; each time the class and the store show the new digest, and the
    // ExternalSecrets go on refreshing for two seconds before the next swap.
    let started = Instant::now();
    let mut swap_times = Vec::new();
    for round in 0..SWAPS {
        let (image, digest) = if round % 2 == 0 {
            (&image_b, &digest_b)
        } else {
            (&image_a, &digest_a)
        };
        let t = Instant::now();
        set_image(&client, &name, image).await;
        wait_serving(&client, &name, digest).await;
        swap_times.push(t.elapsed());
        ground::eventually(WAIT, "the store to show the new digest", || async {
            (store_digest(&client, &op.ns, "kv").await.as_deref() == Some(digest.as_str()))
                .then_some(())
        })
        .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let window = started.elapsed();
    // A last full round of reads after the final swap.
    let rounds = seen.lock().unwrap().rounds;
    ground::eventually(WAIT, "another round of Secret reads", || async {
        (seen.lock().unwrap().rounds > rounds + 1).then_some(())
    })
    .await;
    watch.abort();
    check.abort();

    let text = op.metrics.encode();
    let errors = counter(
        &text,
        r#"controller_runtime_reconcile_errors_total{controller="externalsecret"}"#,
    ) - errors_before;
    let reconciles = counter(
        &text,
        r#"controller_runtime_reconcile_total{controller="externalsecret""#,
    ) - reconciles_before;
    let sync_errors = counter(&text, "externalsecret_sync_calls_error{");
    let warnings: Vec<_> = {
        let api: Api<Event> = Api::namespaced(client.clone(), &op.ns);
        api.list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.type_.as_deref() == Some("Warning"))
            .map(|e| (e.reason, e.note))
            .collect()
    };
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    eprintln!(
        "swap under load: {N} ExternalSecrets (refreshInterval 1s), {SWAPS} swaps in {:.1} s \
         (class Ready on the new digest after {:?}), {reconciles} ExternalSecret reconciles \
         ({:.1}/s), {errors} reconcile errors, {sync_errors} sync errors, {} Secret read rounds",
        window.as_secs_f64(),
        swap_times,
        reconciles as f64 / window.as_secs_f64(),
        seen.rounds
    );
    assert!(seen.not_ready.is_empty(), "not Ready: {:?}", seen.not_ready);
    assert!(seen.wrong.is_empty(), "wrong Secrets: {:?}", seen.wrong);
    assert_eq!(errors, 0, "{text}");
    assert_eq!(sync_errors, 0, "{text}");
    assert!(warnings.is_empty(), "Warning events: {warnings:?}");
    // The ExternalSecrets did refresh through the swaps (about N per second).
    assert!(
        reconciles as f64 >= (N as f64) * window.as_secs_f64() / 4.0,
        "only {reconciles} reconciles in {window:?}"
    );
    ground::ground().drop_namespace(&op.ns).await;
}

/// Calls in flight finish on the component they opened: a client opened before `bind` swaps the
/// key's component keeps its instance (the old component answers), and the next open gets the
/// new one. A reconcile opens each store once, so it runs on one component.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_opened_before_a_swap_keeps_its_component() {
    let sandbox = plugin_common::sandbox();
    let wasm = WasmProvider::new(sandbox.clone(), Arc::new(NoCredentials));
    let fake = sandbox.load(fake().to_vec(), None).await.unwrap();
    let hostile = sandbox
        .load(plugin_common::component("ampoule_test_hostile"), None)
        .await
        .unwrap();
    wasm.bind("kv", fake.clone(), None);
    let ctx = plugin_common::store_for(
        "kv",
        "swap",
        json!({"data": [{"key": "k", "value": "old"}]}),
    );
    let (old, info) = wasm.open(&ctx).await.unwrap();
    assert_eq!(info.digest.as_deref(), Some(fake.digest.as_str()));
    let get = |key: &str| RemoteRef {
        key: key.into(),
        ..RemoteRef::default()
    };

    wasm.bind("kv", hostile.clone(), None);
    // The client opened before: still the fake (hostile would echo, and has no key "k").
    assert_eq!(
        old.get_secret(&get("k")).await.unwrap().expose().as_slice(),
        b"old"
    );
    assert!(old.get_secret(&get("echo new")).await.is_err());
    // A new open: the hostile component.
    let (new, info) = wasm.open(&ctx).await.unwrap();
    assert_eq!(info.digest.as_deref(), Some(hostile.digest.as_str()));
    assert_eq!(
        new.get_secret(&get("echo new"))
            .await
            .unwrap()
            .expose()
            .as_slice(),
        b"new"
    );
    // And the old client still answers after the new one was used.
    assert_eq!(
        old.get_secret(&get("k")).await.unwrap().expose().as_slice(),
        b"old"
    );
}

/// The paths that unbind: a class moved to another key whose new module fails keeps serving its
/// old key with the old module until a module for the new key loads (then the old key is let
/// go); a class deleted and created again with a module that fails binds nothing, and says that
/// nothing serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_after_a_rekey_or_a_delete_binds_nothing_new() {
    let _turn = SERIAL.lock().await;
    let op = operator("swap-rekey").await;
    let client = &op.client;
    let id = format!("{:08x}", rand::random::<u32>());
    let name = format!("pc-rekey-{id}");
    let (first, second) = (format!("kv-{id}"), format!("kv2-{id}"));
    let _cleanup = common::DeleteClasses(vec![name.clone()]);
    let repo = format!("swap-rekey-{id}");
    let (image_a, digest_a) = push(&repo, "a", fake().to_vec()).await;
    let missing = format!(
        "oci://{}/ampoule/{repo}:never-pushed",
        ground::ground().registry()
    );
    apply(client, None, class_object(&name, &first, &image_a)).await;
    wait_serving(client, &name, &digest_a).await;

    // Re-keyed to a module that fails: the old key keeps the old module, the new key gets none.
    apply(client, None, class_object(&name, &second, &missing)).await;
    let s = wait_failed(client, &name, "PullFailed", &missing).await;
    assert_eq!(s.digest.as_deref(), Some(digest_a.as_str()), "{s:?}");
    assert!(
        s.message
            .ends_with(&format!("nothing serves provider {second}")),
        "{s:?}"
    );
    assert_eq!(op.wasm.digest(&first).as_deref(), Some(digest_a.as_str()));
    assert_eq!(op.wasm.digest(&second), None);

    // The new key's module loads: it serves, and the old key is let go.
    apply(client, None, class_object(&name, &second, &image_a)).await;
    wait_serving(client, &name, &digest_a).await;
    ground::eventually(WAIT, "the old key to be let go", || async {
        op.wasm.digest(&first).is_none().then_some(())
    })
    .await;
    assert_eq!(op.wasm.digest(&second).as_deref(), Some(digest_a.as_str()));

    // Deleted, then created again with a module that fails: nothing serves the key.
    let api: Api<ProviderClass> = Api::all(client.clone());
    api.delete(&name, &Default::default()).await.unwrap();
    ground::eventually(WAIT, "the key to be let go", || async {
        op.wasm.digest(&second).is_none().then_some(())
    })
    .await;
    apply(client, None, class_object(&name, &second, &missing)).await;
    let s = wait_failed(client, &name, "PullFailed", &missing).await;
    assert_eq!(s.digest, None, "{s:?}");
    assert!(
        s.message
            .ends_with(&format!("nothing serves provider {second}")),
        "{s:?}"
    );
    assert_eq!(op.wasm.digest(&second), None);
    ground::ground().drop_namespace(&op.ns).await;
}
