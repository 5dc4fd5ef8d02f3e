//! What the controller sees of the sandbox: the provider seam ([`provider::SecretProvider`]),
//! the transform seam ([`transform::Transformer`]), the generator seam
//! ([`generator::SecretGenerator`]) and the credential seam
//! ([`credentials::CredentialResolver`], which the controller implements). Nothing here depends
//! on wasmtime.

pub mod credentials;
pub mod generator;
pub mod provider;
pub mod transform;
