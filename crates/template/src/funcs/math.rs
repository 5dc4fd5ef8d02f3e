//! sprig arithmetic: integer ops through `cast.ToInt64`, float ops through decimals.

use super::{Func, Ty, f, i, to_float64, to_int64, v};
use crate::value::{Kind, Value};

pub fn lookup(name: &str) -> Option<Func> {
    use Ty::{Any, Int};
    Some(match name {
        "add1" => f(&[Any], |_, a| {
            Ok(Value::Int64(to_int64(&a[0]).wrapping_add(1)))
        }),
        "add" => v(&[], Any, |_, a| {
            Ok(Value::Int64(
                a.iter().fold(0i64, |s, x| s.wrapping_add(to_int64(x))),
            ))
        }),
        "sub" => f(&[Any, Any], |_, a| {
            Ok(Value::Int64(to_int64(&a[0]).wrapping_sub(to_int64(&a[1]))))
        }),
        "div" => f(&[Any, Any], |_, a| {
            let d = to_int64(&a[1]);
            if d == 0 {
                return Err("runtime error: integer divide by zero".into());
            }
            Ok(Value::Int64(to_int64(&a[0]).wrapping_div(d)))
        }),
        "mod" => f(&[Any, Any], |_, a| {
            let d = to_int64(&a[1]);
            if d == 0 {
                return Err("runtime error: integer divide by zero".into());
            }
            Ok(Value::Int64(to_int64(&a[0]).wrapping_rem(d)))
        }),
        "mul" => v(&[Any], Any, |_, a| {
            Ok(Value::Int64(
                a[1..]
                    .iter()
                    .fold(to_int64(&a[0]), |s, x| s.wrapping_mul(to_int64(x))),
            ))
        }),
        "add1f" => f(&[Any], |_, a| dec_op(&a[0], &[Value::Int(1)], Op::Add)),
        "addf" => v(&[], Any, |_, a| dec_op(&Value::Float(0.0), &a, Op::Add)),
        "subf" => v(&[Any], Any, |_, a| dec_op(&a[0], &a[1..], Op::Sub)),
        "mulf" => v(&[Any], Any, |_, a| dec_op(&a[0], &a[1..], Op::Mul)),
        "divf" => v(&[Any], Any, |_, a| dec_op(&a[0], &a[1..], Op::Div)),
        "max" | "biggest" => v(&[Any], Any, |_, a| {
            Ok(Value::Int64(a.iter().map(to_int64).max().unwrap_or(0)))
        }),
        "min" => v(&[Any], Any, |_, a| {
            Ok(Value::Int64(a.iter().map(to_int64).min().unwrap_or(0)))
        }),
        "maxf" => v(&[Any], Any, |_, a| {
            Ok(Value::Float(
                a.iter().map(to_float64).fold(f64::NEG_INFINITY, f64::max),
            ))
        }),
        "minf" => v(&[Any], Any, |_, a| {
            Ok(Value::Float(
                a.iter().map(to_float64).fold(f64::INFINITY, f64::min),
            ))
        }),
        "ceil" => f(&[Any], |_, a| Ok(Value::Float(to_float64(&a[0]).ceil()))),
        "floor" => f(&[Any], |_, a| Ok(Value::Float(to_float64(&a[0]).floor()))),
        "round" => v(&[Any, Int], Ty::Float, |_, a| {
            let on = a.get(2).map_or(0.5, to_float64);
            let pow = 10f64.powf(i(&a[1]) as f64);
            let digit = pow * to_float64(&a[0]);
            let frac = digit.fract();
            Ok(Value::Float(
                if frac >= on {
                    digit.ceil()
                } else {
                    digit.floor()
                } / pow,
            ))
        }),
        "until" => f(&[Int], |_, a| {
            let n = i(&a[0]);
            Ok(int_list(if n >= 0 {
                until_step(0, n, 1)
            } else {
                until_step(0, n, -1)
            }))
        }),
        "untilStep" => f(&[Int, Int, Int], |_, a| {
            Ok(int_list(until_step(i(&a[0]), i(&a[1]), i(&a[2]))))
        }),
        "seq" => v(&[], Int, |_, a| {
            Ok(Value::String(seq(&a.iter().map(i).collect::<Vec<_>>())))
        }),
        _ => return None,
    })
}

fn int_list(v: Vec<i64>) -> Value {
    Value::List(
        std::rc::Rc::new(v.into_iter().map(Value::Int).collect()),
        Kind::Int,
    )
}

