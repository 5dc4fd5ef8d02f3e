//! Go's `time.ParseDuration`, exactly: what ESO accepts in `refreshInterval` and friends, and
//! what the CRDs' CEL `duration()` accepts in a sandbox's `limits.timeout`. It checks the
//! grammar and the range (at most 2^63-1 ns, Go's `int64`) before building a value, and never
//! panics. The host's `crd::duration::parse` builds a `kube::core::Duration` from it; its
//! tests and properties live there.

use std::time::Duration;

/// Why a text is not a Go duration (Go's messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("time: invalid duration {0:?}")]
    Invalid(String),
    #[error("time: missing unit in duration {0:?}")]
    MissingUnit(String),
    #[error("time: unknown unit {unit:?} in duration {text:?}")]
    UnknownUnit { unit: String, text: String },
}

const NANOS_PER_UNIT: &[(&str, u64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("\u{00b5}s", 1_000),
    ("\u{03bc}s", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// 2^63: Go's `int64` nanoseconds end one below it (a negative duration may reach it).
pub const LIMIT: u64 = 1 << 63;

/// A non-negative Go duration as a `std` one (a negative one is invalid here).
pub fn parse_std(text: &str) -> Result<Duration, DurationError> {
    match parse_nanos(text)? {
        (true, n) if n > 0 => Err(DurationError::Invalid(text.to_owned())),
        (_, n) => Ok(Duration::from_nanos(n)),
    }
}

/// The sign and the magnitude in nanoseconds (Go's algorithm, overflow checks included).
pub fn parse_nanos(text: &str) -> Result<(bool, u64), DurationError> {
    let invalid = || DurationError::Invalid(text.to_owned());
    let mut s = text;
    let mut negative = false;
    if let Some(rest) = s.strip_prefix('-') {
        negative = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok((false, 0));
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !s.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
            return Err(invalid());
        }
        let int_len = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (int_digits, rest) = s.split_at(int_len);
        let whole = leading_int(int_digits).ok_or_else(invalid)?;
        s = rest;
        let (mut frac, mut scale, mut has_frac) = (0u64, 1f64, false);
        if let Some(rest) = s.strip_prefix('.') {
            let frac_len = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let (frac_digits, rest) = rest.split_at(frac_len);
            (frac, scale) = leading_fraction(frac_digits);
            has_frac = !frac_digits.is_empty();
            s = rest;
        }
        if int_digits.is_empty() && !has_frac {
            return Err(invalid());
        }
        let unit_len = s
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(DurationError::MissingUnit(text.to_owned()));
        }
        let (unit, rest) = s.split_at(unit_len);
        s = rest;
        let per = NANOS_PER_UNIT
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, n)| *n)
            .ok_or_else(|| DurationError::UnknownUnit {
                unit: unit.to_owned(),
                text: text.to_owned(),
            })?;
        if whole > LIMIT / per {
            return Err(invalid());
        }
        let mut v = whole * per;
        if frac > 0 {
            // Go: float64(f) * (float64(unit) / scale), truncated; at most `per` nanoseconds.
            let extra = (frac as f64 * (per as f64 / scale)) as u64;
            v = v.checked_add(extra).ok_or_else(invalid)?;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        total = total.checked_add(v).ok_or_else(invalid)?;
        if total > LIMIT {
            return Err(invalid());
        }
    }
    if !negative && total > LIMIT - 1 {
        return Err(invalid());
    }
    Ok((negative, total))
}

/// Go's `leadingInt`: the value of `digits`, `None` past 2^63.
fn leading_int(digits: &str) -> Option<u64> {
    digits.bytes().try_fold(0u64, |x, d| {
        if x > LIMIT / 10 {
            return None;
        }
        let y = x * 10 + u64::from(d - b'0');
        (y <= LIMIT).then_some(y)
    })
}

/// Go's `leadingFraction`: the digits as an integer and 10^(digits used); digits past what fits
/// are dropped.
fn leading_fraction(digits: &str) -> (u64, f64) {
    let (mut x, mut scale, mut overflow) = (0u64, 1f64, false);
    for d in digits.bytes() {
        if overflow {
            continue;
        }
        if x > (LIMIT - 1) / 10 {
            overflow = true;
            continue;
        }
        let y = x * 10 + u64::from(d - b'0');
        if y > LIMIT {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10.0;
    }
    (x, scale)
}
