//! `spec.syncWindows` (docs/eso-behaviour.md#sync-windows): ESO v2.9's windows that allow or
//! deny periodic refreshes, with the cron semantics of the parser ESO uses (robfig/cron v3:
//! five fields, the `@` shorthands and `@every`), evaluated in UTC.
//!
//! A window opens at each firing of its schedule and stays open for its duration, both ends
//! included. An entry whose schedule or duration does not parse is ignored, as in ESO, so a typo
//! never blocks syncs for good.

use std::time::Duration;

use k8s_openapi::jiff::civil::DateTime;
use k8s_openapi::jiff::tz::TimeZone;
use k8s_openapi::jiff::{SignedDuration, Timestamp, ToSpan};

use crate::crd::external_secret::{ExternalSecretSyncWindows, SyncWindowKind};

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Fields as bit sets (bit `n` set: value `n` matches), with robfig's "star" flag on the
    /// day fields, which decides whether day-of-month and day-of-week combine by AND or OR.
    Spec {
        minute: u64,
        hour: u64,
        dom: u64,
        month: u64,
        dow: u64,
        dom_star: bool,
        dow_star: bool,
    },
    /// `@every D`: fires D after the instant it is asked about (whole seconds, at least 1 s).
    Every(Duration),
}

/// Why a schedule does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(String);

fn err(msg: impl Into<String>) -> ParseError {
    ParseError(msg.into())
}

struct Bounds {
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const MINUTE: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[
        ("sun", 0),
        ("mon", 1),
        ("tue", 2),
        ("wed", 3),
        ("thu", 4),
        ("fri", 5),
        ("sat", 6),
    ],
};

/// One comma-separated field: its bits and whether it was a bare `*`/`?` (robfig's star bit,
/// which a step above 1 clears).
fn field(expr: &str, b: &Bounds) -> Result<(u64, bool), ParseError> {
    let mut bits = 0u64;
    let mut star = false;
    for part in expr.split(',') {
        let (r, s) = range(part, b)?;
        bits |= r;
        star |= s;
    }
    Ok((bits, star))
}

fn number(expr: &str, b: &Bounds) -> Result<u32, ParseError> {
    let lower = expr.to_ascii_lowercase();
    if let Some((_, v)) = b.names.iter().find(|(n, _)| *n == lower) {
        return Ok(*v);
    }
    expr.parse::<u32>()
        .map_err(|_| err(format!("failed to parse int from {expr}")))
}

fn range(expr: &str, b: &Bounds) -> Result<(u64, bool), ParseError> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_and_high.len() == 1;
    let (start, mut end, mut star) = if low_and_high[0] == "*" || low_and_high[0] == "?" {
        (b.min, b.max, true)
    } else {
        let start = number(low_and_high[0], b)?;
        let end = match low_and_high.len() {
            1 => start,
            2 => number(low_and_high[1], b)?,
            _ => return Err(err(format!("too many hyphens: {expr}"))),
        };
        (start, end, false)
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = range_and_step[1]
                .parse::<u32>()
                .map_err(|_| err(format!("failed to parse int from {}", range_and_step[1])))?;
            // "N/step" means "N-max/step".
            if single {
                end = b.max;
            }
            if step > 1 {
                star = false;
            }
            step
        }
        _ => return Err(err(format!("too many slashes: {expr}"))),
    };
    if start < b.min {
        return Err(err(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            b.min
        )));
    }
    if end > b.max {
        return Err(err(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            b.max
        )));
    }
    if start > end {
        return Err(err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        )));
    }
    if step == 0 {
        return Err(err(format!(
            "step of range should be a positive number: {expr}"
        )));
    }
    let bits = (start..=end)
        .step_by(step as usize)
        .fold(0u64, |acc, v| acc | (1u64 << v));
    Ok((bits, star))
}

