//! sprig string functions.

use super::{Func, Ty, f, i, s, str_list, strval, v};
use crate::value::Value;

fn st(x: String) -> Result<Value, String> {
    Ok(Value::String(x))
}

pub fn lookup(name: &str) -> Option<Func> {
    use Ty::{Any, Int, Str};
    Some(match name {
        "hello" => f(&[], |_, _| st("Hello!".into())),
        "abbrev" => f(&[Int, Str], |_, a| st(abbrev(i(&a[0]), s(&a[1])))),
        "abbrevboth" => f(&[Int, Int, Str], |_, a| {
            st(abbrevboth(i(&a[0]), i(&a[1]), s(&a[2])))
        }),
        "trunc" => f(&[Int, Str], |_, a| st(trunc(i(&a[0]), s(&a[1])))),
        "trim" => f(&[Str], |_, a| {
            st(s(&a[0]).trim_matches(char::is_whitespace).into())
        }),
        "upper" => f(&[Str], |_, a| st(map_case(s(&a[0]), true))),
        "lower" => f(&[Str], |_, a| st(map_case(s(&a[0]), false))),
        "title" => f(&[Str], |_, a| st(title(s(&a[0])))),
        "untitle" => f(&[Str], |_, a| st(untitle(s(&a[0])))),
        "substr" => f(&[Int, Int, Str], |_, a| {
            substr(i(&a[0]), i(&a[1]), s(&a[2])).map(Value::String)
        }),
        "repeat" => f(&[Int, Str], |_, a| {
            let n = i(&a[0]);
            if n < 0 {
                return Err("strings: negative Repeat count".into());
            }
            let text = s(&a[1]);
            let n = super::bounded_len("strings: Repeat", n as u64, text.len() as u64)?;
            st(text.repeat(n))
        }),
        "trimall" | "trimAll" => f(&[Str, Str], |_, a| {
            let set = s(&a[0]);
            st(s(&a[1]).trim_matches(|c| set.contains(c)).into())
        }),
        "trimSuffix" => f(&[Str, Str], |_, a| {
            st(s(&a[1]).strip_suffix(s(&a[0])).unwrap_or(s(&a[1])).into())
        }),
        "trimPrefix" => f(&[Str, Str], |_, a| {
            st(s(&a[1]).strip_prefix(s(&a[0])).unwrap_or(s(&a[1])).into())
        }),
        "nospace" => f(&[Str], |_, a| {
            st(s(&a[0]).chars().filter(|c| !c.is_whitespace()).collect())
        }),
        "initials" => f(&[Str], |_, a| {
            st(s(&a[0])
                .split_whitespace()
                .filter_map(|w| w.chars().next())
                .collect())
        }),
        "swapcase" => f(&[Str], |_, a| st(swapcase(s(&a[0])))),
        "snakecase" => f(&[Str], |_, a| st(delimited(s(&a[0]), '_'))),
        "kebabcase" => f(&[Str], |_, a| st(delimited(s(&a[0]), '-'))),
        "camelcase" => f(&[Str], |_, a| st(pascal(s(&a[0])))),
        "wrap" => f(&[Int, Str], |_, a| st(wrap(s(&a[1]), i(&a[0]), "\n"))),
        "wrapWith" => f(&[Int, Str, Str], |_, a| {
            st(wrap(s(&a[2]), i(&a[0]), s(&a[1])))
        }),
        "contains" => f(&[Str, Str], |_, a| {
            Ok(Value::Bool(s(&a[1]).contains(s(&a[0]))))
        }),
        "hasPrefix" => f(&[Str, Str], |_, a| {
            Ok(Value::Bool(s(&a[1]).starts_with(s(&a[0]))))
        }),
        "hasSuffix" => f(&[Str, Str], |_, a| {
            Ok(Value::Bool(s(&a[1]).ends_with(s(&a[0]))))
        }),
        "quote" => v(&[], Any, |_, a| {
            let q: Vec<String> = a
                .iter()
                .filter(|x| !matches!(x, Value::Nil))
                .map(|x| crate::gofmt::quote(&strval(x)))
                .collect();
            st(q.join(" "))
        }),
        "squote" => v(&[], Any, |_, a| {
            let q: Vec<String> = a
                .iter()
                .filter(|x| !matches!(x, Value::Nil))
                .map(|x| format!("'{}'", crate::gofmt::to_v(x)))
                .collect();
            st(q.join(" "))
        }),
        "cat" => v(&[], Any, |_, a| {
            let q: Vec<String> = a
                .iter()
                .filter(|x| !matches!(x, Value::Nil))
                .map(crate::gofmt::to_v)
                .collect();
            st(q.join(" "))
        }),
        "indent" => f(&[Int, Str], |_, a| {
            indent(i(&a[0]), s(&a[1])).map(Value::String)
        }),
        "nindent" => f(&[Int, Str], |_, a| {
            Ok(Value::String(format!("\n{}", indent(i(&a[0]), s(&a[1]))?)))
        }),
        "replace" => f(&[Str, Str, Str], |_, a| {
            st(s(&a[2]).replace(s(&a[0]), s(&a[1])))
        }),
        "plural" => f(&[Str, Str, Int], |_, a| {
            st(if i(&a[2]) == 1 { s(&a[0]) } else { s(&a[1]) }.into())
        }),
        "split" => f(&[Str, Str], |_, a| {
            Ok(split_map(go_split(s(&a[1]), s(&a[0]), -1)))
        }),
        "splitn" => f(&[Str, Int, Str], |_, a| {
            Ok(split_map(go_split(s(&a[2]), s(&a[0]), i(&a[1]))))
        }),
        "splitList" => f(&[Str, Str], |_, a| {
            Ok(str_list(go_split(s(&a[1]), s(&a[0]), -1)))
        }),
        "toStrings" => f(&[Any], |_, a| Ok(str_list(strslice(&a[0])))),
        "join" => f(&[Str, Any], |_, a| st(strslice(&a[1]).join(s(&a[0])))),
        "sortAlpha" => f(&[Any], |_, a| {
            let mut l = match &a[0] {
                Value::List(..) | Value::Bytes(_) => strslice(&a[0]),
                other => vec![strval(other)],
            };
            l.sort();
            Ok(str_list(l))
        }),
        _ => return None,
    })
}

