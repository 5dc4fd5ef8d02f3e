//! Where components come from: pulled by digest from an OCI registry ([`oci`]), verified with
//! cosign ([`cosign`]), or embedded in the binary at build time ([`embedded`]); [`warm`] compiles
//! them before the controller serves.

pub mod cosign;
pub mod embedded;
pub mod oci;
pub mod warm;
