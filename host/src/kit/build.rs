//! `ampoule plugin build [DIR]`: the language's own build of a provider project to
//! `DIR/build/NAME.wasm`, then the component checked as the operator would load it: every
//! import against what the sandbox links (WASI 0.2 and `ampoule:host@0.1`), the exports, and
//! `describe`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{KitError, Lang};
use crate::plugin::{Sandbox, SandboxConfig, SandboxError};

/// A built and checked component.
#[derive(Debug, Clone)]
pub struct Built {
    pub lang: Lang,
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
    /// What `describe` answered: name and version.
    pub describes: (String, String),
}

/// The language of the project in `dir`, by its manifest.
pub fn detect(dir: &Path) -> Result<Lang, KitError> {
    if dir.join("Cargo.toml").is_file() {
        Ok(Lang::Rust)
    } else if dir.join("package.json").is_file() {
        Ok(Lang::Js)
    } else if dir.join("app.py").is_file() && dir.join("requirements.txt").is_file() {
        Ok(Lang::Python)
    } else {
        Err(KitError::NoProject(dir.to_path_buf()))
    }
}

fn read(path: &Path) -> Result<String, KitError> {
    std::fs::read_to_string(path).map_err(|source| KitError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// The value of `key = "…"` in `[section]` of a TOML file (the simple form manifests use).
fn toml_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut current = "";
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            current = line;
            continue;
        }
        if current == section
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            return Some(v.trim().trim_matches('"').to_owned());
        }
    }
    None
}

/// The provider's name: the package name (Cargo.toml, package.json, pyproject.toml), else the
/// directory's name.
pub fn project_name(dir: &Path, lang: Lang) -> Result<String, KitError> {
    let named = match lang {
        Lang::Rust => toml_value(&read(&dir.join("Cargo.toml"))?, "[package]", "name"),
        Lang::Js => {
            let text = read(&dir.join("package.json"))?;
            let json: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| KitError::Manifest(format!("package.json: {e}")))?;
            json["name"].as_str().map(str::to_owned)
        }
        Lang::Python => {
            let pyproject = dir.join("pyproject.toml");
            match pyproject.is_file() {
                true => toml_value(&read(&pyproject)?, "[project]", "name"),
                false => None,
            }
        }
    };
    let fallback = || {
        std::fs::canonicalize(dir)
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
    };
    named
        .or_else(fallback)
        .ok_or_else(|| KitError::Manifest(format!("{}: no project name", dir.display())))
}

/// Runs `cmd` in `dir`, its output passed through to stderr; a failure names the command.
fn run(cmd: &mut Command, dir: &Path) -> Result<(), KitError> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .current_dir(dir)
        .stdout(std::process::Stdio::inherit())
        .status()
        .map_err(|e| KitError::Tool {
            command: shown.clone(),
            why: e.to_string(),
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(KitError::Tool {
            command: shown,
            why: format!("exited with {status}"),
        })
    }
}

/// Adds the wasm32-wasip2 target with rustup when rustup is there and the target is not.
fn ensure_wasm_target(dir: &Path) -> Result<(), KitError> {
    let Ok(out) = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(dir)
        .output()
    else {
        return Ok(()); // no rustup: cargo says what is missing
    };
    let installed = String::from_utf8_lossy(&out.stdout);
    if installed.lines().any(|l| l.trim() == "wasm32-wasip2") {
        return Ok(());
    }
    run(
        Command::new("rustup").args(["target", "add", "wasm32-wasip2"]),
        dir,
    )
}

/// `cargo build --release --target wasm32-wasip2`; the artifact's path from cargo's messages
/// (wherever CARGO_TARGET_DIR puts it).
fn build_rust(dir: &Path) -> Result<PathBuf, KitError> {
    ensure_wasm_target(dir)?;
    let mut cmd = Command::new("cargo");
    cmd.args([
        "build",
        "--release",
        "--target",
        "wasm32-wasip2",
        "--message-format=json-render-diagnostics",
    ]);
    let shown = format!("{cmd:?}");
    let out = cmd
        .current_dir(dir)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| KitError::Tool {
            command: shown.clone(),
            why: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(KitError::Tool {
            command: shown,
            why: format!("exited with {}", out.status),
        });
    }
    let mut artifact = None;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] == "compiler-artifact"
            && msg["target"]["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "cdylib"))
        {
            artifact = msg["filenames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f.as_str())
                .find(|f| f.ends_with(".wasm"))
                .map(PathBuf::from);
        }
    }
    artifact.ok_or_else(|| KitError::NoOutput(dir.join("target")))
}

