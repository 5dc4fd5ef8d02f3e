//! ESO's Password generator, with ESO's defaults and the rules of the password library ESO
//! uses:
//! - `length` 24 when unset or not positive; `digits` and `symbols` each a quarter of the
//!   length (rounded down) when unset; the rest are letters (lower case, and upper case unless
//!   `noUpper`).
//! - `symbolCharacters` defaults to ``~!@#$%^&*()_+`-={}|[]\:"<>?,./`` (also when empty).
//! - Without `allowRepeat` no character appears twice, so each class must have enough distinct
//!   characters.
//! - Each character is drawn uniformly from its class and inserted at a uniformly random
//!   position, so the classes are mixed.
//! - `secretKeys`: one independent password per key (default `password`); keys must be
//!   non-empty and unique.
//! - `encoding`: raw (default), base64, base64url, base32 or hex of the password's bytes.
//!
//! Negative `digits` or `symbols` are refused (the library would make a password longer than
//! `length`).

use serde::Deserialize;

use crate::random::below;
use crate::{Error, Output};

pub const DEFAULT_LENGTH: usize = 24;
pub const DEFAULT_SYMBOLS: &str = "~!@#$%^&*()_+`-={}|[]\\:\"<>?,./";
const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &str = "0123456789";
/// Longest password this component makes (a bound on one call's work and output).
pub const MAX_LENGTH: usize = 4096;
/// Most `secretKeys` one spec may list.
pub const MAX_KEYS: usize = 256;

/// The CRD's `spec` (ESO's `PasswordSpec`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    #[serde(default)]
    pub length: Option<i64>,
    #[serde(default)]
    pub digits: Option<i64>,
    #[serde(default)]
    pub symbols: Option<i64>,
    #[serde(default)]
    pub symbol_characters: Option<String>,
    #[serde(default)]
    pub no_upper: bool,
    #[serde(default)]
    pub allow_repeat: bool,
    #[serde(default)]
    pub secret_keys: Option<Vec<String>>,
    #[serde(default)]
    pub encoding: Option<String>,
}

/// A spec with ESO's defaults applied and its counts checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub length: usize,
    pub digits: usize,
    pub symbols: usize,
    pub symbol_characters: Vec<char>,
    pub no_upper: bool,
    pub allow_repeat: bool,
    pub keys: Vec<String>,
    pub encoding: String,
}

fn count(value: Option<i64>, default: usize, field: &str) -> Result<usize, Error> {
    match value {
        None => Ok(default),
        Some(v) => usize::try_from(v)
            .map_err(|_| Error::Spec(format!("{field} must not be negative, got {v}"))),
    }
}

impl Spec {
    pub fn parse(spec: &str) -> Result<Spec, Error> {
        serde_json::from_str(spec).map_err(|e| Error::Spec(format!("unable to parse spec: {e}")))
    }

    /// ESO's defaults applied; the counts checked against the length and, without
    /// `allowRepeat`, against the distinct characters available.
    pub fn rules(&self) -> Result<Rules, Error> {
        let length = match self.length {
            Some(l) if l > 0 => usize::try_from(l).unwrap_or(usize::MAX),
            _ => DEFAULT_LENGTH,
        };
        if length > MAX_LENGTH {
            return Err(Error::Spec(format!(
                "length {length} is longer than this generator makes ({MAX_LENGTH})"
            )));
        }
        let digits = count(self.digits, length / 4, "digits")?;
        let symbols = count(self.symbols, length / 4, "symbols")?;
        let symbol_characters: Vec<char> = match self.symbol_characters.as_deref() {
            None | Some("") => DEFAULT_SYMBOLS.chars().collect(),
            Some(s) => s.chars().collect(),
        };
        let keys = match &self.secret_keys {
            None => vec!["password".to_owned()],
            Some(k) if k.is_empty() => vec!["password".to_owned()],
            Some(k) => k.clone(),
        };
        let mut seen = std::collections::BTreeSet::new();
        if keys
            .iter()
            .any(|k| k.is_empty() || !seen.insert(k.as_str()))
        {
            return Err(Error::Spec(
                "secretKeys must be non-empty and unique".into(),
            ));
        }
        if keys.len() > MAX_KEYS {
            return Err(Error::Spec(format!(
                "at most {MAX_KEYS} secretKeys, got {}",
                keys.len()
            )));
        }
        let rules = Rules {
            length,
            digits,
            symbols,
            symbol_characters,
            no_upper: self.no_upper,
            allow_repeat: self.allow_repeat,
            keys,
            encoding: self.encoding.clone().unwrap_or_else(|| "raw".to_owned()),
        };
        rules.check()?;
        Ok(rules)
    }

