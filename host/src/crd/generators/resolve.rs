//! From a `generatorRef` to the generator to run: which object to read ([`GeneratorTarget`]),
//! then the kind and spec it holds ([`resolve`]), for a namespaced generator and for the spec
//! embedded in a ClusterGenerator alike.

use serde_json::Value;

use super::cluster::GeneratorSpec;
use super::kind::GeneratorKind;
use super::{API_VERSION, GROUP, VERSION};
use crate::crd::data::GeneratorRef;

/// Why a `generatorRef` cannot be run. Messages name kinds, fields and resource names only,
/// never spec values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeneratorError {
    /// `apiVersion` is not `generators.external-secrets.io/v1alpha1`.
    #[error("generatorRef apiVersion {0:?} is not {API_VERSION}")]
    ApiVersion(String),
    /// The object read is of another kind than the reference says.
    #[error("generatorRef names a {expected} but the object is a {found}")]
    KindMismatch {
        /// The referenced kind.
        expected: GeneratorKind,
        /// What the object says.
        found: String,
    },
    /// A ClusterGenerator's `spec.kind` is missing or not an embeddable kind.
    #[error("ClusterGenerator {name}: spec.kind {kind:?} is not a generator kind it can hold")]
    ClusterKind {
        /// The ClusterGenerator.
        name: String,
        /// Its `spec.kind`, if it is a string.
        kind: Option<String>,
    },
    /// A ClusterGenerator's `spec.generator` does not hold exactly the member of its kind.
    #[error(
        "ClusterGenerator {name}: spec.generator must hold exactly {expected} (for kind {kind}), it holds {found:?}"
    )]
    ClusterMembers {
        /// The ClusterGenerator.
        name: String,
        /// Its `spec.kind`.
        kind: GeneratorKind,
        /// The member that kind needs.
        expected: &'static str,
        /// The members present.
        found: Vec<String>,
    },
    /// The spec does not decode into the kind's type.
    #[error("spec of {kind} {name} is invalid: {reason}")]
    InvalidSpec {
        /// The kind.
        kind: GeneratorKind,
        /// The generator (or ClusterGenerator) name.
        name: String,
        /// What is wrong, without the offending value.
        reason: String,
    },
    /// Ampoule has no component for this kind yet.
    #[error("generator kind {0} is not supported by Ampoule yet")]
    NotSupported(GeneratorKind),
}

impl GeneratorError {
    /// A `Ready=False` condition reason for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotSupported(_) => "GeneratorNotSupported",
            _ => "InvalidGeneratorRef",
        }
    }
}

/// The object a `generatorRef` names: kind, name and, for namespaced kinds, namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratorTarget {
    /// The referenced kind (may be ClusterGenerator).
    pub kind: GeneratorKind,
    /// Name of the object.
    pub name: String,
    /// Namespace of the object; `None` for a ClusterGenerator (cluster-scoped).
    pub namespace: Option<String>,
}

impl GeneratorTarget {
    /// Where the reference of an object in `namespace` points.
    pub fn new(reference: &GeneratorRef, namespace: &str) -> Result<Self, GeneratorError> {
        if reference.api_version != API_VERSION {
            return Err(GeneratorError::ApiVersion(reference.api_version.clone()));
        }
        let namespace =
            (reference.kind != GeneratorKind::ClusterGenerator).then(|| namespace.to_owned());
        Ok(Self {
            kind: reference.kind,
            name: reference.name.clone(),
            namespace,
        })
    }

    /// The resource to read it with a dynamic client.
    pub fn api_resource(&self) -> kube::api::ApiResource {
        kube::api::ApiResource {
            group: GROUP.to_owned(),
            version: VERSION.to_owned(),
            api_version: API_VERSION.to_owned(),
            kind: self.kind.as_str().to_owned(),
            plural: self.kind.plural(),
        }
    }
}

