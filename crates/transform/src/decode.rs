//! `valuesDecodingStrategy`, as ESO's `decoding.Decode` (the same rules as the host's
//! `decodingStrategy` for fetched data).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};

/// How a rendered value is decoded before it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Decoding {
    #[default]
    None,
    /// Standard base64, padded.
    Base64,
    /// URL-safe base64, padded.
    Base64Url,
    /// Standard, then URL-safe, else the raw value.
    Auto,
}

/// Decodes `value` with `strategy`.
pub fn decode(value: Vec<u8>, strategy: Decoding) -> Result<Vec<u8>, String> {
    match strategy {
        Decoding::None => Ok(value),
        Decoding::Base64 => STANDARD
            .decode(&value)
            .map_err(|e| format!("failed to decode base64: {e}")),
        Decoding::Base64Url => URL_SAFE
            .decode(&value)
            .map_err(|e| format!("failed to decode base64url: {e}")),
        Decoding::Auto => Ok(STANDARD
            .decode(&value)
            .or_else(|_| URL_SAFE.decode(&value))
            .unwrap_or(value)),
    }
}
