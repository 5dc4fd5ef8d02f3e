//! The chart takes ESO's chart values (tests/fixtures/eso-chart/values.yaml, ESO v2.9): the seed
//! guide's HelmRelease values and ESO's whole default values file render; the keys with a
//! meaning here land in the Deployment; the others are named in NOTES; a key that is neither
//! ESO's nor Ampoule's still fails values.schema.json.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use ground::{ground, run};
use serde_json::{Value, json};

fn chart() -> PathBuf {
    ground().repo.join("charts/ampoule")
}

fn eso_values() -> PathBuf {
    ground().repo.join("tests/fixtures/eso-chart/values.yaml")
}

/// `values` as a file in the temp folder.
fn values_file(name: &str, values: &Value) -> PathBuf {
    let path = std::env::temp_dir().join(format!("eso-values-{}-{name}.yaml", std::process::id()));
    std::fs::write(&path, serde_norway::to_string(values).unwrap()).unwrap();
    path
}

/// The objects `helm template` renders with `files`.
fn render(files: &[&Path]) -> Vec<Value> {
    let mut cmd = ground().command("helm");
    cmd.args(["template", "t"]).arg(chart());
    for f in files {
        cmd.arg("-f").arg(f);
    }
    run(&mut cmd)
        .split("\n---")
        .filter_map(|doc| serde_norway::from_str::<Value>(doc).ok())
        .filter(|v| v.is_object())
        .collect()
}

/// The NOTES of an install with `files` (client-side dry run: no cluster).
fn notes(files: &[&Path]) -> String {
    let mut cmd = ground().command("helm");
    cmd.args(["install", "t", "--dry-run=client"]).arg(chart());
    for f in files {
        cmd.arg("-f").arg(f);
    }
    let out = run(&mut cmd);
    out.split_once("NOTES:")
        .map(|(_, notes)| notes.to_string())
        .unwrap_or_else(|| panic!("no NOTES:\n{out}"))
}

fn kind<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

/// A container's `args`.
fn args(container: &Value) -> Vec<&str> {
    container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect()
}

/// The no-effect lines of NOTES: the key paths named.
fn no_effect(notes: &str) -> Vec<String> {
    notes
        .lines()
        .filter_map(|l| l.strip_prefix("  - "))
        .map(|l| l.split(':').next().unwrap().to_string())
        .collect()
}

#[test]
fn the_seed_guides_helmrelease_values_render() {
    // /work/shared/seed/eso-flux-guide.md's HelmRelease `values`, as Flux hands them to Helm.
    let seed = values_file(
        "seed",
        &json!({"installCRDs": true, "webhook": {"port": 9443}}),
    );
    let objects = render(&[&seed]);
    let deployment = kind(&objects, "Deployment");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/ampoule-dev/ampoule:0.1.0"
    );
    assert_eq!(no_effect(&notes(&[&seed])), ["webhook"]);
}

#[test]
fn esos_default_values_file_renders() {
    let objects = render(&[&eso_values()]);
    let pod = &kind(&objects, "Deployment")["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    // ESO's defaults where they mean something here, Ampoule's image and probes.
    assert_eq!(container["image"], "ghcr.io/ampoule-dev/ampoule:0.1.0");
    let args = args(container);
    assert_eq!(args[0], "run");
    assert!(args.contains(&"--concurrent=1"), "{args:?}");
    assert!(args.contains(&"--store-requeue-interval=5m"), "{args:?}");
    assert!(args.contains(&"--metrics-addr=:8080"), "{args:?}");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["livenessProbe"]["initialDelaySeconds"], 10);
    assert_eq!(container["readinessProbe"]["failureThreshold"], 3);
    assert_eq!(pod["automountServiceAccountToken"], true);
    assert_eq!(pod["dnsPolicy"], "ClusterFirst");
    assert_eq!(container["securityContext"]["runAsUser"], 1000);
    assert!(container["securityContext"].get("enabled").is_none());
    // ESO's default file has metrics.service.enabled: false.
    assert!(!objects.iter().any(|o| o["kind"] == "Service"));
    let named = no_effect(&notes(&[&eso_values()]));
    for key in [
        "webhook",
        "certController",
        "crds",
        "vault",
        "log.timeEncoding",
    ] {
        assert!(named.iter().any(|n| n == key), "{key} not in {named:?}");
    }
    // Mapped keys are not named.
    for key in [
        "replicaCount",
        "extraArgs",
        "nodeSelector",
        "serviceAccount",
    ] {
        assert!(!named.iter().any(|n| n == key), "{key} in {named:?}");
    }
}