/// The generator to run: its kind (never ClusterGenerator) and spec.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedGenerator {
    /// The kind that generates (for a ClusterGenerator, its `spec.kind`).
    pub kind: GeneratorKind,
    /// Name of the object read.
    pub name: String,
    /// Whether the spec came from a ClusterGenerator.
    pub cluster: bool,
    /// The spec, as JSON (`{}` when the object has none).
    pub spec: Value,
}

impl ResolvedGenerator {
    /// The spec decoded into its kind's type, as the matching member of [`GeneratorSpec`].
    pub fn typed(&self) -> Result<GeneratorSpec, GeneratorError> {
        let invalid = |reason: String| GeneratorError::InvalidSpec {
            kind: self.kind,
            name: self.name.clone(),
            reason,
        };
        let key = self
            .kind
            .cluster_spec_key()
            .ok_or_else(|| invalid("a ClusterGenerator cannot embed a ClusterGenerator".into()))?;
        let mut wrapped = serde_json::Map::new();
        wrapped.insert(key.to_owned(), self.spec.clone());
        serde_json::from_value(Value::Object(wrapped)).map_err(|e| invalid(redacted(&e)))
    }

    /// Fails with [`GeneratorError::NotSupported`] when Ampoule has no component for the kind.
    pub fn supported(&self) -> Result<&Self, GeneratorError> {
        if self.kind.has_component() {
            Ok(self)
        } else {
            Err(GeneratorError::NotSupported(self.kind))
        }
    }
}

/// A serde error without the value it quotes (a spec may hold secret material, e.g. a Fake's
/// data or a Webhook's headers): field names come from the schema and are kept.
fn redacted(error: &serde_json::Error) -> String {
    let message = error.to_string();
    if message.starts_with("missing field") || message.starts_with("duplicate field") {
        return message;
    }
    match message.find("expected") {
        Some(at) => format!("a value is not {}", &message[at..]),
        None => "a value does not fit the schema".to_owned(),
    }
}

/// The kind and spec of `object` (the resource `target` names, as JSON, e.g. a serialized
/// `DynamicObject`). For a ClusterGenerator, the kind is its `spec.kind` and the spec the
/// member of `spec.generator` that kind names.
pub fn resolve(
    target: &GeneratorTarget,
    object: &Value,
) -> Result<ResolvedGenerator, GeneratorError> {
    if let Some(found) = object.get("kind").and_then(Value::as_str)
        && found != target.kind.as_str()
    {
        return Err(GeneratorError::KindMismatch {
            expected: target.kind,
            found: found.to_owned(),
        });
    }
    let spec = object
        .get("spec")
        .cloned()
        .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
    if target.kind != GeneratorKind::ClusterGenerator {
        return Ok(ResolvedGenerator {
            kind: target.kind,
            name: target.name.clone(),
            cluster: false,
            spec,
        });
    }
    let kind_text = spec.get("kind").and_then(Value::as_str);
    let kind = kind_text
        .and_then(|k| k.parse::<GeneratorKind>().ok())
        .filter(|k| *k != GeneratorKind::ClusterGenerator)
        .ok_or_else(|| GeneratorError::ClusterKind {
            name: target.name.clone(),
            kind: kind_text.map(str::to_owned),
        })?;
    let expected = kind
        .cluster_spec_key()
        .ok_or_else(|| GeneratorError::ClusterKind {
            name: target.name.clone(),
            kind: Some(kind.as_str().to_owned()),
        })?;
    let members = spec.get("generator").and_then(Value::as_object);
    let found: Vec<String> = members
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    match members.and_then(|m| m.get(expected)) {
        Some(embedded) if found.len() == 1 => Ok(ResolvedGenerator {
            kind,
            name: target.name.clone(),
            cluster: true,
            spec: embedded.clone(),
        }),
        _ => Err(GeneratorError::ClusterMembers {
            name: target.name.clone(),
            kind,
            expected,
            found,
        }),
    }
}
