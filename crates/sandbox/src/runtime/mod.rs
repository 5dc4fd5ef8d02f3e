//! The wasm runtime: the engines and linkers ([`sandbox`]), WIT bindings, per-instance host
//! state and the `ampoule:host` imports ([`host`], [`kv`]), the call runner (deadline, memory
//! cap, epoch ticks: [`runner`]) and the compiled-module cache ([`module_cache`]).

pub(crate) mod bindings;
pub mod host;
pub mod kv;
pub mod module_cache;
mod random;
pub mod runner;
pub mod sandbox;

pub use sandbox::{Loaded, Sandbox, SandboxConfig};
