//! ESO's own documented examples (tests/fixtures/eso-docs, copied from ESO's docs/snippets with
//! their source named) apply unchanged to the ground's apiserver with Ampoule's CRDs: the schema
//! and the CEL rules accept them, nothing is pruned, and ESO's defaults materialise.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use serde_json::Value;

/// Server-side dry run of `path` (in the namespaces the examples name, `default` otherwise): the
/// apiserver validates and defaults every object as for a real apply, and nothing persists. The
/// objects as the apiserver would store them.
fn dry_run(path: &std::path::Path) -> Result<Vec<Value>, String> {
    let g = ground::ground();
    let out = g
        .command("kubectl")
        .args([
            "apply",
            "--server-side",
            "--dry-run=server",
            "--field-manager=eso-examples",
            "-o",
            "json",
            "-f",
        ])
        .arg(path)
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    Ok(match v["kind"].as_str() {
        Some("List") => v["items"].as_array().cloned().unwrap_or_default(),
        _ => vec![v],
    })
}

/// Examples ESO's own CRDs refuse too, for the same reason: one sets both `selector.secret`
/// and `selector.generatorRef` (ESO's CRD allows one), one is written as `v1beta1`, a version
/// ESO's PushSecret CRD does not serve (only `v1alpha1`).
const REFUSED_BY_ESO_TOO: [(&str, &str); 2] = [
    (
        "full-cluster-push-secret.yaml",
        "spec.pushSecretSpec.selector: Too many: 2: must have at most 1 item",
    ),
    (
        "template-v2-push-secret.yaml",
        r#"no matches for kind "PushSecret" in version "external-secrets.io/v1beta1""#,
    ),
];

/// Every field of `written` is in `stored` with the same value (the apiserver pruned nothing).
fn kept(written: &Value, stored: &Value, path: &str) -> Result<(), String> {
    match (written, stored) {
        (Value::Object(w), Value::Object(s)) => {
            for (k, v) in w {
                let here = format!("{path}.{k}");
                let got = s.get(k).ok_or_else(|| format!("{here} was pruned"))?;
                kept(v, got, &here)?;
            }
            Ok(())
        }
        (Value::Array(w), Value::Array(s)) if w.len() == s.len() => w
            .iter()
            .zip(s)
            .enumerate()
            .try_for_each(|(i, (w, s))| kept(w, s, &format!("{path}[{i}]"))),
        (w, s) if w == s => Ok(()),
        // Durations and numbers the apiserver normalises are not pruning.
        (Value::Number(_), Value::Number(_)) => Ok(()),
        (w, s) => Err(format!("{path}: wrote {w}, stored {s}")),
    }
}

#[tokio::test]
async fn esos_push_secret_examples_apply_unchanged() {
    let g = ground::ground();
    common::crds(&g.client().await).await;
    let dir = g.repo.join("tests/fixtures/eso-docs/pushsecret");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut push_secrets = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let written: Vec<Value> = serde_norway::Deserializer::from_str(&text)
            .map(|d| serde::Deserialize::deserialize(d).unwrap())
            .filter(|v: &Value| !v.is_null())
            .collect();
        for ns in written
            .iter()
            .filter_map(|w| w["metadata"]["namespace"].as_str())
        {
            // The namespaces the examples name (created once; already there is fine).
            let _ = g
                .command("kubectl")
                .args(["create", "namespace", ns])
                .output();
        }
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if let Some((_, message)) = REFUSED_BY_ESO_TOO.iter().find(|(f, _)| *f == name) {
            let err = dry_run(file).expect_err(&format!("{name} is refused by ESO's CRD"));
            assert!(err.contains(message), "{name}: {err}");
            continue;
        }
        let stored = dry_run(file).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(written.len(), stored.len(), "{}", file.display());
        for (w, s) in written.iter().zip(&stored) {
            if w["kind"] == "Secret" {
                continue;
            }
            if let Err(e) = kept(&w["spec"], &s["spec"], "spec") {
                panic!(
                    "{}: {} {}: {e}",
                    file.display(),
                    w["kind"],
                    w["metadata"]["name"]
                );
            }
            if s["kind"] == "PushSecret" {
                push_secrets += 1;
                // ESO's defaults.
                let spec = &s["spec"];
                for (field, default) in [
                    ("updatePolicy", "Replace"),
                    ("deletionPolicy", "None"),
                    ("refreshInterval", "1h0m0s"),
                ] {
                    if w["spec"].get(field).is_none() {
                        assert_eq!(spec[field], default, "{}: {field}", file.display());
                    }
                }
            }
        }
    }
    assert!(push_secrets >= 11, "{push_secrets} PushSecrets applied");
    assert_eq!(files.len(), 14, "every example was read");
}
