//! Code comments cite the docs in the repository (docs/architecture.md, docs/eso-behaviour.md …):
//! every cited file exists and every cited `#anchor` is one of its headings, and nothing cites
//! the design notes that never were in the repository ([`GONE`]).

#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The first design notes, kept outside the repository (their content is in docs/ now).
const GONE: [&str; 2] = [concat!("DESIGN", ".md"), concat!("eso-api", ".md")];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !name.starts_with('.') && name != "target" && name != "node_modules" {
                sources(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(doc: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(doc).unwrap();
    let mut in_code = false;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            out.insert(slug(line.trim_start_matches('#')));
        }
    }
    out
}

#[test]
fn cited_docs_and_anchors_exist() {
    let root = repo();
    let mut files = Vec::new();
    for dir in ["host", "crates", "tests", "plugins"] {
        sources(&root.join(dir), &mut files);
    }
    assert!(files.len() > 100, "found only {} sources", files.len());
    let cite = regex::Regex::new(r"docs/([A-Za-z0-9_-]+\.md)(#[A-Za-z0-9_-]+)?").unwrap();
    let mut cited = 0;
    let mut wrong = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let shown = file
            .strip_prefix(&root)
            .unwrap_or(file)
            .display()
            .to_string();
        for (n, line) in text.lines().enumerate() {
            if GONE.iter().any(|g| line.contains(g)) {
                wrong.push(format!(
                    "{shown}:{}: cites a file not in the repository",
                    n + 1
                ));
            }
            for c in cite.captures_iter(line) {
                cited += 1;
                let doc = root.join("docs").join(&c[1]);
                if !doc.exists() {
                    wrong.push(format!("{shown}:{}: docs/{} does not exist", n + 1, &c[1]));
                } else if let Some(anchor) = c.get(2) {
                    let anchor = &anchor.as_str()[1..];
                    if !anchors(&doc).contains(anchor) {
                        wrong.push(format!(
                            "{shown}:{}: no heading #{anchor} in docs/{}",
                            n + 1,
                            &c[1]
                        ));
                    }
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        cited >= 20,
        "only {cited} citations found: is the pattern right?"
    );
}
