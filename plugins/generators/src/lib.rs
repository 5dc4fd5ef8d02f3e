//! ESO's pure generators (`generators.external-secrets.io/v1alpha1`) as one sandboxed
//! component: Password, UUID, Fake and SSHKey. None of them requests egress or credentials, so
//! the host runs them with no way out; every random byte comes from the host's
//! `wasi:random/random`.
//!
//! Each kind reads the CRD's `spec` object (ESO's field names) and returns ESO's keys:
//! - Password: one password per `secretKeys` entry (default `password`), see [`password`].
//! - UUID: `uuid`, a random (version 4) UUID.
//! - Fake: `spec.data` as it is.
//! - SSHKey: `privateKey` (OpenSSH format) and `publicKey` (authorized_keys line), see [`sshkey`].

pub mod encoding;
pub mod fake;
pub mod password;
pub mod random;
pub mod sshkey;
pub mod uuid;

#[allow(unsafe_code, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "ampoule:provider/secret-generator",
        generate_all,
    });
}

use bindings::ampoule::host::credentials::CredentialRequest;
use bindings::ampoule::provider::types::{EgressRule, ProviderError};
use bindings::exports::ampoule::provider::generator::{
    Generated, GeneratorContext, GeneratorInfo, Guest,
};

/// The kinds this component serves.
pub const KINDS: &[&str] = &["Password", "UUID", "Fake", "SSHKey"];

/// A generator's failure: the spec is unusable, or generating failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The spec cannot be used (retrying fails the same way).
    Spec(String),
    /// Generating failed (e.g. no randomness).
    Generate(String),
}

impl From<Error> for ProviderError {
    fn from(e: Error) -> Self {
        match e {
            Error::Spec(m) => ProviderError::InvalidConfig(m),
            Error::Generate(m) => ProviderError::Internal(m),
        }
    }
}

/// Keys and values one generation produced.
pub type Output = Vec<(String, Vec<u8>)>;

/// Warnings about `spec` for `kind`, or why it is unusable.
pub fn validate(kind: &str, spec: &str) -> Result<Vec<String>, Error> {
    match kind {
        "Password" => password::Spec::parse(spec)?.warnings(),
        "UUID" => {
            parse_object(spec)?;
            Ok(Vec::new())
        }
        "Fake" => fake::Spec::parse(spec).map(|_| Vec::new()),
        "SSHKey" => sshkey::Spec::parse(spec)?.check().map(|_| Vec::new()),
        other => Err(unknown(other)),
    }
}

/// One generation of `kind` from `spec`.
pub fn generate(kind: &str, spec: &str) -> Result<Output, Error> {
    match kind {
        "Password" => password::Spec::parse(spec)?.generate(),
        "UUID" => {
            parse_object(spec)?;
            Ok(vec![("uuid".to_owned(), uuid::v4()?.into_bytes())])
        }
        "Fake" => Ok(fake::Spec::parse(spec)?.generate()),
        "SSHKey" => sshkey::Spec::parse(spec)?.generate(),
        other => Err(unknown(other)),
    }
}

fn unknown(kind: &str) -> Error {
    Error::Spec(format!(
        "this component does not serve generator kind {kind} (it serves {})",
        KINDS.join(", ")
    ))
}

/// The spec must be a JSON object (an empty one for UUID).
fn parse_object(spec: &str) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
    serde_json::from_str(spec).map_err(|e| Error::Spec(format!("unable to parse spec: {e}")))
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
        validate(&kind, &spec).map_err(Into::into)
    }

    fn requested_egress(
        kind: String,
        spec: String,
        _settings: String,
    ) -> Result<Vec<EgressRule>, ProviderError> {
        validate(&kind, &spec)?;
        Ok(Vec::new())
    }

    fn requested_credentials(
        kind: String,
        spec: String,
    ) -> Result<Vec<CredentialRequest>, ProviderError> {
        validate(&kind, &spec)?;
        Ok(Vec::new())
    }

    fn generate(
        kind: String,
        spec: String,
        _ctx: GeneratorContext,
    ) -> Result<Generated, ProviderError> {
        Ok(Generated {
            data: generate(&kind, &spec)?,
            state: None,
        })
    }

    fn cleanup(
        kind: String,
        spec: String,
        _state: String,
        _ctx: GeneratorContext,
    ) -> Result<(), ProviderError> {
        // Nothing a pure generator makes outlives the generated values.
        validate(&kind, &spec).map(|_| ()).map_err(Into::into)
    }
}

/// The export glue wit-bindgen generates (unsafe ABI code, confined to this module).
#[allow(unsafe_code)]
mod export {
    use super::{Component, bindings};
    bindings::export!(Component with_types_in bindings);
}
