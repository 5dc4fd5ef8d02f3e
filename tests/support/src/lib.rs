//! Test support for the ground started by `tests/ground/up`.
//!
//! Tests call [`ground()`]: it reads `.ground/env` (or `$GROUND_DIR/env`) and fails the test with a
//! clear message when the ground is missing. There is no skip: a test that needs the ground and
//! cannot find it is a failure, in CI and locally alike.
//!
//! This crate is test code: it panics with a message instead of returning errors.
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

/// The running test ground, as recorded in its env file.
#[derive(Debug, Clone)]
pub struct Ground {
    vars: BTreeMap<String, String>,
    /// The ground's folder (`GROUND_DIR`).
    pub dir: PathBuf,
    /// The repository root (the folder that holds `tests/ground/up`).
    pub repo: PathBuf,
}

static GROUND: OnceLock<Ground> = OnceLock::new();

/// The running ground. Panics (fails the test) when `.ground/env` is missing or incomplete.
pub fn ground() -> &'static Ground {
    GROUND.get_or_init(|| {
        let repo = repo_root();
        let env_file = match std::env::var_os("GROUND_DIR") {
            Some(dir) => PathBuf::from(dir).join("env"),
            None => repo.join(".ground/env"),
        };
        load(&env_file, repo).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// Reads a ground's env file; the error says how to start the ground.
pub fn load(env_file: &Path, repo: PathBuf) -> Result<Ground, String> {
    let text = std::fs::read_to_string(env_file).map_err(|e| {
        format!(
            "the test ground is not running ({}: {e}). Start it with `tests/ground/up` \
             (or run everything with `./run-tests`).",
            env_file.display()
        )
    })?;
    let vars = parse_env(&text);
    if let Some(key) = REQUIRED.iter().find(|k| !vars.contains_key(**k)) {
        return Err(format!(
            "{} lacks {key}: re-run tests/ground/up",
            env_file.display()
        ));
    }
    Ok(Ground {
        dir: PathBuf::from(&vars["GROUND_DIR"]),
        vars,
        repo,
    })
}

/// Variables every test may rely on.
pub const REQUIRED: &[&str] = &[
    "GROUND_DIR",
    "KUBECONFIG",
    "KUBE_ADMIN_TOKEN",
    "KUBE_APISERVER",
    "VAULT_ADDR",
    "VAULT_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "OCI_REGISTRY",
    "GROUND_PYTHON",
    "GCP_ENDPOINT",
    "PROMETHEUS",
    "FLUX_CRDS",
];

/// The repository the running test belongs to, found at run time from the package directory
/// `cargo test` runs it in: a compile-time path would point into whichever clone built the
/// binary, and CI shares one target directory between fresh clones.
fn repo_root() -> PathBuf {
    let start = manifest_dir();
    let mut dir = start.clone();
    loop {
        if dir.join("tests/ground/up").is_file() {
            return dir;
        }
        assert!(
            dir.pop(),
            "cannot find the repository root above {}",
            start.display()
        );
    }
}

/// The running test's package directory (`CARGO_MANIFEST_DIR` as `cargo test` sets it at run
/// time), else the current directory.
pub fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Parses the `export KEY=VALUE` lines the ground writes (values never contain spaces or quotes).
fn parse_env(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Ground {
    /// One variable of the env file; panics when absent.
    pub fn var(&self, key: &str) -> &str {
        self.vars
            .get(key)
            .unwrap_or_else(|| panic!("{key} is not in the ground's env file"))
    }

    pub fn kubeconfig(&self) -> &Path {
        Path::new(self.var("KUBECONFIG"))
    }

    /// A kube client for the ground's apiserver as its admin user.
    pub async fn client(&self) -> Client {
        let kubeconfig =
            Kubeconfig::read_from(self.kubeconfig()).expect("read the ground's kubeconfig");
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .expect("load the ground's kubeconfig");
        Client::try_from(config).expect("build a kube client")
    }

    /// `$VAULT_ADDR` (OpenBao, plain HTTP on loopback).
    pub fn vault_addr(&self) -> &str {
        self.var("VAULT_ADDR")
    }

    /// OpenBao's root token.
    pub fn vault_token(&self) -> &str {
        self.var("VAULT_TOKEN")
    }

    /// `$GCP_ENDPOINT`: the GCP fake's base URL (Secret Manager REST API and the token
    /// endpoints under their normal paths; plain HTTP on loopback).
    pub fn gcp_endpoint(&self) -> &str {
        self.vars.get("GCP_ENDPOINT").map(String::as_str).unwrap_or_else(|| {
            panic!("GCP_ENDPOINT is not in the ground's env file: re-run tests/ground/down && tests/ground/up")
        })
    }

    /// `$AWS_ENDPOINT_URL`: moto (Secrets Manager, SSM, STS; plain HTTP on loopback).
    pub fn aws_endpoint(&self) -> &str {
        self.var("AWS_ENDPOINT_URL")
    }

    /// `host:port` of the OCI registry (plain HTTP).
    pub fn registry(&self) -> &str {
        self.var("OCI_REGISTRY")
    }

    /// A command for one of the ground's tools (`kubectl`, `helm`, `bao`) with the ground's env set.
    pub fn command(&self, tool: &str) -> Command {
        let mut cmd = Command::new(self.dir.join("bin").join(tool));
        cmd.envs(self.exports());
        cmd
    }

    /// The ground's Python (a venv with boto3 and the other clients tests drive servers with).
    pub fn python(&self) -> Command {
        let mut cmd = Command::new(self.var("GROUND_PYTHON"));
        cmd.envs(self.exports());
        cmd
    }

    /// The env file's variables, except `PATH` (which the file extends relative to the caller's).
    fn exports(&self) -> impl Iterator<Item = (&String, &String)> {
        self.vars.iter().filter(|(k, _)| k.as_str() != "PATH")
    }

    /// Creates a namespace with a unique name (`<prefix>-<random>`) and returns its name.
    pub async fn namespace(&self, prefix: &str) -> String {
        let name = format!("{prefix}-{:08x}", rand::random::<u32>());
        let api: Api<Namespace> = Api::all(self.client().await);
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        api.create(&PostParams::default(), &ns)
            .await
            .expect("create namespace");
        name
    }

    /// Deletes a namespace (best effort: the ground is torn down as a whole anyway).
    pub async fn drop_namespace(&self, name: &str) {
        let api: Api<Namespace> = Api::all(self.client().await);
        let _ = api.delete(name, &DeleteParams::default()).await;
    }
}

/// The operator's release binary, which the image tests ship: `$AMPOULE_BIN`, else
/// `<target>/release/ampoule` beside the running test (`./run-tests` builds it before the tests).
/// A test cannot build it itself: `cargo test` holds the target directory's lock while tests run.
pub fn release_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("AMPOULE_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("the test's own path");
    let bin = exe
        .ancestors()
        .nth(3)
        .map(|target| target.join("release/ampoule"))
        .unwrap_or_else(|| panic!("{} is not in <target>/<profile>/deps", exe.display()));
    assert!(
        bin.is_file(),
        "{} is missing: cargo build --release -p ampoule --bin ampoule (./run-tests does)",
        bin.display()
    );
    bin
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// Whether a Kubernetes object (as JSON) has the condition `Ready` with status `True`.
pub fn is_ready(obj: &serde_json::Value) -> bool {
    obj["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// Runs a command, panicking with its output when it fails; returns its stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    stdout_of(cmd, out)
}

/// The stdout of a finished `cmd`; a panic with both outputs when it failed.
fn stdout_of(cmd: &Command, out: Output) -> String {
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// [`run`] with `input` written to the command's stdin.
pub fn run_with_input(cmd: &mut Command, input: &[u8]) -> String {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input)
            .unwrap_or_else(|e| panic!("cannot write to {cmd:?}: {e}"));
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    stdout_of(cmd, out)
}

/// Polls `check` every 100 ms until it returns `Some`, or panics with `what` after `timeout`.
/// Use it instead of sleeping for a fixed time.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Builds the Go program in `<repo>/tests/<name>` (an oracle: a reference implementation in Go
/// that a test compares ours with) into `$HOME/.cache/ampoule/bin/<name>-<hash of its sources>`,
/// once per change of its sources. Fails the test when `go` is missing: a suite that compares
/// with an oracle must never pass without it.
pub fn go_oracle(name: &str) -> PathBuf {
    use sha2::Digest;
    let dir = repo_root().join("tests").join(name);
    let mut h = sha2::Sha256::new();
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read oracle dir {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "go")
                || p.file_name()
                    .is_some_and(|n| n == "go.mod" || n == "go.sum")
        })
        .collect();
    sources.sort();
    for f in &sources {
        h.update(
            f.file_name()
                .map(|n| n.as_encoded_bytes())
                .unwrap_or_default(),
        );
        h.update(
            std::fs::read(f).unwrap_or_else(|e| panic!("read oracle source {}: {e}", f.display())),
        );
    }
    let hash: String = h
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let cache = PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/ampoule");
    let bin = cache.join(format!("bin/{name}-{hash}"));
    if bin.exists() {
        return bin;
    }
    let status = Command::new("go")
        .current_dir(&dir)
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .env("GOCACHE", cache.join("go-build"))
        .env("GOMODCACHE", cache.join("go-mod"))
        .env("GOFLAGS", "-mod=mod")
        .env("GOTOOLCHAIN", "local")
        .status()
        .unwrap_or_else(|e| panic!("the {name} oracle needs `go` on PATH (Go 1.26): {e}"));
    assert!(status.success(), "go build of the {name} oracle failed");
    bin
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_missing_ground_is_an_error_that_says_how_to_start_it() {
        let err =
            super::load(std::path::Path::new("/nonexistent/.ground/env"), "/".into()).unwrap_err();
        assert!(err.contains("tests/ground/up"), "{err}");
        let dir = std::env::temp_dir().join(format!("ground-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("env"), "export GROUND_DIR=/x\n").unwrap();
        let err = super::load(&dir.join("env"), "/".into()).unwrap_err();
        assert!(err.contains("lacks KUBECONFIG"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn parses_exports() {
        let vars = super::parse_env("# comment\nexport A=1\nexport PATH=/x:${PATH}\nB=2\n");
        assert_eq!(vars.get("A").map(String::as_str), Some("1"));
        assert!(!vars.contains_key("B"));
    }
}
