#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `ampoule compile` fills the module cache that `ampoule run` loads from, in a child process.

use std::path::{Path, PathBuf};

use ampoule::plugin::distribution::embedded;
use ampoule::plugin::distribution::warm;

const BIN: &str = env!("CARGO_BIN_EXE_ampoule");

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ampoule-{tag}-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Compiled artifacts in the cache (wasmtime also keeps `.stats` files and temporary files).
fn artifacts(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(artifacts(&path));
        } else if path.extension().is_none() {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn compile_prints_each_component_and_fills_the_cache() {
    let dir = temp_dir("compile");
    let out = std::process::Command::new(BIN)
        .args(["compile", "--cache-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    let components: Vec<_> = embedded::PLUGINS
        .iter()
        .chain(embedded::GENERATORS.iter())
        .chain(std::iter::once(&embedded::TRANSFORM))
        .collect();
    assert_eq!(lines.len(), components.len() + 1, "{stdout}");
    for (line, component) in lines.iter().zip(&components) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields[..2], [component.name, component.digest], "{line}");
    }
    assert_eq!(
        lines[components.len()],
        format!("module cache: {}", dir.display())
    );
    assert_eq!(artifacts(&dir).len(), components.len());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What `ampoule run` does: a child fills the cache, then the operator's own sandbox (configured
/// by `run::sandbox_config`) finds every component there and writes nothing new.
#[tokio::test]
async fn the_operator_loads_what_the_child_compiled() {
    let dir = temp_dir("child");
    warm::compile_in_child(Path::new(BIN), &dir, &[])
        .await
        .unwrap();
    let cached = artifacts(&dir);
    assert_eq!(
        cached.len(),
        embedded::PLUGINS.len() + embedded::GENERATORS.len() + 1
    );

    let mut config = ampoule::run::sandbox_config();
    config.cache_dir = Some(dir.clone());
    let sandbox = ampoule::plugin::Sandbox::new(config).unwrap();
    let warmed = warm::compile_embedded(&sandbox, &[], |_| {}).unwrap();
    assert_eq!(warmed.len(), cached.len());
    assert_eq!(artifacts(&dir), cached, "the operator compiled again");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Only the components named: `ampoule run` compiles the providers at start and the template
/// component when a first template is rendered.
#[tokio::test]
async fn a_child_compiles_only_the_components_named() {
    let dir = temp_dir("only");
    warm::compile_in_child(Path::new(BIN), &dir, &["vault", "template"])
        .await
        .unwrap();
    assert_eq!(artifacts(&dir).len(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_child_that_fails_is_reported() {
    // A cache directory that cannot be created: a path below a regular file.
    let dir = temp_dir("fail");
    let file = dir.join("file");
    std::fs::write(&file, b"").unwrap();
    let err = warm::compile_in_child(Path::new(BIN), &file.join("modules"), &[])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("compile exited with"), "{err}");
    let err = warm::compile_in_child(Path::new(BIN), &dir, &["nope"])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("compile exited with"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
