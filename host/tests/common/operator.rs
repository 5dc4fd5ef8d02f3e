//! The `ampoule run` binary for one fresh namespace of the ground, and what the operator tests
//! do with it: apply the seed guide's manifests, wait for stores, Secrets and ExternalSecrets.

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::{Value, json};

use super::{Killed, WAIT, apply, crds, get, unique};

/// The ground's client, with Ampoule's CRDs installed.
pub async fn client() -> Client {
    let client = ground::ground().client().await;
    crds(&client).await;
    client
}

/// An operator (`ampoule run --namespace`) watching a fresh namespace with its own controller
/// class, its log in the temp folder; stopped when dropped.
pub struct Operated {
    pub client: Client,
    pub ns: String,
    pub class: String,
    pub log: PathBuf,
    /// How long [`Operated::secret`] waits.
    pub wait: Duration,
    _process: Killed,
}

/// The compiled-component cache the operators of the tests share.
fn cache() -> PathBuf {
    std::env::temp_dir().join("ampoule-test-cache")
}

/// Starts an operator for a fresh namespace `prefix-<random>`; the ProviderClasses the test
/// needs are applied before.
pub async fn operated(client: &Client, prefix: &str) -> Operated {
    let ns = ground::ground().namespace(prefix).await;
    Operated::start(client, ns, true)
}

impl Operated {
    /// An operator for namespace `ns` (its log named after it), watching only it or, unless
    /// `namespaced`, every namespace.
    pub fn start(client: &Client, ns: String, namespaced: bool) -> Operated {
        Operated::start_with(client, ns, namespaced, |_| {})
    }

    /// [`Operated::start`] with the operator's command adjusted (flags, environment).
    pub fn start_with(
        client: &Client,
        ns: String,
        namespaced: bool,
        adjust: impl FnOnce(&mut std::process::Command),
    ) -> Operated {
        let class = unique(&ns);
        let log = std::env::temp_dir().join(format!("{ns}.log"));
        let process = super::operator_with(
            namespaced.then_some(ns.as_str()),
            &class,
            &cache(),
            &log,
            adjust,
        );
        Operated {
            client: client.clone(),
            ns,
            class,
            log,
            wait: WAIT,
            _process: process,
        }
    }

    /// Server-side applies an object in the operator's namespace.
    pub async fn apply(&self, obj: Value) -> DynamicObject {
        apply(&self.client, Some(&self.ns), obj).await.unwrap()
    }

    /// A seed manifest ([`seed`]) in this namespace; stores name this operator's class.
    pub fn seed(&self, file: &str) -> Value {
        let mut v = seed(file, &self.ns);
        if v["kind"]
            .as_str()
            .is_some_and(|k| k.ends_with("SecretStore"))
        {
            v["spec"]["controller"] = json!(self.class);
        }
        v
    }

    /// Applies a SecretStore and waits for it to be Ready.
    pub async fn store(&self, obj: Value) {
        let name = obj["metadata"]["name"].as_str().unwrap().to_owned();
        self.apply(obj).await;
        self.store_ready(&name).await;
    }

    /// Waits for a SecretStore to be Ready. The first operator of a build compiles the
    /// components (minutes on a busy 2-core machine); later ones load them from the cache.
    pub async fn store_ready(&self, name: &str) {
        ground::eventually(
            Duration::from_secs(300),
            &format!("SecretStore {name} Ready"),
            || async {
                let obj = get(&self.client, Some(&self.ns), "secretstores", name).await?;
                (super::ready(&obj)? == "True").then_some(())
            },
        )
        .await;
    }

    /// Waits until the Secret exists and `check` accepts it.
    pub async fn secret(&self, name: &str, what: &str, check: impl Fn(&Secret) -> bool) -> Secret {
        super::wait_secret_within(&self.client, &self.ns, name, self.wait, what, check).await
    }

    /// Waits until the Secret exists.
    pub async fn synced(&self, name: &str, what: &str) -> Secret {
        self.secret(name, what, |_| true).await
    }

