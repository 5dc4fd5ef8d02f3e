//! The chart as Flux's helm-controller (Helm 3) would use it: linted strictly, rendered with
//! representative values, pushed to the ground's OCI registry, installed from `oci://` into the
//! ground's apiserver and upgraded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ground::{ground, run};

fn helm() -> std::process::Command {
    ground().command("helm")
}

#[test]
fn lints_and_renders_with_representative_values() {
    let chart = ground().repo.join("charts/ampoule");
    run(helm().args(["lint", "--strict"]).arg(&chart));
    let all_on = "replicaCount=2,prometheusRule.enabled=true,prometheusRule.renderMode=alwaysRender,serviceMonitor.enabled=true,serviceMonitor.renderMode=alwaysRender,grafanaDashboard.enabled=true,\
networkPolicy.enabled=true,podDisruptionBudget.enabled=true,image.digest=sha256:0000000000000000000000000000000000000000000000000000000000000000,\
scopedNamespace=team-a,priorityClassName=system-cluster-critical";
    run(helm()
        .args(["lint", "--strict"])
        .arg(&chart)
        .args(["--set", all_on]));
    let rendered = run(helm()
        .args(["template", "t"])
        .arg(&chart)
        .args(["--set", all_on]));
    for expected in [
        "kind: Deployment",
        "--enable-leader-election=true",
        "--namespace=team-a",
        "image: ghcr.io/ampoule-dev/ampoule@sha256:0000000000000000000000000000000000000000000000000000000000000000",
        "kind: PrometheusRule",
        "alert: SecretSyncFailed",
        "expr: external_secrets_sync_calls_error > 0",
        "kind: ServiceMonitor",
        "kind: PodDisruptionBudget",
        "kind: NetworkPolicy",
        "rate(external_secrets_sync_calls_total{status=\\\"success\\\"}[5m])",
        "readOnlyRootFilesystem: true",
        "runAsNonRoot: true",
        "type: RuntimeDefault",
        "priorityClassName: system-cluster-critical",
    ] {
        assert!(
            rendered.contains(expected),
            "rendered chart lacks {expected:?}"
        );
    }
    // A class entry renders every ProviderClass field it is given.
    let class = run(helm()
        .args(["template", "t"])
        .arg(&chart)
        .args(["--show-only", "templates/providerclasses.yaml", "--set-json"])
        .arg(r#"providerClasses.acme={"enabled":true,"provider":"acme-kv","image":"oci://r.example/acme@sha256:00","pullSecretRef":{"name":"regcred"},"verify":{"cosignPublicKeys":["PEM"]},"settings":{"a":1},"sandbox":{"limits":{"memory":"32Mi"}},"credentials":{"allowControllerIdentity":true}}"#));
    let class: serde_json::Value = serde_norway::from_str(&class).unwrap();
    assert_eq!(
        class["spec"],
        serde_json::json!({"provider": "acme-kv",
            "module": {"image": "oci://r.example/acme@sha256:00", "pullSecretRef": {"name": "regcred"},
                       "verify": {"cosignPublicKeys": ["PEM"]}},
            "settings": {"a": 1}, "sandbox": {"limits": {"memory": "32Mi"}},
            "credentials": {"allowControllerIdentity": true}}),
        "{class}"
    );
    let defaults = run(helm().args(["template", "t"]).arg(&chart));
    assert!(defaults.contains("--enable-leader-election=false"));
    assert!(!defaults.contains("kind: PrometheusRule"));
    // values.schema.json rejects nonsense.
    let out = helm()
        .args(["template", "t"])
        .arg(&chart)
        .args(["--set", "concurrent=many"])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a non-integer concurrency must be rejected by values.schema.json"
    );
}

#[test]
fn installs_and_upgrades_from_the_oci_registry() {
    let g = ground();
    let work = std::env::temp_dir().join(format!("chart-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    run(helm()
        .args(["package"])
        .arg(g.repo.join("charts/ampoule"))
        .arg("--destination")
        .arg(&work));
    let package = std::fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "tgz"))
        .unwrap();
    let repo = format!("oci://{}/charts-{}", g.registry(), std::process::id());
    let pushed = helm()
        .args(["push"])
        .arg(&package)
        .arg(&repo)
        .arg("--plain-http")
        .output()
        .unwrap();
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    let pushed_text = String::from_utf8_lossy(&pushed.stderr).to_string()
        + &String::from_utf8_lossy(&pushed.stdout);
    assert!(pushed_text.contains("Digest: sha256:"), "{pushed_text}");

    let ns = format!("ampoule-chart-{}", std::process::id());
    let release = "ampoule";
    let chart_ref = format!("{repo}/ampoule");
    run(helm().args([
        "install",
        release,
        &chart_ref,
        "--version",
        "0.1.0",
        "--plain-http",
        "--namespace",
        &ns,
        "--create-namespace",
        // No Pod: this release's image is the chart's default, which the ground's node cannot
        // pull (tests/e2e/tests/in_cluster.rs runs the chart's Pods with the built image).
        "--set",
        "replicaCount=0",
    ]));
    let deploy = run(g.command("kubectl").args([
        "-n",
        &ns,
        "get",
        "deployment",
        "ampoule",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].args}",
    ]));
    assert!(deploy.contains("--concurrent=32"), "{deploy}");
    run(helm().args([
        "upgrade",
        release,
        &chart_ref,
        "--version",
        "0.1.0",
        "--plain-http",
        "--namespace",
        &ns,
        "--set",
        "concurrent=16,replicaCount=0",
    ]));
    let deploy = run(g.command("kubectl").args([
        "-n",
        &ns,
        "get",
        "deployment",
        "ampoule",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].args}",
    ]));
    assert!(deploy.contains("--concurrent=16"), "{deploy}");
    let history = run(helm().args(["history", release, "--namespace", &ns]));
    assert!(history.lines().count() >= 3, "{history}");
    run(helm().args(["uninstall", release, "--namespace", &ns]));
    let _ = g
        .command("kubectl")
        .args(["delete", "namespace", &ns, "--wait=false"])
        .output();
    let _ = std::fs::remove_dir_all(&work);
}
