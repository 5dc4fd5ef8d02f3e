//! The graph of a crate's top-level modules, read from its sources (issue 18: no import cycles
//! between modules). Shared by crates/sandbox/tests/module_graph.rs and
//! host/tests/module_graph.rs.
//!
//! A reference is a `crate::…`, `super::…` or `self::…` path, in a `use` declaration or in code,
//! and a `use` path that starts with a child module's name (`pub use sandbox::Sandbox;` in
//! runtime/mod.rs). `super` is resolved from where the path is written (its file's module and the
//! inline `mod x { … }` blocks around it). A path through a re-export (`crate::Sandbox`, which
//! lib.rs re-exports from `runtime`) is a reference to the module that defines the item; a
//! re-export of another crate's item is a reference to the module that re-exports it (none at
//! the crate root: `crate::plugin::…` in the host names the sandbox crate).
//!
//! Not references: comments (doc comments too), string literals, and every item under
//! `#[cfg(test)]`: inline `mod tests { … }` blocks, `mod tests;`/`mod props;` files (never read),
//! test-only functions. The files read are the ones the crate root's `mod` declarations reach
//! (honouring `#[path]`), so `src/bin/` is not part of the library's graph.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use regex::Regex;

/// A module below the crate root (`[]` is the root).
type ModPath = Vec<String>;

