//! Public-key infrastructure for ESO's template functions and sprig's crypto set:
//! DER, PEM, keys, X.509, PKCS#12. Written for this crate (pure Rust, no OS entropy).

pub mod certbuild;
pub mod der;
pub mod keys;
pub mod pbe;
pub mod pem;
pub mod pkcs12;
pub mod x509;
