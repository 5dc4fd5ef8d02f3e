//! `ampoule-bench-plugin template [N]`: the seed guide's connection-string template rendered
//! by the template component (a fresh instance per render, as the controller does), next to the
//! same template rendered by the Go oracle (Go's text/template + sprig) in the same run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::providers::line;
use ampoule_sandbox::distribution::embedded;
use ampoule_sandbox::provider::SecretValue;
use ampoule_sandbox::transform::{RenderRequest, Transformer};
use ampoule_sandbox::{Sandbox, SandboxConfig, SandboxError, WasmTransformer};

/// The seed guide's `connection-string` template (tests/fixtures/seed/09-…).
pub const SEED_TEMPLATE: &str = "postgresql://{{ .username }}:{{ .password }}@{{ .host }}:{{ .port }}/{{ .database }}?sslmode=require\n";

fn seed_data() -> BTreeMap<String, String> {
    [
        ("username", "app"),
        ("password", "s3cr3t-p@ss"),
        ("host", "db.internal"),
        ("port", "5432"),
        ("database", "orders"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn request() -> RenderRequest {
    RenderRequest {
        data: seed_data()
            .into_iter()
            .map(|(k, v)| (k, SecretValue::new(v.into_bytes())))
            .collect(),
        data_templates: BTreeMap::from([("connection-string".to_owned(), SEED_TEMPLATE.into())]),
        delimiters: ("{{".into(), "}}".into()),
        ..RenderRequest::default()
    }
}

/// Runs the benchmark and returns the report lines.
pub async fn run(iterations: usize) -> Result<Vec<String>, SandboxError> {
    let mut out = vec![format!(
        "component: template, {} bytes, {}",
        embedded::TRANSFORM.bytes.len(),
        embedded::TRANSFORM.digest
    )];
    let cache = std::env::temp_dir().join(format!("ampoule-bench-tpl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let sandbox = Sandbox::new(SandboxConfig {
        cache_dir: Some(cache.clone()),
        ..SandboxConfig::default()
    })?;
    let t = Instant::now();
    let transformer = Arc::new(WasmTransformer::embedded(sandbox));
    transformer.preload().await?;
    out.push(format!(
        "{:<44} {:>9.1} ms",
        "cold compile (Cranelift, no cache)",
        t.elapsed().as_secs_f64() * 1e3
    ));

    let render = |t: Arc<WasmTransformer>| async move {
        t.render(request())
            .await
            .map_err(|e| SandboxError::Trap(e.to_string()))
    };
    // Warm up, and check the output once.
    let first = render(transformer.clone()).await?;
    let rendered = first
        .data
        .get("connection-string")
        .map(|v| String::from_utf8_lossy(v.expose()).into_owned())
        .unwrap_or_default();
    if rendered != "postgresql://app:s3cr3t-p@ss@db.internal:5432/orders?sslmode=require\n" {
        return Err(SandboxError::Trap(format!(
            "unexpected render: {rendered:?}"
        )));
    }
    let mut samples: Vec<Duration> = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        render(transformer.clone()).await?;
        samples.push(t.elapsed());
    }
    out.push(line(
        "render in the component (fresh instance each)",
        &mut samples,
    ));
    out.push(oracle(iterations));
    let _ = std::fs::remove_dir_all(&cache);
    Ok(out)
}

/// The Go oracle's figure for the same template and data, or why there is none.
fn oracle(iterations: usize) -> String {
    let Some(home) = std::env::var_os("HOME") else {
        return "go oracle: HOME is not set".into();
    };
    let cache = PathBuf::from(home).join(".cache/ampoule");
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/template-oracle");
    let bin = cache.join("bin/template-oracle-bench");
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(&source)
        .env("GOCACHE", cache.join("go-build"))
        .env("GOMODCACHE", cache.join("go-mod"))
        .env("GOFLAGS", "-mod=mod")
        .env("GOTOOLCHAIN", "local")
        .status();
    if !built.is_ok_and(|s| s.success()) {
        return "go oracle: could not build tests/template-oracle (is `go` on PATH?)".into();
    }
    let case = serde_json::json!([{
        "name": "connection-string",
        "template": SEED_TEMPLATE,
        "data": seed_data(),
        "string_data": true,
    }]);
    let child = Command::new(&bin)
        .args(["-bench", &iterations.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        return "go oracle: could not start".into();
    };
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        let _ = stdin.write_all(case.to_string().as_bytes());
    }
    match child.wait_with_output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        Ok(o) => format!("go oracle failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => format!("go oracle: {e}"),
    }
}