/// Every `.rs` file under `src`, keyed by its path relative to `src`.
pub fn read_sources(src: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(src: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(src, &path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.insert(path.strip_prefix(src).unwrap().to_path_buf(), text);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(src, src, &mut out);
    out
}

/// The top-level modules and which refers to which, with where.
#[derive(Debug, Default)]
pub struct Graph {
    /// Every top-level module (declared in the crate root).
    pub modules: BTreeSet<String>,
    /// `from` → `to` → the references (`file:line`) making the edge.
    pub edges: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

impl Graph {
    /// The graph of the crate whose root is `root` (`lib.rs`) among `files`.
    pub fn top_level(files: &BTreeMap<PathBuf, String>, root: &str) -> Graph {
        let parsed = Parsed::new(files, root);
        let mut graph = Graph::default();
        for module in parsed.modules.keys() {
            if let [name] = module.as_slice() {
                graph.modules.insert(name.clone());
            }
        }
        for r in &parsed.references {
            let Some(to) = parsed.defining(&r.path, 0) else {
                continue;
            };
            let (Some(from), Some(to)) = (r.from.first(), to.first()) else {
                continue;
            };
            if from == to {
                continue;
            }
            let place = format!("{}:{}", r.file.display(), r.line);
            let places = graph
                .edges
                .entry(from.clone())
                .or_default()
                .entry(to.clone())
                .or_default();
            if !places.contains(&place) {
                places.push(place);
            }
        }
        graph
    }

    /// One cycle (`[a, b, …]` for a → b → … → a) in every strongly connected component of more
    /// than one module.
    pub fn cycles(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for component in self.components() {
            if component.len() < 2 {
                continue;
            }
            // The shortest way back to the first module, inside the component.
            let start = &component[0];
            let mut previous: BTreeMap<&String, &String> = BTreeMap::new();
            let mut queue = VecDeque::from([start]);
            'search: while let Some(node) = queue.pop_front() {
                for next in self.edges.get(node).into_iter().flat_map(|e| e.keys()) {
                    if !component.contains(next) {
                        continue;
                    }
                    if next == start {
                        let mut cycle = vec![node.clone()];
                        let mut at = node;
                        while let Some(p) = previous.get(at) {
                            cycle.push((*p).clone());
                            at = p;
                        }
                        cycle.reverse();
                        out.push(cycle);
                        break 'search;
                    }
                    if !previous.contains_key(next) && next != start {
                        previous.insert(next, node);
                        queue.push_back(next);
                    }
                }
            }
        }
        out
    }

    /// `a → b (file:line, …) → a (file:line)`, at most four references an edge.
    pub fn describe(&self, cycle: &[String]) -> String {
        let mut text = cycle[0].clone();
        for (i, from) in cycle.iter().enumerate() {
            let to = &cycle[(i + 1) % cycle.len()];
            let refs = &self.edges[from][to];
            let shown = refs[..refs.len().min(4)].join(", ");
            match refs.len() {
                0..=4 => text.push_str(&format!(" → {to} ({shown})")),
                n => text.push_str(&format!(" → {to} ({shown} and {} more)", n - 4)),
            }
        }
        text
    }

    /// `Err` naming every cycle and the references making it, when the graph has one.
    pub fn check(&self) -> Result<(), String> {
        let cycles = self.cycles();
        if cycles.is_empty() {
            return Ok(());
        }
        let components = self.components();
        let lines: Vec<String> = cycles
            .iter()
            .map(|c| {
                let all = components.iter().find(|m| m.contains(&c[0])).unwrap_or(c);
                format!("  {{{}}}: {}", all.join(", "), self.describe(c))
            })
            .collect();
        Err(format!(
            "import cycles between top-level modules:\n{}",
            lines.join("\n")
        ))
    }

    /// `a -> b, c` per line.
    pub fn summary(&self) -> String {
        self.edges
            .iter()
            .map(|(from, to)| {
                let to: Vec<_> = to.keys().map(String::as_str).collect();
                format!("{from} -> {}\n", to.join(", "))
            })
            .collect()
    }

    /// Strongly connected components (Tarjan), each sorted.
    fn components(&self) -> Vec<Vec<String>> {
        struct State<'a> {
            graph: &'a Graph,
            index: BTreeMap<&'a String, usize>,
            low: BTreeMap<&'a String, usize>,
            stack: Vec<&'a String>,
            out: Vec<Vec<String>>,
        }
        fn visit<'a>(s: &mut State<'a>, node: &'a String) {
            let graph: &'a Graph = s.graph;
            let n = s.index.len();
            s.index.insert(node, n);
            s.low.insert(node, n);
            s.stack.push(node);
            for next in graph.edges.get(node).into_iter().flat_map(|e| e.keys()) {
                if !s.index.contains_key(next) {
                    visit(s, next);
                    let low = s.low[node].min(s.low[next]);
                    s.low.insert(node, low);
                } else if s.stack.contains(&next) {
                    let low = s.low[node].min(s.index[next]);
                    s.low.insert(node, low);
                }
            }
            if s.low[node] == s.index[node] {
                let mut component = Vec::new();
                while let Some(top) = s.stack.pop() {
                    component.push(top.clone());
                    if top == node {
                        break;
                    }
                }
                component.sort();
                s.out.push(component);
            }
        }
        let nodes: BTreeSet<&String> = self
            .modules
            .iter()
            .chain(self.edges.keys())
            .chain(self.edges.values().flat_map(|e| e.keys()))
            .collect();
        let mut s = State {
            graph: self,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            out: Vec::new(),
        };
        for node in nodes {
            if !s.index.contains_key(node) {
                visit(&mut s, node);
            }
        }
        s.out
    }
}

/// A path as written somewhere, made absolute.
struct Reference {
    from: ModPath,
    path: ModPath,
    file: PathBuf,
    line: usize,
}

#[derive(Default)]
struct Module {
    children: BTreeSet<String>,
    /// What a `use` brings into scope under a name: an absolute path, `None` for another crate's.
    imports: BTreeMap<String, Option<ModPath>>,
}

/// A file read: its module, its code (comments, literals and `#[cfg(test)]` items blanked, byte
/// offsets kept) and its inline modules (`{` … `}` spans).
struct File {
    name: PathBuf,
    module: ModPath,
    code: String,
    inline: Vec<(usize, usize, String)>,
}

