//! Host-side bindings of `ampoule:provider/secret-provider-core` (wit/). The guest-facing world
//! `secret-provider` adds `wasi:http/outgoing-handler`, which the linker provides separately.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "ampoule:provider/secret-provider-core",
    exports: { default: async },
});

pub use self::ampoule::host::credentials::{
    CredentialRequest as WitCredentialRequest, CredentialSource as WitCredentialSource,
};
pub use self::exports::ampoule::provider::provider as guest;
