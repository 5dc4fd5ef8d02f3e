//! Ampoule: a Kubernetes operator with External Secrets Operator's API whose providers run as
//! sandboxed WebAssembly components. The controllers live here; the sandbox is the
//! `ampoule-sandbox` crate (crates/sandbox), which has no Kubernetes dependency. The seams and
//! the data path of one reconcile: docs/architecture.md.

pub mod admin;
pub mod cli;
pub mod controller;
pub mod crd;
pub mod eso_flags;
pub mod health;
pub mod kit;
pub mod metrics;
pub mod rate_limit;
pub mod render;
pub mod run;

/// The sandbox crate, as the controllers name it.
pub use ampoule_sandbox as plugin;
/// The seams between the controllers and the sandbox.
pub use ampoule_sandbox::{provider, redact, transform};
