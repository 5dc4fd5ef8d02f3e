//! ESO's generators that call a backend (`generators.external-secrets.io/v1alpha1`) as one
//! sandboxed component. Each kind requests only its backend's egress, derived from the spec,
//! and reads credentials only through `requested-credentials` and `ampoule:host/credentials`.
//!
//! - Webhook: see [`webhook`].
//! - VaultDynamicSecret: see [`vault`].

pub mod jsonpath;
pub mod vault;
pub mod webhook;

#[allow(unsafe_code, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "ampoule:provider/secret-generator",
        with: {
            "ampoule:host/log@0.1.0": ampoule_sdk::bindings::ampoule::host::log,
            "ampoule:host/credentials@0.1.0": ampoule_sdk::bindings::ampoule::host::credentials,
            "ampoule:host/cache@0.1.0": ampoule_sdk::bindings::ampoule::host::cache,
            "ampoule:host/tls@0.1.0": ampoule_sdk::bindings::ampoule::host::tls,
            "ampoule:provider/types@0.1.0": ampoule_sdk::bindings::ampoule::provider::types,
            "wasi:http/types@0.2.12": ampoule_sdk::bindings::wasi::http::types,
            "wasi:http/outgoing-handler@0.2.12": ampoule_sdk::bindings::wasi::http::outgoing_handler,
            "wasi:io/error@0.2.12": ampoule_sdk::bindings::wasi::io::error,
            "wasi:io/poll@0.2.12": ampoule_sdk::bindings::wasi::io::poll,
            "wasi:io/streams@0.2.12": ampoule_sdk::bindings::wasi::io::streams,
            "wasi:clocks/monotonic-clock@0.2.12": ampoule_sdk::bindings::wasi::clocks::monotonic_clock,
        },
    });
}

use ampoule_sdk::{CredentialRequest, EgressRule, ProviderError};
use bindings::exports::ampoule::provider::generator::{
    Generated, GeneratorContext, GeneratorInfo, Guest,
};

/// The kinds this component serves.
pub const KINDS: &[&str] = &["Webhook", "VaultDynamicSecret"];

/// Keys and values one generation produced.
pub type Output = Vec<(String, Vec<u8>)>;

fn unknown(kind: &str) -> ProviderError {
    ProviderError::InvalidConfig(format!(
        "this component does not serve generator kind {kind} (it serves {})",
        KINDS.join(", ")
    ))
}

/// Removes every credential value from an error's message (a backend may echo what it got).
pub fn scrub(e: ProviderError, secrets: &[String]) -> ProviderError {
    let s = |mut m: String| {
        for secret in secrets.iter().filter(|s| s.len() >= 4) {
            m = m.replace(secret.as_str(), "<redacted>");
        }
        m
    };
    match e {
        ProviderError::NotFound(m) => ProviderError::NotFound(s(m)),
        ProviderError::Unauthorized(m) => ProviderError::Unauthorized(s(m)),
        ProviderError::Forbidden(m) => ProviderError::Forbidden(s(m)),
        ProviderError::InvalidConfig(m) => ProviderError::InvalidConfig(s(m)),
        ProviderError::RateLimited(mut r) => {
            r.message = s(r.message);
            ProviderError::RateLimited(r)
        }
        ProviderError::Unavailable(m) => ProviderError::Unavailable(s(m)),
        ProviderError::Internal(m) => ProviderError::Internal(s(m)),
    }
}

/// The clock and the entropy templates may observe (the host's wall clock and
/// `wasi:random/random`).
pub fn template_env() -> Result<ampoule_template::Env, ProviderError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed)
        .map_err(|e| ProviderError::Internal(format!("no randomness: {e}")))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| ProviderError::Internal("the clock is before 1970".into()))?;
    let secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    Ok(ampoule_template::Env {
        now: ampoule_template::GoTime::from_unix(secs).add_nanos(i64::from(now.subsec_nanos())),
        seed,
    })
}

struct Component;

impl Guest for Component {
    fn describe() -> GeneratorInfo {
        GeneratorInfo {
            kinds: KINDS.iter().map(|k| (*k).to_owned()).collect(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            spec_schemas: Vec::new(),
        }
    }

    fn validate_spec(kind: String, spec: String) -> Result<Vec<String>, ProviderError> {
        match kind.as_str() {
            "Webhook" => webhook::Spec::parse(&spec).map(|_| Vec::new()),
            "VaultDynamicSecret" => vault::Spec::parse(&spec).map(|_| Vec::new()),
            other => Err(unknown(other)),
        }
    }

    fn requested_egress(
        kind: String,
        spec: String,
        _settings: String,
    ) -> Result<Vec<EgressRule>, ProviderError> {
        match kind.as_str() {
            "Webhook" => webhook::Spec::parse(&spec)?.egress(),
            "VaultDynamicSecret" => vault::Spec::parse(&spec)?.egress(),
            other => Err(unknown(other)),
        }
    }

    fn requested_credentials(
        kind: String,
        spec: String,
    ) -> Result<Vec<CredentialRequest>, ProviderError> {
        match kind.as_str() {
            "Webhook" => Ok(webhook::Spec::parse(&spec)?.credentials()),
            "VaultDynamicSecret" => vault::Spec::parse(&spec)?.credentials(),
            other => Err(unknown(other)),
        }
    }

    fn generate(
        kind: String,
        spec: String,
        ctx: GeneratorContext,
    ) -> Result<Generated, ProviderError> {
        match kind.as_str() {
            "VaultDynamicSecret" => {
                let (data, state) = vault::Spec::parse(&spec)?.generate(&ctx.namespace)?;
                Ok(Generated { data, state })
            }
            "Webhook" => Ok(Generated {
                data: webhook::Spec::parse(&spec)?.generate()?,
                state: None,
            }),
            other => Err(unknown(other)),
        }
    }

    fn cleanup(
        kind: String,
        spec: String,
        state: String,
        ctx: GeneratorContext,
    ) -> Result<(), ProviderError> {
        match kind.as_str() {
            "VaultDynamicSecret" => vault::Spec::parse(&spec)?.cleanup(&state, &ctx.namespace),
            // A webhook call leaves nothing to undo.
            "Webhook" => webhook::Spec::parse(&spec).map(|_| ()),
            other => Err(unknown(other)),
        }
    }
}

/// The export glue wit-bindgen generates (unsafe ABI code, confined to this module).
#[allow(unsafe_code)]
mod export {
    use super::{Component, bindings};
    bindings::export!(Component with_types_in bindings);
}