    pub fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// Waits until the Secret is gone.
    pub async fn secret_gone(&self, name: &str, what: &str) {
        ground::eventually(WAIT, what, || async {
            self.secrets()
                .get_opt(name)
                .await
                .unwrap()
                .is_none()
                .then_some(())
        })
        .await;
    }

    /// Waits (up to two minutes) until `n` Secrets in the namespace are managed by an
    /// ExternalSecret.
    pub async fn managed_secrets(&self, n: usize, what: &str) {
        let secrets = self.secrets();
        ground::eventually(Duration::from_secs(120), what, || async {
            let list = secrets
                .list(&ListParams::default().labels("reconcile.external-secrets.io/managed=true"))
                .await
                .ok()?;
            (list.items.len() == n).then_some(())
        })
        .await;
    }

    /// The Ready condition of an ExternalSecret: (status, reason, message).
    pub async fn es_ready(&self, name: &str) -> Option<(String, String, String)> {
        let es = get(&self.client, Some(&self.ns), "externalsecrets", name).await?;
        let c = es.data["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == "Ready")?
            .clone();
        let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
        Some((s("status"), s("reason"), s("message")))
    }

    /// Waits until the ExternalSecret's Ready condition has this status (and reason, unless
    /// empty); returns its message.
    pub async fn wait_es(&self, name: &str, status: &str, reason: &str) -> String {
        ground::eventually(WAIT, &format!("{name} Ready={status} {reason}"), || async {
            let (s, r, m) = self.es_ready(name).await?;
            (s == status && (reason.is_empty() || r == reason)).then_some(m)
        })
        .await
    }

    /// Forces a sync of an ExternalSecret.
    pub async fn force_sync(&self, name: &str, value: &str) {
        super::force_sync(&self.client, &self.ns, name, value).await;
    }

    /// Notes of the events in the namespace that `keep` accepts.
    async fn notes(&self, keep: impl Fn(&Event) -> bool) -> Vec<String> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), &self.ns);
        let list = api.list(&Default::default()).await.unwrap();
        list.items
            .into_iter()
            .filter(|e| keep(e))
            .filter_map(|e| e.note)
            .collect()
    }

    /// Waits for a Warning event (about object `about`, if given) whose note contains every one
    /// of `needles`; returns the note.
    pub async fn warning(&self, about: Option<&str>, needles: &[&str]) -> String {
        let keep = |e: &Event| {
            e.type_.as_deref() == Some("Warning")
                && about.is_none_or(|name| {
                    e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                })
        };
        let what = format!("a Warning event about {about:?} with {needles:?}");
        ground::eventually(WAIT, &what, || async {
            let notes = self.notes(keep).await.into_iter();
            notes
                .into_iter()
                .find(|n| needles.iter().all(|w| n.contains(w)))
        })
        .await
    }

    /// Every event note, store and ExternalSecret status in the namespace, and the operator's
    /// log: the text a secret must never appear in.
    pub async fn visible_text(&self) -> String {
        let mut text = self.notes(|_| true).await;
        for plural in ["secretstores", "externalsecrets"] {
            let ar = super::eso_resource(plural);
            let list = Api::<DynamicObject>::namespaced_with(self.client.clone(), &self.ns, &ar)
                .list(&Default::default())
                .await
                .unwrap();
            text.extend(list.items.iter().map(|o| o.data["status"].to_string()));
        }
        text.push(std::fs::read_to_string(&self.log).unwrap_or_default());
        text.join("\n")
    }
}

/// The seed guide's YAML (tests/fixtures/seed) with its namespaces replaced by `ns` and the
/// Vault address by the ground's OpenBao.
pub fn seed(file: &str, ns: &str) -> Value {
    let g = ground::ground();
    let text = std::fs::read_to_string(g.repo.join("tests/fixtures/seed").join(file))
        .unwrap()
        .replace("https://vault.company.com:8200", g.vault_addr())
        .replace("namespace: production", &format!("namespace: {ns}"))
        .replace("namespace: team-alpha", &format!("namespace: {ns}"));
    serde_norway::from_str(&text).unwrap()
}
