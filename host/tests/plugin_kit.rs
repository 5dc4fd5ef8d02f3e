//! The authoring kit as an author uses it, through the `ampoule` binary: for each language whose
//! template exists, `plugin new` → `plugin build` → `plugin test` with the template's own cases
//! passes (and the Rust template's `cargo test` too); a wrong expectation is a FAIL line and exit
//! status 1; `plugin build` refuses a component importing what the host lacks, naming it; and
//! the JavaScript and Python fixtures pass the same `plugin test` cases as the Rust `fake`.
//!
//! Builds share a cargo target dir and a module cache under the test build's temporary folder,
//! so a rerun compiles little.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("plugin-kit")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `ampoule` with the shared caches.
fn ampoule() -> Command {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ampoule"));
    cmd.env("CARGO_TARGET_DIR", tmp.join("plugin-kit-target"))
        .env("AMPOULE_CACHE_DIR", tmp.join("module-cache"));
    cmd
}

fn show(cmd: &Command, out: &Output) -> String {
    format!(
        "{cmd:?}: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `cmd`, which must succeed; its stdout.
fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", show(cmd, &out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `cmd`, which must fail with status 1; (stdout, stderr).
fn fails(cmd: &mut Command) -> (String, String) {
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", show(cmd, &out));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// new → build → test for one language (and the project's own unit tests).
fn template_round_trip(lang: &str) {
    assert!(
        repo().join("plugins/kit").join(lang).is_dir(),
        "plugins/kit/{lang} is missing"
    );
    let dir = scratch(&format!("new-{lang}")).join("acme-kv");
    let created = ok(ampoule()
        .args(["plugin", "new", "--lang", lang, "acme-kv"])
        .arg(&dir));
    assert!(created.contains("created"), "{created}");
    assert!(dir.join("wit/provider.wit").is_file());
    // A second `new` into the same directory is refused.
    let (_, err) = fails(
        ampoule()
            .args(["plugin", "new", "--lang", lang, "acme-kv"])
            .arg(&dir),
    );
    assert!(err.contains("is not empty"), "{err}");

    if lang == "rust" {
        ok(Command::new("cargo")
            .args(["test", "--quiet"])
            .current_dir(&dir)
            .env(
                "CARGO_TARGET_DIR",
                Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-kit-target"),
            ));
    }
    // DIR relative to where the author stands.
    let built = ok(ampoule()
        .args(["plugin", "build", "acme-kv"])
        .current_dir(dir.parent().unwrap()));
    let wasm = dir.join("build/acme-kv.wasm");
    assert!(wasm.is_file(), "{built}");
    assert!(built.contains("describe says acme-kv 0.1.0"), "{built}");
    // The generated project's own unit tests, in its language (after the build installed its
    // tools): what its README tells the author to run.
    match lang {
        "js" => {
            ok(Command::new("npm").args(["test"]).current_dir(&dir));
        }
        "python" => {
            ok(Command::new("python3")
                .args(["-m", "unittest", "-q"])
                .current_dir(&dir));
        }
        _ => {}
    }

    let tested = ok(ampoule()
        .args(["plugin", "test"])
        .arg(&wasm)
        .arg("--store")
        .arg(dir.join("store.yaml"))
        .arg("--case")
        .arg(dir.join("cases.yaml")));
    for line in [
        "ok   describe names the provider",
        "ok   reads a string",
        "ok   the object as a map",
        "ok   find by name",
        "ok   missing key",
        "ok   live validation",
        " 0 failed",
    ] {
        assert!(tested.contains(line), "{lang}: no {line:?} in\n{tested}");
    }
    assert!(!tested.contains("FAIL"), "{tested}");

    // A wrong expectation fails, says which case and why, and sets the exit status.
    let cases = std::fs::read_to_string(dir.join("cases.yaml")).unwrap();
    let wrong = cases.replace("expect: {value: s3cr3t}", "expect: {value: not-it}");
    assert_ne!(wrong, cases);
    std::fs::write(dir.join("wrong.yaml"), wrong).unwrap();
    let (out, _) = fails(
        ampoule()
            .args(["plugin", "test"])
            .arg(&wasm)
            .arg("--store")
            .arg(dir.join("store.yaml"))
            .arg("--case")
            .arg(dir.join("wrong.yaml")),
    );
    assert!(
        out.contains("FAIL reads a string: expected a value of 6 bytes"),
        "{out}"
    );
    assert!(!out.contains("s3cr3t"), "a value in the output: {out}");
    assert!(out.contains(" 1 failed"), "{out}");
}

#[test]
fn rust_template_builds_and_passes_its_cases() {
    template_round_trip("rust");
    // The same cases against a backend the author runs (`backend.url`): `plugin serve`.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("plugin-kit")
        .join(format!("new-rust-{}", std::process::id()))
        .join("acme-kv");
    let mut serve = Command::new(env!("CARGO_BIN_EXE_ampoule"))
        .args(["plugin", "serve", "backend.json", "--token", "t0ken"])
        .current_dir(&dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(serve.stdout.take().unwrap()),
        &mut url,
    )
    .unwrap();
    let url = url.trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let cases = std::fs::read_to_string(dir.join("cases.yaml")).unwrap();
    let remote = cases.replace("serve: backend.json", &format!("url: {url}"));
    assert_ne!(remote, cases);
    std::fs::write(dir.join("remote.yaml"), remote).unwrap();
    let tested = ampoule()
        .args([
            "plugin",
            "test",
            "build/acme-kv.wasm",
            "--store",
            "store.yaml",
        ])
        .args(["--case", "remote.yaml", "--repeat", "3"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let _ = serve.kill();
    let _ = serve.wait();
    let out = String::from_utf8_lossy(&tested.stdout);
    assert!(tested.status.success(), "{out}");
    assert!(
        out.contains("ok   reads a string") && out.contains(" 0 failed"),
        "{out}"
    );
    assert!(out.contains("open + get p50 "), "{out}");
}

#[test]
fn javascript_template_builds_and_passes_its_cases() {
    template_round_trip("js");
}

#[test]
fn python_template_builds_and_passes_its_cases() {
    template_round_trip("python");
}

#[test]
fn build_refuses_imports_the_host_lacks_and_names_them() {
    // A project whose build produces plugins/testing/bad-import's component (it imports
    // test:evil/steal): the check after the build is what refuses it.
    let dir = scratch("bad-import");
    let bad = Path::new(ampoule::plugin::distribution::embedded::BUILD_DIR)
        .join("ampoule_test_bad_import.wasm");
    assert!(bad.is_file(), "{}", bad.display());
    std::fs::write(
        dir.join("package.json"),
        format!(
            r#"{{"name": "evil", "scripts": {{"build": "mkdir -p build && cp {} build/evil.wasm"}}}}"#,
            bad.display()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("node_modules")).unwrap();
    let (out, err) = fails(ampoule().args(["plugin", "build"]).arg(&dir));
    assert!(
        err.contains("imports what the Ampoule host does not provide:\n  - test:evil/steal"),
        "{out}\n{err}"
    );
    assert!(!out.contains("built "), "{out}");
}

#[test]
fn unknown_templates_and_projects_are_clear_errors() {
    let dir = scratch("errors");
    let (_, err) = fails(
        ampoule()
            .args(["plugin", "new", "--lang", "rust", "Not_A_Label"])
            .arg(dir.join("x")),
    );
    assert!(
        err.contains("invalid provider name \"Not_A_Label\""),
        "{err}"
    );
    let (_, err) = fails(ampoule().args(["plugin", "build"]).arg(&dir));
    assert!(err.contains("is not a provider project"), "{err}");
}

/// The JavaScript and Python `fake` fixtures (plugins/polyglot) and the Rust `fake` pass the
/// same case file.
#[test]
fn polyglot_fixtures_pass_the_fake_cases() {
    let script = repo().join("plugins/polyglot/build");
    let out = ok(&mut Command::new(script));
    let built: std::collections::BTreeMap<&str, &str> =
        out.lines().filter_map(|l| l.split_once('=')).collect();
    let rust = Path::new(ampoule::plugin::distribution::embedded::BUILD_DIR)
        .join("ampoule_fake.wasm")
        .to_string_lossy()
        .into_owned();
    let polyglot = repo().join("plugins/polyglot");
    for (name, wasm) in [
        ("rust fake", rust.as_str()),
        ("js-fake", built["js-fake"]),
        ("py-fake", built["py-fake"]),
    ] {
        let tested = ok(ampoule()
            .args(["plugin", "test", wasm, "--store"])
            .arg(polyglot.join("fake-store.yaml"))
            .arg("--case")
            .arg(polyglot.join("fake-cases.yaml")));
        assert!(tested.contains(" 0 failed"), "{name}:\n{tested}");
        assert!(!tested.contains("FAIL"), "{name}:\n{tested}");
    }
}

/// The `(name, version)` of every package in a Cargo.lock.
fn locked(path: &Path) -> std::collections::BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = std::collections::BTreeMap::new();
    let mut name = None;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_owned());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take()) {
            out.insert(n, v.trim_matches('"').to_owned());
        }
    }
    out
}

/// The Rust template's Cargo.lock pins what the repository's plugins build with (wit-bindgen
/// above all): a bump in plugins/Cargo.lock without the template's fails here. Refresh it by
/// building a new project with plugins/Cargo.lock as its lock file and copying the pruned lock
/// back (`{{name}}` for the package's name).
#[test]
fn the_rust_template_pins_the_repository_versions() {
    let template = locked(&repo().join("plugins/kit/rust/Cargo.lock"));
    let plugins = locked(&repo().join("plugins/Cargo.lock"));
    assert_eq!(template.get("wit-bindgen"), plugins.get("wit-bindgen"));
    for (name, version) in &template {
        if let Some(theirs) = plugins.get(name) {
            assert_eq!(version, theirs, "{name} in plugins/kit/rust/Cargo.lock");
        }
    }
}
