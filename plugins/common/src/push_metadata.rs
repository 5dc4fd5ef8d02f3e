//! ESO's `PushSecretMetadata` (`data[].metadata` of a PushSecret): `apiVersion`
//! `kubernetes.external-secrets.io/v1alpha1`, `kind` `PushSecretMetadata`, and a
//! provider-specific `spec`; unknown fields are refused, as ESO's parser does.

use serde::Deserialize;
use serde::de::DeserializeOwned;

pub const API_VERSION: &str = "kubernetes.external-secrets.io/v1alpha1";
pub const KIND: &str = "PushSecretMetadata";

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Envelope<T> {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    spec: Option<T>,
}

/// The `spec` of `raw` (`None` without metadata). `T` should refuse unknown fields.
/// Errors never quote the input.
pub fn parse<T: DeserializeOwned + Default>(raw: Option<&str>) -> Result<Option<T>, String> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty() && *r != "null") else {
        return Ok(None);
    };
    let env: Envelope<T> = serde_json::from_str(raw)
        .map_err(|e| format!("failed to parse {API_VERSION} {KIND}: {e}"))?;
    if env.api_version != API_VERSION {
        return Err(format!(
            "unexpected apiVersion {:?}, expected {API_VERSION:?}",
            env.api_version
        ));
    }
    if env.kind != KIND {
        return Err(format!("unexpected kind {:?}, expected {KIND:?}", env.kind));
    }
    Ok(Some(env.spec.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Spec {
        #[serde(default)]
        description: String,
    }

    #[test]
    fn parses_like_eso() {
        let ok = r#"{"apiVersion":"kubernetes.external-secrets.io/v1alpha1","kind":"PushSecretMetadata","spec":{"description":"d"}}"#;
        assert_eq!(
            parse::<Spec>(Some(ok)).unwrap(),
            Some(Spec {
                description: "d".into()
            })
        );
        assert_eq!(parse::<Spec>(None).unwrap(), None);
        assert_eq!(parse::<Spec>(Some("null")).unwrap(), None);
        let bad_kind = r#"{"apiVersion":"kubernetes.external-secrets.io/v1alpha1","kind":"X"}"#;
        assert!(
            parse::<Spec>(Some(bad_kind))
                .unwrap_err()
                .contains("unexpected kind")
        );
        let unknown = r#"{"apiVersion":"kubernetes.external-secrets.io/v1alpha1","kind":"PushSecretMetadata","spec":{"nope":1}}"#;
        assert!(parse::<Spec>(Some(unknown)).unwrap_err().contains("nope"));
    }
}
