//! Ampoule: a Kubernetes operator with External Secrets Operator's API whose providers run as
//! sandboxed WebAssembly components. See DESIGN.md in the project's shared folder for the shape.

pub mod admin;
pub mod cli;
pub mod controller;
pub mod crd;
pub mod health;
pub mod metrics;
pub mod plugin;
pub mod provider;
pub mod redact;
pub mod render;
pub mod run;
pub mod transform;
