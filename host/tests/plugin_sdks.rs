//! The JavaScript and Python provider SDKs and the webhook example, tested in their own
//! languages from the suite (so `./run-tests` runs them): each one's unit tests, and the
//! staleness checks of what is generated from the WIT (plugins/sdk-js/types, the TypeScript
//! declarations; plugins/sdk-py/ampoule_sdk/bindings, the Python bindings). A WIT change that
//! is not regenerated into both fails here, with the diff.
//!
//! Needs node and python3; the checks install their pinned tools once into ~/.cache/ampoule
//! (npm and PyPI), then run offline.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    let start = ground::manifest_dir();
    start
        .ancestors()
        .find(|d| d.join("plugins/sdk-js/package.json").is_file())
        .unwrap_or_else(|| panic!("no plugins/sdk-js above {}", start.display()))
        .to_path_buf()
}

/// Runs `cmd` in `dir` (relative to the repo) and fails with its output unless it succeeds.
fn passes(dir: &str, cmd: &mut Command) -> String {
    cmd.current_dir(repo().join(dir));
    ground::run(cmd)
}

#[test]
fn javascript_sdk_unit_tests_pass() {
    passes(
        "plugins/sdk-js",
        Command::new("node").args(["--test", "tests/"]),
    );
}

#[test]
fn javascript_declarations_are_what_the_wit_generates() {
    passes("plugins/sdk-js", Command::new("bash").arg("check-types"));
}

#[test]
fn webhook_example_unit_tests_pass() {
    passes(
        "examples/providers/webhook",
        Command::new("node").args(["--test", "test/"]),
    );
}

#[test]
fn python_sdk_unit_tests_pass() {
    passes(
        "plugins/sdk-py",
        Command::new("python3").args(["-m", "unittest", "-q"]),
    );
}

#[test]
fn python_bindings_are_what_the_wit_generates() {
    passes("plugins/sdk-py", Command::new("bash").arg("check-bindings"));
}