impl Schedule {
    /// Parses a schedule as ESO's parser does.
    pub fn parse(spec: &str) -> Result<Self, ParseError> {
        if spec.is_empty() {
            return Err(err("empty spec string"));
        }
        // The CRD's pattern leaves no room for a `TZ=` prefix and five fields; what remains
        // fails in ESO too (four fields), and is refused here without a time-zone database.
        if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            return Err(err(
                "time zones are not supported: windows are evaluated in UTC",
            ));
        }
        if let Some(descriptor) = spec.strip_prefix('@') {
            return Self::descriptor(descriptor, spec);
        }
        let fields: Vec<&str> = spec.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(err(format!(
                "expected exactly 5 fields, found {}: {spec}",
                fields.len()
            )));
        }
        let (minute, _) = field(fields[0], &MINUTE)?;
        let (hour, _) = field(fields[1], &HOUR)?;
        let (dom, dom_star) = field(fields[2], &DOM)?;
        let (month, _) = field(fields[3], &MONTH)?;
        let (dow, dow_star) = field(fields[4], &DOW)?;
        Ok(Schedule::Spec {
            minute,
            hour,
            dom,
            month,
            dow,
            dom_star,
            dow_star,
        })
    }

    fn descriptor(name: &str, spec: &str) -> Result<Self, ParseError> {
        let all = |b: &Bounds| (b.min..=b.max).fold(0u64, |acc, v| acc | (1u64 << v));
        let spec_of =
            |minute: u64, hour: u64, dom: Option<u64>, month: Option<u64>, dow: Option<u64>| {
                Schedule::Spec {
                    minute,
                    hour,
                    dom: dom.unwrap_or_else(|| all(&DOM)),
                    month: month.unwrap_or_else(|| all(&MONTH)),
                    dow: dow.unwrap_or_else(|| all(&DOW)),
                    dom_star: dom.is_none(),
                    dow_star: dow.is_none(),
                }
            };
        match name {
            "yearly" | "annually" => Ok(spec_of(1, 1, Some(1 << 1), Some(1 << 1), None)),
            "monthly" => Ok(spec_of(1, 1, Some(1 << 1), None, None)),
            "weekly" => Ok(spec_of(1, 1, None, None, Some(1))),
            "daily" | "midnight" => Ok(spec_of(1, 1, None, None, None)),
            "hourly" => Ok(spec_of(1, all(&HOUR), None, None, None)),
            _ => match name.strip_prefix("every ") {
                Some(d) => {
                    let d: kube::core::Duration = d
                        .parse()
                        .map_err(|e| err(format!("failed to parse duration {spec}: {e}")))?;
                    let d = if d.is_negative() {
                        Duration::ZERO
                    } else {
                        Duration::from(d)
                    };
                    // At least a second, rounded down to whole seconds.
                    let secs = d.as_secs().max(1);
                    Ok(Schedule::Every(Duration::from_secs(secs)))
                }
                None => Err(err(format!("unrecognized descriptor: {spec}"))),
            },
        }
    }

    /// The first firing strictly after `t` (`None`: none within five years).
    pub fn next(&self, t: Timestamp) -> Option<Timestamp> {
        match self {
            Schedule::Every(d) => {
                let whole = Timestamp::from_second(t.as_second()).ok()?;
                whole.checked_add(SignedDuration::try_from(*d).ok()?).ok()
            }
            Schedule::Spec { .. } => self.next_spec(t),
        }
    }

    fn day_matches(&self, t: DateTime) -> bool {
        let Schedule::Spec {
            dom,
            dow,
            dom_star,
            dow_star,
            ..
        } = self
        else {
            return false;
        };
        let dom_match = dom & bit(t.day()) != 0;
        let dow_match = dow & bit(t.weekday().to_sunday_zero_offset()) != 0;
        if *dom_star || *dow_star {
            dom_match && dow_match
        } else {
            dom_match || dow_match
        }
    }

    /// robfig's `SpecSchedule.Next`, in UTC: the fields are matched from the month down, each
    /// step resetting the smaller fields the first time it moves.
    fn next_spec(&self, t: Timestamp) -> Option<Timestamp> {
        let Schedule::Spec {
            minute,
            hour,
            month,
            ..
        } = self
        else {
            return None;
        };
        let utc = TimeZone::UTC;
        // The next whole second after `t`.
        let start = Timestamp::from_second(t.as_second().checked_add(1)?).ok()?;
        let mut t = utc.to_datetime(start);
        let year_limit = t.year() + 5;
        let mut added = false;
        'wrap: loop {
            if t.year() > year_limit {
                return None;
            }
            while month & bit(t.month()) == 0 {
                if !added {
                    added = true;
                    t = at(t, Some(1), Some(0), Some(0), 0)?;
                }
                t = t.checked_add(1.month()).ok()?;
                if t.month() == 1 {
                    continue 'wrap;
                }
            }
            while !self.day_matches(t) {
                if !added {
                    added = true;
                    t = at(t, None, Some(0), Some(0), 0)?;
                }
                t = t.checked_add(1.day()).ok()?;
                if t.day() == 1 {
                    continue 'wrap;
                }
            }
            while hour & bit(t.hour()) == 0 {
                if !added {
                    added = true;
                    t = at(t, None, None, Some(0), 0)?;
                }
                t = t.checked_add(1.hour()).ok()?;
                if t.hour() == 0 {
                    continue 'wrap;
                }
            }
            while minute & bit(t.minute()) == 0 {
                if !added {
                    added = true;
                    t = at(t, None, None, None, 0)?;
                }
                t = t.checked_add(1.minute()).ok()?;
                if t.minute() == 0 {
                    continue 'wrap;
                }
            }
            // The seconds field is always 0.
            while t.second() != 0 {
                if !added {
                    added = true;
                    t = at(t, None, None, None, t.second())?;
                }
                t = t.checked_add(1.second()).ok()?;
                if t.second() == 0 {
                    continue 'wrap;
                }
            }
            return utc.to_timestamp(t).ok();
        }
    }

    /// The firing whose window contains `at` (open for `duration` after it, both ends
    /// included), if any: ESO's `isWithinSyncWindow`.
    pub fn open_window(&self, duration: Duration, at: Timestamp) -> Option<Timestamp> {
        let back = SignedDuration::try_from(duration)
            .ok()?
            .checked_add(SignedDuration::from_secs(1))?;
        let prev = self.next(at.checked_sub(back).ok()?)?;
        let end = prev
            .checked_add(SignedDuration::try_from(duration).ok()?)
            .ok()?;
        (prev <= at && at <= end).then_some(prev)
    }
}

