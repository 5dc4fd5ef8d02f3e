//! ESO's `webhook` provider, written in JavaScript with the provider kit as a third party would
//! (examples/providers/webhook): built with `ampoule plugin build`, pushed to the ground's
//! registry, served by a ProviderClass under an egress ceiling, and ExternalSecrets in ESO's
//! webhook syntax synced through the operator from the ground's OpenBao (its KV v2 HTTP API is
//! the webhook's backend). Its vendored WIT and SDK are the repo's, byte for byte.
//!
//! The case-by-case behaviour (templates, JSONPath, errors, TLS) is the example's own case files,
//! run by `ampoule plugin test` (examples/providers/webhook/README.md); this is the operator's path.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use ampoule::plugin::Digest;
use common::bao::Bao;
use common::{WAIT, apply, crds, data, unique};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use serde_json::json;

fn repo() -> PathBuf {
    let start = ground::manifest_dir();
    start
        .ancestors()
        .find(|d| d.join("examples/providers/webhook/package.json").is_file())
        .unwrap_or_else(|| panic!("no examples/providers/webhook above {}", start.display()))
        .to_path_buf()
}

/// Every file under `dir` (relative path → bytes), leaving out the folders named in `skip`.
fn tree(dir: &Path, skip: &[&str]) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, skip: &[&str], out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                if !skip.contains(&name.as_str()) {
                    walk(root, &path, skip, out);
                }
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .to_string();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, skip, &mut out);
    out
}

/// `$HOME/.cache/ampoule/webhook`: the builds, and the operator's compiled-component cache.
fn cache() -> PathBuf {
    Path::new(&std::env::var("HOME").unwrap()).join(".cache/ampoule/webhook")
}

/// The example's component, built once per source: the project is copied into
/// `$HOME/.cache/ampoule/webhook/<hash of its files>` and built there with `ampoule plugin
/// build` (npm ci, then its build script), so the clone stays clean and a rerun builds nothing.
fn component() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let source = repo().join("examples/providers/webhook");
        let files = tree(&source, &["node_modules", "build"]);
        let mut all = Vec::new();
        for (path, bytes) in &files {
            all.extend_from_slice(path.as_bytes());
            all.push(0);
            all.extend_from_slice(Digest::of(bytes).to_string().as_bytes());
        }
        let key = Digest::of(&all).to_string();
        let dir = cache().join(&key["sha256:".len()..][..16]);
        let wasm = dir.join("build/webhook.wasm");
        if !wasm.is_file() {
            let _ = std::fs::remove_dir_all(&dir);
            for (path, bytes) in &files {
                let to = dir.join(path);
                std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                std::fs::write(&to, bytes).unwrap();
            }
            ground::run(
                Command::new(env!("CARGO_BIN_EXE_ampoule"))
                    .args(["plugin", "build"])
                    .arg(&dir),
            );
            assert!(wasm.is_file(), "plugin build wrote no {}", wasm.display());
        }
        wasm
    })
}

