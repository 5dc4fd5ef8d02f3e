//! A case's answer and the check of it against the case's `expect`. Failure messages never
//! carry secret bytes: a value is shown as its length and a digest prefix.

use super::super::cases::Expect;
use crate::plugin::Digest;
use crate::provider::{ProviderError, SecretMap, SecretValue, Validation};

/// The error kind as the WIT spells it.
pub fn kind(e: &ProviderError) -> &'static str {
    match e {
        ProviderError::NotFound => "not-found",
        ProviderError::Unauthorized(_) => "unauthorized",
        ProviderError::Forbidden(_) => "forbidden",
        ProviderError::InvalidConfig(_) => "invalid-config",
        ProviderError::RateLimited { .. } => "rate-limited",
        ProviderError::Unavailable(_) => "unavailable",
        ProviderError::Internal(_) => "internal",
    }
}

/// A case's answer.
pub(super) enum Outcome {
    Described(String),
    Opened,
    Validated(Validation),
    Value(SecretValue),
    Map(SecretMap),
    Failed(ProviderError),
}

/// A value in a failure message: its length and a digest prefix, never the bytes.
fn fingerprint(bytes: &[u8]) -> String {
    let digest = Digest::of(bytes).to_string();
    let short = digest.rsplit(':').next().unwrap_or(&digest);
    format!(
        "{} bytes, sha256 {}…",
        bytes.len(),
        &short[..short.len().min(12)]
    )
}

pub(super) fn check(expect: &Expect, outcome: &Outcome) -> Result<(), String> {
    if let Some(want) = &expect.error {
        return match outcome {
            Outcome::Failed(e) if kind(e) == want => Ok(()),
            Outcome::Failed(e) => Err(format!("expected error {want}, got {}: {e}", kind(e))),
            _ => Err(format!("expected error {want}, the call succeeded")),
        };
    }
    if let Outcome::Failed(e) = outcome {
        return Err(format!("error {}: {e}", kind(e)));
    }
    if expect.ok == Some(false) {
        return Err("expected a failure (ok: false), the call succeeded".into());
    }
    if let Some(want) = &expect.provider {
        match outcome {
            Outcome::Described(name) if name == want => {}
            Outcome::Described(name) => {
                return Err(format!(
                    "expected provider {want:?}, describe says {name:?}"
                ));
            }
            _ => return Err("`provider` is checked by describe cases".into()),
        }
    }
    if let Some(want) = &expect.validation {
        match outcome {
            Outcome::Validated(v) => {
                let got = match v {
                    Validation::Valid => "valid",
                    Validation::Unknown => "unknown",
                };
                if got != want {
                    return Err(format!("expected validation {want}, got {got}"));
                }
            }
            _ => return Err("`validation` is checked by validate cases".into()),
        }
    }
    if let Some(want) = &expect.value {
        match outcome {
            Outcome::Value(v) if v.expose().as_slice() == want.as_bytes() => {}
            Outcome::Value(v) => {
                return Err(format!(
                    "expected a value of {}, got one of {}",
                    fingerprint(want.as_bytes()),
                    fingerprint(v.expose())
                ));
            }
            _ => return Err("`value` is checked by get cases".into()),
        }
    }
    if let Some(want) = &expect.map {
        let Outcome::Map(got) = outcome else {
            return Err("`map` is checked by getMap and find cases".into());
        };
        let mut diffs = Vec::new();
        for (k, v) in want {
            match got.get(k) {
                None => diffs.push(format!("{k} missing")),
                Some(g) if g.expose().as_slice() != v.as_bytes() => {
                    diffs.push(format!("{k} differs ({})", fingerprint(g.expose())))
                }
                Some(_) => {}
            }
        }
        for k in got.keys().filter(|k| !want.contains_key(*k)) {
            diffs.push(format!("{k} unexpected"));
        }
        if !diffs.is_empty() {
            return Err(format!("map: {}", diffs.join(", ")));
        }
    }
    if let Some(want) = &expect.keys {
        let Outcome::Map(got) = outcome else {
            return Err("`keys` is checked by find cases".into());
        };
        let mut want = want.clone();
        want.sort();
        let got: Vec<&String> = got.keys().collect();
        if got
            .iter()
            .map(|k| k.as_str())
            .ne(want.iter().map(String::as_str))
        {
            return Err(format!("expected keys {want:?}, got {got:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::Redacted;

    #[test]
    fn expectations() {
        let e = |y: &str| serde_norway::from_str::<Expect>(y).unwrap();
        let value = Outcome::Value(Redacted::new(b"s3cr3t".to_vec()));
        assert!(check(&e("{value: s3cr3t}"), &value).is_ok());
        let why = check(&e("{value: other}"), &value).unwrap_err();
        assert!(!why.contains("s3cr3t"), "{why}");
        assert!(
            check(
                &e("{error: not-found}"),
                &Outcome::Failed(ProviderError::NotFound)
            )
            .is_ok()
        );
        assert!(check(&e("{error: not-found}"), &value).is_err());
        assert!(check(&e("{value: x}"), &Outcome::Failed(ProviderError::NotFound)).is_err());
        let map = Outcome::Map(
            [("a".to_string(), Redacted::new(b"1".to_vec()))]
                .into_iter()
                .collect(),
        );
        assert!(check(&e("{map: {a: '1'}}"), &map).is_ok());
        assert!(check(&e("{map: {a: '2'}}"), &map).is_err());
        assert!(check(&e("{keys: [a]}"), &map).is_ok());
        assert!(check(&e("{keys: [a, b]}"), &map).is_err());
        assert!(check(&e("{provider: x}"), &Outcome::Described("y".into())).is_err());
        assert!(
            check(
                &e("{validation: valid}"),
                &Outcome::Validated(Validation::Unknown)
            )
            .is_err()
        );
        assert!(check(&e("{ok: true}"), &Outcome::Opened).is_ok());
    }
}
