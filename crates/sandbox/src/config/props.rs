//! Property tests (issue 17): quantities and durations of a sandbox spec never panic, and parse
//! to the value they spell or to an error when it does not fit.

use proptest::prelude::*;

use super::{Quantity, parse_duration};

fn config() -> ProptestConfig {
    // `ProptestConfig::default()` reads `PROPTEST_CASES`; without it, 256 cases.
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 256;
    }
    c
}

const SUFFIXES: &[(&str, u64)] = &[
    ("", 1),
    ("k", 1_000),
    ("M", 1_000_000),
    ("G", 1_000_000_000),
    ("Ki", 1 << 10),
    ("Mi", 1 << 20),
    ("Gi", 1 << 30),
];

const UNITS: &[(&str, u128)] = &[
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_quantities_never_panic(text in "\\PC{0,24}", n in any::<u64>()) {
        let _ = Quantity::Str(text).bytes();
        prop_assert_eq!(Quantity::Int(n).bytes(), Ok(n));
    }

    #[test]
    fn quantities_are_their_value(
        n in prop_oneof![0u64..100_000, any::<u64>()],
        (suffix, mult) in prop::sample::select(SUFFIXES),
        pad in " {0,2}",
    ) {
        let text = format!("{pad}{n}{suffix}{pad}");
        let got = Quantity::Str(text.clone()).bytes();
        match n.checked_mul(mult) {
            Some(want) => prop_assert_eq!(got, Ok(want), "{}", text),
            None => prop_assert!(got.is_err(), "{} overflows", text),
        }
    }

    #[test]
    fn arbitrary_durations_never_panic(text in "\\PC{0,24}") {
        let _ = parse_duration(&text);
    }

    #[test]
    fn duration_shaped_text_never_panics(text in "([0-9]{0,21}(ms|s|m|h|us|x)?){1,4}") {
        let _ = parse_duration(&text);
    }

    /// Terms add up; a sum past Go's `int64` nanoseconds is an error, never a panic.
    #[test]
    fn durations_sum_their_terms(
        terms in prop::collection::vec(
            (prop_oneof![0u64..100_000, any::<u64>()], prop::sample::select(UNITS)),
            1..4,
        ),
    ) {
        let text: String = terms.iter().map(|(n, (unit, _))| format!("{n}{unit}")).collect();
        let nanos: u128 = terms.iter().map(|(n, (_, per))| u128::from(*n) * per).sum();
        let max = u128::from(super::duration::LIMIT) - 1;
        match parse_duration(&text) {
            Ok(d) => prop_assert_eq!(d.as_nanos(), nanos, "{}", text),
            Err(_) => prop_assert!(nanos > max, "{} refused", text),
        }
    }
}
