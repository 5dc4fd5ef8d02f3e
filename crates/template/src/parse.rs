//! The parser: Go `text/template/parse` grammar, error texts and variable scoping.

use std::collections::BTreeMap;

use crate::Delims;
use crate::ast::{Arg, Branch, Cmd, List, Node, Num, Pipe};
use crate::error::Error;
use crate::gofmt::{quote, unquote, unquote_char};
use crate::lex::{Item, Tok, lex};

/// Deepest nesting of `if`/`range`/`with`/`block`/`define` bodies, `else if` links and
/// parenthesized pipelines, counted together. Go bounds parentheses only (10000, 1000 on wasm) and
/// grows its stacks; here each level costs a few KiB of stack (more in debug builds), and the
/// template component runs with 1 MiB, so deeper text fails to parse instead of overflowing it.
pub const MAX_NESTING: usize = 100;

/// What ended an item list.
enum End {
    End,
    Else { pos: usize, else_kw: Option<Tok> },
}

struct Parser<'a> {
    parse_name: &'a str,
    items: Vec<Item>,
    i: usize,
    line: usize,
    vars: Vec<String>,
    range_depth: usize,
    /// Current nesting (see [`MAX_NESTING`]).
    depth: usize,
    trees: BTreeMap<String, List>,
}

type PResult<T> = Result<T, Error>;

/// Parses `text` into its named trees (the main one under `name`).
pub fn parse(name: &str, text: &str, delims: &Delims) -> PResult<BTreeMap<String, List>> {
    let left = if delims.left.is_empty() {
        "{{"
    } else {
        &delims.left
    };
    let right = if delims.right.is_empty() {
        "}}"
    } else {
        &delims.right
    };
    let mut p = Parser {
        parse_name: name,
        items: lex(text, left, right),
        i: 0,
        line: 1,
        vars: vec!["$".into()],
        range_depth: 0,
        depth: 0,
        trees: BTreeMap::new(),
    };
    let mut root = List::new();
    while p.peek().tok != Tok::Eof {
        if p.peek().tok == Tok::LeftDelim {
            let save = p.i;
            p.next();
            if p.next_non_space().tok == Tok::Define {
                p.definition()?;
                continue;
            }
            p.i = save;
        }
        match p.text_or_action()? {
            Ok(n) => root.push(n),
            Err(End::End) => return Err(p.err("unexpected {{end}}")),
            Err(End::Else { .. }) => return Err(p.err("unexpected {{else}}")),
        }
    }
    p.add(name.to_string(), root)?;
    Ok(p.trees)
}

fn is_empty_tree(l: &List) -> bool {
    l.iter()
        .all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()))
}

