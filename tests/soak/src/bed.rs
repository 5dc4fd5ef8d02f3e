//! A test bed: a fresh namespace with a store of one provider behind a fault relay, N values in
//! the backend and N ExternalSecrets for them, and the checks every scenario makes (Secrets
//! right, ExternalSecrets Ready).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, ResourceExt as _};
use serde_json::{Value, json};

use crate::operator::Operator;
use crate::relay::Relay;

/// The backend behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Vault,
    Aws,
    Gcp,
}

impl Provider {
    pub fn name(self) -> &'static str {
        match self {
            Provider::Vault => "vault",
            Provider::Aws => "aws",
            Provider::Gcp => "gcp",
        }
    }
}

/// A namespace with a store, backend values and ExternalSecrets `es-0..es-N`.
pub struct Bed {
    pub client: Client,
    pub ns: String,
    pub class: String,
    pub provider: Provider,
    pub relay: Relay,
    pub n: usize,
    pub refresh: String,
    /// The value each target Secret (`es-<i>`) must hold now.
    pub expected: BTreeMap<String, String>,
    pub logs: PathBuf,
    http: reqwest::Client,
    run: String,
}

const FIELD_MANAGER: &str = "ampoule-soak";

/// The operator binary: `$AMPOULE_BIN`, else the release build beside the test.
pub fn binary() -> PathBuf {
    ground::release_binary()
}

/// Installs this binary's CRDs (`ampoule crd`) with a server-side apply, once per process.
async fn crds() {
    static DONE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    DONE.get_or_init(|| async {
        let g = ground::ground();
        let yaml = ground::run(std::process::Command::new(binary()).arg("crd"));
        ground::run_with_input(
            g.command("kubectl").args([
                "apply",
                "--server-side",
                "--force-conflicts",
                "--field-manager",
                FIELD_MANAGER,
                "-f",
                "-",
            ]),
            yaml.as_bytes(),
        );
        ground::run(g.command("kubectl").args([
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd",
            "externalsecrets.external-secrets.io",
            "secretstores.external-secrets.io",
            "providerclasses.ampoule.dev",
        ]));
    })
    .await;
}

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// Server-side applies `obj` (namespaced when `ns` is given).
pub async fn apply(client: &Client, ns: Option<&str>, obj: Value) {
    let api_version = obj["apiVersion"].as_str().unwrap_or_default().to_owned();
    let kind = obj["kind"].as_str().unwrap_or_default().to_owned();
    let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
    let plural = match kind.as_str() {
        "ProviderClass" => "providerclasses".to_owned(),
        k => format!("{}s", k.to_lowercase()),
    };
    let ar = resource(group, version, &kind, &plural);
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut last = None;
    // The apiserver may be restarting: a few tries.
    for _ in 0..50 {
        match api
            .patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&obj),
            )
            .await
        {
            Ok(_) => return,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("apply {kind} {name}: {last:?}");
}