fn bit(v: i8) -> u64 {
    1u64 << u32::try_from(v).unwrap_or(63).min(63)
}

/// `t` with its day, hour and minute replaced where given, its second set and its fraction
/// dropped (the truncations of robfig's `Next`).
fn at(
    t: DateTime,
    day: Option<i8>,
    hour: Option<i8>,
    minute: Option<i8>,
    second: i8,
) -> Option<DateTime> {
    DateTime::new(
        t.year(),
        t.month(),
        day.unwrap_or(t.day()),
        hour.unwrap_or(t.hour()),
        minute.unwrap_or(t.minute()),
        second,
        0,
    )
    .ok()
}

/// One window that parsed.
struct Window {
    schedule: Schedule,
    duration: Duration,
}

fn windows(sw: &ExternalSecretSyncWindows) -> Vec<Window> {
    sw.windows
        .iter()
        .filter_map(|w| {
            let schedule = Schedule::parse(&w.schedule)
                .inspect_err(|e| {
                    tracing::debug!(schedule = %w.schedule, error = %e, "ignoring unparseable sync window schedule");
                })
                .ok()?;
            let duration: kube::core::Duration = w
                .duration
                .parse()
                .inspect_err(|_| {
                    tracing::debug!(duration = %w.duration, "ignoring sync window with an unparseable duration");
                })
                .ok()?;
            // A negative duration opens no window (ESO: `at` can never be before the end).
            let duration = (!duration.is_negative()).then(|| Duration::from(duration))?;
            Some(Window { schedule, duration })
        })
        .collect()
}

/// Whether `sw` lets a periodic refresh happen at `at` (ESO's
/// `isPeriodicRefreshAllowedByWindows`): no windows, always; `deny`, unless one is open;
/// `allow`, only while one is open.
pub fn allows(sw: Option<&ExternalSecretSyncWindows>, at: Timestamp) -> bool {
    let Some(sw) = sw.filter(|sw| !sw.windows.is_empty()) else {
        return true;
    };
    let open = windows(sw)
        .iter()
        .any(|w| w.schedule.open_window(w.duration, at).is_some());
    match sw.kind {
        SyncWindowKind::Deny => !open,
        SyncWindowKind::Allow => open,
    }
}

/// The next instant after `at` when the windows may change their answer: an open window
/// closing, or the next firing of any window. `None` when no window will ever open or close.
pub fn next_change(sw: &ExternalSecretSyncWindows, at: Timestamp) -> Option<Timestamp> {
    windows(sw)
        .iter()
        .filter_map(|w| {
            let closes = w.schedule.open_window(w.duration, at).and_then(|opened| {
                let d = SignedDuration::try_from(w.duration).ok()?;
                opened
                    .checked_add(d)
                    .ok()?
                    .checked_add(SignedDuration::from_secs(1))
                    .ok()
            });
            let opens = w.schedule.next(at);
            match (closes, opens) {
                (Some(c), Some(o)) => Some(c.min(o)),
                (c, o) => c.or(o),
            }
        })
        .min()
}

#[cfg(test)]
#[path = "sync_window_tests.rs"]
mod tests;
