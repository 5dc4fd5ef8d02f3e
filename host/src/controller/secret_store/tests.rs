use std::sync::Mutex;

use futures::future::BoxFuture;
use serde_json::json;

use super::*;
use crate::provider::{
    FindRef, Opened, ProviderClient, ProviderError, RemoteRef, SecretMap, SecretValue,
};

#[test]
fn store_intervals() {
    let d = Duration::from_secs(300);
    assert_eq!(requeue_interval(None, d), d);
    assert_eq!(
        requeue_interval(Some(&IntOrString::Int(30)), d),
        Duration::from_secs(30)
    );
    assert_eq!(requeue_interval(Some(&IntOrString::Int(0)), d), d);
    assert_eq!(
        requeue_interval(Some(&IntOrString::String("1m30s".into())), d),
        Duration::from_secs(90)
    );
    assert_eq!(
        requeue_interval(Some(&IntOrString::String("0s".into())), d),
        d
    );
    // kube's parser panicked on a negative later term; now the default applies.
    for bad in ["1h-5s", "5s-1s", "99999999999999999999h"] {
        assert_eq!(
            requeue_interval(Some(&IntOrString::String(bad.into())), d),
            d,
            "{bad}"
        );
    }
}

fn secret_store(spec: serde_json::Value) -> SecretStore {
    serde_json::from_value(json!({
        "apiVersion": "external-secrets.io/v1",
        "kind": "SecretStore",
        "metadata": {"name": "vault", "namespace": "team-a", "generation": 3},
        "spec": spec,
    }))
    .unwrap()
}

fn cluster_store(spec: serde_json::Value) -> ClusterSecretStore {
    serde_json::from_value(json!({
        "apiVersion": "external-secrets.io/v1",
        "kind": "ClusterSecretStore",
        "metadata": {"name": "shared"},
        "spec": spec,
    }))
    .unwrap()
}

fn no_provider() -> Failure {
    Failure {
        message: message::STORE_CLIENT,
        detail: "spec.provider must name exactly one provider".into(),
    }
}

#[test]
fn context_of_a_store_is_its_provider_block_without_caller() {
    let store = secret_store(json!({
        "provider": {"acme": {"url": "https://acme.example", "n": 1}},
        "sandbox": {"limits": {"requests": 7}},
    }));
    let context = store_context(&store).unwrap();
    assert_eq!(context.kind, crate::crd::StoreKind::SecretStore);
    assert_eq!(context.name, "vault");
    assert_eq!(context.store_namespace.as_deref(), Some("team-a"));
    assert_eq!(context.caller_namespace, None);
    assert_eq!(context.generation, 3);
    assert_eq!(context.provider, "acme");
    assert_eq!(
        context.config,
        json!({"url": "https://acme.example", "n": 1})
    );
    assert_eq!(
        context.sandbox.as_deref().map(|s| s.limits.requests),
        Some(Some(7))
    );

    let context = store_context(&cluster_store(json!({"provider": {"acme": {}}}))).unwrap();
    assert_eq!(context.kind, crate::crd::StoreKind::ClusterSecretStore);
    assert_eq!(context.name, "shared");
    assert_eq!(context.store_namespace, None);
    assert_eq!(context.generation, 0);
    assert_eq!(context.sandbox, None);
}

#[test]
fn a_provider_block_must_name_one_provider() {
    assert_eq!(
        store_context(&secret_store(json!({"provider": {}}))),
        Err(no_provider())
    );
    assert_eq!(
        store_context(&cluster_store(json!({"provider": {"a": {}, "b": {}}}))),
        Err(no_provider())
    );
}

/// A provider whose `open` answers `open` and whose clients' `validate` answers `validation`;
/// it keeps the contexts it was asked to open.
struct Fake {
    open: Result<StoreInfo, ProviderError>,
    validation: Result<Validation, ProviderError>,
    opened: Mutex<Vec<StoreContext>>,
}

impl Fake {
    fn new(
        open: Result<StoreInfo, ProviderError>,
        validation: Result<Validation, ProviderError>,
    ) -> Self {
        Self {
            open,
            validation,
            opened: Mutex::default(),
        }
    }
}

struct FakeClient(Result<Validation, ProviderError>);

impl SecretProvider for Fake {
    fn open<'a>(&'a self, store: &'a StoreContext) -> BoxFuture<'a, Result<Opened, ProviderError>> {
        self.opened.lock().unwrap().push(store.clone());
        let client = FakeClient(self.validation.clone());
        let opened = self
            .open
            .clone()
            .map(|info| (Box::new(client) as Box<dyn ProviderClient>, info));
        Box::pin(async move { opened })
    }
}

impl ProviderClient for FakeClient {
    fn validate(&self) -> BoxFuture<'_, Result<Validation, ProviderError>> {
        let answer = self.0.clone();
        Box::pin(async move { answer })
    }
    fn get_secret<'a>(
        &'a self,
        _: &'a RemoteRef,
    ) -> BoxFuture<'a, Result<SecretValue, ProviderError>> {
        Box::pin(async { Err(ProviderError::Internal("validation reads no secret".into())) })
    }
    fn get_secret_map<'a>(
        &'a self,
        _: &'a RemoteRef,
    ) -> BoxFuture<'a, Result<SecretMap, ProviderError>> {
        Box::pin(async { Err(ProviderError::Internal("validation reads no secret".into())) })
    }
    fn get_all_secrets<'a>(
        &'a self,
        _: &'a FindRef,
    ) -> BoxFuture<'a, Result<SecretMap, ProviderError>> {
        Box::pin(async { Err(ProviderError::Internal("validation reads no secret".into())) })
    }
}

fn plugin_info() -> StoreInfo {
    StoreInfo {
        capabilities: Some(Capabilities::ReadWrite),
        digest: Some("sha256:abc".into()),
        granted_egress: vec!["GET https://acme.example:443/".into()],
    }
}

