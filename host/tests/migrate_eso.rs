//! docs/migrating-from-eso.md walked on the ground: ESO v0.16.2 (built by
//! tests/bench/lib/build-eso.sh, run as a process, on Ampoule's CRDs) syncs the seed guide's
//! ExternalSecrets from the ground's OpenBao; ESO stops and Ampoule starts on the same objects:
//! every Secret stays as ESO wrote it (resourceVersion, data, labels, annotations, owners, field
//! managers), every ExternalSecret is Ready, and a forced refresh applies a rotated value. Then
//! the way back: Ampoule stops, ESO starts, the Secrets stay as Ampoule left them, and ESO
//! rotates too. The guide's ` ```sh ` blocks are run at their `# step:`, with `-A` narrowed to the
//! test's namespace.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::bao::Bao;
use common::{Killed, apply, data, get, ready, unique};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs the guide's blocks of `step` in `dir`, for namespace `ns`; fails on a non-zero exit.
fn run_step(step: &str, ns: &str, dir: &Path) -> usize {
    let g = ground::ground();
    let charts = repo().join("charts");
    let blocks: Vec<String> = common::guide_steps("migrating-from-eso.md")
        .into_iter()
        .filter(|(s, _)| s == step)
        .map(|(_, script)| {
            script
                .replace(" -A", &format!(" -n {ns}"))
                .replace("charts/", &format!("{}/", charts.display()))
        })
        .collect();
    assert!(!blocks.is_empty(), "no guide step {step}");
    for script in &blocks {
        let path = format!(
            "{}:{}",
            g.dir.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", script])
            .current_dir(dir)
            .env("KUBECONFIG", g.kubeconfig())
            .env("PATH", path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "guide step {step} failed:\n{script}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    blocks.len()
}

/// ESO v0.16.2 for one namespace and controller class, its log in `log` (the binary built by
/// the benchmark's build script, from ESO's Go module, into the cache).
fn eso(ns: &str, class: &str, log: &Path) -> Killed {
    let dir = ground::run(Command::new(repo().join("tests/bench/lib/build-eso.sh")).arg("0.16.2"));
    let out = std::fs::File::options()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let err = out.try_clone().unwrap();
    let child = Command::new(Path::new(dir.trim()).join("external-secrets"))
        .args([
            &format!("--namespace={ns}"),
            &format!("--controller-class={class}"),
            "--metrics-addr=127.0.0.1:0",
            // Cluster-scoped kinds are other tests'; this ESO keeps to its namespace.
            "--enable-cluster-store-reconciler=false",
            "--enable-cluster-external-secret-reconciler=false",
            "--enable-cluster-push-secret-reconciler=false",
        ])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", std::env::temp_dir())
        .env("KUBECONFIG", ground::ground().kubeconfig())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap();
    Killed(child)
}

/// What must not change of a Secret: resourceVersion, data, type, labels, annotations, owners
/// and the field managers (manager, operation, fields).
fn snapshot(s: &Secret) -> Value {
    let m = &s.metadata;
    json!({
        "resourceVersion": m.resource_version, "data": data(s), "type": s.type_,
        "labels": m.labels, "annotations": m.annotations, "ownerReferences": m.owner_references,
        "managedFields": m.managed_fields.iter().flatten()
            .map(|f| json!([f.manager, f.operation, f.fields_v1]))
            .collect::<Vec<_>>(),
    })
}

const TARGETS: [&str; 2] = ["api-gateway-credentials", "database-connection"];
const EXTERNAL_SECRETS: [&str; 2] = ["api-gateway-secrets", "connection-string"];

async fn secrets(api: &Api<Secret>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for name in TARGETS {
        out.insert(name.to_owned(), snapshot(&api.get(name).await.unwrap()));
    }
    out
}

async fn all_ready(client: &kube::Client, ns: &str, what: &str) {
    ground::eventually(Duration::from_secs(120), what, || async {
        for name in EXTERNAL_SECRETS {
            let es = get(client, Some(ns), "externalsecrets", name).await?;
            (ready(&es)? == "True").then_some(())?;
        }
        Some(())
    })
    .await;
}

async fn password(api: &Api<Secret>) -> String {
    let s = api.get("api-gateway-credentials").await.unwrap();
    data(&s)["database-password"].clone()
}

/// Changes the password in OpenBao, forces a refresh with `force`, and returns how long until
/// the Secret had the new value.
async fn rotate(
    api: &Api<Secret>,
    bao: &Bao,
    ns: &str,
    value: &str,
    force: impl AsyncFnOnce(),
) -> Duration {
    bao.put(
        &format!("{ns}/api-gateway/database"),
        json!({"password": value}),
    );
    let start = Instant::now();
    force().await;
    ground::eventually(Duration::from_secs(60), "the rotated value", || async {
        (password(api).await == value).then_some(())
    })
    .await;
    start.elapsed()
}

#[tokio::test]
async fn eso_to_ampoule_and_back_keeps_every_secret() {
    let client = common::operator::client().await;
    let g = ground::ground();
    let ns = g.namespace("migrate-eso").await;
    let class = unique(&ns);
    let work = std::env::temp_dir().join(&ns);
    std::fs::create_dir_all(&work).unwrap();
    let eso_log = work.join("eso.log");
    let secrets_api: Api<Secret> = Api::namespaced(client.clone(), &ns);

    // The seed guide's store and two of its ExternalSecrets (a template among them), their
    // OpenBao paths made unique for this namespace.
    let bao = Bao::ground();
    let role = bao.seed(&ns);
    bao.put(
        &format!("{ns}/database/postgresql"),
        json!({"username": "app", "password": "pg-pass", "host": "db.internal", "port": "5432", "database": "orders"}),
    );
    let seed = |file: &str| common::operator::seed(file, &ns);
    let mut store = seed("01-secretstore-vault-backend.yaml");
    store["spec"]["controller"] = json!(class);
    store["spec"]["provider"]["vault"]["auth"]["kubernetes"]["role"] = json!(role);
    let mut es = seed("02-externalsecret-api-gateway-secrets.yaml");
    for item in es["spec"]["data"].as_array_mut().unwrap() {
        let key = item["remoteRef"]["key"].as_str().unwrap().to_owned();
        item["remoteRef"]["key"] = json!(format!("{ns}/{key}"));
    }
    let mut conn = seed("09-externalsecret-connection-string.yaml");
    conn["spec"]["dataFrom"][0]["extract"]["key"] = json!(format!("{ns}/database/postgresql"));
    for obj in [store, es, conn] {
        apply(&client, Some(&ns), obj).await.unwrap();
    }

    // ESO syncs them.
    let running = eso(&ns, &class, &eso_log);
    all_ready(&client, &ns, "ESO: every ExternalSecret Ready").await;
    for name in TARGETS {
        common::wait_secret_within(&client, &ns, name, Duration::from_secs(60), name, |_| true)
            .await;
    }
    assert_eq!(password(&secrets_api).await, "db-pass-1");
    drop(running);
    let by_eso = secrets(&secrets_api).await;
    for (name, s) in &by_eso {
        let managers = s["managedFields"].as_array().unwrap();
        assert!(
            managers.iter().all(|m| m[0]
                .as_str()
                .unwrap()
                .starts_with("externalsecrets.external-secrets.io/")),
            "{name}: {managers:?}"
        );
    }

    // The guide: record, CRDs, ProviderClass, Ampoule, check.
    run_step("record", &ns, &work);
    run_step("crds", &ns, &work);
    run_step("provider-class", &ns, &work);
    let log = work.join("ampoule.log");
    let ampoule = common::operator(
        Some(&ns),
        &class,
        &std::env::temp_dir().join("ampoule-test-cache"),
        &log,
    );
    // Ampoule has validated the store (its status names the plugin) and looked at every
    // ExternalSecret (a reconcile right after its caches synced).
    ground::eventually(
        Duration::from_secs(300),
        "Ampoule: the store validated",
        || async {
            let s = get(&client, Some(&ns), "secretstores", "vault-backend").await?;
            s.data["status"]["plugin"]["digest"].as_str().map(|_| ())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    run_step("check", &ns, &work);
    all_ready(&client, &ns, "Ampoule: every ExternalSecret Ready").await;
    assert_eq!(
        secrets(&secrets_api).await,
        by_eso,
        "Ampoule rewrote a Secret ESO wrote"
    );

    // A rotation through the guide's force-sync, applied by Ampoule; the Secret's metadata stays
    // ESO's, under the same field manager, and nothing writes it again.
    let took = rotate(&secrets_api, &bao, &ns, "db-pass-2", async || {
        run_step("rotate", &ns, &work);
    })
    .await;
    // The forced refresh of the template's ExternalSecret finds nothing changed: its Secret is
    // not written at all (resourceVersion and managedFields included), though Ampoule never
    // applied it before.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let rotated = secrets(&secrets_api).await;
    assert_eq!(
        rotated["database-connection"], by_eso["database-connection"],
        "a refresh with nothing changed wrote the Secret"
    );
    let s = &rotated["api-gateway-credentials"];
    let before = &by_eso["api-gateway-credentials"];
    assert_eq!(s["labels"], before["labels"]);
    assert_eq!(s["ownerReferences"], before["ownerReferences"]);
    let managers: Vec<&str> = s["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m[0].as_str().unwrap())
        .collect();
    assert!(
        managers
            .iter()
            .all(|m| *m == "externalsecrets.external-secrets.io/api-gateway-secrets"),
        "{managers:?}"
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    let settled = secrets(&secrets_api).await;
    assert_eq!(
        settled, rotated,
        "the Secrets were written again after the rotation"
    );
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !log_text.contains("db-pass-2"),
        "a secret value in Ampoule's log"
    );
    drop(ampoule);

    // The way back: ESO on what Ampoule left.
    let by_ampoule = secrets(&secrets_api).await;
    let running = eso(&ns, &class, &eso_log);
    all_ready(&client, &ns, "ESO again: every ExternalSecret Ready").await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        secrets(&secrets_api).await,
        by_ampoule,
        "ESO rewrote a Secret Ampoule wrote"
    );
    let back = rotate(&secrets_api, &bao, &ns, "db-pass-3", async || {
        common::force_sync(&client, &ns, "api-gateway-secrets", "back").await;
    })
    .await;
    drop(running);
    println!(
        "secrets: {}; resourceVersions unchanged ESO->Ampoule and Ampoule->ESO; rotation by Ampoule {:?}, by ESO {:?}",
        TARGETS.len(),
        took,
        back
    );
    g.drop_namespace(&ns).await;
}
