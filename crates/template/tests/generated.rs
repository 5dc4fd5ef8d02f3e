//! Random templates from a small grammar (seeded, bounded), rendered by this crate and by
//! the Go oracle; both must agree exactly (output or error text).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Case, compare, run_oracle};
use serde_json::json;

/// Number of generated templates per run (CI budget) and the fixed seed.
const CASES: usize = 500;
const SEED: u64 = 0x5eed_a3b0_u64;

struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }

    fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }

    fn operand(&mut self, depth: usize, vars: &[String]) -> String {
        let k = self.next() % 10;
        match k {
            0..=3 => self
                .pick(&[
                    ".user", ".n", ".f", ".list", ".m", ".m.a", ".t", ".empty", ".nums",
                    ".missing", ".m.c.d", ".",
                ])
                .into(),
            4 => self
                .pick(&["\"str\"", "\"\"", "`raw`", "\"a b\"", "\"<&>\""])
                .into(),
            5 => self
                .pick(&["0", "1", "-2", "3", "2.5", "1e3", "0x10", "'a'"])
                .into(),
            6 => self.pick(&["true", "false", "nil"]).into(),
            7 if !vars.is_empty() => vars[(self.next() % vars.len() as u64) as usize].clone(),
            _ if depth < 2 => format!("({})", self.pipeline(depth + 1, vars)),
            _ => ".user".into(),
        }
    }

    fn call(&mut self, depth: usize, vars: &[String]) -> String {
        let f = self.pick(&[
            "upper", "lower", "len", "print", "println", "quote", "squote", "b64enc", "toJson",
            "not", "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "default", "add", "sub", "mul",
            "add1", "trim", "title", "typeOf", "kindOf", "empty", "toString", "first", "last",
            "index", "list", "dict", "join", "html", "js", "urlquery", "len", "repeat", "trunc",
            "int", "float64", "atoi", "ternary", "coalesce", "has", "cat", "sha1sum", "nospace",
        ]);
        let n = match f {
            "upper" | "lower" | "len" | "quote" | "b64enc" | "toJson" | "not" | "trim"
            | "title" | "typeOf" | "kindOf" | "empty" | "toString" | "first" | "last" | "add1"
            | "int" | "float64" | "atoi" | "sha1sum" | "nospace" => 1,
            "eq" | "ne" | "lt" | "le" | "gt" | "ge" | "default" | "sub" | "index" | "join"
            | "repeat" | "trunc" | "has" => 2,
            "ternary" => 3,
            _ => (self.next() % 3) as usize + 1,
        };
        let args: Vec<String> = (0..n).map(|_| self.operand(depth, vars)).collect();
        format!("{f} {}", args.join(" "))
    }

    fn pipeline(&mut self, depth: usize, vars: &[String]) -> String {
        let mut p = if self.chance(60) {
            self.call(depth, vars)
        } else {
            self.operand(depth, vars)
        };
        if self.chance(30) {
            p = format!(
                "{p} | {}",
                self.pick(&[
                    "upper",
                    "len",
                    "quote",
                    "print",
                    "toJson",
                    "default \"d\"",
                    "printf \"%v\""
                ])
            );
        }
        p
    }

    fn block(&mut self, depth: usize, vars: &mut Vec<String>) -> String {
        let mut out = String::new();
        for _ in 0..(self.next() % 4 + 1) {
            let k = self.next() % 10;
            let piece = match k {
                0 | 1 => self.pick(&["x", " ", "\n", "a-b", "{", "}"]).to_string(),
                2..=5 => {
                    let trim_l = if self.chance(20) { "- " } else { " " };
                    let trim_r = if self.chance(20) { " -" } else { " " };
                    format!("{{{{{trim_l}{}{trim_r}}}}}", self.pipeline(depth, vars))
                }
                6 if depth < 3 => {
                    let v = format!("$v{}", vars.len());
                    let s = format!("{{{{ {v} := {} }}}}", self.pipeline(depth, vars));
                    vars.push(v);
                    s
                }
                7 if depth < 3 => {
                    let (c, b) = (
                        self.pipeline(depth, vars),
                        self.block(depth + 1, &mut vars.clone()),
                    );
                    let e = if self.chance(50) {
                        format!("{{{{ else }}}}{}", self.block(depth + 1, &mut vars.clone()))
                    } else {
                        String::new()
                    };
                    format!("{{{{ if {c} }}}}{b}{e}{{{{ end }}}}")
                }
                8 if depth < 3 => {
                    let over =
                        self.pick(&[".list", ".m", ".nums", "3", ".empty", "(list)", ".user"]);
                    let mut inner = vars.clone();
                    let head = if self.chance(50) {
                        let (i, e) = (format!("$i{depth}"), format!("$e{depth}"));
                        inner.push(i.clone());
                        inner.push(e.clone());
                        if over == "3" {
                            format!("{e} := {over}")
                        } else {
                            format!("{i}, {e} := {over}")
                        }
                    } else {
                        over.to_string()
                    };
                    let b = self.block(depth + 1, &mut inner);
                    format!("{{{{ range {head} }}}}{b}{{{{ else }}}}none{{{{ end }}}}")
                }
                9 if depth < 3 => {
                    let c = self.pipeline(depth, vars);
                    let b = self.block(depth + 1, &mut vars.clone());
                    format!("{{{{ with {c} }}}}{b}{{{{ end }}}}")
                }
                _ => "y".to_string(),
            };
            out.push_str(&piece);
        }
        out
    }
}

#[test]
fn random_templates_match_go() {
    let data = json!({"user": "admin", "n": 3, "f": 1.5, "list": ["a", "b"], "m": {"a": 1, "c": {"d": "deep"}},
        "t": true, "empty": "", "nums": [3, 1, 2]});
    let mut g = Gen(SEED);
    let cases: Vec<Case> = (0..CASES)
        .map(|i| {
            let t = g.block(0, &mut vec![]);
            Case::from_json(
                &json!({ "template": t, "data": data }),
                &json!({}),
                format!("gen-{i}"),
            )
        })
        .collect();
    let go = run_oracle(&cases);
    let failures: Vec<String> = cases
        .iter()
        .zip(&go)
        .filter_map(|(c, go)| compare(c, go, &c.render_rust()))
        .collect();
    println!(
        "generated templates: {}/{} agree with Go ({:.1}%)",
        CASES - failures.len(),
        CASES,
        100.0 * (CASES - failures.len()) as f64 / CASES as f64
    );
    assert!(
        failures.is_empty(),
        "{} generated templates differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