impl Parser<'_> {
    fn err(&self, msg: impl AsRef<str>) -> Error {
        Error::Parse(format!(
            "template: {}:{}: {}",
            self.parse_name,
            self.line,
            msg.as_ref()
        ))
    }

    fn next(&mut self) -> Item {
        let it = self.items[self.i.min(self.items.len() - 1)].clone();
        self.i += 1;
        self.line = it.line;
        it
    }

    fn backup(&mut self) {
        self.i -= 1;
    }

    fn peek(&self) -> &Item {
        &self.items[self.i.min(self.items.len() - 1)]
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let it = self.next();
            if it.tok != Tok::Space {
                return it;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        let it = self.next_non_space();
        self.backup();
        it
    }

    fn unexpected(&self, it: &Item, context: &str) -> Error {
        if it.tok == Tok::Error {
            return self.err(it.describe());
        }
        self.err(format!("unexpected {} in {context}", it.describe()))
    }

    fn add(&mut self, name: String, list: List) -> PResult<()> {
        match self.trees.get(&name) {
            Some(old) if !is_empty_tree(old) => {
                if !is_empty_tree(&list) {
                    return Err(self.err(format!(
                        "template: multiple definition of template {}",
                        quote(&name)
                    )));
                }
            }
            _ => {
                self.trees.insert(name, list);
            }
        }
        Ok(())
    }

    fn definition(&mut self) -> PResult<()> {
        let context = "define clause";
        let it = self.next_non_space();
        if it.tok != Tok::Str && it.tok != Tok::RawStr {
            return Err(self.unexpected(&it, context));
        }
        let name = unquote(&it.val).map_err(|e| self.err(e))?;
        let it = self.next_non_space();
        if it.tok != Tok::RightDelim {
            return Err(self.unexpected(&it, context));
        }
        let saved = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let (list, end) = self.item_list()?;
        self.vars = saved;
        if !matches!(end, End::End) {
            return Err(self.err(format!("unexpected {{{{else}}}} in {context}")));
        }
        self.add(name, list)
    }

    /// Enters one level of nesting, or fails past [`MAX_NESTING`].
    fn enter(&mut self) -> PResult<()> {
        if self.depth >= MAX_NESTING {
            return Err(self.err("max expression depth exceeded"));
        }
        self.depth += 1;
        Ok(())
    }

    fn item_list(&mut self) -> PResult<(List, End)> {
        self.enter()?;
        let r = self.item_list_inner();
        self.depth -= 1;
        r
    }

    fn item_list_inner(&mut self) -> PResult<(List, End)> {
        let mut list = List::new();
        while self.peek_non_space().tok != Tok::Eof {
            match self.text_or_action()? {
                Ok(n) => list.push(n),
                Err(end) => return Ok((list, end)),
            }
        }
        Err(self.err("unexpected EOF"))
    }

    fn text_or_action(&mut self) -> PResult<Result<Node, End>> {
        let it = self.next_non_space();
        match it.tok {
            Tok::Text => Ok(Ok(Node::Text(it.val))),
            Tok::LeftDelim => self.action(),
            _ => Err(self.unexpected(&it, "input")),
        }
    }

    fn action(&mut self) -> PResult<Result<Node, End>> {
        let it = self.next_non_space();
        let node = match it.tok {
            Tok::Block => self.block()?,
            Tok::Break | Tok::Continue => {
                let word = if it.tok == Tok::Break {
                    "{{break}}"
                } else {
                    "{{continue}}"
                };
                let t = self.next_non_space();
                if t.tok != Tok::RightDelim {
                    return Err(self.unexpected(&t, word));
                }
                if self.range_depth == 0 {
                    return Err(self.err(format!("{word} outside {{{{range}}}}")));
                }
                if it.tok == Tok::Break {
                    Node::Break { pos: it.pos }
                } else {
                    Node::Continue { pos: it.pos }
                }
            }
            Tok::Else => {
                let peek = self.peek_non_space();
                if peek.tok == Tok::If || peek.tok == Tok::With {
                    return Ok(Err(End::Else {
                        pos: peek.pos,
                        else_kw: Some(peek.tok),
                    }));
                }
                let t = self.next_non_space();
                if t.tok != Tok::RightDelim {
                    return Err(self.unexpected(&t, "else"));
                }
                return Ok(Err(End::Else {
                    pos: t.pos,
                    else_kw: None,
                }));
            }
            Tok::End => {
                let t = self.next_non_space();
                if t.tok != Tok::RightDelim {
                    return Err(self.unexpected(&t, "end"));
                }
                return Ok(Err(End::End));
            }
            Tok::If => Node::If(self.control("if")?),
            Tok::Range => Node::Range(self.control("range")?),
            Tok::With => Node::With(self.control("with")?),
            Tok::Template => {
                let context = "template clause";
                let t = self.next_non_space();
                let name = self.template_name(&t, context)?;
                let pipe = if self.next_non_space().tok != Tok::RightDelim {
                    self.backup();
                    Some(self.pipeline(context, Tok::RightDelim)?)
                } else {
                    None
                };
                Node::Template {
                    pos: t.pos,
                    name,
                    pipe,
                }
            }
            _ => {
                self.backup();
                let pos = self.peek().pos;
                Node::Action {
                    pos,
                    pipe: self.pipeline("command", Tok::RightDelim)?,
                }
            }
        };
        Ok(Ok(node))
    }

    fn template_name(&self, t: &Item, context: &str) -> PResult<String> {
        match t.tok {
            Tok::Str | Tok::RawStr => unquote(&t.val).map_err(|e| self.err(e)),
            _ => Err(self.unexpected(t, context)),
        }
    }

    fn block(&mut self) -> PResult<Node> {
        let context = "block clause";
        let t = self.next_non_space();
        let name = self.template_name(&t, context)?;
        let pipe = self.pipeline(context, Tok::RightDelim)?;
        let saved = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let (list, end) = self.item_list()?;
        self.vars = saved;
        if !matches!(end, End::End) {
            return Err(self.err(format!("unexpected {{{{else}}}} in {context}")));
        }
        self.add(name.clone(), list)?;
        Ok(Node::Template {
            pos: t.pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn control(&mut self, context: &str) -> PResult<Branch> {
        let nvars = self.vars.len();
        let pipe = self.pipeline(context, Tok::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, end) = self.item_list()?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let mut else_list = None;
        if let End::Else { pos, else_kw } = end {
            if context == "if" && else_kw == Some(Tok::If) {
                self.next_non_space();
                else_list = Some(vec![Node::If(self.nested_control("if")?)]);
            } else if context == "with" && else_kw == Some(Tok::With) {
                self.next_non_space();
                else_list = Some(vec![Node::With(self.nested_control("with")?)]);
            } else if else_kw.is_some() {
                // `{{else with}}` after `if` (or the like): Go reads the keyword as input.
                let it = self.next_non_space();
                let _ = pos;
                return Err(self.unexpected(&it, "input"));
            } else {
                let (l, end) = self.item_list()?;
                if !matches!(end, End::End) {
                    return Err(self.err("expected end; found {{else}}"));
                }
                else_list = Some(l);
            }
        }
        self.vars.truncate(nvars);
        Ok(Branch {
            pos: pipe.pos,
            pipe,
            list,
            else_list,
        })
    }

    /// An `{{else if}}` / `{{else with}}` link: one more level of nesting.
    fn nested_control(&mut self, context: &str) -> PResult<Branch> {
        self.enter()?;
        let r = self.control(context);
        self.depth -= 1;
        r
    }

    fn pipeline(&mut self, context: &str, end: Tok) -> PResult<Pipe> {
        let start = self.peek_non_space();
        let mut pipe = Pipe {
            pos: start.pos,
            decl: vec![],
            is_assign: false,
            cmds: vec![],
        };
        loop {
            let v = self.peek_non_space();
            if v.tok != Tok::Variable {
                break;
            }
            let save = self.i;
            self.next_non_space();
            let after_var = self.peek().tok;
            let next = self.peek_non_space();
            match next.tok {
                Tok::Assign | Tok::Declare => {
                    pipe.is_assign = next.tok == Tok::Assign;
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                }
                Tok::Char if next.val == "," => {
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().tok {
                            Tok::Variable | Tok::RightDelim | Tok::RightParen => continue,
                            _ => return Err(self.err("range can only initialize variables")),
                        }
                    }
                    return Err(self.err(format!("too many declarations in {context}")));
                }
                _ => {
                    let _ = after_var;
                    self.i = save;
                }
            }
            break;
        }
        loop {
            let it = self.next_non_space();
            match it.tok {
                t if t == end => {
                    if pipe.cmds.is_empty() {
                        return Err(self.err(format!("missing value for {context}")));
                    }
                    for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
                        if matches!(
                            c.args[0],
                            Arg::Bool { .. }
                                | Arg::Dot { .. }
                                | Arg::Nil { .. }
                                | Arg::Number { .. }
                                | Arg::Str { .. }
                        ) {
                            return Err(self.err(format!(
                                "non executable command in pipeline stage {}",
                                i + 1
                            )));
                        }
                    }
                    return Ok(pipe);
                }
                Tok::Bool
                | Tok::CharConst
                | Tok::Dot
                | Tok::Field
                | Tok::Ident
                | Tok::Number
                | Tok::Nil
                | Tok::RawStr
                | Tok::Str
                | Tok::Variable
                | Tok::LeftParen => {
                    self.backup();
                    let c = self.command()?;
                    pipe.cmds.push(c);
                }
                _ => return Err(self.unexpected(&it, context)),
            }
        }
    }

    fn command(&mut self) -> PResult<Cmd> {
        let pos = self.peek_non_space().pos;
        let mut cmd = Cmd { pos, args: vec![] };
        loop {
            self.peek_non_space();
            if let Some(a) = self.operand()? {
                cmd.args.push(a);
            }
            let it = self.next();
            match it.tok {
                Tok::Space => continue,
                Tok::RightDelim | Tok::RightParen => self.backup(),
                Tok::Pipe => {}
                _ => return Err(self.unexpected(&it, "operand")),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(self.err("empty command"));
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().tok != Tok::Field {
            return Ok(Some(node));
        }
        let pos = self.peek().pos;
        let mut fields = vec![];
        while self.peek().tok == Tok::Field {
            fields.push(self.next().val[1..].to_string());
        }
        Ok(Some(match node {
            Arg::Field { mut idents, .. } => {
                idents.extend(fields);
                Arg::Field { pos, idents }
            }
            Arg::Var { mut idents, .. } => {
                idents.extend(fields);
                Arg::Var { pos, idents }
            }
            Arg::Bool { .. }
            | Arg::Str { .. }
            | Arg::Number { .. }
            | Arg::Nil { .. }
            | Arg::Dot { .. } => {
                return Err(self.err(format!(
                    "unexpected . after term {}",
                    quote(&node.to_string())
                )));
            }
            n => Arg::Chain {
                pos,
                node: Box::new(n),
                fields,
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let it = self.next_non_space();
        let pos = it.pos;
        Ok(Some(match it.tok {
            Tok::Ident => {
                if crate::funcs::lookup(&it.val).is_none() {
                    return Err(self.err(format!("function {} not defined", quote(&it.val))));
                }
                Arg::Ident { pos, name: it.val }
            }
            Tok::Dot => Arg::Dot { pos },
            Tok::Nil => Arg::Nil { pos },
            Tok::Variable => {
                if !self.vars.contains(&it.val) {
                    return Err(self.err(format!("undefined variable {}", quote(&it.val))));
                }
                Arg::Var {
                    pos,
                    idents: vec![it.val],
                }
            }
            Tok::Field => Arg::Field {
                pos,
                idents: vec![it.val[1..].to_string()],
            },
            Tok::Bool => Arg::Bool {
                pos,
                val: it.val == "true",
            },
            Tok::CharConst | Tok::Number => Arg::Number {
                pos,
                num: Box::new(self.number(&it.val, it.tok == Tok::CharConst)?),
            },
            Tok::LeftParen => {
                self.enter()?;
                let p = self.pipeline("parenthesized pipeline", Tok::RightParen);
                self.depth -= 1;
                Arg::Pipe(Box::new(p?))
            }
            Tok::Str | Tok::RawStr => {
                let text = unquote(&it.val).map_err(|e| self.err(e))?;
                Arg::Str {
                    pos,
                    quoted: it.val,
                    text,
                }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }

    fn number(&self, text: &str, is_char: bool) -> PResult<Num> {
        let mut n = Num {
            text: text.to_string(),
            int: None,
            uint: None,
            float: None,
        };
        if is_char {
            let inner = &text[1..text.len() - 1];
            let (c, rest) = unquote_char(inner, '\'').map_err(|e| self.err(e))?;
            if !rest.is_empty() {
                return Err(self.err(format!("malformed character constant: {text}")));
            }
            let v = c as i64;
            (n.int, n.uint, n.float) = (Some(v), Some(v as u64), Some(v as f64));
            return Ok(n);
        }
        if text.ends_with('i') {
            return Err(self.err(format!(
                "complex constants are not supported: {}",
                quote(text)
            )));
        }
        n.uint = parse_go_uint(text);
        n.int = parse_go_int(text);
        if let Some(i) = n.int {
            n.float = Some(i as f64);
        } else if let Some(u) = n.uint {
            n.float = Some(u as f64);
        } else {
            let cleaned = if text.contains('_') {
                text.replace('_', "")
            } else {
                text.to_string()
            };
            match cleaned.parse::<f64>() {
                Ok(f) if !cleaned.contains(['.', 'e', 'E', 'p', 'P']) => {
                    let _ = f;
                    return Err(self.err(format!("integer overflow: {}", quote(text))));
                }
                Ok(f) if f.is_finite() || cleaned.contains(['e', 'E']) => {
                    n.float = Some(f);
                    if f.fract() == 0.0 && f.abs() < 9.2e18 {
                        n.int = Some(f as i64);
                        if f >= 0.0 {
                            n.uint = Some(f as u64);
                        }
                    }
                }
                _ => return Err(self.err(format!("illegal number syntax: {}", quote(text)))),
            }
        }
        Ok(n)
    }
}

/// `strconv.ParseUint(s, 0, 64)`.
fn parse_go_uint(s: &str) -> Option<u64> {
    if s.starts_with(['+', '-']) {
        return None;
    }
    let (digits, radix) = radix_of(s);
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    if radix == 10 && s.contains('_') && !s.starts_with('0') {
        // Underscores need a base prefix in base-0 parsing... unless decimal: Go allows `1_000`.
    }
    u64::from_str_radix(&digits.replace('_', ""), radix).ok()
}

/// `strconv.ParseInt(s, 0, 64)`.
fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let u = parse_go_uint(body)?;
    if neg {
        if u <= i64::MAX as u64 + 1 {
            Some((u as i64).wrapping_neg())
        } else {
            None
        }
    } else {
        i64::try_from(u).ok()
    }
}

fn radix_of(s: &str) -> (&str, u32) {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b'0' {
        match b[1] {
            b'x' | b'X' => return (&s[2..], 16),
            b'o' | b'O' => return (&s[2..], 8),
            b'b' | b'B' => return (&s[2..], 2),
            _ => return (&s[1..], 8),
        }
    }
    (s, 10)
}
