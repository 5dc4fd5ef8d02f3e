//! The executor: Go `text/template` evaluation rules and error texts.

use crate::ast::{Arg, Branch, Cmd, List, Node, Num, Pipe};
use crate::error::Error;
use crate::funcs::{Ctx, Func, Ty};
use crate::gofmt::{quote, sprint_value};
use crate::value::{Kind, Value};
use crate::{Env, Template};

/// Deepest `{{template}}` nesting (Go allows 100000 natively, 1000 on wasm).
const MAX_DEPTH: usize = 1000;

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
                if self.depth >= MAX_DEPTH {
                    return Err(
                        self.errorf(format!("exceeded maximum template depth ({MAX_DEPTH})"))
                    );
                }
                let new_dot = match pipe {
                    Some(p) => self.eval_pipeline(dot, p)?,
                    None => Value::Nil,
                };
                let saved_vars = std::mem::replace(&mut self.vars, vec![("$", new_dot.clone())]);
                let saved_name = std::mem::replace(&mut self.name, tname);
                self.depth += 1;
                let saved_iface = std::mem::replace(&mut self.dot_iface, false);
                let r = self.walk_list(&new_dot, tree);
                self.dot_iface = saved_iface;
                self.depth -= 1;
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
        let mut items: Vec<(Value, Value)> = Vec::new();
        match &val {
            Value::Int(n) | Value::Int64(n) => {
                if ndecl > 1 {
                    return Err(self.errorf(format!(
                        "can't use {n} to iterate over more than one variable"
                    )));
                }
                let mk = |i| {
                    if matches!(val, Value::Int(_)) {
                        Value::Int(i)
                    } else {
                        Value::Int64(i)
                    }
                };
                items.extend((0..*n).map(|i| (Value::Nil, mk(i))));
            }
            Value::List(l, _) => items.extend(
                l.iter()
                    .enumerate()
                    .map(|(i, v)| (Value::Int(i as i64), v.clone())),
            ),
            Value::Bytes(l) => items.extend(
                l.iter()
                    .enumerate()
                    .map(|(i, v)| (Value::Int(i as i64), Value::Int(i64::from(*v)))),
            ),
            Value::Map(m, _) => items.extend(
                m.borrow()
                    .iter()
                    .map(|(k, v)| (Value::String(k.clone()), v.clone())),
            ),
            Value::Nil => {}
            other => {
                let _ = node;
                return Err(self.errorf(format!(
                    "range can't iterate over {}",
                    crate::gofmt::to_v(other)
                )));
            }
        }
        let ran = !items.is_empty();
        let elem_iface = matches!(val, Value::List(_, Kind::Any) | Value::Map(_, Kind::Any));
        let saved_iface = self.dot_iface;
        for (index, elem) in items {
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

    pub(crate) fn eval_pipeline(&mut self, dot: &Value, pipe: &'a Pipe) -> R<Value> {
        self.at = At::Pipe(pipe);
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or(Value::Nil);
        for var in &pipe.decl {
            if pipe.is_assign {
                self.set_var(var, value.clone())?;
            } else {
                self.vars.push((var.as_str(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &[Arg], final_: &Option<Value>) -> R<()> {
        if args.len() > 1 || final_.is_some() {
            return Err(self.errorf(format!("can't give argument to non-function {}", args[0])));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Value, cmd: &'a Cmd, final_: Option<Value>) -> R<Value> {
        let first = &cmd.args[0];
        match first {
            Arg::Field { idents, .. } => {
                self.at = At::Arg(first);
                let iface = self.dot_iface;
                return self.eval_field_chain(
                    dot,
                    dot.clone(),
                    first,
                    idents,
                    &cmd.args,
                    final_,
                    iface,
                );
            }
            Arg::Chain { .. } => return self.eval_chain(dot, first, &cmd.args, final_),
            Arg::Ident { name, .. } => {
                return self.eval_function(dot, first, name, At::Cmd(cmd), &cmd.args, final_);
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &final_)?;
                return self.eval_pipeline(dot, p);
            }
            Arg::Var { .. } => return self.eval_variable(dot, first, &cmd.args, final_),
            _ => {}
        }
        self.at = At::Arg(first);
        self.not_a_function(&cmd.args, &final_)?;
        match first {
            Arg::Bool { val, .. } => Ok(Value::Bool(*val)),
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => Err(self.errorf("nil is not a command")),
            Arg::Number { num, .. } => self.ideal_constant(num),
            Arg::Str { text, .. } => Ok(Value::String(text.clone())),
            _ => Err(self.errorf(format!(
                "can't evaluate command {}",
                quote(&first.to_string())
            ))),
        }
    }

    fn ideal_constant(&self, n: &Num) -> R<Value> {
        let t = &n.text;
        let hex = t.len() > 2
            && t.starts_with('0')
            && (t.as_bytes()[1] | 0x20) == b'x'
            && !t.contains(['p', 'P']);
        let rune = t.starts_with('\'');
        if let Some(f) = n.float
            && !hex
            && !rune
            && t.contains(['.', 'e', 'E', 'p', 'P'])
        {
            return Ok(Value::Float(f));
        }
        if let Some(i) = n.int {
            return Ok(Value::Int(i));
        }
        if n.uint.is_some() {
            return Err(self.errorf(format!("{t} overflows int")));
        }
        Ok(Value::Nil)
    }

    fn eval_variable(
        &mut self,
        dot: &Value,
        node: &'a Arg,
        args: &'a [Arg],
        final_: Option<Value>,
    ) -> R<Value> {
        self.at = At::Arg(node);
        let Arg::Var { idents, .. } = node else {
            return Ok(Value::Nil);
        };
        let value = match self.vars.iter().rev().find(|(n, _)| *n == idents[0]) {
            Some((_, v)) => v.clone(),
            None => return Err(self.errorf(format!("undefined variable: {}", idents[0]))),
        };
        if idents.len() == 1 {
            self.not_a_function(args, &final_)?;
            return Ok(value);
        }
        self.eval_field_chain(dot, value, node, &idents[1..], args, final_, false)
    }

    fn eval_chain(
        &mut self,
        dot: &Value,
        node: &'a Arg,
        args: &'a [Arg],
        final_: Option<Value>,
    ) -> R<Value> {
        self.at = At::Arg(node);
        let Arg::Chain {
            node: inner,
            fields,
            ..
        } = node
        else {
            return Ok(Value::Nil);
        };
        if matches!(inner.as_ref(), Arg::Nil { .. }) {
            return Err(self.errorf(format!("indirection through explicit nil in {node}")));
        }
        let recv = self.eval_arg(dot, Ty::Any, inner)?;
        self.eval_field_chain(dot, recv, node, fields, args, final_, false)
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_field_chain(
        &mut self,
        dot: &Value,
        mut recv: Value,
        node: &'a Arg,
        idents: &'a [String],
        args: &'a [Arg],
        final_: Option<Value>,
        mut from_map: bool,
    ) -> R<Value> {
        let n = idents.len();
        self.nil_iface = false;
        for ident in &idents[..n - 1] {
            let any_map = matches!(recv, Value::Map(_, Kind::Any));
            recv = self.eval_field(dot, ident, node, &[], None, recv, from_map)?;
            from_map = any_map;
        }
        self.eval_field(dot, &idents[n - 1], node, args, final_, recv, from_map)
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_field(
        &mut self,
        dot: &Value,
        name: &str,
        node: &'a Arg,
        args: &'a [Arg],
        final_: Option<Value>,
        recv: Value,
        from_map: bool,
    ) -> R<Value> {
        let has_args = args.len() > 1 || final_.is_some();
        match &recv {
            Value::Nil if from_map => {
                Err(self.errorf(format!("nil pointer evaluating interface {{}}.{name}")))
            }
            Value::Nil => Err(self.errorf(format!("nil data; no entry for key {}", quote(name)))),
            Value::Map(m, kind) => {
                if has_args {
                    return Err(self.errorf(format!("{name} is not a method but has arguments")));
                }
                let found = m.borrow().get(name).cloned();
                self.nil_iface = *kind == Kind::Any && matches!(found, Some(Value::Nil));
                found
                    .ok_or_else(|| self.errorf(format!("map has no entry for key {}", quote(name))))
            }
            Value::Time(t) => {
                let Some(f) = crate::funcs::time_method(name) else {
                    return Err(
                        self.errorf(format!("can't evaluate field {name} in type time.Time"))
                    );
                };
                let t = Value::Time(*t);
                self.call(dot, &f, name, At::Arg(node), args, final_, Some(t))
            }
            Value::Object(o) => {
                let ty = o.type_name();
                match crate::funcs::member(o, name) {
                    crate::funcs::Member::Method(f) => {
                        let recv = recv.clone();
                        self.call(dot, &f, name, At::Arg(node), args, final_, Some(recv))
                    }
                    crate::funcs::Member::Field(_) if has_args => Err(self.errorf(format!(
                        "{name} has arguments but cannot be invoked as function"
                    ))),
                    crate::funcs::Member::Field(v) => Ok(v),
                    crate::funcs::Member::Unexported => {
                        Err(self
                            .errorf(format!("{name} is an unexported field of struct type {ty}")))
                    }
                    crate::funcs::Member::Missing => {
                        Err(self.errorf(format!("can't evaluate field {name} in type {ty}")))
                    }
                }
            }
            other => {
                let ty = if from_map {
                    "interface {}"
                } else {
                    other.type_name()
                };
                Err(self.errorf(format!("can't evaluate field {name} in type {ty}")))
            }
        }
    }

    fn eval_function(
        &mut self,
        dot: &Value,
        ident: &'a Arg,
        name: &str,
        node: At<'a>,
        args: &'a [Arg],
        final_: Option<Value>,
    ) -> R<Value> {
        self.at = At::Arg(ident);
        let Some(f) = crate::funcs::lookup(name) else {
            return Err(self.errorf(format!("{} is not a defined function", quote(name))));
        };
        self.call(dot, &f, name, node, args, final_, None)
    }

    #[allow(clippy::too_many_arguments)]
    fn call(
        &mut self,
        dot: &Value,
        f: &Func,
        name: &str,
        node: At<'a>,
        args: &'a [Arg],
        final_: Option<Value>,
        receiver: Option<Value>,
    ) -> R<Value> {
        let args = if args.is_empty() { args } else { &args[1..] };
        let num_in = args.len() + usize::from(final_.is_some());
        let nfixed = f.params.len();
        if f.variadic.is_some() {
            if num_in < nfixed {
                return Err(self.errorf(format!(
                    "wrong number of args for {name}: want at least {nfixed} got {}",
                    args.len()
                )));
            }
        } else if num_in != nfixed {
            return Err(self.errorf(format!(
                "wrong number of args for {name}: want {nfixed} got {num_in}"
            )));
        }
        if f.short_circuit {
            let mut v = Value::Nil;
            for a in args {
                v = self.eval_arg(dot, Ty::Refl, a)?;
                if v.truthy() == (name == "or") {
                    return Ok(v);
                }
            }
            if let Some(fv) = final_ {
                v = fv;
            }
            return Ok(v);
        }
        let mut argv = Vec::with_capacity(num_in + 1);
        if let Some(r) = receiver {
            argv.push(r);
        }
        for (i, a) in args.iter().enumerate() {
            let ty = if i < nfixed {
                f.params[i]
            } else {
                f.variadic.unwrap_or(Ty::Any)
            };
            argv.push(self.eval_arg(dot, ty, a)?);
        }
        if let Some(fv) = final_ {
            let ty = match f.variadic {
                Some(v) if num_in > nfixed => v,
                _ => f.params[num_in - 1],
            };
            argv.push(self.validate_type(fv, ty)?);
        }
        match (f.call)(&mut self.ctx, argv) {
            Ok(v) => Ok(v),
            Err(msg) => {
                self.at = node;
                Err(self.errorf(format!("error calling {name}: {msg}")))
            }
        }
    }

    fn validate_type(&self, v: Value, ty: Ty) -> R<Value> {
        if matches!(v, Value::Nil) {
            return match ty {
                Ty::Any | Ty::Refl | Ty::ListAny | Ty::Semver => Ok(Value::Nil),
                Ty::MapAny => Ok(Value::map(Default::default())),
                _ => Err(self.errorf(format!("invalid value; expected {}", ty.go_name()))),
            };
        }
        if ty.accepts(&v) {
            return Ok(v);
        }
        Err(self.errorf(format!(
            "wrong type for value; expected {}; got {}",
            ty.go_name(),
            v.type_name()
        )))
    }

    fn eval_arg(&mut self, dot: &Value, ty: Ty, a: &'a Arg) -> R<Value> {
        self.at = At::Arg(a);
        let v = match a {
            Arg::Dot { .. } => dot.clone(),
            Arg::Nil { .. } => {
                return match ty {
                    Ty::Any | Ty::Refl | Ty::MapAny | Ty::ListAny | Ty::Semver => {
                        self.validate_type(Value::Nil, ty)
                    }
                    _ => Err(self.errorf(format!("cannot assign nil to {}", ty.go_name()))),
                };
            }
            Arg::Field { idents, .. } => {
                let iface = self.dot_iface;
                let v = self.eval_field_chain(
                    dot,
                    dot.clone(),
                    a,
                    idents,
                    std::slice::from_ref(a),
                    None,
                    iface,
                )?;
                self.check_nil_iface(&v, ty)?;
                v
            }
            Arg::Var { idents, .. } => {
                self.nil_iface = false;
                let v = self.eval_variable(dot, a, std::slice::from_ref(a), None)?;
                if idents.len() > 1 {
                    self.check_nil_iface(&v, ty)?;
                }
                v
            }
            Arg::Pipe(p) => self.eval_pipeline(dot, p)?,
            Arg::Ident { name, .. } => {
                self.eval_function(dot, a, name, At::Arg(a), std::slice::from_ref(a), None)?
            }
            Arg::Chain { .. } => self.eval_chain(dot, a, std::slice::from_ref(a), None)?,
            Arg::Bool { val, .. } => match ty {
                Ty::Bool | Ty::Any | Ty::Refl => Value::Bool(*val),
                _ => return Err(self.literal_mismatch(ty, a)),
            },
            Arg::Str { text, .. } => match ty {
                Ty::Str | Ty::Bin | Ty::Any | Ty::Refl => Value::String(text.clone()),
                _ => return Err(self.literal_mismatch(ty, a)),
            },
            Arg::Number { num, .. } => match ty {
                Ty::Any | Ty::Refl => self.ideal_constant(num)?,
                Ty::Int if num.int.is_some() => Value::Int(num.int.unwrap_or(0)),
                Ty::Int64 if num.int.is_some() => Value::Int64(num.int.unwrap_or(0)),
                Ty::Float if num.float.is_some() => Value::Float(num.float.unwrap_or(0.0)),
                _ => return Err(self.literal_mismatch(ty, a)),
            },
        };
        self.validate_type(v, ty)
    }

    fn check_nil_iface(&self, v: &Value, ty: Ty) -> R<()> {
        if matches!(v, Value::Nil) && self.nil_iface && !matches!(ty, Ty::Any | Ty::Refl) {
            return Err(self.errorf(format!(
                "wrong type for value; expected {}; got interface {{}}",
                ty.go_name()
            )));
        }
        Ok(())
    }

    fn literal_mismatch(&self, ty: Ty, a: &Arg) -> Flow {
        match ty {
            Ty::Bool => self.errorf(format!("expected bool; found {a}")),
            Ty::Str | Ty::Bin => self.errorf(format!("expected string; found {a}")),
            Ty::Int | Ty::Int64 => self.errorf(format!("expected integer; found {a}")),
            Ty::Float => self.errorf(format!("expected float; found {a}")),
            _ => self.errorf(format!("can't handle {a} for arg of type {}", ty.go_name())),
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