/// A status as a previous validation left it.
fn previous_status() -> SecretStoreStatus {
    SecretStoreStatus {
        conditions: Vec::new(),
        capabilities: Some(SecretStoreCapabilities::ReadOnly),
        plugin: Some(PluginStatus {
            digest: Some("sha256:old".into()),
            granted_egress: Vec::new(),
        }),
    }
}

fn context() -> StoreContext {
    store_context(&secret_store(json!({"provider": {"acme": {}}}))).unwrap()
}

#[tokio::test]
async fn a_client_that_cannot_open_leaves_the_status_alone() {
    let fake = Fake::new(
        Err(ProviderError::InvalidConfig("no plugin serves acme".into())),
        Ok(Validation::Valid),
    );
    let mut status = previous_status();
    let outcome = check(&fake, &context(), &mut status).await;
    assert_eq!(
        outcome,
        Err(Failure {
            message: message::STORE_CLIENT,
            detail: "invalid provider config: no plugin serves acme".into(),
        })
    );
    assert_eq!(status, previous_status());
    assert_eq!(*fake.opened.lock().unwrap(), vec![context()]);
}

#[tokio::test]
async fn an_opened_client_reports_even_when_validation_fails() {
    let fake = Fake::new(
        Ok(plugin_info()),
        Err(ProviderError::Unauthorized("token expired".into())),
    );
    let mut status = previous_status();
    let outcome = check(&fake, &context(), &mut status).await;
    assert_eq!(
        outcome,
        Err(Failure {
            message: message::STORE_VALIDATE,
            detail: "unauthorized: token expired".into(),
        })
    );
    assert_eq!(
        status.capabilities,
        Some(SecretStoreCapabilities::ReadWrite)
    );
    assert_eq!(
        status.plugin,
        Some(PluginStatus {
            digest: Some("sha256:abc".into()),
            granted_egress: vec!["GET https://acme.example:443/".into()],
        })
    );
}

#[tokio::test]
async fn validation_answers_pass_through() {
    for answer in [Validation::Valid, Validation::Unknown] {
        let fake = Fake::new(Ok(StoreInfo::default()), Ok(answer.clone()));
        let mut status = previous_status();
        assert_eq!(
            check(&fake, &context(), &mut status).await,
            Ok(answer.clone())
        );
        // A provider that names no digest and no capabilities clears what an earlier one set.
        assert_eq!(status.capabilities, None, "{answer:?}");
        assert_eq!(status.plugin, None, "{answer:?}");
    }
}

#[test]
fn reported_status_of_store_info() {
    assert_eq!(reported(&StoreInfo::default()), (None, None));
    for (c, want) in [
        (Capabilities::ReadOnly, SecretStoreCapabilities::ReadOnly),
        (Capabilities::WriteOnly, SecretStoreCapabilities::WriteOnly),
        (Capabilities::ReadWrite, SecretStoreCapabilities::ReadWrite),
    ] {
        let info = StoreInfo {
            capabilities: Some(c),
            ..StoreInfo::default()
        };
        assert_eq!(reported(&info), (Some(want), None));
    }
    // Granted egress is shown only with the digest of the component it was granted to.
    let info = StoreInfo {
        granted_egress: vec!["GET https://x:443/".into()],
        ..StoreInfo::default()
    };
    assert_eq!(reported(&info), (None, None));
}

#[test]
fn verdicts_use_esos_reasons() {
    assert_eq!(
        verdict(&Ok(Validation::Valid)),
        Verdict {
            status: ConditionStatus::True,
            reason: "Valid",
            message: "store validated",
            event: (EventType::Normal, "store validated".into()),
        }
    );
    assert_eq!(
        verdict(&Ok(Validation::Unknown)),
        Verdict {
            status: ConditionStatus::True,
            reason: "ValidationUnknown",
            message: "could not determine validation status",
            event: (
                EventType::Warning,
                "store validation is unknown (referent authentication)".into()
            ),
        }
    );
    assert_eq!(
        verdict(&Err(no_provider())),
        Verdict {
            status: ConditionStatus::False,
            reason: "InvalidProviderConfig",
            message: "unable to create client",
            event: (
                EventType::Warning,
                "spec.provider must name exactly one provider".into()
            ),
        }
    );
    let failed = Failure {
        message: message::STORE_VALIDATE,
        detail: "unauthorized: token expired".into(),
    };
    assert_eq!(verdict(&Err(failed)).message, "unable to validate store");
}

#[test]
fn backoff_keys() {
    assert_eq!(
        backoff_key(&secret_store(json!({"provider": {}}))),
        "store/team-a/vault"
    );
    assert_eq!(
        backoff_key(&cluster_store(json!({"provider": {}}))),
        "store//shared"
    );
}

#[test]
fn next_attempts() {
    let backoff = Backoff::default();
    let every = Duration::from_secs(3);
    let s = Duration::from_secs;
    // Failing validation: 1 s doubling, never later than the regular interval.
    assert_eq!(next_attempt(&backoff, "k", true, false, every), s(1));
    assert_eq!(next_attempt(&backoff, "k", true, false, every), s(2));
    assert_eq!(next_attempt(&backoff, "k", true, false, every), s(3));
    // A status that could not be written backs off past the interval.
    assert_eq!(next_attempt(&backoff, "k", false, true, every), s(8));
    // Ready: the regular interval, and the failures are forgotten.
    assert_eq!(next_attempt(&backoff, "k", true, true, every), every);
    assert_eq!(next_attempt(&backoff, "k", false, true, every), s(1));
    // Other stores keep their own count.
    assert_eq!(next_attempt(&backoff, "other", true, false, every), s(1));
}
