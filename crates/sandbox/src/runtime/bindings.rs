//! Host-side bindings of `ampoule:provider/secret-provider-core` (wit/). The guest-facing world
//! `secret-provider` adds `wasi:http/outgoing-handler`, which the linker provides separately.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "ampoule:provider/secret-provider-core",
    exports: { default: async },
});

pub use self::ampoule::host::credentials::{
    CredentialRequest as WitCredentialRequest, CredentialSource as WitCredentialSource,
};
pub use self::exports::ampoule::provider::provider as guest;

/// Host-side bindings of `ampoule:transform/transformer`; its only import (`ampoule:host/log`)
/// is the provider world's, so one `HostState` serves both.
pub mod transformer {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "ampoule:transform/transformer",
        exports: { default: async },
        with: { "ampoule:host/log": super::ampoule::host::log },
    });

    pub use self::ampoule::transform::types as wit;
}

use crate::seam::credentials::{CredentialRequest, CredentialSource};

impl From<WitCredentialRequest> for CredentialRequest {
    fn from(r: WitCredentialRequest) -> Self {
        let source = match r.source {
            WitCredentialSource::SecretKey(s) => CredentialSource::SecretKey {
                name: s.name,
                key: s.key,
                namespace: s.namespace,
            },
            WitCredentialSource::ServiceAccountToken(s) => CredentialSource::ServiceAccountToken {
                name: s.name,
                namespace: s.namespace,
                audiences: s.audiences,
            },
            WitCredentialSource::ServiceAccountAnnotation(s) => {
                CredentialSource::ServiceAccountAnnotation {
                    name: s.name,
                    namespace: s.namespace,
                    key: s.key,
                }
            }
            WitCredentialSource::AnnotatedToken(s) => CredentialSource::AnnotatedToken {
                name: s.name,
                namespace: s.namespace,
                audience_annotation: s.audience_annotation,
                default_audience: s.default_audience,
                audiences: s.audiences,
            },
        };
        CredentialRequest {
            name: r.name,
            source,
        }
    }
}
