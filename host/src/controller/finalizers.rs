//! JSON patches of one finalizer, and of a whole status, as the controllers send them: an
//! object that is gone already is not an error.

use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The ops adding `finalizer` (none when the object has it).
pub fn add_ops<K: Resource>(obj: &K, finalizer: &str) -> Vec<Value> {
    if obj.finalizers().iter().any(|f| f == finalizer) {
        return Vec::new();
    }
    if obj.finalizers().is_empty() {
        vec![json!({"op": "add", "path": "/metadata/finalizers", "value": [finalizer]})]
    } else {
        vec![json!({"op": "add", "path": "/metadata/finalizers/-", "value": finalizer})]
    }
}

/// The ops removing `finalizer`, guarded by a test that it is still at that index (none when
/// the object does not have it).
pub fn remove_ops<K: Resource>(obj: &K, finalizer: &str) -> Vec<Value> {
    let Some(i) = obj.finalizers().iter().position(|f| f == finalizer) else {
        return Vec::new();
    };
    vec![
        json!({"op": "test", "path": format!("/metadata/finalizers/{i}"), "value": finalizer}),
        json!({"op": "remove", "path": format!("/metadata/finalizers/{i}")}),
    ]
}

/// Sends `ops` to the object `name` (nothing when there are none; a 404 is success).
pub async fn patch<K>(api: &Api<K>, name: &str, ops: Vec<Value>) -> Result<(), kube::Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    if ops.is_empty() {
        return Ok(());
    }
    let patch: json_patch::Patch =
        serde_json::from_value(Value::Array(ops)).map_err(kube::Error::SerdeError)?;
    gone_is_ok(
        api.patch(name, &PatchParams::default(), &Patch::<()>::Json(patch))
            .await,
    )
}

/// Replaces the status subresource of `name` with `status` (a JSON patch, so members dropped
/// from a map in the status go too; a merge patch would keep them). A 404 is success.
pub async fn replace_status<K, S>(api: &Api<K>, name: &str, status: &S) -> Result<(), kube::Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize,
{
    let ops = json!([{"op": "add", "path": "/status", "value": status}]);
    let patch: json_patch::Patch = serde_json::from_value(ops).map_err(kube::Error::SerdeError)?;
    gone_is_ok(
        api.patch_status(name, &PatchParams::default(), &Patch::<()>::Json(patch))
            .await,
    )
}

fn gone_is_ok<T>(result: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}
