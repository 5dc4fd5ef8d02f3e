//! Go's `encoding/json` text for strings and `float64`s, as ESO v0.16 (built with Go 1.24) writes
//! it. One place for both writers that must match it byte for byte: the host's `rewrite.merge`
//! output and the template component's `toJson`/`toRawJson`/`toPrettyJson`.

use std::fmt::Write as _;

/// Appends `s` as a JSON string the way Go writes it: `\b \f \n \r \t` in short form (Go 1.22
/// and later), other control characters and U+2028/U+2029 as `\u00xx`, and `<`, `>`, `&` as
/// `\u003c`… only when `escape_html` (`json.Marshal` escapes them; an encoder with
/// `SetEscapeHTML(false)` keeps them).
pub fn write_string(out: &mut String, s: &str, escape_html: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' if escape_html => unicode_escape(out, c),
            '\u{2028}' | '\u{2029}' => unicode_escape(out, c),
            c if u32::from(c) < 0x20 => unicode_escape(out, c),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn unicode_escape(out: &mut String, c: char) {
    let _ = write!(out, "\\u{:04x}", u32::from(c));
}

/// A `float64` as Go's encoder writes it: the shortest digits that read back the same, in plain
/// decimal inside [1e-6, 1e21) (and for zero), in exponent form outside (`1e+21`, `1e-7`,
/// `1.5e-10`). `None` for NaN and the infinities, which Go refuses to encode.
pub fn float(f: f64) -> Option<String> {
    if !f.is_finite() {
        return None;
    }
    let abs = f.abs();
    if abs == 0.0 || (1e-6..1e21).contains(&abs) {
        return Some(f.to_string());
    }
    // Rust writes `1e21` and `1e-7`; Go writes the exponent's sign always and no leading zeros.
    let text = format!("{f:e}");
    Some(match text.split_once('e') {
        Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
        _ => text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(s: &str, html: bool) -> String {
        let mut out = String::new();
        write_string(&mut out, s, html);
        out
    }

    #[test]
    fn strings_as_go_writes_them() {
        assert_eq!(
            string("a\u{8}b\u{c}c\n\r\t\u{1}\"\\", false),
            r#""a\bb\fc\n\r\t\u0001\"\\""#
        );
        assert_eq!(string("<&>", true), r#""\u003c\u0026\u003e""#);
        assert_eq!(string("<&>", false), r#""<&>""#);
        assert_eq!(string("\u{2028}\u{2029}é", false), r#""\u2028\u2029é""#);
    }

    #[test]
    fn floats_as_go_writes_them() {
        for (f, want) in [
            (1.5, "1.5"),
            (0.0, "0"),
            (-0.0, "-0"),
            (123456789.0, "123456789"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (-1.5e-10, "-1.5e-10"),
        ] {
            assert_eq!(float(f).as_deref(), Some(want), "{f}");
        }
        assert_eq!(float(f64::NAN), None);
        assert_eq!(float(f64::INFINITY), None);
    }
}