    /// What `validate-spec` reports: an encoding ESO does not know is used raw.
    pub fn warnings(&self) -> Result<Vec<String>, Error> {
        let rules = self.rules()?;
        Ok(if crate::encoding::known(&rules.encoding) {
            Vec::new()
        } else {
            vec![format!(
                "encoding {:?} is not one of raw, base64, base64url, base32, hex: the password is not encoded",
                rules.encoding
            )]
        })
    }

    pub fn generate(&self) -> Result<Output, Error> {
        let rules = self.rules()?;
        let mut out = Vec::with_capacity(rules.keys.len());
        for key in &rules.keys {
            let password = rules.password()?;
            out.push((
                key.clone(),
                crate::encoding::encode(password.as_bytes(), &rules.encoding),
            ));
        }
        Ok(out)
    }
}

fn distinct(chars: &[char]) -> usize {
    chars
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

impl Rules {
    pub fn letters(&self) -> Vec<char> {
        let mut letters: Vec<char> = LOWER.chars().collect();
        if !self.no_upper {
            letters.extend(UPPER.chars());
        }
        letters
    }

    fn check(&self) -> Result<(), Error> {
        let Some(letters) = self
            .length
            .checked_sub(self.digits)
            .and_then(|l| l.checked_sub(self.symbols))
        else {
            return Err(Error::Spec(format!(
                "digits ({}) and symbols ({}) exceed the length ({})",
                self.digits, self.symbols, self.length
            )));
        };
        if self.allow_repeat {
            if self.symbols > 0 && self.symbol_characters.is_empty() {
                return Err(Error::Spec("no symbol characters".into()));
            }
            return Ok(());
        }
        let available = [
            ("letters", letters, self.letters().len()),
            ("digits", self.digits, DIGITS.len()),
            ("symbols", self.symbols, distinct(&self.symbol_characters)),
        ];
        for (what, wanted, have) in available {
            if wanted > have {
                return Err(Error::Spec(format!(
                    "{wanted} {what} without repeats, but only {have} distinct {what} are available: set allowRepeat"
                )));
            }
        }
        Ok(())
    }

    /// One password by these rules.
    pub fn password(&self) -> Result<String, Error> {
        let letters = self.letters();
        let digits: Vec<char> = DIGITS.chars().collect();
        let n_letters = self.length - self.digits - self.symbols;
        let mut result: Vec<char> = Vec::with_capacity(self.length);
        for (class, n) in [
            (&letters, n_letters),
            (&digits, self.digits),
            (&self.symbol_characters, self.symbols),
        ] {
            let mut placed = 0;
            while placed < n {
                let c = class[below(class.len())?];
                if !self.allow_repeat && result.contains(&c) {
                    if class.iter().all(|c| result.contains(c)) {
                        // Symbol characters that are also letters or digits, all used already.
                        return Err(Error::Spec(
                            "not enough distinct characters without repeats: set allowRepeat"
                                .into(),
                        ));
                    }
                    continue;
                }
                let at = below(result.len() + 1)?;
                result.insert(at, c);
                placed += 1;
            }
        }
        Ok(result.into_iter().collect())
    }
}

#[cfg(test)]
mod tests;
