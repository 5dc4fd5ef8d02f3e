//! The sandbox: WebAssembly components run by wasmtime with a deny-by-default WASI context, a
//! memory cap, a deadline and an egress policy per store. This crate has no Kubernetes
//! dependency: the controller (the `ampoule` crate) reaches it only through the seams in
//! [`seam`]. The layout and the path of one call are in docs/architecture.md.
//!
//! Stages, each usable alone: [`distribution::oci`] pulls bytes by digest → [`Sandbox::load`]
//! verifies the digest, compiles once (disk cache), checks imports/exports →
//! [`WasmProvider::bind`] serves a provider key → [`WasmProvider`] (a
//! [`provider::SecretProvider`]) opens a fresh Store per reconcile under the effective
//! [`egress::policy::EgressPolicy`].

pub mod config;
pub mod distribution;
pub mod egress;
mod error;
pub mod generators;
pub mod identity;
pub mod metrics;
pub mod providers;
pub mod redact;
pub mod runtime;
pub mod seam;
pub mod transforms;

pub use config::{ProviderClassConfig, SandboxSpec};
pub use error::{ProviderInfo, SandboxError};
pub use generators::{LoadedGenerator, WasmGenerator};
pub use providers::{WasmClient, WasmProvider};
pub use runtime::module_cache::Digest;
pub use runtime::{Loaded, Sandbox, SandboxConfig};
pub use seam::credentials::{
    ControllerIdentity, CredentialRequest, CredentialResolver, CredentialSource, NoCredentials,
    is_controller_identity_refusal,
};
pub use seam::{generator, provider, transform};
pub use transforms::{TransformLimits, WasmTransformer};