fn until_step(start: i64, stop: i64, step: i64) -> Vec<i64> {
    let mut v = vec![];
    if stop < start {
        if step >= 0 {
            return v;
        }
        let mut i = start;
        while i > stop && v.len() < 1_000_000 {
            v.push(i);
            let Some(next) = i.checked_add(step) else {
                break;
            };
            i = next;
        }
        return v;
    }
    if step <= 0 {
        return v;
    }
    let mut i = start;
    while i < stop && v.len() < 1_000_000 {
        v.push(i);
        // Past i64::MAX the sequence ends (Go would wrap around and go on to the cap).
        let Some(next) = i.checked_add(step) else {
            break;
        };
        i = next;
    }
    v
}

fn seq(p: &[i64]) -> String {
    let list = match *p {
        [end] => {
            let inc = if end < 1 { -1 } else { 1 };
            until_step(1, end.wrapping_add(inc), inc)
        }
        [start, end] => {
            let step = if end < start { -1 } else { 1 };
            until_step(start, end.wrapping_add(step), step)
        }
        [start, step, end] => {
            let inc = if end < start { -1 } else { 1 };
            if end < start && step > 0 {
                return String::new();
            }
            until_step(start, end.wrapping_add(inc), step)
        }
        _ => return String::new(),
    };
    list.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

/// A decimal `mantissa * 10^-scale` (shopspring/decimal's exactness for `addf` & co).
#[derive(Clone, Copy)]
struct Dec {
    m: i128,
    scale: u32,
}

impl Dec {
    fn from_f64(f: f64) -> Option<Dec> {
        if !f.is_finite() {
            return None;
        }
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e')?;
        let exp: i32 = exp.parse().ok()?;
        let neg = mant.starts_with('-');
        let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
        let frac_digits = digits.len() as i32 - 1;
        let mut m: i128 = digits.parse().ok()?;
        let mut scale = frac_digits - exp;
        if scale < 0 {
            m = m.checked_mul(10i128.checked_pow((-scale) as u32)?)?;
            scale = 0;
        }
        Some(Dec {
            m: if neg { -m } else { m },
            scale: scale as u32,
        })
    }

    fn align(a: Dec, b: Dec) -> Option<(i128, i128, u32)> {
        let s = a.scale.max(b.scale);
        Some((
            a.m.checked_mul(10i128.checked_pow(s - a.scale)?)?,
            b.m.checked_mul(10i128.checked_pow(s - b.scale)?)?,
            s,
        ))
    }

    fn op(self, o: Dec, op: Op) -> Result<Option<Dec>, String> {
        Ok(match op {
            Op::Add => Dec::align(self, o).map(|(a, b, s)| Dec { m: a + b, scale: s }),
            Op::Sub => Dec::align(self, o).map(|(a, b, s)| Dec { m: a - b, scale: s }),
            Op::Mul => self.m.checked_mul(o.m).map(|m| Dec {
                m,
                scale: self.scale + o.scale,
            }),
            Op::Div => {
                if o.m == 0 {
                    return Err("decimal division by 0".into());
                }
                // Round half away from zero to 16 decimal places.
                let Some((a, b, _)) = Dec::align(self, o) else {
                    return Ok(None);
                };
                let Some(num) = a.checked_mul(10i128.pow(17)) else {
                    return Ok(None);
                };
                let q = num / b;
                let r = if q % 10 >= 5 {
                    q / 10 + 1
                } else if q % 10 <= -5 {
                    q / 10 - 1
                } else {
                    q / 10
                };
                Some(Dec { m: r, scale: 16 })
            }
        })
    }

    fn to_f64(self) -> f64 {
        let s = self.m.abs().to_string();
        let sc = self.scale as usize;
        let txt = if sc == 0 {
            s
        } else if s.len() > sc {
            format!("{}.{}", &s[..s.len() - sc], &s[s.len() - sc..])
        } else {
            format!("0.{}{}", "0".repeat(sc - s.len()), s)
        };
        let f: f64 = txt.parse().unwrap_or(0.0);
        if self.m < 0 { -f } else { f }
    }
}

fn dec_op(a: &Value, rest: &[Value], op: Op) -> Result<Value, String> {
    let mut acc_f = to_float64(a);
    let mut acc = Dec::from_f64(acc_f);
    for x in rest {
        let xf = to_float64(x);
        let d = Dec::from_f64(xf);
        acc = match (acc, d) {
            (Some(p), Some(q)) => p.op(q, op)?,
            _ => None,
        };
        acc_f = match op {
            Op::Add => acc_f + xf,
            Op::Sub => acc_f - xf,
            Op::Mul => acc_f * xf,
            Op::Div => {
                if xf == 0.0 {
                    return Err("decimal division by 0".into());
                }
                acc_f / xf
            }
        };
        if let Some(d) = acc {
            acc_f = d.to_f64();
        }
    }
    Ok(Value::Float(acc.map_or(acc_f, Dec::to_f64)))
}
