//! Renders the seed `connection-string` template N times (parse + execute per render, as ESO
//! does) and prints p50/p99, then the same through the Go oracle's timing loop.
//!
//! `cargo run --release -p ampoule-template --example bench -- [N]`

use std::process::{Command, Stdio};
use std::time::Instant;

use ampoule_template::{Delims, Env, Value, render};

const SEED_TEMPLATE: &str = "postgresql://{{ .username }}:{{ .password }}@{{ .host }}:{{ .port }}/{{ .database }}?sslmode=require";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let pairs = [
        ("username", "app"),
        ("password", "s3cr3t"),
        ("host", "db"),
        ("port", "5432"),
        ("database", "orders"),
    ];
    let data = Value::string_map(pairs);
    let env = Env::default();
    let delims = Delims::default();
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let out = render("connection-string", SEED_TEMPLATE, &data, &env, &delims)?;
        samples.push(start.elapsed());
        std::hint::black_box(out);
    }
    samples.sort();
    let p = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    println!(
        "rust engine: n={n} p50={:.2}us p99={:.2}us",
        p(0.50),
        p(0.99)
    );

    // Built (once per change of its sources) as the conformance suite builds it.
    let oracle = ground::go_oracle("template-oracle");
    let case = serde_json::json!([{ "name": "connection-string", "template": SEED_TEMPLATE,
        "data": pairs.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
        "string_data": true }]);
    let mut child = Command::new(oracle)
        .arg("-bench")
        .arg(n.to_string())
        .stdin(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write as _;
        stdin.write_all(case.to_string().as_bytes())?;
    }
    child.wait()?;
    Ok(())
}
