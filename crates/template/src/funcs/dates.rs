//! sprig date functions. The clock is `Env::now`; there is no zone database (UTC only).

use super::{Ctx, Func, Ty, f, s, to_int64};
use crate::time::{GoTime, duration_string, parse_duration, parse_layout};
use crate::value::Value;

/// A date argument as sprig's `dateInZone` reads it; anything else means "now".
fn as_time(c: &Ctx<'_>, v: &Value) -> GoTime {
    match v {
        Value::Time(t) => GoTime { offset: 0, ..*t },
        Value::Int(i) | Value::Int64(i) => GoTime::from_unix(*i),
        _ => c.env.now,
    }
}

fn st(x: String) -> Result<Value, String> {
    Ok(Value::String(x))
}

pub fn lookup(name: &str) -> Option<Func> {
    use Ty::{Any, Str, Time};
    Some(match name {
        "now" => f(&[], |c, _| Ok(Value::Time(c.env.now))),
        "date" => f(&[Str, Any], |c, a| st(as_time(c, &a[1]).format(s(&a[0])))),
        "dateInZone" | "date_in_zone" => f(&[Str, Any, Str], |c, a| {
            st(as_time(c, &a[1]).format(s(&a[0])))
        }),
        "htmlDate" => f(&[Any], |c, a| st(as_time(c, &a[0]).format("2006-01-02"))),
        "htmlDateInZone" => f(&[Any, Str], |c, a| {
            st(as_time(c, &a[0]).format("2006-01-02"))
        }),
        "ago" => f(&[Any], |c, a| {
            let d = c.env.now.sub_nanos(&as_time(c, &a[0]));
            st(duration_string(round_to_second(d)))
        }),
        "toDate" => f(&[Str, Str], |_, a| {
            Ok(Value::Time(
                parse_layout(s(&a[0]), s(&a[1])).unwrap_or(ZERO),
            ))
        }),
        "mustToDate" => f(&[Str, Str], |_, a| {
            parse_layout(s(&a[0]), s(&a[1])).map(Value::Time)
        }),
        "unixEpoch" => f(&[Time], |_, a| st(as_unix(&a[0]).to_string())),
        "dateModify" | "date_modify" => f(&[Str, Time], |_, a| {
            let t = time_of(&a[1]);
            Ok(Value::Time(
                parse_duration(s(&a[0])).map_or(t, |d| t.add_nanos(d)),
            ))
        }),
        "mustDateModify" | "must_date_modify" => f(&[Str, Time], |_, a| {
            Ok(Value::Time(
                time_of(&a[1]).add_nanos(parse_duration(s(&a[0]))?),
            ))
        }),
        "duration" => f(&[Any], |_, a| {
            let n = match &a[0] {
                Value::String(x) => x.parse::<i64>().unwrap_or(0),
                Value::Int64(n) => *n,
                _ => 0,
            };
            st(duration_string(n.saturating_mul(1_000_000_000)))
        }),
        "durationRound" => f(&[Any], |c, a| {
            let d = match &a[0] {
                Value::String(x) => parse_duration(x).unwrap_or(0),
                Value::Int64(n) => *n,
                Value::Time(t) => c.env.now.sub_nanos(t),
                _ => 0,
            };
            st(duration_round(d))
        }),
        _ => return None,
    })
}

const ZERO: GoTime = GoTime {
    unix: -62_135_596_800,
    nanos: 0,
    offset: 0,
};

fn time_of(v: &Value) -> GoTime {
    match v {
        Value::Time(t) => *t,
        _ => ZERO,
    }
}

fn as_unix(v: &Value) -> i64 {
    time_of(v).unix
}

/// Go's `Duration.Round(time.Second)`: halves away from zero, saturating at the `int64` range
/// (`ago` of a time 292 years away overflowed and panicked before, issue 17).
fn round_to_second(d: i64) -> i64 {
    let s = 1_000_000_000i64;
    let r = d % s;
    let half = s / 2;
    if d < 0 {
        if -r < half {
            d - r
        } else {
            (d - r).checked_sub(s).unwrap_or(i64::MIN)
        }
    } else if r < half {
        d - r
    } else {
        (d - r).checked_add(s).unwrap_or(i64::MAX)
    }
}

fn duration_round(d: i64) -> String {
    let u = d.unsigned_abs();
    let (year, month, day, hour, minute, second) = (
        3600e9 as u64 * 24 * 365,
        3600e9 as u64 * 24 * 30,
        3600e9 as u64 * 24,
        3600e9 as u64,
        60e9 as u64,
        1e9 as u64,
    );
    if u > year {
        format!("{}y", u / year)
    } else if u > month {
        format!("{}mo", u / month)
    } else if u > day {
        format!("{}d", u / day)
    } else if u > hour {
        format!("{}h", u / hour)
    } else if u > minute {
        format!("{}m", u / minute)
    } else if u > second {
        format!("{}s", u / second)
    } else {
        "0s".into()
    }
}

/// Methods callable on a `time.Time` (`{{ now.Unix }}`, `{{ (now).Format "2006" }}`).
pub fn time_method(name: &str) -> Option<Func> {
    use Ty::{Int64, Str};
    Some(match name {
        "Unix" => f(&[], |_, a| Ok(Value::Int64(as_unix(&a[0])))),
        "UnixNano" => f(&[], |_, a| {
            let t = time_of(&a[0]);
            Ok(Value::Int64(
                t.unix
                    .saturating_mul(1_000_000_000)
                    .saturating_add(i64::from(t.nanos)),
            ))
        }),
        "UnixMilli" => f(&[], |_, a| {
            let t = time_of(&a[0]);
            Ok(Value::Int64(t.unix * 1000 + i64::from(t.nanos / 1_000_000)))
        }),
        "Format" => f(&[Str], |_, a| st(time_of(&a[0]).format(s(&a[1])))),
        "UTC" | "Local" => f(&[], |_, a| {
            Ok(Value::Time(GoTime {
                offset: 0,
                ..time_of(&a[0])
            }))
        }),
        "Year" => f(&[], |_, a| {
            Ok(Value::Int(to_int64(&Value::String(
                time_of(&a[0]).format("2006"),
            ))))
        }),
        "YearDay" => f(&[], |_, a| {
            Ok(Value::Int(
                time_of(&a[0]).format("002").parse().unwrap_or(0),
            ))
        }),
        "Day" => f(&[], |_, a| {
            Ok(Value::Int(time_of(&a[0]).format("2").parse().unwrap_or(0)))
        }),
        "Hour" => f(&[], |_, a| {
            Ok(Value::Int(time_of(&a[0]).format("15").parse().unwrap_or(0)))
        }),
        "Minute" => f(&[], |_, a| {
            Ok(Value::Int(time_of(&a[0]).format("4").parse().unwrap_or(0)))
        }),
        "Second" => f(&[], |_, a| {
            Ok(Value::Int(time_of(&a[0]).format("5").parse().unwrap_or(0)))
        }),
        "Nanosecond" => f(&[], |_, a| Ok(Value::Int(i64::from(time_of(&a[0]).nanos)))),
        "String" => f(&[], |_, a| st(time_of(&a[0]).go_string())),
        "Add" => f(&[Int64], |_, a| {
            Ok(Value::Time(time_of(&a[0]).add_nanos(super::i(&a[1]))))
        }),
        _ => return None,
    })
}
