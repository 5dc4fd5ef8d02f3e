//! The subset of gjson path syntax ESO's AWS and GCP providers rely on for `remoteRef.property`:
//! dotted keys with `\` escapes, `*`/`?` wildcards in keys, array indices, `#` (length, or map
//! over elements), and `#(key op value)` / `#(…)#` queries with `==`, `!=`, `<`, `<=`, `>`, `>=`,
//! `%` (glob match) and `!%`.
//!
//! [`property`] mirrors ESO: when the property contains a dot, the whole property is first tried
//! as one literal key; otherwise (or when that key is absent) it is read as a gjson path.

use serde_json::Value;

/// ESO's property lookup on a JSON payload. `None` when the path does not exist (or the payload is
/// not JSON). The result is gjson's `String()`: strings raw, `null` empty, the rest as JSON.
pub fn property(payload: &[u8], path: &str) -> Option<Vec<u8>> {
    let root: Value = serde_json::from_slice(payload).ok()?;
    if path.contains('.')
        && let Some(v) = root.as_object().and_then(|m| m.get(path))
    {
        return Some(render(v));
    }
    get(&root, path).map(|v| render(&v))
}

/// gjson's `Result.String()`.
pub fn render(value: &Value) -> Vec<u8> {
    match value {
        Value::String(s) => s.clone().into_bytes(),
        Value::Null => Vec::new(),
        other => other.to_string().into_bytes(),
    }
}

/// Evaluates a gjson path on a value.
pub fn get(root: &Value, path: &str) -> Option<Value> {
    let parts = split(path);
    walk(root, &parts)
}

/// Splits on unescaped dots, keeping `#(…)` queries (which may contain dots) whole.
fn split(path: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if depth == 0 => {
                if let Some(next) = chars.next() {
                    cur.push('\\');
                    cur.push(next);
                }
            }
            '(' => {
                depth += 1;
                cur.push(c);
            }
            ')' => {
                depth = depth.saturating_sub(1);
                cur.push(c);
            }
            '.' if depth == 0 => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    parts
}

fn walk(node: &Value, parts: &[String]) -> Option<Value> {
    let Some((part, rest)) = parts.split_first() else {
        return Some(node.clone());
    };
    if let Some(query) = part.strip_prefix("#(") {
        let (cond, all) = match query.strip_suffix(")#") {
            Some(cond) => (cond, true),
            None => (query.strip_suffix(')')?, false),
        };
        let items = node.as_array()?;
        let mut hits = items.iter().filter(|item| matches(item, cond));
        if all {
            let found: Vec<Value> = hits.filter_map(|h| walk(h, rest)).collect();
            return Some(Value::Array(found));
        }
        return walk(hits.next()?, rest);
    }
    match node {
        Value::Array(items) if part == "#" => {
            if rest.is_empty() {
                return Some(Value::from(items.len()));
            }
            Some(Value::Array(
                items.iter().filter_map(|i| walk(i, rest)).collect(),
            ))
        }
        Value::Array(items) => {
            let i: usize = part.parse().ok()?;
            walk(items.get(i)?, rest)
        }
        Value::Object(map) => {
            let key = unescape(part);
            if part.contains(['*', '?']) && !part.contains('\\') {
                let (_, v) = map.iter().find(|(k, _)| glob(part, k))?;
                return walk(v, rest);
            }
            walk(map.get(&key)?, rest)
        }
        _ => None,
    }
}

