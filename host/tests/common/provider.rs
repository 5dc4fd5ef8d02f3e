//! The test-only provider: a backend per store that the test fills and inspects.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ampoule::provider::{
    FindRef, ProviderClient, ProviderError, PushData, PushRemoteRef, RemoteRef, SecretMap,
    SecretProvider, SecretValue, StoreContext, StoreInfo, Validation,
};
use ampoule::redact::Redacted;
use futures::future::BoxFuture;
use serde_json::Value;

/// What the test backend holds for one store: values by key, an error to return instead, and
/// call counts.
#[derive(Default)]
pub struct Backend {
    pub values: Mutex<BTreeMap<String, Vec<u8>>>,
    pub fail: Mutex<Option<ProviderError>>,
    /// How many of the next calls fail with `fail` (0: every call while `fail` is set).
    pub fail_next: AtomicUsize,
    pub calls: AtomicUsize,
    /// Writes (push and delete) the backend took.
    pub writes: AtomicUsize,
}

impl Backend {
    pub fn set(&self, key: &str, value: &str) {
        self.values
            .lock()
            .unwrap()
            .insert(key.into(), value.as_bytes().to_vec());
    }
    pub fn remove(&self, key: &str) {
        self.values.lock().unwrap().remove(key);
    }
    pub fn fail_with(&self, err: Option<ProviderError>) {
        *self.fail.lock().unwrap() = err;
    }
    /// The next `n` calls fail with `err`, the ones after succeed.
    pub fn fail_times(&self, n: usize, err: ProviderError) {
        self.fail_next.store(n, Ordering::SeqCst);
        *self.fail.lock().unwrap() = Some(err);
    }
    fn check(&self) -> Result<(), ProviderError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut fail = self.fail.lock().unwrap();
        let Some(e) = fail.clone() else {
            return Ok(());
        };
        let left = self.fail_next.load(Ordering::SeqCst);
        if left == 1 {
            *fail = None;
        }
        if left > 0 {
            self.fail_next.store(left - 1, Ordering::SeqCst);
        }
        Err(e)
    }
    pub fn value(&self, key: &str) -> Option<String> {
        let values = self.values.lock().unwrap();
        values
            .get(key)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
    pub fn keys(&self) -> Vec<String> {
        self.values.lock().unwrap().keys().cloned().collect()
    }
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }
    /// A push: the value at `remote_key`, or with a property, set in the JSON object there.
    fn push(&self, data: &PushData) -> Result<(), ProviderError> {
        self.check()?;
        self.writes.fetch_add(1, Ordering::SeqCst);
        let mut values = self.values.lock().unwrap();
        let key = data.remote.remote_key.clone();
        let value = data.value.expose().clone();
        match &data.remote.property {
            None => {
                values.insert(key, value);
            }
            Some(p) => {
                let mut object: serde_json::Map<String, Value> = values
                    .get(&key)
                    .and_then(|v| serde_json::from_slice(v).ok())
                    .unwrap_or_default();
                object.insert(
                    p.clone(),
                    Value::String(String::from_utf8_lossy(&value).into_owned()),
                );
                values.insert(key, Value::Object(object).to_string().into_bytes());
            }
        }
        Ok(())
    }
    fn delete(&self, r: &PushRemoteRef) -> Result<(), ProviderError> {
        self.check()?;
        self.writes.fetch_add(1, Ordering::SeqCst);
        let mut values = self.values.lock().unwrap();
        match &r.property {
            None => {
                values.remove(&r.remote_key);
            }
            Some(p) => {
                let object: Option<serde_json::Map<String, Value>> = values
                    .get(&r.remote_key)
                    .and_then(|v| serde_json::from_slice(v).ok());
                if let Some(mut object) = object {
                    object.remove(p);
                    if object.is_empty() {
                        values.remove(&r.remote_key);
                    } else {
                        values.insert(
                            r.remote_key.clone(),
                            Value::Object(object).to_string().into_bytes(),
                        );
                    }
                }
            }
        }
        Ok(())
    }
    fn get(&self, key: &str) -> Result<Vec<u8>, ProviderError> {
        self.check()?;
        self.values
            .lock()
            .unwrap()
            .get(key)
            .cloned()
            .ok_or(ProviderError::NotFound)
    }
}

/// A test-only [`SecretProvider`] serving the store key `test`: `spec.provider.test.backend`
/// names a [`Backend`] the test registered. (Production has no in-process provider.)
#[derive(Default)]
pub struct TestProvider {
    backends: Mutex<HashMap<String, Arc<Backend>>>,
}

