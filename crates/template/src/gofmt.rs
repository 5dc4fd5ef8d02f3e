//! Go's `fmt` (`Sprint`, `Sprintln`, `Sprintf` verbs) and `strconv` quoting.

use std::fmt::Write as _;

use crate::value::Value;

/// `strconv.Quote`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        escape_char(&mut out, c, '"');
    }
    out.push('"');
    out
}

fn escape_char(out: &mut String, c: char, q: char) {
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        '\\' => out.push_str("\\\\"),
        c if c == q => {
            out.push('\\');
            out.push(c);
        }
        '\u{FFFD}' => out.push_str("\\ufffd"),
        c if (c as u32) < 0x20 || c == '\x7f' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if !is_print(c) => {
            if (c as u32) < 0x10000 {
                let _ = write!(out, "\\u{:04x}", c as u32);
            } else {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
        c => out.push(c),
    }
}

/// Approximates `unicode.IsPrint`.
pub fn is_print(c: char) -> bool {
    !(c.is_control()
        || matches!(c as u32, 0x80..=0x9f | 0xad | 0x2028 | 0x2029 | 0xfeff | 0xe000..=0xf8ff))
        && (c == ' ' || !c.is_whitespace())
}

/// `%#U`: `U+0041 'A'`.
pub fn unicode_u(c: char) -> String {
    if is_print(c) {
        format!("U+{:04X} '{c}'", c as u32)
    } else {
        format!("U+{:04X}", c as u32)
    }
}

/// `strconv.Unquote` for `"..."`, `` `...` `` and `'...'` literals.
pub fn unquote(s: &str) -> Result<String, String> {
    let bad = || "invalid syntax".to_string();
    if s.len() < 2 {
        return Err(bad());
    }
    let q = s.as_bytes()[0];
    if q != s.as_bytes()[s.len() - 1] {
        return Err(bad());
    }
    let inner = &s[1..s.len() - 1];
    match q {
        b'`' => Ok(inner.replace('\r', "")),
        b'"' => {
            let mut out = String::new();
            let mut rest = inner;
            while !rest.is_empty() {
                let (c, r) = unquote_char(rest, '"')?;
                out.push(c);
                rest = r;
            }
            Ok(out)
        }
        _ => Err(bad()),
    }
}

/// `strconv.UnquoteChar`: one (possibly escaped) character and the rest.
pub fn unquote_char(s: &str, q: char) -> Result<(char, &str), String> {
    let bad = || "invalid syntax".to_string();
    let mut chars = s.chars();
    let c = chars.next().ok_or_else(bad)?;
    if c == q && q != '`' {
        return Err(bad());
    }
    if c != '\\' {
        return Ok((c, chars.as_str()));
    }
    let e = chars.next().ok_or_else(bad)?;
    let rest = chars.as_str();
    let simple = match e {
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'f' => Some('\x0c'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\x0b'),
        '\\' => Some('\\'),
        '\'' | '"' if e == q => Some(e),
        _ => None,
    };
    if let Some(c) = simple {
        return Ok((c, rest));
    }
    let hex = |n: usize| -> Result<(char, &str), String> {
        let h = rest.get(..n).ok_or_else(bad)?;
        let v = u32::from_str_radix(h, 16).map_err(|_| bad())?;
        Ok((char::from_u32(v).ok_or_else(bad)?, &rest[n..]))
    };
    match e {
        'x' => hex(2),
        'u' => hex(4),
        'U' => hex(8),
        '0'..='7' => {
            let o = s.get(1..4).ok_or_else(bad)?;
            let v = u32::from_str_radix(o, 8).map_err(|_| bad())?;
            if v > 255 {
                return Err(bad());
            }
            Ok((char::from_u32(v).ok_or_else(bad)?, &s[4..]))
        }
        _ => Err(bad()),
    }
}

/// `strconv.FormatFloat(f, 'g', -1, 64)` with Go's exponent form (`1e+06`).
pub fn float_g(f: f64, prec: Option<usize>, upper: bool) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    // Shortest (or `prec` significant) digits via Rust's exact formatting.
    let sci = match prec {
        None => format!("{f:e}"),
        Some(p) => format!("{:.*e}", p.max(1) - 1, f),
    };
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let mut digits = digits.trim_end_matches('0').to_string();
    if digits.is_empty() {
        digits.push('0');
    }
    let (nd, dp) = (digits.len() as i32, exp + 1);
    let limit = match prec {
        None => 6,
        Some(p) => {
            let p = p.max(1) as i32;
            if p > nd && nd >= dp { nd } else { p }
        }
    };
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if exp < -4 || exp >= limit {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(
            out,
            "{}{}{:02}",
            if upper { 'E' } else { 'e' },
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        );
    } else if exp < 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-exp - 1) as usize));
        out.push_str(&digits);
    } else {
        let e = exp as usize;
        if digits.len() > e + 1 {
            out.push_str(&digits[..=e]);
            out.push('.');
            out.push_str(&digits[e + 1..]);
        } else {
            out.push_str(&digits);
            out.push_str(&"0".repeat(e + 1 - digits.len()));
        }
    }
    out
}

/// `%v` of a float (`strconv` 'g' shortest).
pub fn float_v(f: f64) -> String {
    float_g(f, None, false)
}

/// `%e` with a precision.
pub fn float_e(f: f64, prec: usize, upper: bool) -> String {
    if !f.is_finite() {
        return float_g(f, None, upper);
    }
    let s = format!("{f:.prec$e}");
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    format!(
        "{m}{}{}{:02}",
        if upper { 'E' } else { 'e' },
        if e < 0 { '-' } else { '+' },
        e.abs()
    )
}

/// `fmt.Sprint(v)` of one value (`%v`).
pub fn sprint_value(out: &mut String, v: &Value) {
    match v {
        Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&float_v(*f)),
        Value::String(s) => out.push_str(s),
        Value::Bytes(b) => {
            out.push('[');
            for (i, x) in b.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                let _ = write!(out, "{x}");
            }
            out.push(']');
        }
        Value::List(l, _) => {
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                sprint_value(out, x);
            }
            out.push(']');
        }
        Value::Map(m, _) => {
            out.push_str("map[");
            for (i, (k, x)) in m.borrow().iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                sprint_value(out, x);
            }
            out.push(']');
        }
        Value::Time(t) => out.push_str(&t.go_string()),
        Value::Uint64(u) => {
            let _ = write!(out, "{u}");
        }
        Value::Object(o) => out.push_str(&o.go_string()),
    }
}

/// `%v` of one value as a new string.
pub fn to_v(v: &Value) -> String {
    let mut s = String::new();
    sprint_value(&mut s, v);
    s
}

/// `fmt.Sprint(args...)`: spaces between operands when neither side is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = matches!(a, Value::String(_));
        if i > 0 && !is_str && !matches!(args[i - 1], Value::String(_)) {
            out.push(' ');
        }
        sprint_value(&mut out, a);
    }
    out
}

/// `fmt.Sprintln(args...)`.
pub fn sprintln(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        sprint_value(&mut out, a);
    }
    out.push('\n');
    out
}

pub use crate::gofmt_printf::sprintf;
