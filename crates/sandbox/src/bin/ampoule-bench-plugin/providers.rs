//! `ampoule-bench-plugin`: prints sandbox figures (no timed assertions). Run with
//! `cargo run --release -p ampoule-sandbox --bin ampoule-bench-plugin`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ampoule_sandbox::distribution::embedded;
use ampoule_sandbox::egress::policy::EgressPolicy;
use ampoule_sandbox::identity::Identity;
use ampoule_sandbox::provider::{RemoteRef, SecretProvider, StoreContext, StoreKind};
use ampoule_sandbox::{NoCredentials, Sandbox, SandboxConfig, SandboxError, WasmProvider};

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let idx = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples.get(idx).copied().unwrap_or_default()
}

pub fn line(name: &str, samples: &mut [Duration]) -> String {
    let p50 = percentile(samples, 0.5);
    let p99 = percentile(samples, 0.99);
    format!(
        "{name:<44} p50 {:>9.1} µs   p99 {:>9.1} µs   (n={})",
        micros(p50),
        micros(p99),
        samples.len()
    )
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn fake_store(i: usize) -> StoreContext {
    StoreContext {
        kind: StoreKind::SecretStore,
        name: format!("bench-{i}"),
        store_namespace: Some("default".into()),
        caller_namespace: Some("default".into()),
        generation: 1,
        provider: "fake".into(),
        config: serde_json::json!({"data": [{"key": "k", "value": "v"}]}),
        sandbox: None,
    }
}

/// Runs the benchmark and returns the report lines.
pub async fn run(iterations: usize) -> Result<Vec<String>, SandboxError> {
    let mut out = Vec::new();
    let fake = embedded::find("fake")
        .ok_or_else(|| SandboxError::Engine("no embedded fake component".into()))?;
    out.push(format!(
        "component: fake, {} bytes, {}",
        fake.bytes.len(),
        fake.digest
    ));
    let cache = std::env::temp_dir().join(format!("ampoule-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let cfg = SandboxConfig {
        cache_dir: Some(cache.clone()),
        ..SandboxConfig::default()
    };

    let sb = Sandbox::new(cfg.clone())?;
    let t = Instant::now();
    sb.compile(fake.bytes, None)?;
    out.push(format!(
        "{:<44} {:>9.1} ms",
        "cold compile (Cranelift, no cache)",
        t.elapsed().as_secs_f64() * 1e3
    ));

    let mut loads = Vec::new();
    for _ in 0..5 {
        let fresh = Sandbox::new(cfg.clone())?;
        let t = Instant::now();
        fresh.compile(fake.bytes, None)?;
        loads.push(t.elapsed());
    }
    out.push(line(
        "cached load (disk cache + link + InstancePre)",
        &mut loads,
    ));

    let loaded = sb.load(fake.bytes.to_vec(), None).await?;
    let mut inst = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let policy = Arc::new(EgressPolicy::deny_all());
        let scope = Arc::new(Identity {
            store: "b".into(),
            provider: "fake".into(),
            digest: String::new(),
            cache_key: String::new(),
        });
        let t = Instant::now();
        let held = sb.instantiate(&loaded, policy, scope).await?;
        inst.push(t.elapsed());
        drop(held);
    }
    out.push(line("Store::new + instantiate", &mut inst));

    let provider = Arc::new(WasmProvider::new(sb.clone(), Arc::new(NoCredentials)));
    provider.bind("fake", loaded, None);
    let key = RemoteRef {
        key: "k".into(),
        ..RemoteRef::default()
    };
    let mut calls = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let store = fake_store(i);
        let t = Instant::now();
        let (client, _) = provider
            .open(&store)
            .await
            .map_err(|e| SandboxError::Trap(e.to_string()))?;
        client
            .get_secret(&key)
            .await
            .map_err(|e| SandboxError::Trap(e.to_string()))?;
        calls.push(t.elapsed());
    }
    out.push(line(
        "open (instantiate + client.open) + get-secret",
        &mut calls,
    ));

    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(2);
    let mut tasks = Vec::new();
    for w in 0..8 {
        let (provider, done, key) = (provider.clone(), done.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0;
            while Instant::now() < until {
                if let Ok((client, _)) = provider.open(&fake_store(w * 1_000_000 + i)).await
                    && client.get_secret(&key).await.is_ok()
                {
                    done.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    out.push(format!(
        "{:<44} {:>9.0} /s",
        "throughput, open + get-secret, 8 tasks",
        done.load(Ordering::Relaxed) as f64 / 2.0
    ));
    out.push(crate::http::run(sb.clone(), iterations.min(2000)).await?);
    let _ = std::fs::remove_dir_all(&cache);
    Ok(out)
}
