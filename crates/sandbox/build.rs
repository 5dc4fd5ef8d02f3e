//! Builds the plugins workspace (../../plugins) for wasm32-wasip2 with its own target dir and
//! embeds the first-party components, so `cargo build -p ampoule` alone produces a complete
//! binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// (provider key, crate artifact name) of the components embedded in the binary.
const FIRST_PARTY: &[(&str, &str)] = &[
    ("fake", "ampoule_fake"),
    ("vault", "ampoule_vault"),
    ("aws", "ampoule_aws"),
    ("gcpsm", "ampoule_gcp"),
];

/// (name, crate artifact name) of the generator components embedded in the binary; each serves
/// the generator kinds its `describe` lists.
const GENERATORS: &[(&str, &str)] = &[
    ("generators", "ampoule_generators"),
    ("generators-cloud", "ampoule_generators_cloud"),
];

/// Crate artifact name of the template component (embedded, not a provider).
const TRANSFORM: &str = "ampoule_template_plugin";

fn main() {
    if let Err(err) = run() {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR")?);
    let root = manifest_dir
        .parent()
        .and_then(Path::parent)
        .ok_or("no workspace root")?
        .to_path_buf();
    let plugins = root.join("plugins");
    for watched in [
        "plugins/Cargo.toml",
        "plugins/sdk",
        "plugins/fake",
        "plugins/common",
        "plugins/aws",
        "plugins/gcp",
        "plugins/vault",
        "plugins/vault-core",
        "plugins/template",
        "plugins/generators",
        "plugins/generators-cloud",
        "crates/template",
        "crates/transform",
        "plugins/testing",
        "plugins/Cargo.lock",
        "wit",
    ] {
        // Relative to this package: cargo resolves it in whichever clone builds, so a target dir
        // shared between clones (CI) still notices changed plugin sources.
        println!("cargo:rerun-if-changed=../../{watched}");
    }
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");
    let out = PathBuf::from(env("OUT_DIR")?);

    check_target()?;
    let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir).join("wasm"),
        None => out.join("wasm-target"),
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    build_plugins(&cargo, &root, &plugins, &target_dir)?;

    let built = target_dir.join("wasm32-wasip2/release");
    let dest = out.join("plugins");
    std::fs::create_dir_all(&dest).map_err(|e| e.to_string())?;
    for entry in std::fs::read_dir(&built).map_err(|e| format!("{}: {e}", built.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|e| e == "wasm") {
            let name = path.file_name().ok_or("file name")?;
            copy_if_changed(&path, &dest.join(name))?;
        }
    }
    println!("cargo:rustc-env=AMPOULE_PLUGIN_DIR={}", dest.display());

    let mut code = String::from(
        "/// Every embedded first-party component.\npub static PLUGINS: &[Embedded] = &[\n",
    );
    for (key, artifact) in FIRST_PARTY {
        let path = dest.join(format!("{artifact}.wasm"));
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let digest = hex::encode(Sha256::digest(&bytes));
        code.push_str(&format!(
            "    Embedded {{ name: {key:?}, digest: \"sha256:{digest}\", bytes: include_bytes!({:?}) }},\n",
            path.display().to_string()
        ));
    }
    code.push_str("];\n");
    code.push_str("/// Every embedded first-party generator component.\npub static GENERATORS: &[Embedded] = &[\n");
    for (name, artifact) in GENERATORS {
        let path = dest.join(format!("{artifact}.wasm"));
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let digest = hex::encode(Sha256::digest(&bytes));
        code.push_str(&format!(
            "    Embedded {{ name: {name:?}, digest: \"sha256:{digest}\", bytes: include_bytes!({:?}) }},\n",
            path.display().to_string()
        ));
    }
    code.push_str("];\n");
    let path = dest.join(format!("{TRANSFORM}.wasm"));
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    code.push_str(&format!(
        "/// The template component.\nconst TRANSFORM_COMPONENT: Embedded = Embedded {{ name: \"template\", digest: \"sha256:{}\", bytes: include_bytes!({:?}) }};\n",
        hex::encode(Sha256::digest(&bytes)),
        path.display().to_string()
    ));
    std::fs::write(out.join("embedded_plugins.rs"), code).map_err(|e| e.to_string())
}

fn build_plugins(
    cargo: &str,
    root: &Path,
    plugins: &Path,
    target_dir: &Path,
) -> Result<(), String> {
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(plugins.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(plugins)
        // The template plugin builds crates/template, outside the plugins workspace, so rustc
        // sees its absolute path and would put the clone's folder into the component (and the
        // operator's image digest would change with where the repository was cloned).
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            format!("--remap-path-prefix={}=.", root.display()),
        )
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_PRIMARY_PACKAGE")
        .status()
        .map_err(|e| format!("running cargo for the plugins: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building the plugins (cd plugins && cargo build --release --target wasm32-wasip2) failed: {status}"
        ));
    }
    Ok(())
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

fn copy_if_changed(from: &Path, to: &Path) -> Result<(), String> {
    let new = std::fs::read(from).map_err(|e| format!("{}: {e}", from.display()))?;
    if std::fs::read(to).ok().as_deref() != Some(new.as_slice()) {
        std::fs::write(to, new).map_err(|e| format!("{}: {e}", to.display()))?;
    }
    Ok(())
}

/// Fails with the fix when the wasm32-wasip2 standard library is not installed.
fn check_target() -> Result<(), String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("rustc: {e}"))?;
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !Path::new(&sysroot)
        .join("lib/rustlib/wasm32-wasip2")
        .exists()
    {
        return Err(
            "the wasm32-wasip2 target is not installed: run `rustup target add wasm32-wasip2` \
                    (rust-toolchain.toml lists it, so rustup installs it on first use)"
                .into(),
        );
    }
    Ok(())
}