impl File {
    /// The module the byte at `at` is in.
    fn module_at(&self, at: usize) -> ModPath {
        let mut module = self.module.clone();
        for (start, end, name) in &self.inline {
            if *start < at && at < *end {
                module.push(name.clone());
            }
        }
        module
    }

    fn line(&self, at: usize) -> usize {
        self.code[..at].matches('\n').count() + 1
    }
}

struct Parsed {
    modules: BTreeMap<ModPath, Module>,
    references: Vec<Reference>,
}

impl Parsed {
    fn new(files: &BTreeMap<PathBuf, String>, root: &str) -> Parsed {
        let decl = Regex::new(r"(?:\bpub\s*(?:\([^)]*\))?\s*)?\bmod\s+(\w+)\s*([;{])").unwrap();
        let path_attr = Regex::new(r#"#\[path\s*=\s*"([^"]+)"\]\s*$"#).unwrap();
        let mut parsed = Parsed {
            modules: BTreeMap::new(),
            references: Vec::new(),
        };
        let mut read = Vec::new();
        // (file, module, whether its children live in its own directory: lib.rs, mod.rs, #[path])
        let mut queue = VecDeque::from([(PathBuf::from(root), ModPath::new(), true)]);
        while let Some((name, module, mod_rs)) = queue.pop_front() {
            let text = files
                .get(&name)
                .unwrap_or_else(|| panic!("{}: declared but not found", name.display()));
            let code = blank_cfg_test(&strip(text));
            if code.contains("#![cfg(test)]") {
                continue;
            }
            let mut file = File {
                name: name.clone(),
                module: module.clone(),
                code,
                inline: Vec::new(),
            };
            parsed.modules.entry(module.clone()).or_default();
            for m in decl.captures_iter(&file.code) {
                if &m[2] == "{" {
                    let open = m.get(2).unwrap().start();
                    let close = matching_brace(file.code.as_bytes(), open);
                    file.inline.push((open, close, m[1].to_owned()));
                }
            }
            for m in decl.captures_iter(&file.code) {
                let at = m.get(0).unwrap().start();
                let parent = file.module_at(at);
                let mut child = parent.clone();
                child.push(m[1].to_owned());
                parsed
                    .modules
                    .entry(parent.clone())
                    .or_default()
                    .children
                    .insert(m[1].to_owned());
                parsed.modules.entry(child.clone()).or_default();
                if &m[2] == "{" {
                    continue;
                }
                let here = name.parent().unwrap_or(Path::new(""));
                let inline = &parent[module.len()..];
                if let Some(p) = path_attr.captures(&text[..at]) {
                    let dir = inline.iter().fold(here.to_path_buf(), |d, s| d.join(s));
                    queue.push_back((dir.join(&p[1]), child, true));
                    continue;
                }
                let mut dir = here.to_path_buf();
                if !mod_rs {
                    dir.push(name.file_stem().unwrap());
                }
                for s in inline {
                    dir.push(s);
                }
                let flat = dir.join(format!("{}.rs", &m[1]));
                if files.contains_key(&flat) {
                    queue.push_back((flat, child, false));
                } else {
                    queue.push_back((dir.join(&m[1]).join("mod.rs"), child, true));
                }
            }
            read.push(file);
        }
        for file in &read {
            parsed.read_references(file);
        }
        parsed
    }

    /// The `use` declarations (imports and references), then the paths in code.
    fn read_references(&mut self, file: &File) {
        let uses = Regex::new(r"\buse\s+([^;]+);").unwrap();
        let path = Regex::new(r"(?:^|[^\w:])((?:crate|super|self)(?:::\w+)+)").unwrap();
        for u in uses.captures_iter(&file.code) {
            let at = u.get(0).unwrap().start();
            let module = file.module_at(at);
            for (segments, name) in use_tree(&u[1]) {
                let absolute = self.absolute(&module, &segments);
                if let Some(name) = name {
                    self.modules
                        .entry(module.clone())
                        .or_default()
                        .imports
                        .insert(name, absolute.clone());
                }
                if let Some(path) = absolute {
                    self.references.push(Reference {
                        from: module.clone(),
                        path,
                        file: file.name.clone(),
                        line: file.line(at),
                    });
                }
            }
        }
        let code = uses.replace_all(&file.code, |c: &regex::Captures| blank(&c[0]));
        for p in path.captures_iter(&code) {
            let m = p.get(1).unwrap();
            let module = file.module_at(m.start());
            let segments: Vec<String> = m.as_str().split("::").map(str::to_owned).collect();
            if let Some(path) = self.absolute(&module, &segments) {
                self.references.push(Reference {
                    from: module,
                    path,
                    file: file.name.clone(),
                    line: file.line(m.start()),
                });
            }
        }
    }

    /// `segments` as written in `module`, from the crate root; `None` when it names another crate.
    fn absolute(&self, module: &[String], segments: &[String]) -> Option<ModPath> {
        let first = segments.first()?;
        let mut path = module.to_vec();
        let mut rest = segments;
        match first.as_str() {
            "crate" => {
                path.clear();
                rest = &segments[1..];
            }
            "self" | "super" => {
                while let Some(s) = rest.first() {
                    match s.as_str() {
                        "self" => {}
                        "super" => {
                            path.pop()?;
                        }
                        _ => break,
                    }
                    rest = &rest[1..];
                }
            }
            name if self
                .modules
                .get(module)
                .is_some_and(|m| m.children.contains(name)) => {}
            _ => return None,
        }
        path.extend(rest.iter().cloned());
        Some(path)
    }

    /// The module defining what `path` names, through re-exports; `None` for another crate's item
    /// re-exported at the crate root.
    fn defining(&self, path: &[String], depth: usize) -> Option<ModPath> {
        let mut n = 0;
        while n < path.len() && self.modules.contains_key(&path[..=n]) {
            n += 1;
        }
        let module = path[..n].to_vec();
        if n == path.len() || depth > 32 {
            return Some(module);
        }
        match self.modules[&module].imports.get(&path[n]) {
            Some(Some(target)) if target.as_slice() != path => {
                let mut target = target.clone();
                target.extend(path[n + 1..].iter().cloned());
                self.defining(&target, depth + 1)
            }
            Some(None) if module.is_empty() => None,
            _ => Some(module),
        }
    }
}

/// The leaves of a use tree (`a::{b, c::{d as e}, self}`, whitespace and all): each path and the
/// name it brings into scope (`None` for a glob).
fn use_tree(tree: &str) -> Vec<(ModPath, Option<String>)> {
    fn split_top(text: &str) -> Vec<&str> {
        let mut parts = Vec::new();
        let (mut depth, mut start) = (0, 0);
        for (i, c) in text.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(&text[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        parts.push(&text[start..]);
        parts
    }
    fn walk(prefix: &[String], tree: &str, out: &mut Vec<(ModPath, Option<String>)>) {
        for part in split_top(tree) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            if let Some(open) = part.find('{') {
                let mut path = prefix.to_vec();
                path.extend(segments(&part[..open]));
                let close = part.rfind('}').unwrap_or(part.len());
                walk(&path, &part[open + 1..close], out);
                continue;
            }
            let (part, alias) = match part.split_once(" as ") {
                Some((p, a)) => (p, Some(a.trim().to_owned())),
                None => (part, None),
            };
            let mut path = prefix.to_vec();
            path.extend(segments(part));
            if path.last().is_some_and(|s| s == "*") {
                path.pop();
                out.push((path, None));
                continue;
            }
            if path.last().is_some_and(|s| s == "self") {
                path.pop();
            }
            let name = alias.or_else(|| path.last().cloned());
            out.push((path, name));
        }
    }
    fn segments(text: &str) -> impl Iterator<Item = String> + '_ {
        text.split("::")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }
    let tree = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let tree = tree.trim_start_matches("::");
    let mut out = Vec::new();
    walk(&[], tree, &mut out);
    out
}

fn blank(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == '\n' {
                "\n".to_owned()
            } else {
                " ".repeat(c.len_utf8())
            }
        })
        .collect()
}

