//! What the controller sees of the sandbox: the provider seam ([`provider::SecretProvider`]),
//! the transform seam ([`transform::Transformer`]) and the credential seam
//! ([`credentials::CredentialResolver`], which the controller implements). Nothing here depends
//! on wasmtime.

pub mod credentials;
pub mod provider;
pub mod transform;
