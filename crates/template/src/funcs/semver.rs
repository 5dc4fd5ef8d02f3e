//! sprig's `semverCompare`: Masterminds/semver v3.3 versions and constraints (ranges,
//! wildcards, `~`, `^`, `||`), with its error texts.

use std::cmp::Ordering;
use std::sync::LazyLock;

use regex::Regex;

use super::{Func, Ty, f, s};
use crate::object::Object;
use crate::value::Value;

const SV: &str = r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";

fn re(p: String) -> Option<Regex> {
    Regex::new(&p).ok()
}

static VERSION: LazyLock<Option<Regex>> = LazyLock::new(|| re(format!("^{SV}$")));
static CONSTRAINT: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(format!(r"^\s*({OPS})\s*({CV})\s*$")));
static RANGE: LazyLock<Option<Regex>> = LazyLock::new(|| re(format!(r"\s*({CV})\s+-\s+({CV})\s*")));
static FIND: LazyLock<Option<Regex>> = LazyLock::new(|| re(format!(r"({OPS})\s*({CV})")));
static VALID: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(format!(
        r"^(\s*({OPS})\s*({CV})\s*)((?:\s+|,\s*)({OPS})\s*({CV})\s*)*$"
    ))
});

fn get(r: &'static LazyLock<Option<Regex>>) -> Result<&'static Regex, String> {
    r.as_ref().ok_or_else(|| "semver: bad pattern".to_string())
}

/// Masterminds/semver's `Version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: String,
    pub meta: String,
    /// The text it was parsed from (`Original()`).
    pub original: String,
}

fn only(s: &str, allowed: impl Fn(char) -> bool) -> bool {
    s.chars().all(allowed)
}

fn is_num(c: char) -> bool {
    c.is_ascii_digit()
}

fn is_allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}

fn segment(s: &str) -> Result<u64, String> {
    let s = s.trim_start_matches('.');
    s.parse().map_err(|_| {
        format!(
            "Error parsing version segment: strconv.ParseUint: parsing {s:?}: value out of range"
        )
    })
}

impl Version {
    /// `semver.NewVersion`.
    pub fn parse(v: &str) -> Result<Version, String> {
        let m = get(&VERSION)?
            .captures(v)
            .ok_or("Invalid Semantic Version")?;
        let g = |i: usize| m.get(i).map_or("", |x| x.as_str());
        let opt = |i: usize| {
            if g(i).is_empty() {
                Ok(0)
            } else {
                segment(g(i))
            }
        };
        let out = Version {
            major: segment(g(1))?,
            minor: opt(2)?,
            patch: opt(3)?,
            pre: g(5).to_string(),
            meta: g(8).to_string(),
            original: v.to_string(),
        };
        if !out.pre.is_empty() {
            validate_pre(&out.pre)?;
        }
        if !out.meta.is_empty() {
            validate_meta(&out.meta)?;
        }
        Ok(out)
    }

    /// `Version.String()`: without the `v` prefix.
    pub fn string(&self) -> String {
        let mut s = format!("{}.{}.{}", self.major, self.minor, self.patch);
        if !self.pre.is_empty() {
            s.push('-');
            s.push_str(&self.pre);
        }
        if !self.meta.is_empty() {
            s.push('+');
            s.push_str(&self.meta);
        }
        s
    }

    /// `Version.Compare` (metadata ignored).
    pub fn cmp(&self, o: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(o.major, o.minor, o.patch))
            .then_with(|| match (self.pre.is_empty(), o.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => cmp_pre(&self.pre, &o.pre),
            })
    }
}

/// semver's `validatePrerelease`.
pub fn validate_pre(pre: &str) -> Result<(), String> {
    for p in pre.split('.') {
        if only(p, is_num) {
            if p.len() > 1 && p.starts_with('0') {
                return Err("Version segment starts with 0".into());
            }
        } else if !only(p, is_allowed) {
            return Err("Invalid Prerelease string".into());
        }
    }
    Ok(())
}

/// semver's `validateMetadata`.
pub fn validate_meta(meta: &str) -> Result<(), String> {
    if meta.split('.').any(|p| !only(p, is_allowed)) {
        return Err("Invalid Metadata string".into());
    }
    Ok(())
}

fn cmp_pre(a: &str, b: &str) -> Ordering {
    let (sa, sb): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for i in 0..sa.len().max(sb.len()) {
        let (x, y) = (
            sa.get(i).copied().unwrap_or(""),
            sb.get(i).copied().unwrap_or(""),
        );
        let d = cmp_part(x, y);
        if d != Ordering::Equal {
            return d;
        }
    }
    Ordering::Equal
}

