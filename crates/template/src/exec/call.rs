//! Function calls: arity, argument evaluation and Go's type checks on arguments.

use super::{At, Flow, R, State};
use crate::ast::Arg;
use crate::funcs::{Func, Ty};
use crate::value::Value;

impl<'a> State<'a, '_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn call(
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

    pub(super) fn eval_arg(&mut self, dot: &Value, ty: Ty, a: &'a Arg) -> R<Value> {
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
