//! Sandbox failures and what a loaded component says about itself.

use std::time::Duration;

use crate::provider::ProviderError;

/// What a loaded component says about itself (`describe`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderInfo {
    pub name: String,
    pub version: String,
    pub read: bool,
    pub write: bool,
}

/// Sandbox failures: loading a component, or a call that trapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SandboxError {
    #[error("sandbox engine: {0}")]
    Engine(String),
    #[error("component digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch { expected: String, actual: String },
    #[error("not a valid component: {0}")]
    Compile(String),
    #[error(
        "component imports {0}, which the sandbox does not provide (allowed: WASI 0.2 and ampoule:host@0.1)"
    )]
    UnsupportedImport(String),
    #[error("component cannot be linked: {0}")]
    Link(String),
    #[error("component does not export the ampoule:provider/provider@0.1.0 interface: {0}")]
    NotAProvider(String),
    #[error("plugin exceeded its deadline of {0:?}")]
    Deadline(Duration),
    #[error("plugin exceeded its memory limit of {0} bytes")]
    MemoryLimit(u64),
    #[error("plugin trapped: {0}")]
    Trap(String),
}

impl SandboxError {
    pub fn category(&self) -> &'static str {
        match self {
            SandboxError::Engine(_) => "engine",
            SandboxError::DigestMismatch { .. } => "digest_mismatch",
            SandboxError::Compile(_) => "compile",
            SandboxError::UnsupportedImport(_) => "unsupported_import",
            SandboxError::Link(_) => "link",
            SandboxError::NotAProvider(_) => "not_a_provider",
            SandboxError::Deadline(_) => "deadline",
            SandboxError::MemoryLimit(_) => "memory_limit",
            SandboxError::Trap(_) => "trap",
        }
    }
}

impl From<SandboxError> for ProviderError {
    fn from(e: SandboxError) -> Self {
        match e {
            SandboxError::Deadline(_) => ProviderError::Unavailable(e.to_string()),
            SandboxError::MemoryLimit(_) | SandboxError::Trap(_) | SandboxError::Engine(_) => {
                ProviderError::Internal(e.to_string())
            }
            _ => ProviderError::InvalidConfig(e.to_string()),
        }
    }
}
