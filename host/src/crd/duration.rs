//! Go's `time.ParseDuration`, exactly: what ESO accepts in `refreshInterval` and friends, as a
//! `kube::core::Duration` (the parser itself is `ampoule_sandbox::config::duration`, shared
//! with the sandbox's `limits.timeout`).
//!
//! `kube::core::Duration`'s own parser reads each number as an `f64` and panics on text Go
//! refuses: a negative number after the first unit (`1h-5s`) or a huge one
//! (`99999999999999999999h`) reaches `Duration::mul_f64`, which panics, and an overflowing sum
//! panics in `+=`. This one checks the grammar and the range (at most 2^63-1 ns, Go's `int64`)
//! before building the value, and never panics.

use std::time::Duration as StdDuration;

pub use ampoule_sandbox::config::duration::{DurationError, LIMIT, parse_nanos};

/// A Go duration: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` or `0`, within Go's `int64` nanoseconds.
pub fn parse(text: &str) -> Result<kube::core::Duration, DurationError> {
    let (negative, nanos) = parse_nanos(text)?;
    let magnitude = StdDuration::from_nanos(nanos);
    if !negative || nanos == 0 {
        return Ok(magnitude.into());
    }
    // kube's Duration has no constructor for a negative value but its parser; an integer count
    // of nanoseconds up to 2^63 is a text it reads without panic (exactly below 2^53 ns).
    format!("-{nanos}ns")
        .parse()
        .map_err(|_| DurationError::Invalid(text.to_owned()))
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
