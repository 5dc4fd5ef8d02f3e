//! The controller's seam to template transforms (ESO's `spec.target.template` and
//! `rewrite.transform`). The operator never renders a template itself: the implementation is
//! [`crate::WasmTransformer`], which runs the template component in the sandbox.

use std::collections::BTreeMap;

use futures::future::BoxFuture;

use crate::provider::SecretValue;

/// Where rendered keys go (`templateFrom[].target`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Data,
    Labels,
    Annotations,
}

/// How a template's output is read (`templateAs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Values,
    KeysAndValues,
}

/// `valuesDecodingStrategy` of a templateFrom entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Decoding {
    #[default]
    None,
    Base64,
    Base64Url,
    Auto,
}

/// One template text of a templateFrom source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub key: String,
    /// Template text: from a ConfigMap, a literal, or a Secret (hence redacted in Debug).
    pub text: crate::redact::Redacted<String>,
    pub scope: Scope,
}

/// One `templateFrom` entry with its ConfigMap/Secret already read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub target: Target,
    pub decoding: Decoding,
    pub items: Vec<Item>,
}

/// A target template to render over fetched data.
#[derive(Debug, Clone, Default)]
pub struct RenderRequest {
    pub data: BTreeMap<String, SecretValue>,
    pub sources: Vec<Source>,
    pub data_templates: BTreeMap<String, String>,
    pub label_templates: BTreeMap<String, String>,
    pub annotation_templates: BTreeMap<String, String>,
    /// `--template-left-delimiter` / `--template-right-delimiter`.
    pub delimiters: (String, String),
}

/// The rendered keys (fetched data is merged by the caller, by ESO's mergePolicy rules).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub data: BTreeMap<String, SecretValue>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// Why a transform failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    /// The user's template is wrong (parse or execution error, bad output): retrying the same
    /// inputs fails the same way.
    #[error("{0}")]
    Template(String),
    /// The sandbox could not run the component (deadline, fuel, memory cap, trap, load).
    #[error("template component: {0}")]
    Sandbox(String),
}

/// Renders templates. Implementations must be pure functions of their inputs plus the clock and
/// fresh entropy.
pub trait Transformer: Send + Sync + 'static {
    fn render(&self, request: RenderRequest) -> BoxFuture<'_, Result<Rendered, TransformError>>;

    /// `rewrite.transform`: `keys` rendered through `template` (`.value` = key), in order.
    fn rewrite_keys(
        &self,
        template: String,
        keys: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<String>, TransformError>>;
}