impl Bed {
    /// A fresh namespace `soak-<random>` with the store and N backend values (no ExternalSecret
    /// yet: [`Bed::create`]); ExternalSecrets refresh every `refresh`.
    pub async fn new(provider: Provider, n: usize, refresh: &str) -> Bed {
        crds().await;
        let g = ground::ground();
        let client = g.client().await;
        let ns = g.namespace(&format!("soak-{}", provider.name())).await;
        let upstream = match provider {
            Provider::Vault => g.vault_addr(),
            Provider::Aws => g.aws_endpoint(),
            Provider::Gcp => g.gcp_endpoint(),
        };
        let port: u16 = upstream
            .rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("no port in {upstream}"));
        let relay = Relay::start(port)
            .await
            .unwrap_or_else(|e| panic!("relay: {e}"));
        let logs = std::env::temp_dir().join("ampoule-soak");
        std::fs::create_dir_all(&logs).unwrap_or_else(|e| panic!("{e}"));
        let mut bed = Bed {
            client,
            class: format!("soak-{}", &ns[ns.len() - 8..]),
            ns,
            provider,
            relay,
            n,
            refresh: refresh.to_owned(),
            expected: BTreeMap::new(),
            logs,
            http: reqwest::Client::new(),
            run: format!("{:08x}", rand::random::<u32>()),
        };
        bed.store().await;
        let values: Vec<(usize, String)> = (0..n).map(|i| (i, bed.value(i, 1))).collect();
        bed.put_all(&values).await;
        bed
    }

    /// The value of item `i` at `generation`.
    pub fn value(&self, i: usize, generation: u32) -> String {
        format!("v{generation}-{i}-{}", self.run)
    }

    fn remote_key(&self, i: usize) -> String {
        match self.provider {
            Provider::Vault => format!("soak/{}/item-{i}", self.ns),
            Provider::Aws | Provider::Gcp => format!("soak-{}-item-{i}", self.ns),
        }
    }

    async fn store(&self) {
        let g = ground::ground();
        let c = &self.client;
        let ns = Some(self.ns.as_str());
        let sandbox = |ports: &[u16]| {
            let allow: Vec<Value> = ports
                .iter()
                .map(|p| json!({"host": "127.0.0.1", "ports": [p]}))
                .collect();
            json!({"egress": {"allow": allow, "privateNetworks": "Allow"}, "limits": {"timeout": "10s"}})
        };
        let provider = match self.provider {
            Provider::Vault => {
                apply(c, None, json!({"apiVersion": "ampoule.dev/v1alpha1", "kind": "ProviderClass", "metadata": {"name": "vault"},
                    "spec": {"provider": "vault", "sandbox": {"egress": {"privateNetworks": "Allow"}, "limits": {"timeout": "10s"}}}})).await;
                apply(c, ns, json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "vault-token"},
                    "stringData": {"token": g.vault_token()}})).await;
                json!({"vault": {"server": self.relay.url(), "path": "secret", "version": "v2",
                    "auth": {"tokenSecretRef": {"name": "vault-token", "key": "token"}}}})
            }
            Provider::Aws => {
                apply(c, None, json!({"apiVersion": "ampoule.dev/v1alpha1", "kind": "ProviderClass", "metadata": {"name": "aws"},
                    "spec": {"provider": "aws", "settings": {"endpoints": {"secretsmanager": self.relay.url()}},
                        "sandbox": sandbox(&[self.relay.port])}})).await;
                apply(c, ns, json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "aws-keys"},
                    "stringData": {"id": g.var("AWS_ACCESS_KEY_ID"), "secret": g.var("AWS_SECRET_ACCESS_KEY")}})).await;
                json!({"aws": {"service": "SecretsManager", "region": "us-east-1", "auth": {"secretRef": {
                    "accessKeyIDSecretRef": {"name": "aws-keys", "key": "id"},
                    "secretAccessKeySecretRef": {"name": "aws-keys", "key": "secret"}}}}})
            }
            Provider::Gcp => {
                let fake = g.gcp_endpoint();
                let fake_port: u16 = fake
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                apply(c, None, json!({"apiVersion": "ampoule.dev/v1alpha1", "kind": "ProviderClass", "metadata": {"name": "gcpsm"},
                    "spec": {"provider": "gcpsm", "settings": {"endpoints": {"secretmanager": self.relay.url(),
                        "sts": fake, "securetoken": fake, "iamcredentials": fake, "oauth2": fake}},
                        "sandbox": sandbox(&[self.relay.port, fake_port])}})).await;
                apply(c, ns, json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "external-secrets-sa",
                    "annotations": {"iam.gke.io/gcp-service-account": "external-secrets@my-project.iam.gserviceaccount.com"}}})).await;
                json!({"gcpsm": {"projectID": "my-project", "auth": {"workloadIdentity": {
                    "clusterLocation": "us-central1", "clusterName": "soak",
                    "serviceAccountRef": {"name": "external-secrets-sa"}}}}})
            }
        };
        apply(c, ns, json!({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "backend"},
            "spec": {"controller": self.class, "provider": provider}})).await;
    }

    /// Writes values to the backend directly (not through the relay), and records them as
    /// what the targets must hold.
    pub async fn put_all(&mut self, values: &[(usize, String)]) {
        let this = &*self;
        let results: Vec<Result<(), String>> = futures::stream::iter(values.iter())
            .map(|(i, v)| async move { this.put(*i, v).await })
            .buffer_unordered(16)
            .collect()
            .await;
        if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
            panic!("writing the backend: {e}");
        }
        for (i, v) in values {
            self.expected.insert(format!("es-{i}"), v.clone());
        }
    }

    async fn put(&self, i: usize, value: &str) -> Result<(), String> {
        let g = ground::ground();
        let key = self.remote_key(i);
        let resp = match self.provider {
            Provider::Vault => {
                self.http
                    .post(format!("{}/v1/secret/data/{key}", g.vault_addr()))
                    .header("X-Vault-Token", g.vault_token())
                    .json(&json!({"data": {"value": value}}))
                    .send()
                    .await
            }
            Provider::Aws => {
                let exists = self.expected.contains_key(&format!("es-{i}"));
                let (target, body) = if exists {
                    (
                        "PutSecretValue",
                        json!({"SecretId": key, "SecretString": json!({"value": value}).to_string()}),
                    )
                } else {
                    (
                        "CreateSecret",
                        json!({"Name": key, "SecretString": json!({"value": value}).to_string()}),
                    )
                };
                self.http
                    .post(g.aws_endpoint())
                    .header("X-Amz-Target", format!("secretsmanager.{target}"))
                    .header("Content-Type", "application/x-amz-json-1.1")
                    // moto routes by the credential scope; it does not check the signature.
                    .header("Authorization", "AWS4-HMAC-SHA256 Credential=ground/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=00")
                    .body(body.to_string())
                    .send()
                    .await
            }
            Provider::Gcp => {
                let base = format!("{}/v1/projects/my-project/secrets", g.gcp_endpoint());
                if !self.expected.contains_key(&format!("es-{i}")) {
                    let r = self
                        .http
                        .post(format!("{base}?secretId={key}"))
                        .json(&json!({"replication": {"automatic": {}}}))
                        .send()
                        .await
                        .map_err(|e| e.to_string())?;
                    if !r.status().is_success() {
                        return Err(format!("create {key}: {}", r.status()));
                    }
                }
                use base64::Engine as _;
                let data = base64::engine::general_purpose::STANDARD.encode(value);
                self.http
                    .post(format!("{base}/{key}:addVersion"))
                    .json(&json!({"payload": {"data": data}}))
                    .send()
                    .await
            }
        };
        match resp {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("{key}: HTTP {}", r.status())),
            Err(e) => Err(format!("{key}: {e}")),
        }
    }

    /// Creates the N ExternalSecrets (16 at a time).
    pub async fn create(&self) {
        let this = self;
        futures::stream::iter(0..self.n)
            .map(|i| async move {
                let remote = match this.provider {
                    Provider::Gcp => json!({"key": this.remote_key(i)}),
                    _ => json!({"key": this.remote_key(i), "property": "value"}),
                };
                apply(&this.client, Some(&this.ns), json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                    "metadata": {"name": format!("es-{i}")},
                    "spec": {"refreshInterval": this.refresh, "secretStoreRef": {"name": "backend", "kind": "SecretStore"},
                        "target": {"name": format!("es-{i}")},
                        "data": [{"secretKey": "value", "remoteRef": remote}]}})).await;
            })
            .buffer_unordered(16)
            .collect::<Vec<()>>()
            .await;
    }

    /// An operator for this bed (not started), its log in the temp folder.
    pub fn operator(&self, tag: &str, extra: &[&str]) -> Operator {
        let log = self.logs.join(format!("{}-{tag}.log", self.ns));
        let _ = std::fs::remove_file(&log);
        Operator::new(binary(), &self.ns, &self.class, log, extra)
    }

    /// The target Secrets as they are now (name → Secret).
    pub async fn secrets(&self) -> BTreeMap<String, Secret> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.ns);
        match api.list(&ListParams::default()).await {
            Ok(list) => list
                .items
                .into_iter()
                .filter(|s| self.expected.contains_key(&s.name_any()))
                .map(|s| (s.name_any(), s))
                .collect(),
            Err(_) => BTreeMap::new(),
        }
    }

    /// How many targets hold their expected value, and how many hold something else.
    pub async fn right_and_wrong(&self) -> (usize, usize) {
        let secrets = self.secrets().await;
        let mut right = 0;
        let mut wrong = 0;
        for (name, want) in &self.expected {
            let Some(s) = secrets.get(name) else { continue };
            let got = s
                .data
                .as_ref()
                .and_then(|d| d.get("value"))
                .map(|v| String::from_utf8_lossy(&v.0).into_owned());
            if got.as_deref() == Some(want.as_str()) {
                right += 1;
            } else {
                wrong += 1;
            }
        }
        (right, wrong)
    }

    /// Waits until every target holds its expected value; the time it took, or `None` after
    /// `limit`.
    pub async fn converge(&self, limit: Duration) -> Option<Duration> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.right_and_wrong().await.0 == self.n {
                return Some(start.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        None
    }

    /// The ExternalSecrets' Ready conditions: (True count, a Ready=False reason and message).
    pub async fn readiness(&self) -> (usize, Option<(String, String)>) {
        let ar = resource(
            "external-secrets.io",
            "v1",
            "ExternalSecret",
            "externalsecrets",
        );
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), &self.ns, &ar);
        let Ok(list) = api.list(&ListParams::default()).await else {
            return (0, None);
        };
        let mut ready = 0;
        let mut failing = None;
        for es in &list.items {
            let conds = es.data["status"]["conditions"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for c in conds.iter().filter(|c| c["type"] == "Ready") {
                if c["status"] == "True" {
                    ready += 1;
                } else if failing.is_none() {
                    failing = Some((
                        c["reason"].as_str().unwrap_or_default().to_owned(),
                        c["message"].as_str().unwrap_or_default().to_owned(),
                    ));
                }
            }
        }
        (ready, failing)
    }

    /// Waits until at least one ExternalSecret reports Ready=False; its reason and message.
    pub async fn some_not_ready(&self, limit: Duration) -> Option<(String, String)> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let (_, Some(f)) = self.readiness().await {
                return Some(f);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        None
    }

    /// Waits until all N ExternalSecrets are Ready=True; the time it took.
    pub async fn all_ready(&self, limit: Duration) -> Option<Duration> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.readiness().await.0 == self.n {
                return Some(start.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        None
    }

    /// The resourceVersion of every target now.
    pub async fn versions(&self) -> BTreeMap<String, String> {
        self.secrets()
            .await
            .into_iter()
            .map(|(n, s)| (n, s.resource_version().unwrap_or_default()))
            .collect()
    }

    /// Every text a secret value must never reach: the operator logs given, the namespace's
    /// events and the ExternalSecrets' status.
    pub async fn visible_text(&self, logs: &[&std::path::Path]) -> String {
        let mut text = String::new();
        for l in logs {
            text.push_str(&std::fs::read_to_string(l).unwrap_or_default());
        }
        let events: Api<k8s_openapi::api::core::v1::Event> =
            Api::namespaced(self.client.clone(), &self.ns);
        if let Ok(list) = events.list(&ListParams::default()).await {
            for e in list.items {
                text.push_str(&e.message.unwrap_or_default());
                text.push('\n');
            }
        }
        let ar = resource(
            "external-secrets.io",
            "v1",
            "ExternalSecret",
            "externalsecrets",
        );
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), &self.ns, &ar);
        if let Ok(list) = api.list(&ListParams::default()).await {
            for es in list.items {
                text.push_str(&es.data["status"].to_string());
            }
        }
        text
    }

    /// Deletes the namespace (and with it everything the bed made), and the AWS or GCP
    /// ProviderClass, whose endpoint is this bed's relay (no later operator binds a dead one).
    /// The `vault` class names no endpoint and is the one every Vault test applies: it stays.
    pub async fn drop(self) {
        let class = match self.provider {
            Provider::Vault => None,
            Provider::Aws => Some("aws"),
            Provider::Gcp => Some("gcpsm"),
        };
        if let Some(class) = class {
            let _ = ground::ground()
                .command("kubectl")
                .args(["delete", "providerclass", class, "--ignore-not-found"])
                .output();
        }
        ground::ground().drop_namespace(&self.ns).await;
    }
}

/// Shared handle to a bed for tasks.
pub type Shared = Arc<Bed>;