fn unescape(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    let mut chars = part.chars();
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

/// `key op value` (or `op value` on the element itself).
fn matches(item: &Value, cond: &str) -> bool {
    const OPS: [&str; 8] = ["==", "!=", "<=", ">=", "!%", "<", ">", "%"];
    let Some((pos, op)) = OPS
        .iter()
        .filter_map(|op| cond.find(op).map(|p| (p, *op)))
        .min_by_key(|(p, op)| (*p, usize::MAX - op.len()))
    else {
        return get(item, cond.trim()).is_some();
    };
    let lhs = cond[..pos].trim();
    let rhs = literal(cond[pos + op.len()..].trim());
    let left = if lhs.is_empty() {
        Some(item.clone())
    } else {
        get(item, lhs)
    };
    let Some(left) = left else {
        return false;
    };
    match op {
        "==" => left == rhs,
        "!=" => left != rhs,
        "%" | "!%" => {
            let hit = matches!((&left, &rhs), (Value::String(l), Value::String(r)) if glob(r, l));
            (op == "%") == hit
        }
        _ => {
            let ord = match (&left, &rhs) {
                (Value::Number(l), Value::Number(r)) => l
                    .as_f64()
                    .zip(r.as_f64())
                    .and_then(|(l, r)| l.partial_cmp(&r)),
                (Value::String(l), Value::String(r)) => Some(l.cmp(r)),
                _ => None,
            };
            ord.is_some_and(|o| match op {
                "<" => o.is_lt(),
                "<=" => o.is_le(),
                ">" => o.is_gt(),
                _ => o.is_ge(),
            })
        }
    }
}

fn literal(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_owned()))
}

/// `*` any run, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
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
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &[u8] = br#"{
      "name": {"first": "Tom", "last": "Anderson"},
      "age": 37,
      "children": ["Sara", "Alex", "Jack"],
      "fav.movie": "Deer Hunter",
      "friends": [
        {"first": "Dale", "last": "Murphy", "age": 44, "nets": ["ig", "fb", "tw"]},
        {"first": "Roger", "last": "Craig", "age": 68, "nets": ["fb", "tw"]},
        {"first": "Jane", "last": "Murphy", "age": 47, "nets": ["ig", "tw"]}
      ],
      "nil": null
    }"#;

    fn p(path: &str) -> Option<String> {
        property(DOC, path).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn gjson_readme_examples() {
        assert_eq!(p("name.last").as_deref(), Some("Anderson"));
        assert_eq!(p("age").as_deref(), Some("37"));
        assert_eq!(p("children").as_deref(), Some(r#"["Sara","Alex","Jack"]"#));
        assert_eq!(p("children.#").as_deref(), Some("3"));
        assert_eq!(p("children.1").as_deref(), Some("Alex"));
        assert_eq!(p("child*.2").as_deref(), Some("Jack"));
        assert_eq!(p("c?ildren.0").as_deref(), Some("Sara"));
        assert_eq!(p(r"fav\.movie").as_deref(), Some("Deer Hunter"));
        assert_eq!(
            p("friends.#.first").as_deref(),
            Some(r#"["Dale","Roger","Jane"]"#)
        );
        assert_eq!(p("friends.1.last").as_deref(), Some("Craig"));
        assert_eq!(
            p(r#"friends.#(last=="Murphy").first"#).as_deref(),
            Some("Dale")
        );
        assert_eq!(
            p(r#"friends.#(last=="Murphy")#.first"#).as_deref(),
            Some(r#"["Dale","Jane"]"#)
        );
        assert_eq!(
            p("friends.#(age>45)#.last").as_deref(),
            Some(r#"["Craig","Murphy"]"#)
        );
        assert_eq!(
            p(r#"friends.#(first%"D*").last"#).as_deref(),
            Some("Murphy")
        );
        assert_eq!(
            p(r#"friends.#(first!%"D*").last"#).as_deref(),
            Some("Craig")
        );
        assert_eq!(p("nil").as_deref(), Some(""));
    }

    #[test]
    fn literal_dotted_key_first_like_eso() {
        assert_eq!(p("fav.movie").as_deref(), Some("Deer Hunter"));
        let doc = br#"{"a.b": "literal", "a": {"b": "nested"}}"#;
        assert_eq!(property(doc, "a.b"), Some(b"literal".to_vec()));
        assert_eq!(
            property(br#"{"a": {"b": "nested"}}"#, "a.b"),
            Some(b"nested".to_vec())
        );
    }

    #[test]
    fn missing_is_none() {
        assert_eq!(p("name.middle"), None);
        assert_eq!(p("children.9"), None);
        assert_eq!(property(b"not json", "a"), None);
    }
}
