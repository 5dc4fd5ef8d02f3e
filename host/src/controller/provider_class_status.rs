//! What a ProviderClass's status, events and its stores' condition say about a module change:
//! the digest that serves (`status.digest`), the module on its way (`status.pendingImage`, and
//! `status.pendingDigest` once pulled), and, when it cannot be used, why and what serves
//! instead. Pure text and JSON, no I/O.

use serde_json::{Value, json};

/// The module an attempt is loading, as far as it is known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pending {
    /// The spec's image reference (`None` for the embedded component).
    pub image: Option<String>,
    /// The component's digest, once pulled.
    pub digest: Option<String>,
}

impl Pending {
    /// How messages name it: `oci://r/x:2 (sha256:…)`, the image alone before the pull, the
    /// embedded component when the class names no image.
    pub fn describe(&self) -> String {
        match (&self.image, &self.digest) {
            (Some(image), Some(digest)) => format!("{image} ({digest})"),
            (Some(image), None) => image.clone(),
            (None, Some(digest)) => format!("the embedded component {digest}"),
            (None, None) => "the embedded component".to_owned(),
        }
    }
}

/// What serves `key` while the class's latest spec does not: `own` is what this class bound
/// last (its key and digest), `key_digest` what serves `key` now, from whichever binding.
pub fn serving(key: &str, own: Option<(&str, &str)>, key_digest: Option<&str>) -> String {
    match (own, key_digest) {
        (Some((own_key, digest)), _) if own_key == key => format!("{digest} keeps serving"),
        (_, Some(digest)) => format!("{digest} serves provider {key} instead"),
        (_, None) => format!("nothing serves provider {key}"),
    }
}

/// The class's Ready=False message: what could not be loaded, why, and what serves.
pub fn failure(pending: &Pending, error: &str, serving: &str) -> String {
    format!("could not load {}: {error}; {serving}", pending.describe())
}

/// The message a store of the class shows (its `ProviderClassReady` condition and event).
pub fn store_failure(class: &str, failure: &str) -> String {
    format!("ProviderClass {class} {failure}")
}

/// The Ready=True message: the digest that serves the key, and whether its cosign signature was
/// verified (the class names public keys).
pub fn served(key: &str, digest: &str, verified: bool) -> String {
    let how = if verified {
        ", its cosign signature verified"
    } else {
        ""
    };
    format!("{digest} serves provider {key}{how}")
}

/// Whether the spec makes the module's signature checked.
pub fn verifies(spec: &crate::crd::ProviderClassSpec) -> bool {
    spec.module
        .as_ref()
        .and_then(|m| m.verify.as_ref())
        .is_some_and(|v| !v.cosign_public_keys.is_empty())
}

/// The Normal event of a class that serves its spec: `Swapped` when another digest of this
/// class served before, `Loaded` otherwise; the note names the digest and what it replaced.
pub fn served_event(key: &str, digest: &str, before: Option<&str>) -> (&'static str, String) {
    match before {
        Some(old) if old != digest => (
            "Swapped",
            format!("{digest} serves provider {key} (was {old})"),
        ),
        _ => ("Loaded", format!("{digest} serves provider {key}")),
    }
}

/// The status fields a patch sets besides the conditions: `digest` when this process bound one
/// (left as it is otherwise: every replica writes the status, and one that has bound nothing yet,
/// just started, must not erase what the others serve), and the pending module (`null` once it
/// serves).
pub fn fields(digest: Option<&str>, pending: Option<&Pending>) -> Value {
    let image = pending.and_then(|p| p.image.as_deref());
    let pending_digest = pending.and_then(|p| p.digest.as_deref());
    let mut fields = json!({
        "pendingImage": image,
        "pendingDigest": pending_digest,
    });
    if let Some(digest) = digest {
        fields["digest"] = json!(digest);
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pending_module_is_named_by_what_is_known() {
        let mut p = Pending {
            image: Some("oci://r/kv:2".into()),
            digest: None,
        };
        assert_eq!(p.describe(), "oci://r/kv:2");
        p.digest = Some("sha256:bb".into());
        assert_eq!(p.describe(), "oci://r/kv:2 (sha256:bb)");
        assert_eq!(Pending::default().describe(), "the embedded component");
    }

    #[test]
    fn what_serves_instead() {
        assert_eq!(
            serving("kv", Some(("kv", "sha256:aa")), Some("sha256:aa")),
            "sha256:aa keeps serving"
        );
        // The class served another key: what serves this one is someone else's.
        assert_eq!(
            serving("kv", Some(("old", "sha256:aa")), Some("sha256:ee")),
            "sha256:ee serves provider kv instead"
        );
        assert_eq!(
            serving("kv", None, Some("sha256:ee")),
            "sha256:ee serves provider kv instead"
        );
        assert_eq!(serving("kv", None, None), "nothing serves provider kv");
    }

    #[test]
    fn failure_messages_name_the_module_the_error_and_what_serves() {
        let p = Pending {
            image: Some("oci://r/kv:2".into()),
            digest: Some("sha256:bb".into()),
        };
        let m = failure(&p, "describe failed: trap", "sha256:aa keeps serving");
        assert_eq!(
            m,
            "could not load oci://r/kv:2 (sha256:bb): describe failed: trap; sha256:aa keeps serving"
        );
        assert_eq!(store_failure("acme", &m), format!("ProviderClass acme {m}"));
    }

    #[test]
    fn ready_says_what_serves_and_whether_it_was_verified() {
        assert_eq!(
            served("kv", "sha256:aa", false),
            "sha256:aa serves provider kv"
        );
        assert_eq!(
            served("kv", "sha256:aa", true),
            "sha256:aa serves provider kv, its cosign signature verified"
        );
    }

    #[test]
    fn a_new_digest_is_a_swap() {
        assert_eq!(served_event("kv", "sha256:bb", None).0, "Loaded");
        assert_eq!(
            served_event("kv", "sha256:bb", Some("sha256:bb")).0,
            "Loaded"
        );
        assert_eq!(
            served_event("kv", "sha256:bb", Some("sha256:aa")),
            (
                "Swapped",
                "sha256:bb serves provider kv (was sha256:aa)".to_owned()
            )
        );
    }

    #[test]
    fn status_fields_clear_the_pending_module_with_null_and_keep_an_unknown_digest() {
        assert_eq!(
            fields(Some("sha256:aa"), None),
            json!({"digest": "sha256:aa", "pendingImage": null, "pendingDigest": null})
        );
        let p = Pending {
            image: Some("oci://r/kv:2".into()),
            digest: None,
        };
        assert_eq!(
            fields(None, Some(&p)),
            json!({"pendingImage": "oci://r/kv:2", "pendingDigest": null})
        );
    }
}
