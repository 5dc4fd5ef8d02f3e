//! Embeds what `ampoule plugin new` copies: the kit templates (plugins/kit/<lang>), the WIT
//! (wit/) and the SDKs (plugins/sdk, plugins/sdk-js, plugins/sdk-py/ampoule_sdk), plus
//! plugins/Cargo.toml (the workspace values the vendored Rust SDK's manifest is made standalone
//! with). Writes `$OUT_DIR/kit_files.rs`: `(path relative to the repo, bytes)`, sorted.

use std::path::{Path, PathBuf};

/// Roots embedded, relative to the repository.
const ROOTS: &[&str] = &[
    "plugins/kit",
    "wit",
    "plugins/sdk/Cargo.toml",
    "plugins/sdk/src",
    "plugins/sdk-js",
    "plugins/sdk-py/ampoule_sdk",
    "plugins/Cargo.toml",
];

/// Folder names never embedded: installed or built output, and the JS SDK's own tests.
const SKIP_DIRS: &[&str] = &[
    "node_modules",
    "target",
    "build",
    ".venv",
    "__pycache__",
    ".pytest_cache",
];

fn main() {
    if let Err(err) = run() {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let repo = manifest.parent().ok_or("no repository root")?.to_path_buf();
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?);
    let mut files = Vec::new();
    for root in ROOTS {
        let path = repo.join(root);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect(&repo, &path, &mut files)?;
        } else {
            // Appears later (another language's SDK): watch the folder it would appear in.
            let parent = path.parent().ok_or("root without parent")?;
            println!("cargo:rerun-if-changed={}", parent.display());
        }
    }
    files.sort();
    let mut code = String::from("pub static FILES: &[(&str, &[u8])] = &[\n");
    for (rel, abs) in &files {
        code.push_str(&format!("    ({rel:?}, include_bytes!({abs:?})),\n"));
    }
    code.push_str("];\n");
    std::fs::write(out.join("kit_files.rs"), code).map_err(|e| format!("kit_files.rs: {e}"))
}

fn collect(repo: &Path, path: &Path, files: &mut Vec<(String, String)>) -> Result<(), String> {
    let rel = path
        .strip_prefix(repo)
        .map_err(|e| e.to_string())?
        .to_string_lossy()
        .replace('\\', "/");
    if path.is_file() {
        files.push((rel, path.to_string_lossy().into_owned()));
        return Ok(());
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if SKIP_DIRS.contains(&name) || rel == "plugins/sdk-js/tests" {
        return Ok(());
    }
    let entries = std::fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", path.display()))?;
        collect(repo, &entry.path(), files)?;
    }
    Ok(())
}
