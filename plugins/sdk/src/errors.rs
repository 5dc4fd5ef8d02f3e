//! [`ProviderError`] helpers.

use crate::{ProviderError, RateLimit};

pub fn not_found(what: impl Into<String>) -> ProviderError {
    ProviderError::NotFound(what.into())
}

pub fn invalid_config(why: impl Into<String>) -> ProviderError {
    ProviderError::InvalidConfig(why.into())
}

pub fn internal(why: impl Into<String>) -> ProviderError {
    ProviderError::Internal(why.into())
}

pub fn unavailable(why: impl Into<String>) -> ProviderError {
    ProviderError::Unavailable(why.into())
}

/// Maps a non-success HTTP status from a backend to the error the host understands.
/// `retry_after` is the `Retry-After` header in seconds, if the response had one.
pub fn from_status(status: u16, retry_after: Option<u32>, context: &str) -> ProviderError {
    let message = format!("{context}: HTTP {status}");
    match status {
        401 => ProviderError::Unauthorized(message),
        403 => ProviderError::Forbidden(message),
        404 => ProviderError::NotFound(message),
        429 => ProviderError::RateLimited(RateLimit {
            message,
            retry_after_secs: retry_after,
        }),
        400 | 405..=428 | 430..=499 => ProviderError::Internal(message),
        _ => ProviderError::Unavailable(message),
    }
}
