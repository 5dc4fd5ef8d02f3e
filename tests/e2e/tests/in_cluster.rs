//! The chart running for real (issue 16): the operator's image from `tests/image/build`, Helm
//! installing the chart from this checkout onto the ground's node, the Pods using only the chart's
//! ServiceAccount (in-cluster configuration, the token the kubelet mounts), the seed guide's Vault
//! store and ExternalSecret synced, a first sync of 1,000 ExternalSecrets under the chart's memory
//! limit (peak read from the Pod's cgroup), a leader deleted and the standby taking over, and a
//! `helm upgrade` to a new image digest with no change left unsynced.
//!
//! The ground has one node and no kube-proxy, so the Pods use `hostNetwork` (the apiserver,
//! OpenBao and the registry are on 127.0.0.1) and each holds its metrics port on the node. Two
//! Pods of one Deployment would need the same port there, so the leader and the standby are two
//! releases of the chart in one namespace: they compete for the same Lease (its name and
//! namespace are the chart's), which is what two replicas do. Each release updates with
//! `maxSurge: 0` (the old Pod frees the port before the new one starts), which the chart's
//! `strategy` value sets. The figures (takeover time, peak memory) are printed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::time::{Duration, Instant};

use ground::{free_port, ground, is_ready, run, run_with_input};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(240);

fn kubectl() -> Command {
    ground().command("kubectl")
}

fn helm() -> Command {
    ground().command("helm")
}

fn get(args: &[&str]) -> Value {
    serde_json::from_str(&run(kubectl().args(args).args(["-o", "json"]))).unwrap()
}

fn wait_until<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `tests/image/build` of this checkout: `host:port/repo@sha256:…`; `created` (the image's
/// creation time, SOURCE_DATE_EPOCH) changes the digest, not the binary.
fn build_image(created: Option<u64>) -> String {
    let mut cmd = Command::new(ground().repo.join("tests/image/build"));
    cmd.arg("--binary")
        .arg(ground::release_binary())
        .env("OCI_REGISTRY", ground().registry())
        .env("GROUND_DIR", &ground().dir);
    if let Some(epoch) = created {
        cmd.env("SOURCE_DATE_EPOCH", epoch.to_string())
            .args(["--tag", &format!("upgrade-{epoch}")]);
    }
    let out = run(&mut cmd);
    out.lines().last().unwrap().trim().to_string()
}

struct Cluster {
    ns: String,
    class: String,
    policy: String,
    repo: String,
    api_port: String,
}

impl Cluster {
    fn values(&self, digest: &str, metrics_port: u16) -> String {
        let values = json!({
            "image": {"repository": self.repo, "digest": digest},
            "hostNetwork": true,
            "apiServer": {"host": "127.0.0.1", "port": self.api_port},
            "metrics": {"port": metrics_port, "service": {"enabled": false}},
            "leaderElect": true,
            "scopedNamespace": self.ns,
            "controllerClass": self.class,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
        });
        let path = std::env::temp_dir().join(format!("{}-{metrics_port}.json", self.ns));
        std::fs::write(&path, values.to_string()).unwrap();
        path.to_string_lossy().into_owned()
    }

    /// `helm install` (or upgrade) of release `name`, waiting for its Pod to be Ready.
    fn release(&self, verb: &str, name: &str, digest: &str, metrics_port: u16) {
        let values = self.values(digest, metrics_port);
        run(helm()
            .args([verb, name])
            .arg(ground().repo.join("charts/ampoule"))
            .args(["--namespace", &self.ns, "-f", &values, "--skip-crds"])
            .args(["--wait", "--timeout", "240s"]));
    }

    fn pods(&self, release: &str) -> Vec<Value> {
        let list = get(&[
            "-n",
            &self.ns,
            "get",
            "pods",
            "-l",
            &format!("app.kubernetes.io/instance={release}"),
        ]);
        list["items"].as_array().cloned().unwrap_or_default()
    }

    /// The one Ready, not terminating Pod of `release`.
    fn ready_pod(&self, release: &str) -> Value {
        wait_until(WAIT, &format!("a Ready Pod of {release}"), || {
            let ready: Vec<Value> = self
                .pods(release)
                .into_iter()
                .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
                .filter(is_ready)
                .collect();
            (ready.len() == 1).then(|| ready[0].clone())
        })
    }

    fn lease_holder(&self) -> Option<String> {
        let out = kubectl()
            .args([
                "-n",
                &self.ns,
                "get",
                "lease",
                "ampoule-controller",
                "-o",
                "jsonpath={.spec.holderIdentity}",
            ])
            .output()
            .unwrap();
        let holder = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (out.status.success() && !holder.is_empty()).then_some(holder)
    }

    fn bao_put(&self, key: &str, field: &str, value: &str) {
        run(ground().command("bao").args([
            "kv",
            "put",
            &format!("secret/{key}"),
            &format!("{field}={value}"),
        ]));
    }

    fn secret(&self, name: &str) -> Option<Value> {
        let out = kubectl()
            .args(["-n", &self.ns, "get", "secret", name, "-o", "json"])
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).unwrap())
    }

    /// Waits until the seed's Secret holds `password` (decoded).
    fn wait_password(&self, password: &str, what: &str) -> Duration {
        let t0 = Instant::now();
        wait_until(WAIT, what, || {
            let s = self.secret("api-gateway-credentials")?;
            let b64 = s["data"]["database-password"].as_str()?;
            (decode(b64) == password).then_some(())
        });
        t0.elapsed()
    }

    fn force_sync(&self, stamp: &str) {
        run(kubectl().args([
            "-n",
            &self.ns,
            "annotate",
            "externalsecret",
            "api-gateway-secrets",
            &format!("force-sync={stamp}"),
            "--overwrite",
        ]));
    }
}

