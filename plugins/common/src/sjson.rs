//! The part of sjson ESO's AWS provider uses to push one property into a JSON secret: set a
//! string at a dotted path (`\.` escapes a dot), creating objects on the way; an all-digit
//! component indexes an existing array.

use serde_json::{Map, Value};

fn split(path: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '.' => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    parts
}

fn slot<'a>(node: &'a mut Value, part: &str) -> &'a mut Value {
    let index = match (&*node, part.parse::<usize>()) {
        (Value::Array(items), Ok(i)) if i < items.len() => Some(i),
        _ => None,
    };
    if index.is_none() && !node.is_object() {
        *node = Value::Object(Map::new());
    }
    match (node, index) {
        (Value::Array(items), Some(i)) => &mut items[i],
        (Value::Object(map), _) => map.entry(part.to_owned()).or_insert(Value::Null),
        // Neither: made an object just above.
        (other, _) => other,
    }
}

/// `doc` (empty: `{}`) with the string `value` at `path`. `Err` when `doc` is not JSON.
pub fn set_string(doc: &[u8], path: &str, value: &str) -> Result<Vec<u8>, String> {
    let mut root: Value = if doc.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(doc).map_err(|_| "the existing secret is not JSON".to_owned())?
    };
    let mut node = &mut root;
    for part in split(path) {
        node = slot(node, &part);
    }
    *node = Value::String(value.to_owned());
    Ok(root.to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(doc: &str, path: &str, v: &str) -> String {
        String::from_utf8(set_string(doc.as_bytes(), path, v).unwrap()).unwrap()
    }

    #[test]
    fn sets_like_sjson() {
        assert_eq!(set("", "user", "u"), r#"{"user":"u"}"#);
        assert_eq!(
            set(r#"{"a":"1","user":"old"}"#, "user", "new"),
            r#"{"a":"1","user":"new"}"#
        );
        assert_eq!(
            set(r#"{"a":"1"}"#, "db.user", "u"),
            r#"{"a":"1","db":{"user":"u"}}"#
        );
        assert_eq!(set("{}", r"a\.b", "x"), r#"{"a.b":"x"}"#);
        assert_eq!(set(r#"{"l":["x","y"]}"#, "l.1", "z"), r#"{"l":["x","z"]}"#);
        assert_eq!(set(r#"{"a":"scalar"}"#, "a.b", "x"), r#"{"a":{"b":"x"}}"#);
        assert!(set_string(b"not json", "a", "x").is_err());
    }
}