#[test]
fn esos_keys_land_in_the_deployment() {
    let values = values_file(
        "mapped",
        &json!({
            "replicaCount": 3,
            "revisionHistoryLimit": 4,
            "nameOverride": "secrets",
            "commonLabels": {"team": "platform"},
            "deploymentAnnotations": {"a": "b"},
            "leaderElectionLeaseDuration": "30s",
            "processPushSecret": false,
            "processClusterPushSecret": false,
            "extraArgs": {"client-qps": 20, "enable-secrets-caching": ""},
            "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}],
            "extraVolumes": [{"name": "ca", "configMap": {"name": "ca"}}],
            "extraVolumeMounts": [{"name": "ca", "mountPath": "/etc/ca"}],
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "dedicated", "operator": "Exists"}],
            "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}],
            "global": {"affinity": {"nodeAffinity": {}}},
            "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"},
                "automount": true, "extraLabels": {"sa": "extra"}},
            "resources": {"limits": {"memory": "300Mi"}},
            "podSecurityContext": {"enabled": false},
            "metrics": {"listen": {"port": 9090}, "service": {"enabled": true, "port": 9091}},
            "podDisruptionBudget": {"enabled": true, "maxUnavailable": 1},
            "installCRDs": false,
        }),
    );
    let objects = render(&[&values]);
    let deployment = kind(&objects, "Deployment");
    assert_eq!(deployment["metadata"]["name"], "t-secrets");
    assert_eq!(deployment["metadata"]["labels"]["team"], "platform");
    assert_eq!(deployment["metadata"]["annotations"]["a"], "b");
    assert_eq!(deployment["spec"]["replicas"], 3);
    assert_eq!(deployment["spec"]["revisionHistoryLimit"], 4);
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let args = args(container);
    for arg in [
        "--enable-leader-election=true",
        "--leader-election-lease-duration=30s",
        "--enable-push-secret-reconciler=false",
        "--enable-cluster-push-secret-reconciler=false",
        "--client-qps=20",
        "--enable-secrets-caching",
        "--metrics-addr=:9090",
    ] {
        assert!(args.contains(&arg), "{arg} not in {args:?}");
    }
    assert!(
        container["env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "HTTPS_PROXY")
    );
    assert_eq!(container["ports"][0]["containerPort"], 9090);
    assert_eq!(container["resources"]["limits"]["memory"], "300Mi");
    assert!(
        container["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["mountPath"] == "/etc/ca")
    );
    assert!(
        pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "ca")
    );
    assert_eq!(pod["nodeSelector"]["kubernetes.io/os"], "linux");
    assert_eq!(pod["tolerations"][0]["key"], "dedicated");
    assert_eq!(pod["affinity"], json!({"nodeAffinity": {}}));
    assert_eq!(
        pod["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"]["app.kubernetes.io/name"],
        "secrets"
    );
    assert!(pod.get("securityContext").is_none(), "{pod}");
    assert_eq!(pod["automountServiceAccountToken"], true);
    let sa = kind(&objects, "ServiceAccount");
    assert_eq!(
        sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::1:role/x"
    );
    assert_eq!(sa["metadata"]["labels"]["sa"], "extra");
    assert_eq!(kind(&objects, "Service")["spec"]["ports"][0]["port"], 9091);
    assert_eq!(
        kind(&objects, "PodDisruptionBudget")["spec"]["maxUnavailable"],
        1
    );
    let notes = notes(&[&values]);
    assert!(no_effect(&notes).is_empty(), "{notes}");
    assert!(notes.contains("--skip-crds"), "{notes}");
}

#[test]
fn keys_that_are_neither_esos_nor_ours_fail_the_schema() {
    for bad in [
        "bogus=1",
        "webhook.bogus=1",
        "serviceAccount.bogus=1",
        "crds.bogus=1",
    ] {
        let out = ground()
            .command("helm")
            .args(["template", "t"])
            .arg(chart())
            .args(["--set", bad])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{bad} rendered");
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("additional properties 'bogus' not allowed"),
            "{bad}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every key path of ESO's values file is a property in values.schema.json (objects the schema
/// leaves free-form accept anything below them). A refreshed fixture with a new key fails here
/// until charts/ampoule/eso-values-schema adds it.
#[test]
fn the_schema_names_every_key_path_of_esos_values() {
    fn walk(schema: &Value, values: &Value, path: &str, missing: &mut Vec<String>) {
        let Some(map) = values.as_object() else {
            return;
        };
        let Some(props) = schema.get("properties") else {
            assert_ne!(
                schema.get("additionalProperties"),
                Some(&Value::Bool(false)),
                "{path}: closed with no properties"
            );
            return;
        };
        for (key, sub) in map {
            let here = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            match props.get(key) {
                Some(s) => walk(s, sub, &here, missing),
                None => missing.push(here),
            }
        }
    }
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(chart().join("values.schema.json")).unwrap())
            .unwrap();
    let eso: Value =
        serde_norway::from_str(&std::fs::read_to_string(eso_values()).unwrap()).unwrap();
    let mut missing = Vec::new();
    walk(&schema, &eso, "", &mut missing);
    assert!(missing.is_empty(), "not in values.schema.json: {missing:?}");
}
