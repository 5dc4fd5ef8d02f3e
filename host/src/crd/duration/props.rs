//! Property tests (issue 17): the Go-duration parser never panics, agrees with the value a
//! duration is built from, and refuses what overflows Go's `int64` nanoseconds.

use proptest::prelude::*;

use super::{LIMIT, parse, parse_nanos};
use crate::crd::ExternalSecretSpec;

fn config() -> ProptestConfig {
    // `ProptestConfig::default()` reads `PROPTEST_CASES`; without it, 256 cases.
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 256;
    }
    c
}

const UNITS: &[(&str, u64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("\u{00b5}s", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,24}") {
        let _ = parse(&text);
        let spec = ExternalSecretSpec {
            refresh_interval: Some(text),
            ..ExternalSecretSpec::default()
        };
        let _ = spec.refresh_interval();
    }

    #[test]
    fn duration_shaped_text_never_panics(
        text in "[-+]?([0-9.eE+\\-]{0,22}(ns|us|ms|s|m|h|d|µs|NaN|inf)?){1,4}",
    ) {
        if let Ok((negative, n)) = parse_nanos(&text) {
            prop_assert!(n <= LIMIT);
            prop_assert!(negative || n < LIMIT);
        }
        let _ = parse(&text);
    }

    /// Integer terms: the result is their sum, or an error exactly when the sum overflows.
    #[test]
    fn integer_terms_sum(
        terms in prop::collection::vec((0u64..=u64::MAX >> 30, prop::sample::select(UNITS)), 1..5),
        negative in any::<bool>(),
    ) {
        let text: String = std::iter::once(if negative { "-" } else { "" }.to_owned())
            .chain(terms.iter().map(|(n, (unit, _))| format!("{n}{unit}")))
            .collect();
        let sum = terms
            .iter()
            .map(|(n, (_, per))| u128::from(*n) * u128::from(*per))
            .sum::<u128>();
        let max = if negative { u128::from(LIMIT) } else { u128::from(LIMIT) - 1 };
        match parse_nanos(&text) {
            Ok((_, n)) => prop_assert_eq!(u128::from(n), sum, "{}", text),
            Err(_) => prop_assert!(sum > max, "{} ({} ns) refused", text, sum),
        }
    }

    /// A std duration printed as Go prints the components parses back to itself.
    #[test]
    fn round_trips_hours_minutes_seconds_nanos(
        h in 0u64..2_000_000,
        m in 0u64..60,
        s in 0u64..60,
        ns in 0u64..1_000_000_000,
    ) {
        let text = format!("{h}h{m}m{s}.{ns:09}s");
        let d = parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let want = std::time::Duration::new(h * 3600 + m * 60 + s, ns as u32);
        // Go computes a fraction through a float64: it may lose the last nanoseconds.
        let got = std::time::Duration::from(d);
        let diff = got.abs_diff(want);
        prop_assert!(diff <= std::time::Duration::from_micros(1), "{} -> {:?}", text, got);
    }
}