fn cmp_part(s: &str, o: &str) -> Ordering {
    if s == o {
        return Ordering::Equal;
    }
    if s.is_empty() {
        return Ordering::Less;
    }
    if o.is_empty() {
        return Ordering::Greater;
    }
    match (s.parse::<u64>(), o.parse::<u64>()) {
        (Err(_), Err(_)) => {
            if s > o {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Ok(a), Ok(b)) => {
            if a > b {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
    }
}

struct Constraint {
    op: String,
    con: Version,
    minor_dirty: bool,
    patch_dirty: bool,
    dirty: bool,
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "*" | "X")
}

fn parse_constraint(c: &str) -> Result<Constraint, String> {
    if c.is_empty() {
        return Ok(Constraint {
            op: String::new(),
            con: Version::parse("0.0.0")?,
            minor_dirty: false,
            patch_dirty: false,
            dirty: true,
        });
    }
    let m = get(&CONSTRAINT)?
        .captures(c)
        .ok_or_else(|| format!("improper constraint: {c}"))?;
    let g = |i: usize| m.get(i).map_or("", |x| x.as_str());
    let (m3, m4, m5, m6) = (g(3), g(4), g(5), g(6));
    let (mut minor_dirty, mut patch_dirty, mut dirty) = (false, false, false);
    let mut ver = g(2).to_string();
    if is_x(m3) || m3.is_empty() {
        ver = format!("0.0.0{m6}");
        dirty = true;
    } else if is_x(m4.trim_start_matches('.')) || m4.is_empty() {
        (minor_dirty, dirty) = (true, true);
        ver = format!("{m3}.0.0{m6}");
    } else if is_x(m5.trim_start_matches('.')) || m5.is_empty() {
        (patch_dirty, dirty) = (true, true);
        ver = format!("{m3}{m4}.0{m6}");
    }
    let con = Version::parse(&ver).map_err(|_| "constraint Parser Error".to_string())?;
    Ok(Constraint {
        op: g(1).to_string(),
        con,
        minor_dirty,
        patch_dirty,
        dirty,
    })
}

fn tilde(v: &Version, c: &Constraint) -> bool {
    if v.cmp(&c.con) == Ordering::Less {
        return false;
    }
    if (c.con.major, c.con.minor, c.con.patch) == (0, 0, 0) && !c.minor_dirty && !c.patch_dirty {
        return true;
    }
    v.major == c.con.major && (v.minor == c.con.minor || c.minor_dirty)
}

impl Constraint {
    fn check(&self, v: &Version) -> bool {
        let (c, con) = (self, &self.con);
        let pre_blocked = !v.pre.is_empty() && con.pre.is_empty();
        match self.op.as_str() {
            "!=" => {
                if c.dirty {
                    if pre_blocked {
                        return false;
                    }
                    if con.major != v.major {
                        return true;
                    }
                    if con.minor != v.minor && !c.minor_dirty {
                        return true;
                    } else if c.minor_dirty {
                        return false;
                    } else if con.patch != v.patch && !c.patch_dirty {
                        return true;
                    } else if c.patch_dirty {
                        return (!v.pre.is_empty() || !con.pre.is_empty())
                            && cmp_pre(&v.pre, &con.pre) != Ordering::Equal;
                    }
                }
                v.cmp(con) != Ordering::Equal
            }
            _ if pre_blocked => false,
            ">" => {
                if !c.dirty {
                    return v.cmp(con) == Ordering::Greater;
                }
                if v.major != con.major {
                    return v.major > con.major;
                }
                if c.minor_dirty {
                    return false;
                }
                if c.patch_dirty {
                    return v.minor > con.minor;
                }
                v.cmp(con) == Ordering::Greater
            }
            "<" => v.cmp(con) == Ordering::Less,
            ">=" | "=>" => v.cmp(con) != Ordering::Less,
            "<=" | "=<" => {
                if !c.dirty {
                    return v.cmp(con) != Ordering::Greater;
                }
                !(v.major > con.major
                    || (v.major == con.major && v.minor > con.minor && !c.minor_dirty))
            }
            "~" | "~>" => tilde(v, c),
            "^" => {
                if v.cmp(con) == Ordering::Less {
                    return false;
                }
                if con.major > 0 || c.minor_dirty {
                    return v.major == con.major;
                }
                if v.major > 0 {
                    return false;
                }
                if con.minor > 0 || c.patch_dirty {
                    return v.minor == con.minor;
                }
                if v.minor > 0 {
                    return false;
                }
                con.patch == v.patch
            }
            _ if c.dirty => tilde(v, c),
            _ => v.cmp(con) == Ordering::Equal,
        }
    }
}

fn rewrite_range(i: &str) -> Result<String, String> {
    let mut o = i.to_string();
    for m in get(&RANGE)?.captures_iter(i) {
        let whole = m.get(0).map_or("", |x| x.as_str());
        let (a, b) = (
            m.get(1).map_or("", |x| x.as_str()),
            m.get(11).map_or("", |x| x.as_str()),
        );
        o = o.replacen(whole, &format!(">= {a}, <= {b} "), 1);
    }
    Ok(o)
}

/// `semverCompare constraint version`.
fn semver_compare(constraint: &str, version: &str) -> Result<bool, String> {
    let rewritten = rewrite_range(constraint)?;
    let mut ors = vec![];
    for part in rewritten.split("||") {
        if !get(&VALID)?.is_match(part) {
            return Err(format!("improper constraint: {part}"));
        }
        let found: Vec<&str> = get(&FIND)?.find_iter(part).map(|m| m.as_str()).collect();
        let found = if found.is_empty() { vec![part] } else { found };
        ors.push(
            found
                .into_iter()
                .map(parse_constraint)
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    let v = Version::parse(version)?;
    Ok(ors.iter().any(|and| and.iter().all(|c| c.check(&v))))
}

pub fn lookup(name: &str) -> Option<Func> {
    use Ty::Str;
    Some(match name {
        "semverCompare" => f(&[Str, Str], |_, a| {
            semver_compare(s(&a[0]), s(&a[1])).map(Value::Bool)
        }),
        "semver" => f(&[Str], |_, a| {
            Version::parse(s(&a[0])).map(|v| Value::Object(Object::semver(v, true)))
        }),
        _ => return None,
    })
}
