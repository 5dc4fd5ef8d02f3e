//! Random functions, drawing from the host-seeded ChaCha20 stream.

use super::{Ctx, Func, Ty, b64_std, f, i, s};
use crate::value::Value;

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn pick(c: &mut Ctx<'_>, alphabet: &[u8], n: i64) -> Result<Value, String> {
    let n = super::bounded_len("random string", n.max(0) as u64, 1)?;
    let r = c.rng();
    let out: String = (0..n)
        .map(|_| alphabet[r.below(alphabet.len() as u64) as usize] as char)
        .collect();
    Ok(Value::String(out))
}

pub fn lookup(name: &str) -> Option<Func> {
    use Ty::{Int, Str};
    Some(match name {
        "randAlphaNum" => f(&[Int], |c, a| pick(c, ALNUM.as_bytes(), i(&a[0]))),
        "randAlpha" => f(&[Int], |c, a| pick(c, &ALNUM.as_bytes()[..52], i(&a[0]))),
        "randNumeric" => f(&[Int], |c, a| pick(c, &ALNUM.as_bytes()[52..], i(&a[0]))),
        "randAscii" => f(&[Int], |c, a| {
            pick(c, &(32u8..=126).collect::<Vec<_>>(), i(&a[0]))
        }),
        "randBytes" => f(&[Int], |c, a| {
            let n = i(&a[0]);
            if n < 0 {
                return Err("negative count".into());
            }
            let n = super::bounded_len("randBytes", n as u64, 1)?;
            Ok(Value::String(b64_std(&c.rng().bytes(n))))
        }),
        "randInt" => f(&[Int, Int], |c, a| {
            let (lo, hi) = (i(&a[0]), i(&a[1]));
            // Go's `rand.Intn(max-min) + min`, in Go's wrapping int arithmetic.
            let span = hi.wrapping_sub(lo);
            if span <= 0 {
                return Err("invalid argument to Intn".into());
            }
            Ok(Value::Int(
                (c.rng().below(span as u64) as i64).wrapping_add(lo),
            ))
        }),
        "uuidv4" => f(&[], |c, _| {
            let mut b = c.rng().bytes(16);
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
            Ok(Value::String(format!(
                "{}-{}-{}-{}-{}",
                &h[..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..]
            )))
        }),
        "shuffle" => f(&[Str], |c, a| {
            let mut rs: Vec<char> = s(&a[0]).chars().collect();
            let r = c.rng();
            for k in (1..rs.len()).rev() {
                let j = r.below(k as u64 + 1) as usize;
                rs.swap(k, j);
            }
            Ok(Value::String(rs.into_iter().collect()))
        }),
        _ => return None,
    })
}
