//! Issue 18: no import cycles between the host's top-level modules (admin, cli, controller, crd,
//! health, metrics, render, run). `crate::plugin`, `crate::provider`, `crate::transform` and
//! `crate::redact` name the sandbox crate (ampoule-sandbox), not a module of this one. How
//! references are read: crates/sandbox/tests/module_graph/graph.rs (shared with the sandbox's
//! own test, which also checks the reader on small crates).

#![allow(clippy::unwrap_used, clippy::panic)]

#[path = "../../crates/sandbox/tests/module_graph/graph.rs"]
mod graph;

use std::path::Path;

use graph::{Graph, read_sources};

#[test]
fn top_level_modules_have_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = Graph::top_level(&read_sources(&src), "lib.rs");
    println!("{}", graph.summary());
    for module in [
        "admin",
        "cli",
        "controller",
        "crd",
        "health",
        "metrics",
        "render",
        "run",
    ] {
        assert!(graph.modules.contains(module), "no module {module}");
    }
    // The graph is read at all: the controllers' imports are seen.
    assert!(graph.edges["controller"].contains_key("crd"), "{graph:?}");
    if let Err(cycles) = graph.check() {
        panic!("{cycles}");
    }
}