/// `strings.Split` / `SplitN` (n < 0: all).
pub fn go_split(s: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return vec![];
    }
    if sep.is_empty() {
        let chars: Vec<String> = s.chars().map(String::from).collect();
        if n > 0 && chars.len() > n as usize {
            let mut head: Vec<String> = chars[..n as usize - 1].to_vec();
            head.push(chars[n as usize - 1..].concat());
            return head;
        }
        return chars;
    }
    if n < 0 {
        s.split(sep).map(String::from).collect()
    } else {
        s.splitn(n as usize, sep).map(String::from).collect()
    }
}

fn split_map(parts: Vec<String>) -> Value {
    let m = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("_{i}"), Value::String(p)))
        .collect();
    Value::Map(
        std::rc::Rc::new(std::cell::RefCell::new(m)),
        crate::value::Kind::Str,
    )
}

/// sprig's `strslice`: lists to strings (nils dropped), a scalar to a one-element list.
pub fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::List(l, _) => l
            .iter()
            .filter(|x| !matches!(x, Value::Nil))
            .map(strval)
            .collect(),
        Value::Bytes(b) => b.iter().map(|x| x.to_string()).collect(),
        Value::Nil => vec![],
        other => vec![strval(other)],
    }
}

fn byte_slice(s: &str, a: usize, b: usize) -> String {
    String::from_utf8_lossy(&s.as_bytes()[a..b]).into_owned()
}

fn abbrev(width: i64, s: &str) -> String {
    if width < 4 || s.len() as i64 <= width {
        return s.to_string();
    }
    format!("{}...", byte_slice(s, 0, (width - 3) as usize))
}

fn abbrevboth(left: i64, right: i64, s: &str) -> String {
    if right < 4 || (left > 0 && right < 7) {
        return s.to_string();
    }
    let len = s.len() as i64;
    if len <= right {
        return s.to_string();
    }
    let mut offset = left.min(len);
    if len - offset < right - 3 {
        offset = len - (right - 3);
    }
    if offset <= 4 {
        return format!("{}...", byte_slice(s, 0, (right - 3) as usize));
    }
    if right < 7 {
        return s.to_string();
    }
    if offset + right - 3 < len {
        let rest = byte_slice(s, offset as usize, len as usize);
        return format!("...{}", abbrev(right - 3, &rest));
    }
    format!(
        "...{}",
        byte_slice(s, (len - (right - 3)) as usize, len as usize)
    )
}

