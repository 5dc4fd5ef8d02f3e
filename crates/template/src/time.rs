//! `time.Time` in UTC: Go layouts (`Format`, `ParseInLocation`), durations.
//! There is no time zone database: every time is UTC (ESO runs in UTC containers).

/// An instant, as Go's `time.Time` in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct GoTime {
    /// Seconds since the Unix epoch.
    pub unix: i64,
    /// Nanoseconds within the second, `0..1_000_000_000`.
    pub nanos: u32,
    /// Zone offset in seconds east of UTC (0 = UTC), as parsed by `toDate`.
    pub offset: i32,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Broken-down fields of a time.
struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    min: i64,
    sec: i64,
    nanos: u32,
    weekday: usize,
    yday: i64,
    offset: i32,
}

impl GoTime {
    /// From Unix seconds.
    pub fn from_unix(unix: i64) -> GoTime {
        GoTime {
            unix,
            nanos: 0,
            offset: 0,
        }
    }

    /// Builds a time from civil UTC fields.
    pub fn from_civil(
        year: i64,
        month: i64,
        day: i64,
        hour: i64,
        min: i64,
        sec: i64,
        nanos: u32,
    ) -> GoTime {
        let days = days_from_civil(year, month, day);
        GoTime {
            unix: days * 86_400 + hour * 3600 + min * 60 + sec,
            nanos,
            offset: 0,
        }
    }

    /// Parses RFC 3339 (`2024-05-06T07:08:09Z`, fractional seconds and offsets allowed).
    pub fn parse_rfc3339(s: &str) -> Option<GoTime> {
        parse_layout("2006-01-02T15:04:05Z07:00", s).ok()
    }

