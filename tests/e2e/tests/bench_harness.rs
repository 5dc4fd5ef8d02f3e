//! The benchmark harness (`tests/bench/compare`, issue 10) is not run by CI — a full run takes
//! about 35 minutes and builds ESO — but it must not rot: its Python modules import in the
//! ground's venv, its report and docs rewriting work on a sample run (tests/bench/selftest.py),
//! and the command's options parse before it starts anything.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use ground::ground;

#[test]
fn harness_self_test_passes_in_the_ground_python() {
    let g = ground();
    let out = g
        .python()
        .arg(g.repo.join("tests/bench/selftest.py"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("self-test ok"),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn compare_prints_its_options_and_rejects_unknown_ones() {
    let g = ground();
    let compare = g.repo.join("tests/bench/compare");
    let help = Command::new(&compare).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(help.status.success(), "{text}");
    for option in [
        "--n",
        "--noise",
        "--s3-n",
        "--s3-new",
        "--scenarios",
        "--only",
    ] {
        assert!(text.contains(option), "{option} missing from:\n{text}");
    }
    let bad = Command::new(&compare)
        .arg("--no-such-option")
        .output()
        .unwrap();
    assert!(
        !bad.status.success()
            && String::from_utf8_lossy(&bad.stderr).contains("unrecognized arguments"),
        "an unknown option must stop the harness before it starts anything"
    );
}
