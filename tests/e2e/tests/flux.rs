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

    // Install what the HelmRelease points at, the way helm-controller would (Helm 3, OCI).
    let source = docs(&root.join("infrastructure/sources/ampoule.yaml")).remove(0);
    let release = docs(&root.join("infrastructure/controllers/ampoule.yaml"))
        .into_iter()
        .find(|d| d["kind"] == "HelmRelease")
        .unwrap();
    let url = source["spec"]["url"].as_str().unwrap();
    let path = url.trim_start_matches("oci://").split_once('/').unwrap().1; // charts/ampoule
    let (repo_path, chart) = path.rsplit_once('/').unwrap();
    let work = std::env::temp_dir().join(format!("flux-chart-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    run(g
        .command("helm")
        .args(["package"])
        .arg(g.repo.join("charts/ampoule"))
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
            "-f",
        ])
        .arg(&values));
    let args = run(kubectl().args([
        "-n",
        &ns,
        "get",
        "deployment",
        "ampoule",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].args}",
    ]));
    assert!(
        args.contains("--concurrent=16") && args.contains("--enable-leader-election=true"),
        "{args}"
    );
    run(g
        .command("helm")
        .args(["uninstall", "ampoule", "--namespace", &ns]));
    let _ = kubectl()
        .args(["delete", "namespace", &ns, "--wait=false"])
        .output();
    let _ = std::fs::remove_dir_all(&work);
}
