use super::{DurationError, parse, parse_nanos};
use crate::crd::ExternalSecretSpec;

const NS: i128 = 1;
const US: i128 = 1_000;
const MS: i128 = 1_000_000;
const S: i128 = 1_000_000_000;
const M: i128 = 60 * S;
const H: i128 = 60 * M;

fn nanos(text: &str) -> Result<i128, DurationError> {
    parse_nanos(text).map(|(negative, n)| {
        if negative {
            -i128::from(n)
        } else {
            i128::from(n)
        }
    })
}

/// Go's `parseDurationTests` (time/time_test.go).
#[test]
fn parses_what_go_parses() {
    let cases: &[(&str, i128)] = &[
        ("0", 0),
        ("5s", 5 * S),
        ("30s", 30 * S),
        ("1478s", 1478 * S),
        ("-5s", -5 * S),
        ("+5s", 5 * S),
        ("-0", 0),
        ("+0", 0),
        ("5.0s", 5 * S),
        ("5.6s", 5 * S + 600 * MS),
        ("5.s", 5 * S),
        (".5s", 500 * MS),
        ("1.0s", S),
        ("1.00s", S),
        ("1.004s", S + 4 * MS),
        ("1.0040s", S + 4 * MS),
        ("100.00100s", 100 * S + MS),
        ("10ns", 10 * NS),
        ("11us", 11 * US),
        ("12\u{00b5}s", 12 * US),
        ("12\u{03bc}s", 12 * US),
        ("13ms", 13 * MS),
        ("14s", 14 * S),
        ("15m", 15 * M),
        ("16h", 16 * H),
        ("3h30m", 3 * H + 30 * M),
        ("10.5s4m", 4 * M + 10 * S + 500 * MS),
        ("-2m3.4s", -(2 * M + 3 * S + 400 * MS)),
        (
            "1h2m3s4ms5us6ns",
            H + 2 * M + 3 * S + 4 * MS + 5 * US + 6 * NS,
        ),
        ("39h9m14.425s", 39 * H + 9 * M + 14 * S + 425 * MS),
        ("52763797000ns", 52763797000 * NS),
        ("0.3333333333333333333h", 20 * M),
        ("9007199254740993ns", (1 << 53) + 1),
        ("9223372036854775807ns", i64::MAX as i128),
        ("9223372036854775.807us", i64::MAX as i128),
        ("9223372036s854ms775us807ns", i64::MAX as i128),
        ("-9223372036854775808ns", i64::MIN as i128),
        ("-9223372036854775.808us", i64::MIN as i128),
        ("0.100000000000000000000h", 6 * M),
        ("0.830103483285477580700h", 49 * M + 48 * S + 372539827 * NS),
        ("1h0m0s", H),
    ];
    for (text, want) in cases {
        assert_eq!(nanos(text), Ok(*want), "{text}");
    }
}

/// Go's `parseDurationErrorTests`, and what kube's parser panics on (issue 17).
#[test]
fn refuses_what_go_refuses() {
    let cases = [
        "",
        "3",
        "-",
        "s",
        ".",
        "-.",
        ".s",
        "+.s",
        "1d",
        "\u{85}\u{85}",
        "\u{ff}ff",
        "hello \u{ff}ff world",
        "9223372036854775808ns",
        "9223372036854775.808us",
        "9223372036854ms775us808ns",
        "-9223372036854775809ns",
        // kube::core::Duration's parser panics on these: a negative number after the first unit
        // or an overflowing product reaches `Duration::mul_f64`, an overflowing sum `+=`.
        "1h-5s",
        "5s-1s",
        "99999999999999999999h",
        "18446744073709551615h18446744073709551615h",
        // kube reads these as errors already; Go too.
        "1e300h",
        "NaNs",
        "infh",
    ];
    for text in cases {
        assert!(parse(text).is_err(), "{text:?} parsed");
    }
}

#[test]
fn negative_durations_keep_their_sign() {
    let d = parse("-1m30s").unwrap();
    assert!(d.is_negative());
    assert_eq!(
        std::time::Duration::from(d),
        std::time::Duration::from_secs(90)
    );
    assert!(!parse("-0").unwrap().is_negative());
}

/// Regression (issue 17): `refreshInterval: 1h-5s` (or `99999999999999999999h`) panicked the
/// reconcile in kube's parser; now it is an invalid spec.
#[test]
fn refresh_interval_with_a_negative_later_term_is_an_error_not_a_panic() {
    for bad in ["1h-5s", "5s-1s", "99999999999999999999h"] {
        let spec = ExternalSecretSpec {
            refresh_interval: Some(bad.to_owned()),
            ..ExternalSecretSpec::default()
        };
        let err = spec.refresh_interval().unwrap_err();
        assert!(err.to_string().starts_with("time: "), "{err}");
    }
}
