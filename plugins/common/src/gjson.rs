//! The part of gjson's path syntax ESO's property lookups use: dotted keys with `\.` escapes,
//! `*`/`?` wildcards, array indexes, `#` (length), `#.key` (map over an array), and
//! `#(key op value)` / `#(…)#` queries with `== != < <= > >= % !%`. Results print like gjson's
//! `Result.String()`.

use serde_json::Value;

use crate::gojson::{go_json, plain_float};

/// ESO's property lookup on a JSON payload: when the property contains a dot, the whole property
/// is first tried as one literal key; otherwise (or when that key is absent) it is read as a gjson
/// path. `None` when nothing is there (or the payload is not JSON); the result is
/// [`to_text`] of the value.
pub fn property(payload: &[u8], path: &str) -> Option<Vec<u8>> {
    let root: Value = serde_json::from_slice(payload).ok()?;
    if path.contains('.')
        && let Some(v) = root.as_object().and_then(|m| m.get(path))
    {
        return Some(to_text(v).into_bytes());
    }
    get(&root, path).map(|v| to_text(&v).into_bytes())
}

/// The value at `path`, or `None` when it does not exist.
pub fn get(root: &Value, path: &str) -> Option<Value> {
    let parts = split(path);
    if parts.is_empty() {
        return None;
    }
    eval(root, &parts)
}

/// gjson's `Result.String()`.
pub fn to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => plain_float(n.as_f64().unwrap_or_default()),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => go_json(other),
    }
}

/// Splits on unescaped dots outside `#(…)` and quotes; keeps escapes (resolved when matching).
fn split(path: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let (mut depth, mut quoted, mut chars) = (0usize, false, path.chars());
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '"' if depth > 0 => {
                quoted = !quoted;
                cur.push(c);
            }
            '(' if !quoted => {
                depth += 1;
                cur.push(c);
            }
            ')' if !quoted => {
                depth = depth.saturating_sub(1);
                cur.push(c);
            }
            '.' | '|' if depth == 0 && !quoted => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    parts
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn is_wild(s: &str) -> bool {
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '*' | '?' => return true,
            _ => {}
        }
    }
    false
}

/// Wildcard match (`*` any run, `?` one char, `\` escapes).
fn wild_match(pattern: &str, text: &str) -> bool {
    let mut p: Vec<(char, bool)> = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => p.extend(chars.next().map(|n| (n, true))),
            c => p.push((c, false)),
        }
    }
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == ('?', false) || (p[pi].0 == t[ti] && p[pi] != ('*', false))) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == ('*', false) {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == ('*', false))
}

fn eval(v: &Value, parts: &[String]) -> Option<Value> {
    let Some((part, rest)) = parts.split_first() else {
        return Some(v.clone());
    };
    match v {
        Value::Object(map) => {
            if is_wild(part) {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let key = keys.into_iter().find(|k| wild_match(part, k))?;
                eval(&map[key], rest)
            } else {
                eval(map.get(&unescape(part))?, rest)
            }
        }
        Value::Array(items) => {
            if part == "#" {
                if rest.is_empty() {
                    return Some(Value::from(items.len()));
                }
                return Some(Value::Array(
                    items.iter().filter_map(|x| eval(x, rest)).collect(),
                ));
            }
            if let Some(q) = part.strip_prefix("#(") {
                let (body, all) = match q.strip_suffix(")#") {
                    Some(b) => (b, true),
                    None => (q.strip_suffix(')')?, false),
                };
                let query = Query::parse(body);
                let mut hits = items.iter().filter(|x| query.matches(x));
                if all {
                    return Some(Value::Array(hits.filter_map(|x| eval(x, rest)).collect()));
                }
                return eval(hits.next()?, rest);
            }
            let i: usize = unescape(part).parse().ok()?;
            eval(items.get(i)?, rest)
        }
        _ => None,
    }
}

struct Query {
    path: String,
    op: Option<&'static str>,
    value: Value,
}

const OPS: [&str; 8] = ["==", "!=", "<=", ">=", "!%", "<", ">", "%"];

