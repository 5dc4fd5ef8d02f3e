//! `fmt.Sprintf` for the verbs templates use: `%v %s %d %q %x %X %o %b %c %U %t %f %F %e %E %g %G %%`,
//! flags `-+# 0`, widths and precisions (`*` included).

use std::fmt::Write as _;

use crate::gofmt::{float_e, float_g, quote, sprint_value, to_v};
use crate::value::Value;

#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Go's `tooLarge`: a width or precision past 1e6 is refused (`%!(BADWIDTH)`, or `%!(NOVERB)`
/// for a longer run of digits, which Go stops reading), so none allocates without bound.
const MAX_WIDTH: usize = 1_000_000;

/// A width or precision as read from the format.
enum Num {
    /// Digits (or none).
    Digits(Option<usize>),
    /// `*`: the argument, when it is an integer within [`MAX_WIDTH`].
    Star(Option<i64>),
    /// Digits past [`MAX_WIDTH`]: Go gives up on the rest of the format.
    TooLong,
}

/// `fmt.Sprintf(format, args...)`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut argi = 0;
    let mut chars = format.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&(_, f)) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                ' ' => spec.space = true,
                '0' => spec.zero = !spec.minus,
                _ => break,
            }
            chars.next();
        }
        let num = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>, argi: &mut usize| {
            if chars.peek().is_some_and(|(_, c)| *c == '*') {
                chars.next();
                let v = match args.get(*argi) {
                    Some(Value::Int(i) | Value::Int64(i)) => Some(*i),
                    _ => None,
                };
                *argi += 1;
                return Num::Star(v.filter(|i| i.unsigned_abs() <= MAX_WIDTH as u64));
            }
            let mut n: Option<usize> = None;
            while let Some(&(_, d)) = chars.peek() {
                let Some(v) = d.to_digit(10) else { break };
                let so_far = n.unwrap_or(0);
                if so_far > MAX_WIDTH {
                    return Num::TooLong;
                }
                n = Some(so_far * 10 + v as usize);
                chars.next();
            }
            Num::Digits(n)
        };
        match num(&mut chars, &mut argi) {
            Num::Digits(n) => spec.width = n,
            Num::Star(Some(w)) => {
                // A negative `*` width pads on the right (Go).
                spec.width = Some(w.unsigned_abs() as usize);
                if w < 0 {
                    spec.minus = true;
                    spec.zero = false;
                }
            }
            Num::Star(None) => out.push_str("%!(BADWIDTH)"),
            Num::TooLong => {
                out.push_str("%!(NOVERB)");
                break;
            }
        }
        if chars.peek().is_some_and(|(_, c)| *c == '.') {
            chars.next();
            match num(&mut chars, &mut argi) {
                Num::Digits(p) => spec.prec = Some(p.unwrap_or(0)),
                Num::Star(Some(p)) if p >= 0 => spec.prec = Some(p as usize),
                Num::Star(_) => out.push_str("%!(BADPREC)"),
                Num::TooLong => {
                    out.push_str("%!(NOVERB)");
                    break;
                }
            }
        }
        let Some((_, verb)) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        if verb == 'T'
            && let Some(a) = args.get(argi)
        {
            argi += 1;
            pad(&mut out, a.type_name(), spec, false);
            continue;
        }
        let Some(arg) = args.get(argi) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        argi += 1;
        format_arg(&mut out, verb, spec, arg);
    }
    if argi < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, a) in args[argi..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{}={}", a.type_name(), to_v(a));
        }
        out.push(')');
    }
    out
}

fn bad_verb(out: &mut String, verb: char, v: &Value) {
    match v {
        Value::Nil => {
            let _ = write!(out, "%!{verb}(<nil>)");
        }
        v => {
            let _ = write!(out, "%!{verb}({}={})", v.type_name(), to_v(v));
        }
    }
}

fn pad(out: &mut String, s: &str, spec: Spec, zero_ok: bool) {
    let len = s.chars().count();
    let w = spec.width.unwrap_or(0);
    if len >= w {
        out.push_str(s);
        return;
    }
    let fill = w - len;
    if spec.minus {
        out.push_str(s);
        out.push_str(&" ".repeat(fill));
    } else if spec.zero && zero_ok {
        let (sign, rest) = match s.as_bytes().first() {
            Some(b'-' | b'+' | b' ') => s.split_at(1),
            _ => ("", s),
        };
        out.push_str(sign);
        out.push_str(&"0".repeat(fill));
        out.push_str(rest);
    } else {
        out.push_str(&" ".repeat(fill));
        out.push_str(s);
    }
}

