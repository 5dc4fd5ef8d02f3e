//! The provider authoring kit: `ampoule plugin new` (a project from the embedded templates),
//! `ampoule plugin build` (the language's build, then the component's imports checked against
//! the sandbox), `ampoule plugin test` (cases run in the real sandbox against a loopback
//! backend) and `ampoule plugin serve` (that backend alone). The templates live in plugins/kit.

pub mod backend;
pub mod build;
pub mod cases;
mod embedded;
pub mod harness;
pub mod new;

use std::path::PathBuf;

/// The languages a template may exist for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    Js,
    Python,
}

impl Lang {
    /// The folder under plugins/kit.
    pub fn dir(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Js => "js",
            Lang::Python => "python",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KitError {
    #[error(
        "no {0} template in this build of ampoule (plugins/kit/{0} is missing); available: {1}"
    )]
    NoTemplate(&'static str, String),
    #[error(
        "invalid provider name {0:?}: use a DNS label (lower-case letters, digits and '-', starting with a letter, at most 63 characters)"
    )]
    BadName(String),
    #[error("{0} exists and is not empty: choose a new directory")]
    DirNotEmpty(PathBuf),
    #[error("write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{0} is not a provider project: no Cargo.toml (rust), package.json (js) or app.py with requirements.txt (python)"
    )]
    NoProject(PathBuf),
    #[error("{0}")]
    Manifest(String),
    #[error("run {command}: {why}")]
    Tool { command: String, why: String },
    #[error("the build wrote no component at {0}")]
    NoOutput(PathBuf),
    #[error(
        "{path} imports what the Ampoule host does not provide:\n{list}\nthe host provides WASI 0.2 (wasi:io, clocks, random, cli, filesystem, sockets, http/types, http/outgoing-handler) and ampoule:host@0.1 (log, credentials, cache, tls); remove these imports (often a dependency that needs them)"
    )]
    UnsupportedImports { path: PathBuf, list: String },
    #[error("{path} is not a loadable provider component: {why}")]
    NotLoadable { path: PathBuf, why: String },
}

impl KitError {
    /// A bounded label for the failure.
    pub fn category(&self) -> &'static str {
        match self {
            KitError::NoTemplate(..) => "no_template",
            KitError::BadName(_) => "bad_name",
            KitError::DirNotEmpty(_) => "dir_not_empty",
            KitError::Write { .. } => "write",
            KitError::Read { .. } => "read",
            KitError::NoProject(_) => "no_project",
            KitError::Manifest(_) => "manifest",
            KitError::Tool { .. } => "tool",
            KitError::NoOutput(_) => "no_output",
            KitError::UnsupportedImports { .. } => "unsupported_imports",
            KitError::NotLoadable { .. } => "not_loadable",
        }
    }
}
