//! Go `text/template` with sprig v3's text function map and External Secrets Operator's
//! template functions, as ESO v2 executes them (`missingkey=error`).
//!
//! The crate is pure: no I/O, no threads, no clock and no OS entropy. Functions that read
//! the time or draw random numbers take them from [`Env`], which the caller fills in, so the
//! same inputs always render the same output (and the crate builds for `wasm32-wasip2`).
//!
//! ```
//! use ampoule_template::{Delims, Env, Template, Value};
//! let t = Template::parse("conn", "{{ .user }}@{{ .host | upper }}", &Delims::default())?;
//! let data = Value::string_map([("user", "app"), ("host", "db")]);
//! assert_eq!(t.execute(&data, &Env::default())?, "app@DB");
//! # Ok::<(), ampoule_template::Error>(())
//! ```

mod ast;
mod error;
mod exec;
mod funcs;
mod gofmt;
mod gofmt_printf;
mod lex;
mod object;
mod parse;
mod pki;
#[cfg(test)]
mod props;
#[cfg(test)]
mod regressions;
mod rng;
mod time;
mod value;

pub use error::Error;
pub use object::Object;
pub use time::GoTime;
pub use value::{Kind, Value};

use std::collections::BTreeMap;

/// Action delimiters (ESO's `--template-left-delimiter` / `--template-right-delimiter`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delims {
    /// Opening delimiter, `{{` by default.
    pub left: String,
    /// Closing delimiter, `}}` by default.
    pub right: String,
}

impl Default for Delims {
    fn default() -> Self {
        Self {
            left: "{{".into(),
            right: "}}".into(),
        }
    }
}

/// What a render may observe of the outside world: the clock and the entropy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Env {
    /// The instant `now`, `ago`, `date` (without a date) and friends see. UTC.
    pub now: GoTime,
    /// Seed of the ChaCha20 stream behind `randAlphaNum`, `uuidv4`, `randInt`, `shuffle`,
    /// `randBytes` and the other random functions. The host fills it from the OS per render.
    pub seed: [u8; 32],
}

/// A parsed template set: the main template plus every `define`/`block` in its text.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    text: String,
    trees: BTreeMap<String, ast::List>,
}

impl Template {
    /// Parses `text` as template `name` (the name appears in error messages, as in Go).
    pub fn parse(name: &str, text: &str, delims: &Delims) -> Result<Template, Error> {
        let trees = parse::parse(name, text, delims)?;
        Ok(Template {
            name: name.to_string(),
            text: text.to_string(),
            trees,
        })
    }

    /// The template's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Names of every template in the set (the main one and all `define`d ones), sorted.
    pub fn template_names(&self) -> Vec<&str> {
        self.trees.keys().map(String::as_str).collect()
    }

    /// Executes the main template with `data` as dot and `$`.
    pub fn execute(&self, data: &Value, env: &Env) -> Result<String, Error> {
        self.execute_template(&self.name, data, env)
    }

    /// Executes the named template of the set (Go's `ExecuteTemplate`).
    pub fn execute_template(&self, name: &str, data: &Value, env: &Env) -> Result<String, Error> {
        exec::execute(self, name, data, env)
    }
}

/// Parses and executes in one step, as ESO does for every template value.
pub fn render(
    name: &str,
    text: &str,
    data: &Value,
    env: &Env,
    delims: &Delims,
) -> Result<String, Error> {
    Template::parse(name, text, delims)?.execute(data, env)
}

/// Whether `name` is in the function map (sprig + ESO + Go builtins).
pub fn has_function(name: &str) -> bool {
    funcs::lookup(name).is_some()
}
