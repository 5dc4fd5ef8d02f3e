//! docs/plugin-walkthrough.md walked on the ground: its ` ```sh ` blocks run in order at their
//! `# step:` (as host/tests/migrate_eso.rs runs the migration guide), a new provider goes from
//! `ampoule plugin new` through build, test, `plugin serve`, push to the ground's registry, a
//! ProviderClass, a Secret, a SecretStore and an ExternalSecret to a synced Secret, with the
//! operator running as a process. The provider key is made unique and `kubectl` narrowed to the
//! test's namespace; nothing else of the guide is changed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{crds, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_walkthrough_syncs_an_external_secret_through_a_new_provider() {
    let g = ground::ground();
    let client = g.client().await;
    crds(&client).await;
    let ns = g.namespace("walkthrough").await;
    let key = unique("acme-kv");
    let class = unique("walkthrough");
    let _delete = common::DeleteClasses(vec![key.clone()]);
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let work = tmp.join(&key);
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let cache = tmp.join("module-cache");
    let log = std::env::temp_dir().join(format!("{ns}.log"));
    let _op = common::operator(Some(&ns), &class, &cache, &log);

    let bin = Path::new(env!("CARGO_BIN_EXE_ampoule")).parent().unwrap();
    let path = format!(
        "{}:{}:{}",
        bin.display(),
        g.dir.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let steps = common::guide_steps("plugin-walkthrough.md");
    let names: Vec<&str> = steps.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        names,
        [
            "new",
            "unit",
            "build",
            "test",
            "backend",
            "push",
            "provider-class",
            "secret",
            "store",
            "external-secret",
            "check",
            "cleanup"
        ]
    );
    let project = work.join(&key);
    for (step, script) in &steps {
        let script = script
            .replace("acme-kv", &key)
            .replace("kubectl ", &format!("kubectl -n {ns} "));
        let dir = if step == "new" { &work } else { &project };
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .current_dir(dir)
            .env("KUBECONFIG", g.kubeconfig())
            .env("PATH", &path)
            .env("REGISTRY", g.registry())
            .env("CARGO_TARGET_DIR", tmp.join("plugin-kit-target"))
            .env("AMPOULE_CACHE_DIR", &cache)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        if !out.status.success() {
            // The background backend is the guide's; stop it before failing.
            if let Ok(pid) = std::fs::read_to_string(project.join("backend.pid")) {
                let _ = Command::new("kill").arg(pid.trim()).status();
            }
            panic!(
                "guide step {step} failed:\n{script}\n--- stdout\n{}\n--- stderr\n{}\n--- operator log: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                log.display()
            );
        }
        if step == "check" {
            let shown = String::from_utf8_lossy(&out.stdout);
            assert!(shown.contains("SecretSynced"), "{shown}");
        }
    }
    g.drop_namespace(&ns).await;
    let _ = std::fs::remove_dir_all(&work);
}