fn format_arg(out: &mut String, verb: char, spec: Spec, v: &Value) {
    match v {
        Value::Nil => match verb {
            'v' => pad(out, "<nil>", spec, false),
            _ => bad_verb(out, verb, v),
        },
        Value::Bool(b) => match verb {
            't' | 'v' => pad(out, if *b { "true" } else { "false" }, spec, false),
            _ => bad_verb(out, verb, v),
        },
        Value::Int(i) | Value::Int64(i) => format_int(out, verb, spec, *i, v),
        Value::Float(f) => format_float(out, verb, spec, *f, v),
        Value::String(s) => format_str(out, verb, spec, s.as_bytes(), v),
        Value::Time(t) => format_str(out, verb, spec, t.go_string().as_bytes(), v),
        Value::Uint64(u) => match i64::try_from(*u) {
            Ok(i) => format_int(out, verb, spec, i, v),
            Err(_) => pad(out, &u.to_string(), spec, false),
        },
        Value::Object(o) => format_str(out, verb, spec, o.go_string().as_bytes(), v),
        Value::Bytes(b) if matches!(verb, 's' | 'q' | 'x' | 'X') => {
            format_str(out, verb, spec, b, v)
        }
        Value::Bytes(_) | Value::List(..) | Value::Map(..) => {
            if verb == 'v' && spec.width.is_none() && !spec.plus && !spec.sharp {
                sprint_value(out, v);
                return;
            }
            match v {
                Value::Bytes(b) => {
                    out.push('[');
                    for (i, x) in b.iter().enumerate() {
                        if i > 0 {
                            out.push(' ');
                        }
                        format_arg(out, verb, spec, &Value::Int(i64::from(*x)));
                    }
                    out.push(']');
                }
                Value::List(l, _) => {
                    out.push('[');
                    for (i, x) in l.iter().enumerate() {
                        if i > 0 {
                            out.push(' ');
                        }
                        format_arg(out, verb, spec, x);
                    }
                    out.push(']');
                }
                Value::Map(m, _) => {
                    out.push_str("map[");
                    for (i, (k, x)) in m.borrow().iter().enumerate() {
                        if i > 0 {
                            out.push(' ');
                        }
                        format_arg(out, verb, spec, &Value::String(k.clone()));
                        out.push(':');
                        format_arg(out, verb, spec, x);
                    }
                    out.push(']');
                }
                _ => {}
            }
        }
    }
}

fn format_int(out: &mut String, verb: char, spec: Spec, i: i64, v: &Value) {
    let sign = if i < 0 {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    };
    let u = i.unsigned_abs();
    let digits = match verb {
        'd' | 'v' => u.to_string(),
        'b' => format!("{u:b}"),
        'o' | 'O' => format!("{u:o}"),
        'x' => format!("{u:x}"),
        'X' => format!("{u:X}"),
        'c' => {
            let c = u32::try_from(i)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            return pad(out, &c.to_string(), spec, false);
        }
        'q' => {
            let c = u32::try_from(i)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            let q = quote(&c.to_string());
            let inner = &q[1..q.len() - 1];
            let inner = if inner == "'" {
                "\\'".to_string()
            } else {
                inner.replace("\\\"", "\"")
            };
            return pad(out, &format!("'{inner}'"), spec, false);
        }
        'U' => return pad(out, &format!("U+{u:04X}"), spec, false),
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' | 's' | 't' => return bad_verb(out, verb, v),
        _ => return bad_verb(out, verb, v),
    };
    let digits = match spec.prec {
        Some(0) if u == 0 => String::new(),
        Some(p) if digits.len() < p => format!("{}{digits}", "0".repeat(p - digits.len())),
        _ => digits,
    };
    let prefix = match (spec.sharp, verb) {
        (true, 'x') => "0x",
        (true, 'X') => "0X",
        (true, 'o') if !digits.starts_with('0') => "0",
        (_, 'O') => "0o",
        (true, 'b') => "0b",
        _ => "",
    };
    pad(
        out,
        &format!("{sign}{prefix}{digits}"),
        spec,
        spec.prec.is_none(),
    );
}

fn format_float(out: &mut String, verb: char, spec: Spec, f: f64, v: &Value) {
    let mut s = match verb {
        'v' | 'g' => float_g(f, spec.prec, false),
        'G' => float_g(f, spec.prec, true),
        'e' | 'E' => float_e(f, spec.prec.unwrap_or(6), verb == 'E'),
        'f' | 'F' => {
            if f.is_finite() {
                format!("{:.*}", spec.prec.unwrap_or(6), f)
            } else {
                float_g(f, None, false)
            }
        }
        _ => return bad_verb(out, verb, v),
    };
    if (spec.plus || spec.space) && !s.starts_with('-') {
        s.insert(0, if spec.plus { '+' } else { ' ' });
    }
    pad(out, &s, spec, f.is_finite());
}

fn format_str(out: &mut String, verb: char, spec: Spec, b: &[u8], v: &Value) {
    let s = String::from_utf8_lossy(b);
    match verb {
        's' | 'v' => {
            let s: String = match spec.prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.into_owned(),
            };
            pad(out, &s, spec, true);
        }
        'q' => {
            if spec.sharp && !s.contains('`') && s.chars().all(|c| c == '\t' || !c.is_control()) {
                pad(out, &format!("`{s}`"), spec, false);
            } else {
                pad(out, &quote(&s), spec, false);
            }
        }
        'x' | 'X' => {
            let mut h = String::new();
            let bytes = match spec.prec {
                Some(p) => &b[..p.min(b.len())],
                None => b,
            };
            for (i, x) in bytes.iter().enumerate() {
                if spec.space && i > 0 {
                    h.push(' ');
                }
                if spec.sharp && (spec.space || i == 0) {
                    h.push_str(if verb == 'x' { "0x" } else { "0X" });
                }
                let _ = if verb == 'x' {
                    write!(h, "{x:02x}")
                } else {
                    write!(h, "{x:02X}")
                };
            }
            pad(out, &h, spec, false);
        }
        _ => bad_verb(out, verb, v),
    }
}
