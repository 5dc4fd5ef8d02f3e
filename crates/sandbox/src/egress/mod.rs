//! Egress: the one decision ([`policy`]), the wasi:http outgoing hook that enforces it with the
//! per-call request and byte budgets ([`http`]), and TLS ([`tls`]).

pub mod http;
pub mod policy;
pub mod tls;
