//! The executor: Go `text/template` evaluation rules and error texts.

mod call;
mod eval;

use std::rc::Rc;

use crate::ast::{Arg, Branch, Cmd, List, Node, Pipe};
use crate::error::Error;
use crate::funcs::Ctx;
use crate::gofmt::{quote, sprint_value};
use crate::value::{Kind, Value};
use crate::{Env, Template};

/// Deepest nesting of `{{template}}` calls and `if`/`with`/`range` bodies, counted together.
/// Go counts template calls only (100000 natively, 1000 on wasm) and grows its stacks; here each
/// level costs a few KiB of stack and the template component runs with 1 MiB, so a deeper
/// recursion fails with Go's error instead of overflowing the stack (issue 17).
const MAX_DEPTH: usize = 200;

pub enum Flow {
    Err(Error),
    Break,
    Continue,
}

impl From<Error> for Flow {
    fn from(e: Error) -> Self {
        Flow::Err(e)
    }
}

type R<T> = Result<T, Flow>;

/// The node an error is reported at (Go's `state.at`).
#[derive(Clone, Copy)]
enum At<'a> {
    None,
    Node(&'a Node),
    Pipe(&'a Pipe),
    Cmd(&'a Cmd),
    Arg(&'a Arg),
}

struct State<'a, 'e> {
    tmpl: &'a Template,
    name: &'a str,
    vars: Vec<(&'a str, Value)>,
    depth: usize,
    at: At<'a>,
    out: String,
    ctx: Ctx<'e>,
    /// The last field lookup yielded a nil `interface {}` (a JSON null in a map).
    nil_iface: bool,
    /// Dot is an `interface {}` (an element of a `range` over `[]interface {}` or a map of them).
    dot_iface: bool,
}

pub fn execute(tmpl: &Template, name: &str, data: &Value, env: &Env) -> Result<String, Error> {
    let Some((tname, root)) = tmpl.trees.get_key_value(name) else {
        return Err(Error::Execute(format!(
            "template: no template {} associated with template {}",
            quote(name),
            quote(&tmpl.name)
        )));
    };
    let mut s = State {
        tmpl,
        name: tname,
        vars: vec![("$", data.clone())],
        depth: 0,
        at: At::None,
        out: String::new(),
        ctx: Ctx::new(env),
        nil_iface: false,
        dot_iface: false,
    };
    match s.walk_list(data, root) {
        Ok(()) => Ok(s.out),
        Err(Flow::Err(e)) => Err(e),
        Err(_) => Ok(s.out),
    }
}

impl<'a> State<'a, '_> {
    fn errorf(&self, msg: impl AsRef<str>) -> Flow {
        let (pos, context) = match self.at {
            At::None => {
                return Flow::Err(Error::Execute(format!(
                    "template: {}: {}",
                    self.name,
                    msg.as_ref()
                )));
            }
            At::Node(n) => (node_pos(n), n.to_string()),
            At::Pipe(p) => (p.pos, p.to_string()),
            At::Cmd(c) => (c.pos, c.to_string()),
            At::Arg(a) => (a.pos(), a.to_string()),
        };
        let text = &self.tmpl.text[..pos.min(self.tmpl.text.len())];
        let line = 1 + text.matches('\n').count();
        let col = text.rfind('\n').map_or(pos, |i| pos - i - 1);
        Flow::Err(Error::Execute(format!(
            "template: {}:{line}:{col}: executing {} at <{context}>: {}",
            self.tmpl.name,
            quote(self.name),
            msg.as_ref()
        )))
    }

    fn walk_list(&mut self, dot: &Value, list: &'a List) -> R<()> {
        list.iter().try_for_each(|n| self.walk(dot, n))
    }

    fn walk(&mut self, dot: &Value, node: &'a Node) -> R<()> {
        if !matches!(
            node,
            Node::If(_) | Node::With(_) | Node::Range(_) | Node::Template { .. }
        ) {
            return self.walk_node(dot, node);
        }
        if self.depth >= MAX_DEPTH {
            self.at = At::Node(node);
            return Err(self.errorf(format!("exceeded maximum template depth ({MAX_DEPTH})")));
        }
        self.depth += 1;
        let r = self.walk_node(dot, node);
        self.depth -= 1;
        r
    }

    fn walk_node(&mut self, dot: &Value, node: &'a Node) -> R<()> {
        self.at = At::Node(node);
        match node {
            Node::Text(t) => self.out.push_str(t),
            Node::Action { pipe, .. } => {
                let v = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.at = At::Node(node);
                    match v {
                        Value::Nil => self.out.push_str("<no value>"),
                        v => sprint_value(&mut self.out, &v),
                    }
                }
            }
            Node::If(b) | Node::With(b) => {
                let mark = self.vars.len();
                let v = self.eval_pipeline(dot, &b.pipe)?;
                let r = if v.truthy() {
                    if matches!(node, Node::With(_)) {
                        let saved = std::mem::replace(&mut self.dot_iface, false);
                        let r = self.walk_list(&v, &b.list);
                        self.dot_iface = saved;
                        r
                    } else {
                        self.walk_list(dot, &b.list)
                    }
                } else if let Some(e) = &b.else_list {
                    self.walk_list(dot, e)
                } else {
                    Ok(())
                };
                self.vars.truncate(mark);
                r?;
            }
            Node::Range(b) => self.walk_range(dot, node, b)?,
            Node::Template { name, pipe, .. } => {
                let Some((tname, tree)) = self.tmpl.trees.get_key_value(name) else {
                    return Err(self.errorf(format!("template {} not defined", quote(name))));
                };
                let new_dot = match pipe {
                    Some(p) => self.eval_pipeline(dot, p)?,
                    None => Value::Nil,
                };
                let saved_vars = std::mem::replace(&mut self.vars, vec![("$", new_dot.clone())]);
                let saved_name = std::mem::replace(&mut self.name, tname);
                let saved_iface = std::mem::replace(&mut self.dot_iface, false);
                let r = self.walk_list(&new_dot, tree);
                self.dot_iface = saved_iface;
                self.name = saved_name;
                self.vars = saved_vars;
                if let Err(Flow::Err(e)) = r {
                    return Err(Flow::Err(e));
                }
            }
            Node::Break { .. } => return Err(Flow::Break),
            Node::Continue { .. } => return Err(Flow::Continue),
        }
        Ok(())
    }

    fn walk_range(&mut self, dot: &Value, node: &'a Node, b: &'a Branch) -> R<()> {
        let outer = self.vars.len();
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let mark = self.vars.len();
        let ndecl = b.pipe.decl.len();
        // Lazily for an integer: `range 9999999999` must not materialise its items first.
        let items: Box<dyn Iterator<Item = (Value, Value)>> = match &val {
            Value::Int(n) | Value::Int64(n) => {
                if ndecl > 1 {
                    return Err(self.errorf(format!(
                        "can't use {n} to iterate over more than one variable"
                    )));
                }
                let int = matches!(val, Value::Int(_));
                Box::new((0..*n).map(move |i| {
                    let v = if int { Value::Int(i) } else { Value::Int64(i) };
                    (Value::Nil, v)
                }))
            }
            Value::List(l, _) => {
                let l = Rc::clone(l);
                Box::new(
                    (0..l.len())
                        .filter_map(move |i| Some((Value::Int(i as i64), l.get(i)?.clone()))),
                )
            }
            Value::Bytes(l) => {
                let l = l.clone();
                Box::new(
                    l.into_iter()
                        .enumerate()
                        .map(|(i, v)| (Value::Int(i as i64), Value::Int(i64::from(v)))),
                )
            }
            Value::Map(m, _) => {
                let entries: Vec<(Value, Value)> = m
                    .borrow()
                    .iter()
                    .map(|(k, v)| (Value::String(k.clone()), v.clone()))
                    .collect();
                Box::new(entries.into_iter())
            }
            Value::Nil => Box::new(std::iter::empty()),
            other => {
                let _ = node;
                return Err(self.errorf(format!(
                    "range can't iterate over {}",
                    crate::gofmt::to_v(other)
                )));
            }
        };
        let mut ran = false;
        let elem_iface = matches!(val, Value::List(_, Kind::Any) | Value::Map(_, Kind::Any));
        let saved_iface = self.dot_iface;
        for (index, elem) in items {
            ran = true;
            if ndecl > 0 {
                if b.pipe.is_assign {
                    let v = if ndecl > 1 {
                        index.clone()
                    } else {
                        elem.clone()
                    };
                    self.set_var(&b.pipe.decl[0], v)?;
                } else {
                    let n = self.vars.len();
                    self.vars[n - 1].1 = elem.clone();
                }
            }
            if ndecl > 1 {
                if b.pipe.is_assign {
                    self.set_var(&b.pipe.decl[1], elem.clone())?;
                } else {
                    let n = self.vars.len();
                    self.vars[n - 2].1 = index;
                }
            }
            self.dot_iface = elem_iface;
            let r = self.walk_list(&elem, &b.list);
            self.dot_iface = saved_iface;
            self.vars.truncate(mark);
            match r {
                Ok(()) | Err(Flow::Continue) => {}
                Err(Flow::Break) => break,
                Err(e) => return Err(e),
            }
        }
        if !ran && let Some(e) = &b.else_list {
            self.walk_list(dot, e)?;
        }
        self.vars.truncate(outer);
        Ok(())
    }

    fn set_var(&mut self, name: &str, v: Value) -> R<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| *n == name) {
            Some(slot) => {
                slot.1 = v;
                Ok(())
            }
            None => Err(self.errorf(format!("undefined variable: {name}"))),
        }
    }
}

fn node_pos(n: &Node) -> usize {
    match n {
        Node::Text(_) => 0,
        Node::Action { pos, .. }
        | Node::Template { pos, .. }
        | Node::Break { pos }
        | Node::Continue { pos } => *pos,
        Node::If(b) | Node::Range(b) | Node::With(b) => b.pos,
    }
}
