use base64::Engine;
use oci_client::secrets::RegistryAuth;
use serde_json::json;

use super::state::{Desired, Work};
use super::*;

fn basic(user: &str, pass: &str) -> RegistryAuth {
    RegistryAuth::Basic(user.into(), pass.into())
}

fn config(v: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn docker_config_username_and_password_win_over_auth() {
    let b64 = base64::engine::general_purpose::STANDARD.encode("other:secret");
    let raw = config(json!({"auths": {"reg.example:5000": {
        "username": "robot", "password": "p:w", "auth": b64}}}));
    assert!(
        docker_config_auth(&raw, "oci://reg.example:5000/team/fake:1") == Ok(basic("robot", "p:w"))
    );
    // Without the oci:// prefix too.
    assert!(
        docker_config_auth(&raw, "reg.example:5000/team/fake@sha256:00")
            == Ok(basic("robot", "p:w"))
    );
}

#[test]
fn docker_config_auth_is_base64_of_user_colon_password() {
    let b64 = base64::engine::general_purpose::STANDARD.encode("robot:pa:ss");
    let raw = config(json!({"auths": {"ghcr.io": {"auth": b64}}}));
    // Split at the first colon: the password may hold colons.
    assert!(docker_config_auth(&raw, "oci://ghcr.io/o/r:t") == Ok(basic("robot", "pa:ss")));
    // Only a username is not enough: auth is used instead.
    let raw = config(json!({"auths": {"ghcr.io": {"username": "u", "auth": b64}}}));
    assert!(docker_config_auth(&raw, "oci://ghcr.io/o/r:t") == Ok(basic("robot", "pa:ss")));
}

#[test]
fn docker_config_errors_say_what_is_wrong() {
    let err = |raw: &[u8], image: &str| match docker_config_auth(raw, image) {
        Ok(_) => String::from("accepted"),
        Err(e) => e,
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode("robot:pw");
    let raw = config(json!({"auths": {"ghcr.io": {"auth": b64}}}));
    // The entry must name the image's host exactly.
    assert_eq!(
        err(&raw, "oci://quay.io/o/r:t"),
        "no credentials for registry quay.io"
    );
    assert_eq!(
        err(&raw, "oci://ghcr.io:443/o/r:t"),
        "no credentials for registry ghcr.io:443"
    );
    assert!(err(b"{not json", "oci://ghcr.io/o/r").contains("key must be a string"));
    let raw = config(json!({"auths": {"ghcr.io": {"auth": "%%%"}}}));
    assert!(
        err(&raw, "oci://ghcr.io/o/r").contains("Invalid"),
        "{}",
        err(&raw, "oci://ghcr.io/o/r")
    );
    let no_colon = base64::engine::general_purpose::STANDARD.encode("robot");
    let raw = config(json!({"auths": {"ghcr.io": {"auth": no_colon}}}));
    assert_eq!(
        err(&raw, "oci://ghcr.io/o/r"),
        "no credentials for registry ghcr.io"
    );
    assert_eq!(
        err(&config(json!({"auths": []})), "oci://ghcr.io/o/r"),
        "no credentials for registry ghcr.io"
    );
}

fn class(name: &str, uid: &str, provider: &str, image: &str) -> ProviderClass {
    serde_json::from_value(json!({
        "apiVersion": "ampoule.dev/v1alpha1", "kind": "ProviderClass",
        "metadata": {"name": name, "uid": uid},
        "spec": {"provider": provider, "module": {"image": image}}
    }))
    .unwrap()
}

fn apply_spec(work: Option<Work>) -> (serde_json::Value, tokio::sync::oneshot::Receiver<()>) {
    match work {
        Some(Work::Apply { class, superseded }) => {
            (serde_json::to_value(&class.spec).unwrap(), superseded)
        }
        other => unreachable!("{other:?}"),
    }
}

#[test]
fn only_new_specs_and_objects_are_queued() {
    let mut d = Desired::default();
    let a = class("a", "1", "fake", "oci://r/x:1");
    assert!(d.applied(a.clone()), "a new class");
    // A status-only change (the controller's own status patch) queues nothing.
    let mut with_status = a.clone();
    with_status.status = Some(Default::default());
    assert!(!d.applied(with_status));
    assert!(
        d.applied(class("a", "1", "fake", "oci://r/x:2")),
        "a new spec"
    );
    assert!(
        d.applied(class("a", "2", "fake", "oci://r/x:2")),
        "re-created"
    );
    let (spec, _) = apply_spec(d.take("a"));
    assert_eq!(spec["module"]["image"], "oci://r/x:2");
    assert!(d.take("b").is_none());
}

#[test]
fn a_newer_spec_or_a_deletion_abandons_the_attempt_in_flight() {
    let mut d = Desired::default();
    d.applied(class("a", "1", "fake", "oci://r/x:1"));
    let (_, mut superseded) = apply_spec(d.take("a"));
    // The same spec again (a relist) does not abandon it.
    assert!(!d.applied(class("a", "1", "fake", "oci://r/x:1")));
    assert!(superseded.try_recv().is_err());
    assert!(d.applied(class("a", "1", "fake", "oci://r/x:2")));
    assert!(superseded.try_recv().is_ok(), "a newer spec");
    d.finished("a");

    let (_, mut superseded) = apply_spec(d.take("a"));
    let gone = class("a", "1", "fake", "oci://r/x:2");
    assert!(d.deleted(&gone));
    assert!(superseded.try_recv().is_ok(), "a deletion");
    d.finished("a");
    // The deletion is handed out once, with the key to give back.
    assert!(matches!(d.take("a"), Some(Work::Remove { provider }) if provider == "fake"));
    assert!(d.take("a").is_none());
}

#[test]
fn a_class_missing_from_a_relist_was_deleted() {
    let mut d = Desired::default();
    d.applied(class("a", "1", "fake", "oci://r/x:1"));
    d.applied(class("b", "2", "vault", "oci://r/y:1"));
    assert!(d.relist_done().is_empty(), "no relist started");
    d.relist_started();
    assert!(!d.applied(class("b", "2", "vault", "oci://r/y:1")));
    assert_eq!(d.relist_done(), vec!["a".to_string()]);
    assert!(matches!(d.take("a"), Some(Work::Remove { provider }) if provider == "fake"));
    assert!(matches!(d.take("b"), Some(Work::Apply { .. })));
}

#[test]
fn only_failures_the_spec_does_not_decide_are_retried() {
    assert!(!ClassError::Spec("bad".into()).retryable());
    assert!(!ClassError::NoEmbedded("x".into()).retryable());
    let junk_key =
        plugin::distribution::cosign::parse_public_keys(&["not a key".to_string()]).unwrap_err();
    assert!(!ClassError::Verify(junk_key).retryable());
    assert!(ClassError::Timeout.retryable());
    assert!(ClassError::PullSecret("ns/s".into(), "not found".into()).retryable());
    assert_eq!(ClassError::Timeout.reason(), "PullFailed");
}

mod props {
    use base64::Engine;
    use proptest::prelude::*;
    use serde_json::json;

    use super::super::docker_config_auth;
    use super::basic;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_pull_secrets_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..256), image in "\\PC{0,40}") {
            let _ = docker_config_auth(&raw, &image);
        }

        #[test]
        fn arbitrary_auth_fields_never_panic(auth in "\\PC{0,40}", host in "[a-z0-9.:-]{1,20}") {
            let raw = serde_json::to_vec(&json!({"auths": {&host: {"auth": auth}}})).unwrap();
            let _ = docker_config_auth(&raw, &format!("oci://{host}/r:t"));
        }

        #[test]
        fn auth_round_trips(user in "[^:]{0,20}", pass in "\\PC{0,20}", host in "[a-z0-9.-]{1,20}(:[0-9]{1,5})?") {
            let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            let raw = serde_json::to_vec(&json!({"auths": {&host: {"auth": auth}}})).unwrap();
            let got = docker_config_auth(&raw, &format!("oci://{host}/team/component:1"));
            prop_assert!(got == Ok(basic(&user, &pass)));
        }
    }
}

#[test]
fn pull_secrets_default_to_the_controllers_namespace() {
    assert_eq!(
        controller_namespace(Some("ampoule-system".into()), "default"),
        "ampoule-system"
    );
    // Outside a pod (no POD_NAMESPACE): the client's namespace, the kubeconfig context's.
    assert_eq!(controller_namespace(None, "dev"), "dev");
    assert_eq!(controller_namespace(Some(String::new()), "dev"), "dev");
    assert_eq!(controller_namespace(None, "default"), "default");
}
