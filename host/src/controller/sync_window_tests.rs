use k8s_openapi::jiff::Timestamp;

use super::*;
use crate::crd::external_secret::ExternalSecretSyncWindow;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn windows(kind: SyncWindowKind, entries: &[(&str, &str)]) -> ExternalSecretSyncWindows {
    ExternalSecretSyncWindows {
        kind,
        windows: entries
            .iter()
            .map(|(s, d)| ExternalSecretSyncWindow {
                schedule: (*s).into(),
                duration: (*d).into(),
            })
            .collect(),
    }
}

#[test]
fn window_boundaries_are_inclusive() {
    // Opens 22:00 UTC daily for two hours.
    let s = Schedule::parse("0 22 * * *").unwrap();
    let d = Duration::from_secs(7200);
    let open = ts("2026-06-01T22:00:00Z");
    let at = |secs: i64| open.checked_add(SignedDuration::from_secs(secs)).unwrap();
    assert_eq!(s.open_window(d, open), Some(open), "at the opening");
    assert!(s.open_window(d, at(1800)).is_some(), "inside");
    assert!(s.open_window(d, at(7200)).is_some(), "at the close");
    assert!(
        s.open_window(d, at(7201)).is_none(),
        "a second after the close"
    );
    assert!(s.open_window(d, at(-3600)).is_none(), "an hour before");
    assert!(
        s.open_window(d, at(5 * 3600)).is_none(),
        "between two openings"
    );
    assert!(
        s.open_window(d, at(86400 + 1800)).is_some(),
        "the next day's window"
    );
}

#[test]
fn allow_and_deny() {
    let inside = ts("2026-06-01T23:00:00Z");
    let outside = ts("2026-06-01T20:00:00Z");
    let allow = windows(SyncWindowKind::Allow, &[("0 22 * * *", "2h")]);
    let deny = windows(SyncWindowKind::Deny, &[("0 22 * * *", "2h")]);
    assert!(allows(None, inside), "no windows");
    assert!(
        allows(Some(&windows(SyncWindowKind::Allow, &[])), outside),
        "empty list"
    );
    assert!(allows(Some(&allow), inside));
    assert!(!allows(Some(&allow), outside));
    assert!(!allows(Some(&deny), inside));
    assert!(allows(Some(&deny), outside));
    // Any open window counts; an entry that does not parse is ignored.
    let two = windows(
        SyncWindowKind::Deny,
        &[
            ("not-a-cron", "2h"),
            ("0 19 * * *", "2h"),
            ("0 22 * * *", "2h"),
        ],
    );
    assert!(
        !allows(Some(&two), outside),
        "the 19:00 window is open at 20:00"
    );
    let broken = windows(SyncWindowKind::Allow, &[("not-a-cron", "2h")]);
    assert!(
        !allows(Some(&broken), inside),
        "allow with only broken entries never opens"
    );
    let bad_duration = windows(SyncWindowKind::Deny, &[("0 22 * * *", "two hours")]);
    assert!(
        allows(Some(&bad_duration), inside),
        "a duration that does not parse is ignored"
    );
}

#[test]
fn parses_what_eso_parses() {
    for ok in [
        "* * * * *",
        "*/15 9-17 * * 1-5",
        "0 22 * * mon-fri",
        "30 2 1,15 JAN,jul ?",
        "5/10 * * * *",
        "@daily",
        "@midnight",
        "@hourly",
        "@weekly",
        "@monthly",
        "@yearly",
        "@annually",
        "@every 90m",
    ] {
        assert!(Schedule::parse(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "not-a-cron",
        "* * * *",
        "* * * * * *",
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * * 13 *",
        "* * * * 7",
        "5-1 * * * *",
        "*/0 * * * *",
        "1-2-3 * * * *",
        "1/2/3 * * * *",
        "@fortnightly",
        "@every soon",
        "TZ=UTC 0 22 * *",
    ] {
        assert!(Schedule::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn day_of_month_and_week_combine_as_in_cron() {
    // Both restricted: either matches (the 13th, or any Friday).
    let s = Schedule::parse("0 0 13 * 5").unwrap();
    assert_eq!(
        s.next(ts("2026-06-01T00:00:00Z")),
        Some(ts("2026-06-05T00:00:00Z")),
        "Friday 5 June"
    );
    // Day-of-week is a star: the 13th, whatever its weekday.
    let s = Schedule::parse("0 0 13 * *").unwrap();
    assert_eq!(
        s.next(ts("2026-06-01T00:00:00Z")),
        Some(ts("2026-06-13T00:00:00Z"))
    );
    // February 30th never comes.
    assert_eq!(
        Schedule::parse("0 0 30 2 *")
            .unwrap()
            .next(ts("2026-01-01T00:00:00Z")),
        None
    );
}

#[test]
fn every_counts_from_the_instant_asked() {
    let s = Schedule::parse("@every 1h").unwrap();
    let at = ts("2026-06-01T10:20:30.5Z");
    assert_eq!(s.next(at), Some(ts("2026-06-01T11:20:30Z")));
    // So a window at least as long as the period is always open, a shorter one never.
    assert!(s.open_window(Duration::from_secs(3600), at).is_some());
    assert!(s.open_window(Duration::from_secs(1800), at).is_none());
}

#[test]
fn next_change_is_the_nearest_edge() {
    let deny = windows(SyncWindowKind::Deny, &[("0 22 * * *", "2h")]);
    assert_eq!(
        next_change(&deny, ts("2026-06-01T23:00:00Z")),
        Some(ts("2026-06-02T00:00:01Z")),
        "inside: the second after the close"
    );
    assert_eq!(
        next_change(&deny, ts("2026-06-01T20:00:00Z")),
        Some(ts("2026-06-01T22:00:00Z")),
        "outside: the next opening"
    );
    let never = windows(SyncWindowKind::Allow, &[("0 0 30 2 *", "1h")]);
    assert_eq!(next_change(&never, ts("2026-06-01T20:00:00Z")), None);
}
