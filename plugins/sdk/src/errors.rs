//! [`ProviderError`] constructors and the mapping of HTTP answers to them.
//!
//! What each error does to an ExternalSecret: `not-found` drives ESO's `deletionPolicy`
//! (the only error that may delete a target Secret); `invalid-config` is not retried until the
//! store changes; `rate-limited` is retried after `retry-after-secs` (or the usual backoff);
//! `unavailable` is transient and retried with backoff; `unauthorized`, `forbidden` and
//! `internal` mark the ExternalSecret not ready with the message (never put secret values in it).

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

pub fn unauthorized(why: impl Into<String>) -> ProviderError {
    ProviderError::Unauthorized(why.into())
}

pub fn forbidden(why: impl Into<String>) -> ProviderError {
    ProviderError::Forbidden(why.into())
}

/// The backend asked to slow down; the host waits `retry_after_secs` (when given) before the
/// next attempt.
pub fn rate_limited(why: impl Into<String>, retry_after_secs: Option<u32>) -> ProviderError {
    ProviderError::RateLimited(RateLimit {
        message: why.into(),
        retry_after_secs,
    })
}

/// [`from_status`] for a whole response: its status and its `Retry-After` header.
pub fn from_response(response: &crate::http::Response, context: &str) -> ProviderError {
    from_status(response.status, response.retry_after(), context)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_the_errors_the_host_acts_on() {
        let kind = |status| match from_status(status, Some(7), "get") {
            ProviderError::NotFound(_) => "not-found".to_owned(),
            ProviderError::Unauthorized(_) => "unauthorized".to_owned(),
            ProviderError::Forbidden(_) => "forbidden".to_owned(),
            ProviderError::RateLimited(r) => format!("rate-limited {:?}", r.retry_after_secs),
            ProviderError::Unavailable(_) => "unavailable".to_owned(),
            ProviderError::Internal(_) => "internal".to_owned(),
            ProviderError::InvalidConfig(_) => "invalid-config".to_owned(),
        };
        assert_eq!(kind(401), "unauthorized");
        assert_eq!(kind(403), "forbidden");
        assert_eq!(kind(404), "not-found");
        assert_eq!(kind(429), "rate-limited Some(7)");
        assert_eq!(kind(400), "internal");
        assert_eq!(kind(500), "unavailable");
        assert_eq!(kind(503), "unavailable");
    }
}
