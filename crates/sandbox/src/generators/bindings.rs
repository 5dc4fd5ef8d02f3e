//! Host-side bindings of `ampoule:provider/secret-generator-core` (wit/generator.wit). Its
//! imports are the provider world's, mapped onto the same generated modules, so one
//! `HostState` and one linker serve providers and generators alike.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "ampoule:provider/secret-generator-core",
    exports: { default: async },
    with: {
        "ampoule:host/log": crate::runtime::bindings::ampoule::host::log,
        "ampoule:host/credentials": crate::runtime::bindings::ampoule::host::credentials,
        "ampoule:host/cache": crate::runtime::bindings::ampoule::host::cache,
        "ampoule:host/tls": crate::runtime::bindings::ampoule::host::tls,
        "ampoule:provider/types": crate::runtime::bindings::ampoule::provider::types,
    },
});

pub(crate) use self::exports::ampoule::provider::generator as guest;
