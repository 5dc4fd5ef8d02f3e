//! Issue 18: no import cycles between the sandbox's top-level modules (seam, runtime, egress,
//! providers, transforms, distribution, config, identity, metrics, redact, error). A path through
//! a re-export at the crate root (`crate::Sandbox`) counts as a reference to the module defining
//! the item (`runtime`). How references are read: module_graph/graph.rs.

#![allow(clippy::unwrap_used, clippy::panic)]

#[path = "module_graph/graph.rs"]
mod graph;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use graph::{Graph, read_sources};

#[test]
fn top_level_modules_have_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = Graph::top_level(&read_sources(&src), "lib.rs");
    println!("{}", graph.summary());
    for module in [
        "config",
        "distribution",
        "egress",
        "error",
        "generators",
        "identity",
        "metrics",
        "providers",
        "redact",
        "runtime",
        "seam",
        "transforms",
    ] {
        assert!(graph.modules.contains(module), "no module {module}");
    }
    // The graph is read at all: the runtime's imports are seen.
    assert!(graph.edges["runtime"].contains_key("egress"), "{graph:?}");
    if let Err(cycles) = graph.check() {
        panic!("{cycles}");
    }
}

fn fixture(files: &[(&str, &str)]) -> Graph {
    let files: BTreeMap<PathBuf, String> = files
        .iter()
        .map(|(name, text)| (PathBuf::from(name), (*text).to_owned()))
        .collect();
    Graph::top_level(&files, "lib.rs")
}

fn edges(graph: &Graph) -> Vec<(String, String)> {
    graph
        .edges
        .iter()
        .flat_map(|(from, to)| to.keys().map(|to| (from.clone(), to.clone())))
        .collect()
}

#[test]
fn a_cycle_through_a_root_re_export_is_found() {
    let graph = fixture(&[
        ("lib.rs", "mod a;\npub mod b;\npub use a::A;\n"),
        ("a.rs", "pub struct A;\n\nuse crate::b::B;\n"),
        ("b/mod.rs", "mod c;\npub use c::B;\n"),
        ("b/c.rs", "pub struct B(pub crate::A);\n"),
    ]);
    assert_eq!(graph.cycles(), vec![vec!["a".to_owned(), "b".to_owned()]]);
    let text = graph.describe(&graph.cycles()[0]);
    assert_eq!(text, "a → b (a.rs:3) → a (b/c.rs:1)");
    let message = graph.check().unwrap_err();
    assert!(
        message.ends_with("\n  {a, b}: a → b (a.rs:3) → a (b/c.rs:1)"),
        "{message}"
    );
}

#[test]
fn super_is_resolved_from_where_it_is_written() {
    let graph = fixture(&[
        ("lib.rs", "mod a;\nmod b;\nmod c;\n"),
        // An inline module: `super::super` from a::x is the crate root.
        (
            "a.rs",
            "mod x {\n    fn f() {\n        super::super::b::g();\n    }\n}\n",
        ),
        ("b/mod.rs", "mod inner;\n"),
        ("b/inner.rs", "use super::super::c::C;\n"),
        ("c.rs", "pub struct C;\n"),
    ]);
    let expected = [("a", "b"), ("b", "c")].map(|(f, t)| (f.to_owned(), t.to_owned()));
    assert_eq!(edges(&graph), expected);
    assert!(graph.cycles().is_empty());
}

#[test]
fn comments_literals_and_test_code_are_not_references() {
    let graph = fixture(&[
        ("lib.rs", "mod a;\nmod b;\n"),
        ("a.rs", "use crate::b::X;\n"),
        (
            "b.rs",
            "//! [`crate::a::Y`]\n\
             /// crate::a::Z\n\
             // use crate::a::W;\n\
             /* crate::a::U /* nested */ crate::a::U */\n\
             const S: &str = \"crate::a::V\";\n\
             const R: &str = r#\"crate::a::V\"#;\n\
             const Q: char = '\"'; const P: &str = \"use crate::a::V;\";\n\
             pub struct X<'a>(&'a str);\n\
             #[cfg(test)]\n\
             mod tests {\n    use crate::a::T;\n    fn f() { crate::a::t() }\n}\n\
             #[cfg(test)]\n\
             fn only_in_tests() { crate::a::t() }\n\
             #[cfg(test)]\n\
             #[path = \"b_tests.rs\"]\n\
             mod props;\n",
        ),
        // Never read: its `mod` declaration is under #[cfg(test)].
        ("b_tests.rs", "use crate::a::S;\n"),
    ]);
    assert_eq!(edges(&graph), [("a".to_owned(), "b".to_owned())]);
}