    fn civil(&self) -> Civil {
        let local = self.unix + i64::from(self.offset);
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: secs / 3600,
            min: secs % 3600 / 60,
            sec: secs % 60,
            nanos: self.nanos,
            weekday: (days + 4).rem_euclid(7) as usize,
            yday: days - days_from_civil(year, 1, 1) + 1,
            offset: self.offset,
        }
    }

    /// Adds a duration in nanoseconds.
    pub fn add_nanos(&self, d: i64) -> GoTime {
        let total = i128::from(self.unix) * 1_000_000_000 + i128::from(self.nanos) + i128::from(d);
        GoTime {
            unix: total.div_euclid(1_000_000_000) as i64,
            nanos: total.rem_euclid(1_000_000_000) as u32,
            offset: self.offset,
        }
    }

    /// `self - other` in nanoseconds, saturating like Go's `Sub`.
    pub fn sub_nanos(&self, other: &GoTime) -> i64 {
        let a = i128::from(self.unix) * 1_000_000_000 + i128::from(self.nanos);
        let b = i128::from(other.unix) * 1_000_000_000 + i128::from(other.nanos);
        (a - b).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// `t.String()`: `2006-01-02 15:04:05.999999999 -0700 MST`.
    pub fn go_string(&self) -> String {
        self.format("2006-01-02 15:04:05.999999999 -0700 MST")
    }

    /// RFC 3339 with nanoseconds, as `encoding/json` marshals a time.
    pub fn rfc3339_nano(&self) -> String {
        self.format("2006-01-02T15:04:05.999999999Z07:00")
    }

    /// `t.Format(layout)` in UTC.
    pub fn format(&self, layout: &str) -> String {
        let c = self.civil();
        let mut out = String::new();
        let mut rest = layout;
        while !rest.is_empty() {
            let (prefix, chunk, suffix) = next_chunk(rest);
            out.push_str(prefix);
            rest = suffix;
            let Some(chunk) = chunk else { break };
            fmt_chunk(&mut out, chunk, &c);
        }
        out
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Chunk {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    TzName,
    /// Numeric zone; the bool says whether `Z` stands for UTC (ISO 8601 form).
    Zone(&'static str, bool),
    /// Fractional seconds: digits, whether trailing zeros are trimmed (`9`s).
    Frac(usize, bool),
}

const ZONES: [(&str, bool); 10] = [
    ("Z07:00:00", true),
    ("-07:00:00", false),
    ("Z070000", true),
    ("-070000", false),
    ("Z07:00", true),
    ("-07:00", false),
    ("Z0700", true),
    ("-0700", false),
    ("Z07", true),
    ("-07", false),
];

/// Finds the first layout element: (text before, element, text after).
fn next_chunk(layout: &str) -> (&str, Option<Chunk>, &str) {
    let b = layout.as_bytes();
    for i in 0..b.len() {
        let s = &layout[i..];
        let found: Option<(Chunk, usize)> = match b[i] {
            b'J' if s.starts_with("January") => Some((Chunk::LongMonth, 7)),
            b'J' if s.starts_with("Jan") => Some((Chunk::Month, 3)),
            b'M' if s.starts_with("Monday") => Some((Chunk::LongWeekDay, 6)),
            b'M' if s.starts_with("Mon") => Some((Chunk::WeekDay, 3)),
            b'M' if s.starts_with("MST") => Some((Chunk::TzName, 3)),
            b'0' if s.len() >= 2 && (b'1'..=b'6').contains(&b[i + 1]) => Some((
                [
                    Chunk::ZeroMonth,
                    Chunk::ZeroDay,
                    Chunk::ZeroHour12,
                    Chunk::ZeroMinute,
                    Chunk::ZeroSecond,
                    Chunk::Year,
                ][usize::from(b[i + 1] - b'1')],
                2,
            )),
            b'0' if s.starts_with("002") => Some((Chunk::ZeroYearDay, 3)),
            b'1' if s.starts_with("15") => Some((Chunk::Hour, 2)),
            b'1' => Some((Chunk::NumMonth, 1)),
            b'2' if s.starts_with("2006") => Some((Chunk::LongYear, 4)),
            b'2' => Some((Chunk::Day, 1)),
            b'_' if s.starts_with("_2006") => None,
            b'_' if s.starts_with("__2") => Some((Chunk::UnderYearDay, 3)),
            b'_' if s.starts_with("_2") => Some((Chunk::UnderDay, 2)),
            b'3' => Some((Chunk::Hour12, 1)),
            b'4' => Some((Chunk::Minute, 1)),
            b'5' => Some((Chunk::Second, 1)),
            b'P' if s.starts_with("PM") => Some((Chunk::PM, 2)),
            b'p' if s.starts_with("pm") => Some((Chunk::Pm, 2)),
            b'-' | b'Z' => ZONES
                .iter()
                .find(|(z, _)| s.starts_with(z))
                .map(|(z, iso)| (Chunk::Zone(z, *iso), z.len())),
            b'.' | b',' if s.len() >= 2 && (b[i + 1] == b'0' || b[i + 1] == b'9') => {
                let d = b[i + 1];
                let n = s[1..].bytes().take_while(|c| *c == d).count();
                let after = s.as_bytes().get(1 + n);
                if after.is_some_and(u8::is_ascii_digit) {
                    None
                } else {
                    Some((Chunk::Frac(n, d == b'9'), 1 + n))
                }
            }
            _ => None,
        };
        if let Some((chunk, len)) = found {
            return (&layout[..i], Some(chunk), &layout[i + len..]);
        }
    }
    (layout, None, "")
}

fn fmt_chunk(out: &mut String, chunk: Chunk, c: &Civil) {
    use std::fmt::Write as _;
    let month = MONTHS[(c.month - 1) as usize];
    let h12 = if c.hour % 12 == 0 { 12 } else { c.hour % 12 };
    let _ = match chunk {
        Chunk::LongMonth => write!(out, "{month}"),
        Chunk::Month => write!(out, "{}", &month[..3]),
        Chunk::NumMonth => write!(out, "{}", c.month),
        Chunk::ZeroMonth => write!(out, "{:02}", c.month),
        Chunk::LongWeekDay => write!(out, "{}", DAYS[c.weekday]),
        Chunk::WeekDay => write!(out, "{}", &DAYS[c.weekday][..3]),
        Chunk::Day => write!(out, "{}", c.day),
        Chunk::UnderDay => write!(out, "{:>2}", c.day),
        Chunk::ZeroDay => write!(out, "{:02}", c.day),
        Chunk::UnderYearDay => write!(out, "{:>3}", c.yday),
        Chunk::ZeroYearDay => write!(out, "{:03}", c.yday),
        Chunk::Hour => write!(out, "{:02}", c.hour),
        Chunk::Hour12 => write!(out, "{h12}"),
        Chunk::ZeroHour12 => write!(out, "{h12:02}"),
        Chunk::Minute => write!(out, "{}", c.min),
        Chunk::ZeroMinute => write!(out, "{:02}", c.min),
        Chunk::Second => write!(out, "{}", c.sec),
        Chunk::ZeroSecond => write!(out, "{:02}", c.sec),
        Chunk::LongYear => write!(out, "{:04}", c.year),
        Chunk::Year => write!(out, "{:02}", c.year.rem_euclid(100)),
        Chunk::PM => write!(out, "{}", if c.hour >= 12 { "PM" } else { "AM" }),
        Chunk::Pm => write!(out, "{}", if c.hour >= 12 { "pm" } else { "am" }),
        Chunk::TzName if c.offset == 0 => write!(out, "UTC"),
        Chunk::TzName => write_zone(out, "-0700", c.offset),
        Chunk::Zone(_, true) if c.offset == 0 => write!(out, "Z"),
        Chunk::Zone(z, _) => write_zone(out, z, c.offset),
        Chunk::Frac(n, trim) => {
            let digits = format!("{:09}", c.nanos);
            let mut d = &digits[..n.min(9)];
            if trim {
                d = d.trim_end_matches('0');
                if d.is_empty() {
                    return;
                }
            }
            write!(out, ".{d}")
        }
    };
}

fn write_zone(out: &mut String, z: &str, offset: i32) -> std::fmt::Result {
    use std::fmt::Write as _;
    let sign = if offset < 0 { '-' } else { '+' };
    let o = offset.unsigned_abs();
    let (h, m, s) = (o / 3600, o % 3600 / 60, o % 60);
    let colon = z.contains(':');
    let parts = z.bytes().filter(u8::is_ascii_digit).count() / 2;
    write!(out, "{sign}{h:02}")?;
    if parts >= 2 {
        write!(out, "{}{m:02}", if colon { ":" } else { "" })?;
    }
    if parts >= 3 {
        write!(out, "{}{s:02}", if colon { ":" } else { "" })?;
    }
    Ok(())
}

/// `time.ParseInLocation(layout, value, UTC)`; the error text is not Go's.
pub fn parse_layout(layout: &str, value: &str) -> Result<GoTime, String> {
    let bad = || format!("parsing time {value:?} as {layout:?}: cannot parse");
    let (mut year, mut month, mut day, mut hour, mut min, mut sec, mut nanos) =
        (1i64, 1i64, 1i64, 0i64, 0, 0, 0u32);
    let mut pm: Option<bool> = None;
    let mut offset = 0i64;
    let (mut rest_l, mut v) = (layout, value);
    loop {
        let (prefix, chunk, suffix) = next_chunk(rest_l);
        v = v.strip_prefix(prefix).ok_or_else(bad)?;
        rest_l = suffix;
        let Some(chunk) = chunk else { break };
        let num = |v: &mut &str, min_len: usize, max_len: usize| -> Result<i64, String> {
            let n = v
                .bytes()
                .take(max_len)
                .take_while(u8::is_ascii_digit)
                .count();
            if n < min_len {
                return Err(bad());
            }
            let r = v[..n].parse::<i64>().map_err(|_| bad())?;
            *v = &v[n..];
            Ok(r)
        };
        match chunk {
            Chunk::LongYear => year = num(&mut v, 4, 4)?,
            Chunk::Year => year = 1900 + num(&mut v, 2, 2)?,
            Chunk::ZeroMonth => month = num(&mut v, 2, 2)?,
            Chunk::NumMonth => month = num(&mut v, 1, 2)?,
            Chunk::LongMonth | Chunk::Month => {
                let i = MONTHS.iter().position(|m| {
                    let m = if chunk == Chunk::Month { &m[..3] } else { m };
                    v.len() >= m.len() && v[..m.len()].eq_ignore_ascii_case(m)
                });
                let i = i.ok_or_else(bad)?;
                v = &v[if chunk == Chunk::Month {
                    3
                } else {
                    MONTHS[i].len()
                }..];
                month = i as i64 + 1;
            }
            Chunk::LongWeekDay | Chunk::WeekDay => {
                let i = DAYS.iter().position(|d| {
                    let d = if chunk == Chunk::WeekDay { &d[..3] } else { d };
                    v.len() >= d.len() && v[..d.len()].eq_ignore_ascii_case(d)
                });
                let i = i.ok_or_else(bad)?;
                v = &v[if chunk == Chunk::WeekDay {
                    3
                } else {
                    DAYS[i].len()
                }..];
            }
            Chunk::ZeroDay => day = num(&mut v, 2, 2)?,
            Chunk::Day => day = num(&mut v, 1, 2)?,
            Chunk::UnderDay => {
                v = v.strip_prefix(' ').unwrap_or(v);
                day = num(&mut v, 1, 2)?;
            }
            Chunk::Hour => hour = num(&mut v, 2, 2)?,
            Chunk::Hour12 => hour = num(&mut v, 1, 2)?,
            Chunk::ZeroHour12 => hour = num(&mut v, 2, 2)?,
            Chunk::Minute => min = num(&mut v, 1, 2)?,
            Chunk::ZeroMinute => min = num(&mut v, 2, 2)?,
            Chunk::Second => sec = num(&mut v, 1, 2)?,
            Chunk::ZeroSecond => {
                sec = num(&mut v, 2, 2)?;
                // Go accepts a fractional second after seconds even when the layout has none.
                if rest_l
                    .as_bytes()
                    .first()
                    .is_none_or(|c| *c != b'.' && *c != b',')
                    && v.starts_with('.')
                {
                    let n = v[1..].bytes().take_while(u8::is_ascii_digit).count();
                    if n > 0 {
                        nanos = frac_nanos(&v[1..1 + n]);
                        v = &v[1 + n..];
                    }
                }
            }
            Chunk::PM | Chunk::Pm => {
                let p = v.get(..2).ok_or_else(bad)?.to_ascii_uppercase();
                pm = Some(match p.as_str() {
                    "PM" => true,
                    "AM" => false,
                    _ => return Err(bad()),
                });
                v = &v[2..];
            }
            Chunk::TzName => {
                let n = v.bytes().take_while(u8::is_ascii_uppercase).count();
                if n < 3 {
                    return Err(bad());
                }
                v = &v[n..];
            }
            Chunk::Zone(z, iso) => {
                if iso && v.starts_with('Z') {
                    v = &v[1..];
                    continue;
                }
                let sign = match v.as_bytes().first() {
                    Some(b'+') => 1,
                    Some(b'-') => -1,
                    _ => return Err(bad()),
                };
                v = &v[1..];
                let colon = z.contains(':');
                let parts = z.bytes().filter(u8::is_ascii_digit).count() / 2;
                let mut secs = 0;
                for (i, mult) in [3600, 60, 1].iter().take(parts).enumerate() {
                    if i > 0 && colon {
                        v = v.strip_prefix(':').ok_or_else(bad)?;
                    }
                    secs += num(&mut v, 2, 2)? * mult;
                }
                offset = sign * secs;
            }
            Chunk::Frac(n, trim) => {
                let Some(rest) = v.strip_prefix('.').or_else(|| v.strip_prefix(',')) else {
                    if trim {
                        continue;
                    }
                    return Err(bad());
                };
                let k = rest.bytes().take_while(u8::is_ascii_digit).count();
                if !trim && k != n {
                    return Err(bad());
                }
                nanos = frac_nanos(&rest[..k]);
                v = &rest[k..];
            }
            Chunk::UnderYearDay | Chunk::ZeroYearDay => {
                num(&mut v, 3, 3)?;
            }
        }
    }
    if !v.is_empty() {
        return Err(format!("parsing time {value:?}: extra text: {v:?}"));
    }
    match pm {
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let mdays = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let range = |what: &str| {
        Err(format!(
            "parsing time {}: {what} out of range",
            crate::gofmt::quote(value)
        ))
    };
    if !(1..=12).contains(&month) {
        return range("month");
    }
    if day < 1 || day > mdays[(month - 1) as usize] {
        return range("day");
    }
    if hour > 23 {
        return range("hour");
    }
    if min > 59 {
        return range("minute");
    }
    if sec > 59 {
        return range("second");
    }
    let mut t = GoTime::from_civil(year, month, day, hour, min, sec, nanos)
        .add_nanos(-offset * 1_000_000_000);
    t.offset = offset as i32;
    Ok(t)
}

fn frac_nanos(digits: &str) -> u32 {
    let mut s: String = digits.chars().take(9).collect();
    while s.len() < 9 {
        s.push('0');
    }
    s.parse().unwrap_or(0)
}

/// `time.Duration(ns).String()`.
pub fn duration_string(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&frac_string(u, div));
        out.push_str(unit);
    } else {
        let secs = u / 1_000_000_000;
        let (h, m) = (secs / 3600, secs % 3600 / 60);
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&frac_string(u % 60_000_000_000, 1_000_000_000));
        out.push('s');
    }
    if neg { format!("-{out}") } else { out }
}

fn frac_string(v: u64, div: u64) -> String {
    let whole = v / div;
    let frac = v % div;
    if frac == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let f = format!("{frac:0width$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

/// `time.ParseDuration`.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let err = || format!("time: invalid duration {s:?}");
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(err());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let n = rest
            .bytes()
            .take_while(|c| c.is_ascii_digit() || *c == b'.')
            .count();
        if n == 0 {
            return Err(err());
        }
        let num: f64 = rest[..n].parse().map_err(|_| err())?;
        rest = &rest[n..];
        let u = rest
            .bytes()
            .take_while(|c| !c.is_ascii_digit() && *c != b'.')
            .count();
        let unit = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            other => return Err(format!("time: unknown unit {other:?} in duration {s:?}")),
        };
        rest = &rest[u..];
        total += num * unit;
    }
    let t = if neg { -total } else { total };
    Ok(t.round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let t = GoTime::from_civil(2024, 5, 6, 7, 8, 9, 120_000_000);
        assert_eq!(t.go_string(), "2024-05-06 07:08:09.12 +0000 UTC");
        assert_eq!(
            t.format("Mon Jan _2 3:04PM 2006 -07:00 Z07:00 .000"),
            "Mon May  6 7:08AM 2024 +00:00 Z .120"
        );
        assert_eq!(
            parse_layout("2006-01-02", "2024-02-29"),
            Ok(GoTime::from_civil(2024, 2, 29, 0, 0, 0, 0))
        );
        assert_eq!(duration_string(3_723_500_000_000), "1h2m3.5s");
        assert_eq!(parse_duration("-1.5h"), Ok(-5_400_000_000_000));
    }
}