impl TestProvider {
    pub fn backend(&self, name: &str) -> Arc<Backend> {
        self.backends
            .lock()
            .unwrap()
            .entry(name.into())
            .or_default()
            .clone()
    }
}

struct TestClient(Arc<Backend>);

fn property(raw: Vec<u8>, property: Option<&str>) -> Result<Vec<u8>, ProviderError> {
    let Some(p) = property else { return Ok(raw) };
    let v: Value =
        serde_json::from_slice(&raw).map_err(|e| ProviderError::Internal(e.to_string()))?;
    match v.get(p) {
        Some(Value::String(s)) => Ok(s.clone().into_bytes()),
        Some(other) => Ok(other.to_string().into_bytes()),
        None => Err(ProviderError::NotFound),
    }
}

impl ProviderClient for TestClient {
    fn validate(&self) -> BoxFuture<'_, Result<Validation, ProviderError>> {
        Box::pin(async move { self.0.check().map(|()| Validation::Valid) })
    }
    fn get_secret<'a>(
        &'a self,
        r: &'a RemoteRef,
    ) -> BoxFuture<'a, Result<SecretValue, ProviderError>> {
        Box::pin(async move {
            Ok(Redacted::new(property(
                self.0.get(&r.key)?,
                r.property.as_deref(),
            )?))
        })
    }
    fn get_secret_map<'a>(
        &'a self,
        r: &'a RemoteRef,
    ) -> BoxFuture<'a, Result<SecretMap, ProviderError>> {
        Box::pin(async move {
            let raw = self.0.get(&r.key)?;
            let v: BTreeMap<String, Value> =
                serde_json::from_slice(&raw).map_err(|e| ProviderError::Internal(e.to_string()))?;
            Ok(v.into_iter()
                .map(|(k, v)| {
                    (
                        k,
                        Redacted::new(match v {
                            Value::String(s) => s.into_bytes(),
                            other => other.to_string().into_bytes(),
                        }),
                    )
                })
                .collect())
        })
    }
    fn get_all_secrets<'a>(
        &'a self,
        f: &'a FindRef,
    ) -> BoxFuture<'a, Result<SecretMap, ProviderError>> {
        Box::pin(async move {
            self.0.check()?;
            let re = regex::Regex::new(f.name_regexp.as_deref().unwrap_or(".*"))
                .map_err(|e| ProviderError::InvalidConfig(e.to_string()))?;
            Ok(self
                .0
                .values
                .lock()
                .unwrap()
                .iter()
                .filter(|(k, _)| re.is_match(k))
                .map(|(k, v)| (k.clone(), Redacted::new(v.clone())))
                .collect())
        })
    }
    fn push_secret<'a>(&'a self, data: &'a PushData) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move { self.0.push(data) })
    }
    fn delete_secret<'a>(
        &'a self,
        remote: &'a PushRemoteRef,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move { self.0.delete(remote) })
    }
    fn secret_exists<'a>(
        &'a self,
        remote: &'a PushRemoteRef,
    ) -> BoxFuture<'a, Result<bool, ProviderError>> {
        Box::pin(async move { self.exists(remote) })
    }
}

impl TestClient {
    fn exists(&self, r: &PushRemoteRef) -> Result<bool, ProviderError> {
        self.0.check()?;
        let values = self.0.values.lock().unwrap();
        let Some(v) = values.get(&r.remote_key) else {
            return Ok(false);
        };
        Ok(match &r.property {
            None => true,
            Some(p) => serde_json::from_slice::<serde_json::Map<String, Value>>(v)
                .is_ok_and(|o| o.contains_key(p)),
        })
    }
}

impl SecretProvider for TestProvider {
    fn open<'a>(
        &'a self,
        store: &'a StoreContext,
    ) -> BoxFuture<'a, Result<(Box<dyn ProviderClient>, StoreInfo), ProviderError>> {
        Box::pin(async move {
            if store.provider != "test" {
                return Err(ProviderError::InvalidConfig(format!(
                    "no plugin serves provider \"{}\"",
                    store.provider
                )));
            }
            let name = store
                .config
                .get("backend")
                .and_then(Value::as_str)
                .ok_or_else(|| ProviderError::InvalidConfig("backend is required".into()))?;
            Ok((
                Box::new(TestClient(self.backend(name))) as Box<dyn ProviderClient>,
                StoreInfo::default(),
            ))
        })
    }
}