/// The example vendors the repo's WIT and JavaScript SDK as `ampoule plugin new` copies them:
/// an edit to either must reach the example too.
#[test]
fn the_example_vendors_the_repos_wit_and_sdk() {
    let repo = repo();
    let example = repo.join("examples/providers/webhook");
    assert!(
        tree(&example.join("wit"), &[]) == tree(&repo.join("wit"), &[]),
        "examples/providers/webhook/wit differs from wit/: copy wit/ over it"
    );
    assert!(
        tree(&example.join("vendor/ampoule-sdk"), &["node_modules"])
            == tree(&repo.join("plugins/sdk-js"), &["tests", "node_modules"]),
        "examples/providers/webhook/vendor/ampoule-sdk differs from plugins/sdk-js (minus tests/): copy it over"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eso_webhook_stores_sync_from_openbao_through_the_javascript_provider() {
    let g = ground::ground();
    let client = g.client().await;
    crds(&client).await;
    let ns = g.namespace("e2e-webhook").await;
    let class = unique("webhook");
    let log = std::env::temp_dir().join(format!("{ns}.log"));

    // OpenBao: two values under secret/<ns>/, and a token that reads only those.
    let bao = Bao::ground();
    bao.put(
        &format!("{ns}/db"),
        json!({"user": "admin", "password": "hunter2", "port": 5432}),
    );
    bao.put(&format!("{ns}/api"), json!({"token": "k-123"}));
    let policy = format!("webhook-{ns}");
    bao.call(
        "PUT",
        &format!("sys/policies/acl/{policy}"),
        Some(
            json!({"policy": format!("path \"secret/data/{ns}/*\" {{ capabilities = [\"read\"] }}")}),
        ),
    );
    let token = bao.call(
        "POST",
        "auth/token/create",
        Some(json!({"policies": [policy], "no_default_policy": true, "ttl": "1h"})),
    )["auth"]["client_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // The component, pushed; the class pins its manifest digest and grants OpenBao's port only.
    let wasm = component();
    let reference = format!("oci://{}/ampoule/webhook-{class}", g.registry());
    let manifest = common::push(wasm, &format!("{reference}:test"));
    let addr = g.vault_addr().to_owned();
    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
    let _cleanup = common::DeleteClasses(vec!["webhook".into()]);
    apply(&client, None, json!({
        "apiVersion": "ampoule.dev/v1alpha1", "kind": "ProviderClass", "metadata": {"name": "webhook"},
        "spec": {"provider": "webhook", "module": {"image": format!("{reference}@{manifest}")},
                 "sandbox": {"egress": {"privateNetworks": "Allow",
                                        "allow": [{"host": "127.0.0.1", "ports": [port], "methods": ["GET"]}]},
                             "limits": {"memory": "128Mi", "timeout": "20s"}}}
    }))
    .await
    .unwrap();
    let _op = common::operator(Some(&ns), &class, &cache().join("compiled"), &log);

    // ESO's webhook syntax, unchanged: a templated URL and header, a secret for the template,
    // a JSONPath result.
    apply(
        &client,
        Some(&ns),
        json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bao-token"},
            "stringData": {"token": token}
        }),
    )
    .await
    .unwrap();
    let store = json!({
        "apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "bao"},
        "spec": {"controller": class, "provider": {"webhook": {
            "url": format!("{addr}/v1/secret/data/{ns}/{{{{ .remoteRef.key }}}}"),
            "headers": {"X-Vault-Token": "{{ .auth.token }}"},
            "result": {"jsonPath": "$.data.data{{ if .remoteRef.property }}.{{ .remoteRef.property }}{{ end }}"},
            "timeout": "5s",
            "secrets": [{"name": "auth", "secretRef": {"name": "bao-token"}}]
        }}}
    });
    apply(&client, Some(&ns), store.clone()).await.unwrap();
    apply(&client, Some(&ns), json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "app"},
        "spec": {"secretStoreRef": {"name": "bao"}, "refreshInterval": "1m",
                 "data": [{"secretKey": "password", "remoteRef": {"key": "db", "property": "password"}},
                          {"secretKey": "api-token", "remoteRef": {"key": "api", "property": "token"}}],
                 "dataFrom": [{"extract": {"key": "db"}}]}
    }))
    .await
    .unwrap();
    // The same store with a token OpenBao does not know: it answers 403, the ExternalSecret fails
    // and no Secret is written.
    apply(
        &client,
        Some(&ns),
        json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bad-token"},
            "stringData": {"token": "not-a-token"}
        }),
    )
    .await
    .unwrap();
    let mut wrong = store.clone();
    wrong["metadata"]["name"] = json!("bao-wrong");
    wrong["spec"]["provider"]["webhook"]["secrets"][0]["secretRef"]["name"] = json!("bad-token");
    apply(&client, Some(&ns), wrong).await.unwrap();
    apply(&client, Some(&ns), json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "denied"},
        "spec": {"secretStoreRef": {"name": "bao-wrong"}, "refreshInterval": "1m",
                 "data": [{"secretKey": "x", "remoteRef": {"key": "db", "property": "user"}}]}
    }))
    .await
    .unwrap();

    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    // The operator pulls and compiles the component first (tens of seconds in a debug build on
    // a busy machine): the bound is generous, nothing here measures time.
    let secret = ground::eventually(
        WAIT * 16,
        &format!(
            "the Secret written through the webhook plugin (log: {})",
            log.display()
        ),
        || async { secrets.get_opt("app").await.unwrap() },
    )
    .await;
    let got = data(&secret);
    assert_eq!(
        got.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>(),
        [
            "api-token=k-123",
            "password=hunter2",
            "port=5432",
            "user=admin"
        ],
        "{got:?}"
    );
    let bao_store = common::get(&client, Some(&ns), "secretstores", "bao")
        .await
        .unwrap();
    assert_eq!(
        bao_store.data["status"]["plugin"]["digest"],
        json!(Digest::of(&std::fs::read(wasm).unwrap()).to_string()),
        "{:?}",
        bao_store.data["status"]
    );
    let denied = ground::eventually(WAIT * 4, "the denied ExternalSecret fails", || async {
        let es = common::get(&client, Some(&ns), "externalsecrets", "denied").await?;
        let cond = es.data["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == "Ready")?
            .clone();
        (cond["status"] == "False").then_some(cond)
    })
    .await;
    assert_eq!(denied["reason"], "SecretSyncedError", "{denied}");
    assert!(secrets.get_opt("denied").await.unwrap().is_none());
    assert!(
        !std::fs::read_to_string(&log).unwrap().contains(&token),
        "the OpenBao token reached the operator's log"
    );
    g.drop_namespace(&ns).await;
}