/// Builds the project in `dir` and checks the component.
pub fn build(dir: &Path, cache_dir: Option<PathBuf>) -> Result<Built, KitError> {
    // The tools run inside `dir`: paths into it (the venv's pip) must not be relative to the
    // caller's directory.
    let absolute = dir
        .canonicalize()
        .map_err(|_| KitError::NoProject(dir.to_path_buf()))?;
    let dir = absolute.as_path();
    let lang = detect(dir)?;
    let name = project_name(dir, lang)?;
    let out_dir = dir.join("build");
    let output = out_dir.join(format!("{name}.wasm"));
    std::fs::create_dir_all(&out_dir).map_err(|source| KitError::Write {
        path: out_dir.clone(),
        source,
    })?;
    match lang {
        Lang::Rust => {
            let artifact = build_rust(dir)?;
            std::fs::copy(&artifact, &output).map_err(|source| KitError::Write {
                path: output.clone(),
                source,
            })?;
        }
        Lang::Js => {
            if !dir.join("node_modules").is_dir() {
                let install = if dir.join("package-lock.json").is_file() {
                    "ci"
                } else {
                    "install"
                };
                run(
                    Command::new("npm").args([install, "--no-audit", "--no-fund"]),
                    dir,
                )?;
            }
            run(Command::new("npm").args(["run", "build"]), dir)?;
        }
        Lang::Python => {
            let venv = dir.join(".venv");
            if !venv.join("bin/componentize-py").is_file() {
                run(Command::new("python3").args(["-m", "venv", ".venv"]), dir)?;
                run(
                    Command::new(venv.join("bin/pip")).args([
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                        "-r",
                        "requirements.txt",
                    ]),
                    dir,
                )?;
            }
            let target = format!("build/{name}.wasm");
            run(
                Command::new(venv.join("bin/componentize-py")).args([
                    "-d",
                    "wit",
                    "-w",
                    "secret-provider",
                    "componentize",
                    "-p",
                    ".",
                    "app",
                    "-o",
                    &target,
                ]),
                dir,
            )?;
        }
    }
    if !output.is_file() {
        return Err(KitError::NoOutput(output));
    }
    let describes = check(&output, cache_dir)?;
    let size = std::fs::metadata(&output)
        .map(|m| m.len())
        .map_err(|source| KitError::Read {
            path: output.clone(),
            source,
        })?;
    Ok(Built {
        lang,
        name,
        path: output,
        size,
        describes,
    })
}

/// Loads `path` as the operator would: imports, exports, `describe`. Every import the host
/// lacks is named, one per line.
pub fn check(path: &Path, cache_dir: Option<PathBuf>) -> Result<(String, String), KitError> {
    let bytes = std::fs::read(path).map_err(|source| KitError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let not_loadable = |why: String| KitError::NotLoadable {
        path: path.to_path_buf(),
        why,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| not_loadable(e.to_string()))?;
    let sandbox = Sandbox::new(SandboxConfig {
        cache_dir,
        ..SandboxConfig::default()
    })
    .map_err(|e| not_loadable(e.to_string()))?;
    match runtime.block_on(sandbox.load(bytes, None)) {
        Ok(loaded) => Ok((loaded.info.name.clone(), loaded.info.version.clone())),
        Err(SandboxError::UnsupportedImport(names)) => Err(KitError::UnsupportedImports {
            path: path.to_path_buf(),
            list: names
                .split(", ")
                .map(|n| format!("  - {n}"))
                .collect::<Vec<_>>()
                .join("\n"),
        }),
        Err(e) => Err(not_loadable(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_manifests() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(detect(dir.path()).unwrap_err().category(), "no_project");
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[package]\nname = \"acme-kv\"\n\n[lib]\nname = \"acme_kv\"\n",
        )
        .unwrap();
        assert_eq!(detect(dir.path()).unwrap(), Lang::Rust);
        assert_eq!(project_name(dir.path(), Lang::Rust).unwrap(), "acme-kv");
        std::fs::write(dir.path().join("package.json"), r#"{"name": "js-kv"}"#).unwrap();
        assert_eq!(project_name(dir.path(), Lang::Js).unwrap(), "js-kv");
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[project]\nname = \"py-kv\"\n",
        )
        .unwrap();
        assert_eq!(project_name(dir.path(), Lang::Python).unwrap(), "py-kv");
    }
}
