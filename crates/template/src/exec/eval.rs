//! Pipelines, commands, variables and field chains.

use super::{At, R, State};
use crate::ast::{Arg, Cmd, Num, Pipe};
use crate::funcs::Ty;
use crate::gofmt::quote;
use crate::value::{Kind, Value};

impl<'a> State<'a, '_> {
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

    pub(super) fn ideal_constant(&self, n: &Num) -> R<Value> {
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

    pub(super) fn eval_variable(
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

    pub(super) fn eval_chain(
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
    pub(super) fn eval_field_chain(
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

    pub(super) fn eval_function(
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
}
