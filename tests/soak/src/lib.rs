//! The reliability suite (issue 17): the operator binary against the real test ground under
//! SIGKILLs, apiserver restarts, etcd pauses, leader loss and backend outages, with every write
//! to the target Secrets counted. `tests/soak/run` runs the scenarios at a large N and prints the
//! table (docs/reliability.md); `tests/faults.rs` runs them at a small N in CI and asserts that
//! nothing was lost, corrupted or written twice.
//!
//! Test code: it panics with a message instead of returning errors.
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

pub mod bed;
pub mod operator;
pub mod relay;
pub mod scenario;
pub mod writes;