/// `text` with comments and the insides of string and char literals blanked; every byte offset
/// and line stays where it was.
fn strip(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let blank_range = |out: &mut Vec<u8>, from: usize, to: usize| {
        for byte in &mut out[from..to.min(b.len())] {
            if *byte != b'\n' {
                *byte = b' ';
            }
        }
    };
    let ident = |i: usize| i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            let end = b[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |p| i + p);
            blank_range(&mut out, i, end);
            i = end;
        } else if b[i..].starts_with(b"/*") {
            let (mut depth, mut j) = (0, i);
            while j < b.len() {
                if b[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if b[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank_range(&mut out, i, j);
            i = j;
        } else if let Some((open, hashes)) = (b[i] == b'r' || b[i..].starts_with(b"br"))
            .then(|| raw_string_open(&b[i..]))
            .flatten()
            .filter(|_| !ident(i))
        {
            let mut close = vec![b'"'];
            close.extend(std::iter::repeat_n(b'#', hashes));
            let body = i + open;
            let end = b[body..]
                .windows(close.len())
                .position(|w| w == close.as_slice())
                .map_or(b.len(), |p| body + p);
            blank_range(&mut out, body, end);
            i = end + close.len();
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            blank_range(&mut out, i + 1, j);
            i = j + 1;
        } else if b[i] == b'\'' {
            // A char literal ('x', '\n', '\'', 'é'), not a lifetime or a label.
            let len = if b.get(i + 1) == Some(&b'\\') {
                b.get(i + 3..)
                    .and_then(|rest| rest.iter().position(|&c| c == b'\''))
                    .map(|p| p + 3)
            } else {
                let width = text[i + 1..].chars().next().map_or(1, char::len_utf8);
                (b.get(i + 1 + width) == Some(&b'\'')).then_some(1 + width)
            };
            match len {
                Some(len) => {
                    blank_range(&mut out, i + 1, i + len);
                    i += len + 1;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// `r"`, `r#"`, `br##"` … at the start of `b`: the length of the opening and the number of `#`.
fn raw_string_open(b: &[u8]) -> Option<(usize, usize)> {
    let start = if b.starts_with(b"br") { 2 } else { 1 };
    let hashes = b[start..].iter().take_while(|&&c| c == b'#').count();
    (b.get(start + hashes) == Some(&b'"')).then_some((start + hashes + 1, hashes))
}

/// The offset just after the `}` closing the `{` at `open`.
fn matching_brace(b: &[u8], open: usize) -> usize {
    let mut depth = 0usize;
    for (i, &c) in b.iter().enumerate().skip(open) {
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    b.len()
}

/// `code` (already stripped) with every item under `#[cfg(test)]` blanked: up to its `;` or the
/// end of its `{ … }`.
fn blank_cfg_test(code: &str) -> String {
    let attr = "#[cfg(test)]";
    let mut out = code.to_owned();
    let mut from = 0;
    while let Some(p) = out[from..].find(attr) {
        let start = from + p;
        let b = out.as_bytes();
        let mut depth = 0i32;
        let mut end = b.len();
        for (i, &c) in b.iter().enumerate().skip(start + attr.len()) {
            match c {
                b'(' | b'[' => depth += 1,
                b')' | b']' => depth -= 1,
                b';' if depth == 0 => {
                    end = i + 1;
                    break;
                }
                b'{' if depth == 0 => {
                    end = matching_brace(b, i);
                    break;
                }
                b'}' if depth == 0 => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let blanked = blank(&out[start..end]);
        out.replace_range(start..end, &blanked);
        from = end;
    }
    out
}