fn decode(b64: &str) -> String {
    run_with_input(Command::new("base64").arg("-d"), b64.as_bytes())
}

/// The seed's manifest with `edit` applied, server-side applied.
fn apply_seed(file: &str, edit: impl FnOnce(&mut Value)) {
    let path = ground().repo.join("tests/fixtures/seed").join(file);
    let mut doc: Value = serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut doc);
    run_with_input(
        kubectl().args(["apply", "--server-side", "-f", "-"]),
        doc.to_string().as_bytes(),
    );
}

/// Peak and current memory of a Pod's cgroup (cgroup v1 memory controller; v2 as a fallback).
fn pod_memory(uid: &str) -> (u64, u64) {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
    };
    for qos in ["burstable", "besteffort", ""] {
        let dir = format!("/sys/fs/cgroup/memory/kubepods/{qos}/pod{uid}").replace("//", "/");
        if let (Some(peak), Some(now)) = (
            read(&format!("{dir}/memory.max_usage_in_bytes")),
            read(&format!("{dir}/memory.usage_in_bytes")),
        ) {
            return (peak, now);
        }
    }
    panic!("no memory cgroup found for pod {uid}");
}

#[test]
fn the_chart_runs_on_the_node_syncs_with_its_service_account_and_hands_over_leadership() {
    let g = ground();
    // The node's name; a ground started with GROUND_NODE=0 has none and this fails here.
    let node = g.var("GROUND_NODE");
    assert!(!node.is_empty() && node != "0", "the ground has no node");
    let id = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
            ^ std::process::id()
    );
    let reference = build_image(None);
    let (repo, digest) = reference.split_once('@').unwrap();
    let api_port = g
        .var("KUBE_APISERVER")
        .rsplit_once(':')
        .unwrap()
        .1
        .to_string();
    let c = Cluster {
        ns: format!("in-cluster-{id}"),
        class: format!("in-cluster-{id}"),
        policy: format!("in-cluster-{id}"),
        repo: repo.to_string(),
        api_port,
    };
    let (ra, rb) = (format!("ampoule-a-{id}"), format!("ampoule-b-{id}"));
    run(kubectl()
        .args(["apply", "--server-side", "--force-conflicts", "-f"])
        .arg(g.repo.join("charts/ampoule/crds")));
    run(kubectl().args(["create", "namespace", &c.ns]));
    let _cleanup = Cleanup {
        ns: c.ns.clone(),
        releases: [ra.clone(), rb.clone()],
        role: c.policy.clone(),
    };
    run(kubectl().args([
        "-n",
        &c.ns,
        "create",
        "serviceaccount",
        "external-secrets-sa",
    ]));
    // OpenBao: the guide's secrets, a policy, a kubernetes-auth role for this namespace.
    c.bao_put("api-gateway/database", "password", &format!("first-{id}"));
    c.bao_put(
        "api-gateway/external-service",
        "api_key",
        &format!("key-{id}"),
    );
    run_with_input(
        g.command("bao").args(["policy", "write", &c.policy, "-"]),
        format!(
            "path \"secret/data/api-gateway/*\" {{ capabilities = [\"read\"] }}\npath \"secret/data/{}/*\" {{ capabilities = [\"read\"] }}\n",
            c.ns
        )
        .as_bytes(),
    );
    run(g.command("bao").args([
        "write",
        &format!("auth/kubernetes/role/{}", c.policy),
        "bound_service_account_names=external-secrets-sa",
        &format!("bound_service_account_namespaces={}", c.ns),
        &format!("token_policies={}", c.policy),
        "token_ttl=1h",
    ]));
    // The ProviderClass every Vault test shares: OpenBao listens on 127.0.0.1.
    run_with_input(
        kubectl().args(["apply", "--server-side", "--force-conflicts", "--field-manager=in-cluster-test", "-f", "-"]),
        json!({"apiVersion": "ampoule.dev/v1alpha1", "kind": "ProviderClass", "metadata": {"name": "vault"},
            "spec": {"provider": "vault", "sandbox": {"egress": {"privateNetworks": "Allow"}, "limits": {"timeout": "10s"}}}})
        .to_string()
        .as_bytes(),
    );

    // 1. The leader: a release from this checkout's chart, the image by digest.
    let port_a = free_port();
    c.release("install", &ra, digest, port_a);
    let pod_a = c.ready_pod(&ra);
    let spec = &pod_a["spec"];
    assert_eq!(spec["containers"][0]["image"], reference.as_str());
    assert_eq!(
        spec["containers"][0]["securityContext"]["readOnlyRootFilesystem"],
        true
    );
    assert_eq!(spec["securityContext"]["runAsUser"], 65532);
    assert!(
        spec["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["projected"]["sources"].is_array()),
        "the ServiceAccount admission plugin mounts the token: {spec}"
    );
    let a_name = pod_a["metadata"]["name"].as_str().unwrap().to_string();
    wait_until(WAIT, "release a to lead", || {
        (c.lease_holder()? == a_name).then_some(())
    });

    // 2. The seed's store and ExternalSecret, unchanged but for the namespace, the Vault
    // address, the role and the controller class.
    apply_seed("01-secretstore-vault-backend.yaml", |d| {
        d["metadata"]["namespace"] = json!(c.ns);
        d["spec"]["controller"] = json!(c.class);
        d["spec"]["provider"]["vault"]["server"] = json!(g.vault_addr());
        d["spec"]["provider"]["vault"]["auth"]["kubernetes"]["role"] = json!(c.policy);
    });
    apply_seed("02-externalsecret-api-gateway-secrets.yaml", |d| {
        d["metadata"]["namespace"] = json!(c.ns);
    });
    c.wait_password(&format!("first-{id}"), "the seed's Secret");
    let logs = run(kubectl().args(["-n", &c.ns, "logs", &a_name]));
    assert!(logs.contains("caches synced"), "{logs}");
    assert!(
        !logs.contains(&format!("first-{id}")),
        "a secret value is in the log"
    );
    // The module cache is the Pod's emptyDir (the root filesystem is read-only).
    let uid_a = pod_a["metadata"]["uid"].as_str().unwrap().to_string();
    let cache = std::path::Path::new(g.var("NODE_DIR")).join(format!(
        "kubelet/root/pods/{uid_a}/volumes/kubernetes.io~empty-dir/plugin-cache"
    ));
    let cached = run(Command::new("find").arg(&cache).args(["-type", "f"]));
    assert!(
        cached.lines().count() > 0,
        "no compiled component in {cache:?}"
    );

    // 3. A first sync of 1,000 ExternalSecrets in the Pod: its cgroup's peak stays under the
    // chart's limit, with no restart.
    let n = 1000;
    run(g.python().arg("-c").arg(format!(
        "import os, requests\ns = requests.Session(); s.trust_env = False\n\
         s.headers['X-Vault-Token'] = os.environ['VAULT_TOKEN']\n\
         for i in range({n}):\n    s.post(os.environ['VAULT_ADDR'] + '/v1/secret/data/{}/k' + str(i), json={{'data': {{'value': 'v' + str(i)}}}}, timeout=30).raise_for_status()\n",
        c.ns
    )));
    let items: Vec<Value> = (0..n)
        .map(|i| {
            json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                "metadata": {"name": format!("many-{i}"), "namespace": c.ns, "labels": {"in-cluster-test": "many"}},
                "spec": {"refreshInterval": "1h", "secretStoreRef": {"name": "vault-backend", "kind": "SecretStore"},
                    "target": {"name": format!("many-{i}")},
                    "data": [{"secretKey": "value", "remoteRef": {"key": format!("{}/k{i}", c.ns), "property": "value"}}]}})
        })
        .collect();
    let t0 = Instant::now();
    run_with_input(
        kubectl().args(["create", "-f", "-"]),
        json!({"apiVersion": "v1", "kind": "List", "items": items})
            .to_string()
            .as_bytes(),
    );
    wait_until(
        Duration::from_secs(600),
        "1,000 ExternalSecrets Ready",
        || {
            let list = get(&[
                "-n",
                &c.ns,
                "get",
                "externalsecrets",
                "-l",
                "in-cluster-test=many",
            ]);
            let ready = list["items"]
                .as_array()?
                .iter()
                .filter(|es| is_ready(es))
                .count();
            (ready == n).then_some(())
        },
    );
    let synced_in = t0.elapsed();
    let (peak, now) = pod_memory(&uid_a);
    let limit = 256 * 1024 * 1024;
    let after = get(&["-n", &c.ns, "get", "pod", &a_name]);
    assert_eq!(
        after["status"]["containerStatuses"][0]["restartCount"], 0,
        "{after}"
    );
    println!(
        "in-cluster first sync of {n} ExternalSecrets: {:.1} s (from kubectl create), Pod cgroup peak {:.1} MiB, now {:.1} MiB, limit {} MiB",
        synced_in.as_secs_f64(),
        peak as f64 / 1048576.0,
        now as f64 / 1048576.0,
        limit / 1048576
    );
    assert!(peak < limit, "peak {peak} over the chart's limit");
    run(kubectl().args([
        "-n",
        &c.ns,
        "delete",
        "externalsecrets",
        "-l",
        "in-cluster-test=many",
        "--wait=false",
    ]));

    // 4. The standby: a second release in the namespace competes for the same Lease.
    let port_b = free_port();
    c.release("install", &rb, digest, port_b);
    let b_name = c.ready_pod(&rb)["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(c.lease_holder().as_deref(), Some(a_name.as_str()));
    // The leader is deleted: the kubelet sends SIGTERM, the lease is released, the standby leads.
    let t0 = Instant::now();
    run(kubectl().args(["-n", &c.ns, "delete", "pod", &a_name, "--wait=false"]));
    wait_until(WAIT, "the standby to lead", || {
        (c.lease_holder()? == b_name).then_some(())
    });
    let takeover = t0.elapsed();
    c.bao_put("api-gateway/database", "password", &format!("second-{id}"));
    c.force_sync("2");
    let synced = c.wait_password(&format!("second-{id}"), "a change after the takeover");
    println!(
        "leader takeover after kubectl delete pod: {:.1} s (lease duration 15 s); next change synced {:.1} s after the force-sync",
        takeover.as_secs_f64(),
        synced.as_secs_f64()
    );
    // Deployment a made a new Pod, now the standby.
    c.ready_pod(&ra);

    // 5. `helm upgrade` of both releases to a new digest, one after the other, with changes made
    // during each: every one is synced, and the Pods run the new digest.
    // The same binary, released again: another creation time, so another digest.
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let next_ref = build_image(Some(epoch));
    assert_ne!(next_ref, reference);
    let next = next_ref.split_once('@').unwrap().1.to_string();
    for (round, (release, port)) in [(&ra, port_a), (&rb, port_b)].into_iter().enumerate() {
        let value = format!("upgrade-{round}-{id}");
        c.bao_put("api-gateway/database", "password", &value);
        c.force_sync(&format!("upgrade-{round}"));
        c.release("upgrade", release, &next, port);
        let pod = c.ready_pod(release);
        assert_eq!(
            pod["spec"]["containers"][0]["image"],
            format!("{}@{next}", c.repo)
        );
        c.wait_password(&value, "the change made during the upgrade");
    }
    let last = format!("after-upgrades-{id}");
    c.bao_put("api-gateway/database", "password", &last);
    c.force_sync("after-upgrades");
    c.wait_password(&last, "a change after both upgrades");
    assert!(c.lease_holder().is_some());
}

/// What the test installed, removed however it ends: the releases (their ClusterRoles are
/// cluster-wide), the namespace and the OpenBao role.
struct Cleanup {
    ns: String,
    releases: [String; 2],
    role: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for release in &self.releases {
            let _ = helm()
                .args(["uninstall", release, "--namespace", &self.ns, "--wait"])
                .output();
        }
        let _ = kubectl()
            .args(["delete", "namespace", &self.ns, "--wait=false"])
            .output();
        let _ = ground()
            .command("bao")
            .args(["delete", &format!("auth/kubernetes/role/{}", self.role)])
            .output();
    }
}
