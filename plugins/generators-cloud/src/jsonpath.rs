//! The JSONPath subset Webhook's `result.jsonPath` is used with: `$`, `.name`, `['name']` /
//! `["name"]` and `[index]` steps. Anything else (wildcards, filters, slices, recursive descent)
//! is refused with a message naming the path, never guessed at.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

fn parse(path: &str) -> Result<Vec<Step>, String> {
    let unsupported = || format!("unsupported JSONPath {path:?}");
    let rest = path.trim();
    let mut rest = rest.strip_prefix('$').ok_or_else(unsupported)?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            if r.starts_with('.') {
                return Err(unsupported());
            }
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let name = &r[..end];
            if name.is_empty() || name == "*" {
                return Err(unsupported());
            }
            steps.push(Step::Key(name.to_owned()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let close = r.find(']').ok_or_else(unsupported)?;
            let inner = r[..close].trim();
            let quoted = inner
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
            match quoted {
                Some(key) => steps.push(Step::Key(key.to_owned())),
                None => steps.push(Step::Index(inner.parse().map_err(|_| unsupported())?)),
            }
            rest = &r[close + 1..];
        } else {
            return Err(unsupported());
        }
    }
    Ok(steps)
}

/// The value at `path` in `doc`.
pub fn get<'a>(path: &str, doc: &'a Value) -> Result<&'a Value, String> {
    let mut at = doc;
    for step in parse(path)? {
        at = match (&step, at) {
            (Step::Key(k), Value::Object(m)) => {
                m.get(k).ok_or_else(|| format!("unknown key {k}"))?
            }
            (Step::Index(i), Value::Array(a)) => a
                .get(*i)
                .ok_or_else(|| format!("index out of range: {i}"))?,
            (Step::Key(k), _) => return Err(format!("unknown key {k}")),
            (Step::Index(i), _) => return Err(format!("index {i} of a non-array")),
        };
    }
    Ok(at)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn steps() {
        let doc = json!({"a": {"b c": [1, {"d": "x"}]}});
        assert_eq!(get("$", &doc).unwrap(), &doc);
        assert_eq!(get("$.a['b c'][1].d", &doc).unwrap(), &json!("x"));
        assert_eq!(get("$[\"a\"]", &doc).unwrap(), &doc["a"]);
        assert!(get("$.a.x", &doc).is_err());
        assert!(get("$..d", &doc).is_err());
        assert!(get("$.a[*]", &doc).is_err());
        assert!(get("a", &doc).is_err());
    }
}