impl Query {
    fn parse(body: &str) -> Query {
        let (mut quoted, mut depth) = (false, 0usize);
        let bytes = body.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 1,
                b'"' => quoted = !quoted,
                b'(' if !quoted => depth += 1,
                b')' if !quoted => depth = depth.saturating_sub(1),
                _ if !quoted && depth == 0 && body.is_char_boundary(i) => {
                    if let Some(op) = OPS.iter().find(|op| body[i..].starts_with(**op)) {
                        let raw = body[i + op.len()..].trim();
                        let value = serde_json::from_str(raw)
                            .unwrap_or_else(|_| Value::String(raw.to_owned()));
                        return Query {
                            path: body[..i].trim().to_owned(),
                            op: Some(op),
                            value,
                        };
                    }
                }
                _ => {}
            }
            i += 1;
        }
        Query {
            path: body.trim().to_owned(),
            op: None,
            value: Value::Null,
        }
    }

    fn matches(&self, item: &Value) -> bool {
        let left = if self.path.is_empty() {
            Some(item.clone())
        } else {
            get(item, &self.path)
        };
        let Some(left) = left else {
            return false;
        };
        let Some(op) = self.op else {
            return true;
        };
        match (&left, &self.value) {
            (Value::String(a), Value::String(b)) => match op {
                "==" => a == b,
                "!=" => a != b,
                "<" => a < b,
                "<=" => a <= b,
                ">" => a > b,
                ">=" => a >= b,
                "%" => wild_match(b, a),
                "!%" => !wild_match(b, a),
                _ => false,
            },
            (Value::Number(a), Value::Number(b)) => {
                let (a, b) = (
                    a.as_f64().unwrap_or_default(),
                    b.as_f64().unwrap_or_default(),
                );
                match op {
                    "==" => a == b,
                    "!=" => a != b,
                    "<" => a < b,
                    "<=" => a <= b,
                    ">" => a > b,
                    ">=" => a >= b,
                    _ => false,
                }
            }
            (a, b) => match op {
                "==" => a == b,
                "!=" => a != b,
                _ => false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn property_tries_a_literal_dotted_key_first() {
        let payload =
            br#"{"a.b":"literal","a":{"b":"nested","n":5432,"f":1e21},"l":[{"k":"x"},{"k":"y"}]}"#;
        assert_eq!(property(payload, "a.b").unwrap(), b"literal");
        assert_eq!(property(payload, "a.n").unwrap(), b"5432");
        assert_eq!(property(payload, "a.f").unwrap(), b"1000000000000000000000");
        assert_eq!(property(payload, "l.#.k").unwrap(), br#"["x","y"]"#);
        assert_eq!(
            property(payload, "a").unwrap(),
            br#"{"b":"nested","f":1e+21,"n":5432}"#
        );
        assert!(property(payload, "missing").is_none());
        assert!(property(b"not json", "a").is_none());
    }

    fn doc() -> Value {
        json!({
            "name": {"first": "Tom", "last": "Anderson"},
            "age": 37,
            "children": ["Sara", "Alex", "Jack"],
            "fav.movie": "Deer Hunter",
            "friends": [
                {"first": "Dale", "last": "Murphy", "age": 44, "nets": ["ig", "fb", "tw"]},
                {"first": "Roger", "last": "Craig", "age": 68, "nets": ["fb", "tw"]},
                {"first": "Jane", "last": "Murphy", "age": 47, "nets": ["ig", "tw"]}
            ]
        })
    }

    fn text(path: &str) -> Option<String> {
        get(&doc(), path).map(|v| to_text(&v))
    }

    #[test]
    fn gjson_readme_examples() {
        let cases = [
            ("name.last", "Anderson"),
            ("age", "37"),
            ("children", r#"["Sara","Alex","Jack"]"#),
            ("children.#", "3"),
            ("children.1", "Alex"),
            ("child*.2", "Jack"),
            ("c?ildren.0", "Sara"),
            ("fav\\.movie", "Deer Hunter"),
            ("friends.#.first", r#"["Dale","Roger","Jane"]"#),
            ("friends.1.last", "Craig"),
            (r#"friends.#(last=="Murphy").first"#, "Dale"),
            (r#"friends.#(last=="Murphy")#.first"#, r#"["Dale","Jane"]"#),
            ("friends.#(age>45)#.last", r#"["Craig","Murphy"]"#),
            (r#"friends.#(first%"D*").last"#, "Murphy"),
            (r#"friends.#(first!%"D*").last"#, "Craig"),
            (r#"friends.#(nets.#(=="fb"))#.first"#, r#"["Dale","Roger"]"#),
            ("name", r#"{"first":"Tom","last":"Anderson"}"#),
        ];
        for (path, want) in cases {
            assert_eq!(text(path).as_deref(), Some(want), "{path}");
        }
        for missing in [
            "nope",
            "name.middle",
            "children.9",
            "age.x",
            "friends.#(age>99).first",
            "",
        ] {
            assert_eq!(text(missing), None, "{missing}");
        }
    }

    #[test]
    fn splitting_respects_escapes_and_queries() {
        assert_eq!(split(r"a\.b.c"), [r"a\.b", "c"]);
        assert_eq!(split(r#"x.#(k=="v.w").y"#), ["x", r#"#(k=="v.w")"#, "y"]);
        assert!(wild_match("a*c", "abbc") && !wild_match("a?c", "ac") && wild_match(r"a\*", "a*"));
    }
}
