//! Who an instance runs for: the store and component it serves, for logs, metrics and the scope
//! of its `ampoule:host/cache`. (The template's `templateAs` scope is a different thing:
//! [`crate::transform::Scope`].)

/// Who a store belongs to, for logs and cache scoping.
#[derive(Debug, Clone)]
pub struct Identity {
    /// `Kind/namespace/name` of the store.
    pub store: String,
    pub provider: String,
    pub digest: String,
    /// Cache scope: store identity + generation + digest.
    pub cache_key: String,
}