fn trunc(c: i64, s: &str) -> String {
    let n = s.len() as i64;
    if c < 0 && n + c > 0 {
        return byte_slice(s, (n + c) as usize, n as usize);
    }
    if c >= 0 && n > c {
        return byte_slice(s, 0, c as usize);
    }
    s.to_string()
}

fn substr(start: i64, end: i64, s: &str) -> Result<String, String> {
    let n = s.len() as i64;
    let (a, b) = if start < 0 {
        (0, end)
    } else if end < 0 || end > n {
        (start, n)
    } else {
        (start, end)
    };
    if a < 0 || b < a || b > n {
        return Err(format!(
            "runtime error: slice bounds out of range [{}:{}]",
            a, b
        ));
    }
    Ok(byte_slice(s, a as usize, b as usize))
}

fn title(s: &str) -> String {
    let mut prev_sep = true;
    s.chars()
        .map(|c| {
            let is_sep = if c.is_ascii() {
                !(c.is_ascii_alphanumeric() || c == '_')
            } else {
                c.is_whitespace()
            };
            let out: String = if prev_sep {
                c.to_uppercase().collect()
            } else {
                c.to_string()
            };
            prev_sep = is_sep;
            out
        })
        .collect()
}

/// Go's `unicode.ToUpper`/`ToLower` per rune (no multi-rune special casing like `ß` → `SS`).
fn map_case(s: &str, upper: bool) -> String {
    s.chars()
        .map(|c| {
            let mut m: Vec<char> = if upper {
                c.to_uppercase().collect()
            } else {
                c.to_lowercase().collect()
            };
            if m.len() == 1 { m.remove(0) } else { c }
        })
        .collect()
}

/// goutils `Uncapitalize`: lower-case the first letter of every space-separated word.
fn untitle(s: &str) -> String {
    let mut prev_space = true;
    s.chars()
        .map(|c| {
            let out = if prev_space {
                map_case(&c.to_string(), false)
            } else {
                c.to_string()
            };
            prev_space = c.is_whitespace();
            out
        })
        .collect()
}

fn swapcase(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_uppercase() {
                c.to_lowercase().collect::<String>()
            } else if c.is_lowercase() {
                c.to_uppercase().collect()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn indent(n: i64, s: &str) -> Result<String, String> {
    let lines = s.matches('\n').count() as u64 + 1;
    let width = super::bounded_len("indent", n.max(0) as u64, lines)?;
    let pad = " ".repeat(width);
    Ok(format!("{pad}{}", s.replace('\n', &format!("\n{pad}"))))
}

/// Words of an identifier-ish string, split at separators and case changes.
fn words(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out: Vec<String> = vec![];
    let mut cur = String::new();
    for (k, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if let Some(&p) = k.checked_sub(1).and_then(|j| chars.get(j)) {
            let next_lower = chars.get(k + 1).is_some_and(|n| n.is_lowercase());
            let boundary = (c.is_uppercase() && (p.is_lowercase() || p.is_ascii_digit()))
                || (c.is_uppercase() && p.is_uppercase() && next_lower);
            if boundary && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn delimited(s: &str, sep: char) -> String {
    words(s)
        .iter()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join(&sep.to_string())
}

fn pascal(s: &str) -> String {
    s.split(['_', '-', ' ', '.'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// goutils `WrapCustom(s, width, sep, true)`.
fn wrap(s: &str, width: i64, sep: &str) -> String {
    let width = width.max(1) as usize;
    let mut out = String::new();
    for (li, line) in s.split('\n').enumerate() {
        if li > 0 {
            out.push('\n');
        }
        let mut cur_len = 0;
        for (wi, word) in line.split(' ').enumerate() {
            if wi > 0 {
                if cur_len + 1 + word.len() > width && cur_len > 0 {
                    out.push_str(sep);
                    cur_len = 0;
                } else {
                    out.push(' ');
                    cur_len += 1;
                }
            }
            out.push_str(word);
            cur_len += word.len();
        }
    }
    out
}
