//! `examples/flux/` is what a platform team commits: every Flux object validates against Flux's
//! real CRD schemas (generated from Flux's API modules) on the ground's apiserver, the kustomize
//! trees build, and the chart the OCIRepository points at installs with Helm 3 from a registry
//! with the HelmRelease's values.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ground::{ground, run};
use serde_json::Value;

fn docs(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.split("\n---")
        .filter_map(|d| serde_norway::from_str::<Value>(d).ok())
        .filter(|v| v.is_object())
        .collect()
}

fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml")
            && path.file_name().is_some_and(|n| n != "kustomization.yaml")
        {
            out.push(path);
        }
    }
}

#[test]
fn flux_objects_validate_against_fluxs_crds_and_the_chart_installs() {
    let g = ground();
    let kubectl = || g.command("kubectl");
    run(kubectl()
        .args(["apply", "--server-side", "--force-conflicts", "-f"])
        .arg(g.var("FLUX_CRDS")));
    run(kubectl()
        .args(["apply", "--server-side", "--force-conflicts", "-f"])
        .arg(g.repo.join("charts/ampoule/crds")));
    for crd in [
        "helmreleases.helm.toolkit.fluxcd.io",
        "ocirepositories.source.toolkit.fluxcd.io",
        "kustomizations.kustomize.toolkit.fluxcd.io",
    ] {
        run(kubectl().args([
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            &format!("crd/{crd}"),
        ]));
    }
    for ns in ["flux-system", "production", "ampoule-system"] {
        let _ = kubectl().args(["create", "namespace", ns]).output();
    }

    let root = g.repo.join("examples/flux");
    for tree in ["infrastructure", "apps"] {
        run(kubectl().arg("kustomize").arg(root.join(tree)));
    }
    let mut paths = Vec::new();
    files(&root, &mut paths);
    paths.sort();
    let mut kinds = Vec::new();
    for path in &paths {
        // Server-side dry run: the apiserver validates against the CRD schemas (and CEL rules)
        // as for a real apply; nothing persists, so no running operator acts on the examples
        // (their registry and Vault are not on this machine).
        let out = kubectl()
            .args([
                "apply",
                "--server-side",
                "--dry-run=server",
                // other tests keep a `vault` ProviderClass on the ground: take over its fields
                // in this dry run, so the example itself is what gets validated
                "--force-conflicts",
                "--field-manager=flux-example-test",
                "-f",
            ])
            .arg(path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} is not valid: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        kinds.extend(
            docs(path)
                .into_iter()
                .map(|d| d["kind"].as_str().unwrap_or_default().to_string()),
        );
    }
    for kind in [
        "HelmRelease",
        "OCIRepository",
        "Kustomization",
        "ProviderClass",
        "SecretStore",
        "ExternalSecret",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "examples/flux has no {kind}"
        );
    }
    // A typo a platform team could make is refused by Flux's schema, so the check is real.
    let bad = r#"{"apiVersion":"helm.toolkit.fluxcd.io/v2","kind":"HelmRelease","metadata":{"name":"bad","namespace":"flux-system"},"spec":{"interval":"30m","chartRef":{"kind":"GitRepo","name":"x"}}}"#;
    let out = kubectl()
        .args(["apply", "--server-side", "--dry-run=server", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(bad.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(
        !out.status.success(),
        "an invalid chartRef kind must be rejected"
    );

    // Publish the chart as a release would: the image from tests/image/build pinned by digest in
    // the packaged chart's values, pushed to the ground's registry where the OCIRepository's URL
    // says (charts/ampoule). Then install what the HelmRelease points at, the way helm-controller
    // would (Helm 3 from oci://, the HelmRelease's own values), and run it on the node.
    let source = docs(&root.join("infrastructure/sources/ampoule.yaml")).remove(0);
    let release = docs(&root.join("infrastructure/controllers/ampoule.yaml"))
        .into_iter()
        .find(|d| d["kind"] == "HelmRelease")
        .unwrap();
    let url = source["spec"]["url"].as_str().unwrap();
    let path = url.trim_start_matches("oci://").split_once('/').unwrap().1; // charts/ampoule
    let (repo_path, chart) = path.rsplit_once('/').unwrap();
    let work = std::env::temp_dir().join(format!("flux-chart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let image = run(std::process::Command::new(g.repo.join("tests/image/build"))
        .arg("--binary")
        .arg(ground::release_binary())
        .env("OCI_REGISTRY", g.registry())
        .env("GROUND_DIR", &g.dir));
    let image = image.lines().last().unwrap().trim().to_string();
    let (image_repo, digest) = image.split_once('@').unwrap();
    let copy = work.join("ampoule");
    run(std::process::Command::new("cp")
        .arg("-r")
        .arg(g.repo.join("charts/ampoule"))
        .arg(&copy));
    let values_path = copy.join("values.yaml");
    let values = std::fs::read_to_string(&values_path).unwrap();
    let pinned = values
        .replacen(
            "repository: ghcr.io/ampoule-dev/ampoule",
            &format!("repository: {image_repo}"),
            1,
        )
        .replacen("digest: \"\"", &format!("digest: \"{digest}\""), 1);
    assert!(
        pinned.contains(digest) && pinned.contains(image_repo),
        "the chart's values.yaml no longer has the image lines this test pins"
    );
    std::fs::write(&values_path, pinned).unwrap();
    run(g
        .command("helm")
        .args(["package"])
        .arg(&copy)
        .arg("--destination")
        .arg(&work));
    let package = work.join("ampoule-0.1.0.tgz");
    let ground_repo = format!("oci://{}/{repo_path}-{}", g.registry(), std::process::id());
    run(g
        .command("helm")
        .args(["push"])
        .arg(&package)
        .arg(&ground_repo)
        .arg("--plain-http"));
    // The HelmRelease's values, and what this ground's node needs on top (a real cluster needs
    // none of it): the node's network (no kube-proxy; nothing may leave loopback), a free
    // metrics port on it, and one replica, since two hostNetwork Pods cannot hold one port on
    // one node (the two-replica takeover is tests/e2e/tests/in_cluster.rs).
    let api_port = g.var("KUBE_APISERVER").rsplit_once(':').unwrap().1;
    let metrics_port = ground::free_port();
    let values = work.join("values.yaml");
    std::fs::write(
        &values,
        serde_norway::to_string(&release["spec"]["values"]).unwrap(),
    )
    .unwrap();
    let ns = format!(
        "{}-{}",
        release["spec"]["targetNamespace"].as_str().unwrap(),
        std::process::id()
    );
    let node = work.join("node-values.yaml");
    std::fs::write(
        &node,
        serde_json::json!({
            "replicaCount": 1,
            // as the HelmRelease's two replicas have it
            "leaderElect": true,
            "hostNetwork": true,
            "apiServer": {"host": "127.0.0.1", "port": api_port},
            "metrics": {"port": metrics_port, "service": {"enabled": false}},
            // Its own namespace only: the ground holds other tests' stores.
            "scopedNamespace": ns,
        })
        .to_string(),
    )
    .unwrap();
    // Uninstalled however the test ends: the release's ClusterRoles are named after it.
    let _release = Uninstall(ns.clone());
    run(g
        .command("helm")
        .args([
            "install",
            "ampoule",
            &format!("{ground_repo}/{chart}"),
            "--version",
            "0.1.x",
            "--plain-http",
            "--namespace",
            &ns,
            "--create-namespace",
            "--skip-crds",
            "--wait",
            "--timeout",
            "240s",
            "-f",
        ])
        .arg(&values)
        .arg("-f")
        .arg(&node));
    let spec: Value = serde_json::from_str(&run(kubectl().args([
        "-n",
        &ns,
        "get",
        "deployment",
        "ampoule",
        "-o",
        "jsonpath={.spec.template.spec}",
    ])))
    .unwrap();
    let args = spec["containers"][0]["args"].to_string();
    assert!(
        args.contains("--concurrent=16") && args.contains("--enable-leader-election=true"),
        "{args}"
    );
    assert_eq!(spec["containers"][0]["image"], image.as_str());
    // The Pod from the published chart runs on the node, Ready (its caches synced).
    let pods: Value = serde_json::from_str(&run(kubectl().args([
        "-n",
        &ns,
        "get",
        "pods",
        "-l",
        "app.kubernetes.io/instance=ampoule",
        "-o",
        "json",
    ])))
    .unwrap();
    let ready = pods["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["spec"]["nodeName"] == g.var("GROUND_NODE"))
        .filter(|p| ground::is_ready(p))
        .count();
    assert_eq!(ready, 1, "{pods}");
    let _ = std::fs::remove_dir_all(&work);
}

/// The release `ampoule` in this namespace, uninstalled (and the namespace deleted) on drop.
struct Uninstall(String);

impl Drop for Uninstall {
    fn drop(&mut self) {
        let g = ground();
        let _ = g
            .command("helm")
            .args(["uninstall", "ampoule", "--namespace", &self.0, "--wait"])
            .output();
        let _ = g
            .command("kubectl")
            .args(["delete", "namespace", &self.0, "--wait=false"])
            .output();
    }
}
