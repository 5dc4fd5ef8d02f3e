//! First-party components compiled into the binary by `crates/sandbox/build.rs` (wasm32-wasip2), each
//! identified by its sha256 digest. A ProviderClass with a `module` overrides them.

/// One embedded component.
#[derive(Debug, Clone, Copy)]
pub struct Embedded {
    /// The provider key it serves (`spec.provider.<name>`); for a generator component, its
    /// crate's short name (the kinds it serves come from its `describe`).
    pub name: &'static str,
    /// `sha256:<hex>` of `bytes`.
    pub digest: &'static str,
    pub bytes: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/embedded_plugins.rs"));

/// The embedded template component (`ampoule:transform/transformer`), not a provider.
pub static TRANSFORM: Embedded = TRANSFORM_COMPONENT;

/// The embedded component serving `name`.
pub fn find(name: &str) -> Option<&'static Embedded> {
    PLUGINS.iter().find(|p| p.name == name)
}

/// Directory with every component the build produced, test components included (for tests).
pub const BUILD_DIR: &str = env!("AMPOULE_PLUGIN_DIR");
