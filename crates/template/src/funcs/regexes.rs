//! sprig regex functions (Go RE2 syntax; Rust's `regex` crate is RE2-compatible).

use regex::Regex;

use super::{Func, Ty, f, i, s, str_list};
use crate::value::Value;

fn re(p: &str) -> Result<Regex, String> {
    Regex::new(p).map_err(|e| format!("regexp: Compile({}): {e}", crate::gofmt::quote(p)))
}

fn find_all(p: &str, text: &str, n: i64) -> Result<Vec<String>, String> {
    let r = re(p)?;
    let it = r.find_iter(text).map(|m| m.as_str().to_string());
    Ok(if n < 0 {
        it.collect()
    } else {
        it.take(n as usize).collect()
    })
}

fn split(p: &str, text: &str, n: i64) -> Result<Vec<String>, String> {
    let r = re(p)?;
    if n == 0 {
        return Ok(vec![]);
    }
    if text.is_empty() {
        return Ok(vec![String::new()]);
    }
    let mut out = vec![];
    let (mut beg, mut end) = (0, 0);
    for m in r.find_iter(text) {
        if n > 0 && out.len() as i64 == n - 1 {
            break;
        }
        end = m.start();
        if m.end() != 0 {
            out.push(text[beg..end].to_string());
        }
        beg = m.end();
    }
    if end != text.len() {
        out.push(text[beg..].to_string());
    }
    Ok(out)
}

pub fn lookup(name: &str) -> Option<Func> {
    use Ty::{Int, Str};
    Some(match name {
        "regexMatch" => f(&[Str, Str], |_, a| {
            Ok(Value::Bool(
                re(s(&a[0])).is_ok_and(|r| r.is_match(s(&a[1]))),
            ))
        }),
        "mustRegexMatch" => f(&[Str, Str], |_, a| {
            Ok(Value::Bool(re(s(&a[0]))?.is_match(s(&a[1]))))
        }),
        "regexFindAll" | "mustRegexFindAll" => f(&[Str, Str, Int], |_, a| {
            Ok(str_list(find_all(s(&a[0]), s(&a[1]), i(&a[2]))?))
        }),
        "regexFind" | "mustRegexFind" => f(&[Str, Str], |_, a| {
            Ok(Value::String(
                re(s(&a[0]))?
                    .find(s(&a[1]))
                    .map(|m| m.as_str().to_string())
                    .unwrap_or_default(),
            ))
        }),
        "regexReplaceAll" | "mustRegexReplaceAll" => f(&[Str, Str, Str], |_, a| {
            Ok(Value::String(
                re(s(&a[0]))?.replace_all(s(&a[1]), s(&a[2])).into_owned(),
            ))
        }),
        "regexReplaceAllLiteral" | "mustRegexReplaceAllLiteral" => f(&[Str, Str, Str], |_, a| {
            Ok(Value::String(
                re(s(&a[0]))?
                    .replace_all(s(&a[1]), regex::NoExpand(s(&a[2])))
                    .into_owned(),
            ))
        }),
        "regexSplit" | "mustRegexSplit" => f(&[Str, Str, Int], |_, a| {
            Ok(str_list(split(s(&a[0]), s(&a[1]), i(&a[2]))?))
        }),
        "regexQuoteMeta" => f(&[Str], |_, a| Ok(Value::String(regex::escape(s(&a[0]))))),
        _ => return None,
    })
}
