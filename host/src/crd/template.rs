//! `spec.target.template`: the blueprint of the target Secret, and ESO's rules against templates
//! that would mint privileged Secrets.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{DNS1123_SUBDOMAIN, SECRET_KEY};
use super::data::DecodingStrategy;

/// CEL rules and ESO's messages for templates (`externalsecret_validator.go`).
pub mod rules {
    /// A service-account-token Secret must not name its ServiceAccount through an annotation.
    pub const SA_TOKEN_ANNOTATION: &str = "!has(self.type) || self.type != 'kubernetes.io/service-account-token' || !has(self.metadata) || !has(self.metadata.annotations) || !('kubernetes.io/service-account.name' in self.metadata.annotations)";
    /// ESO's message for [`SA_TOKEN_ANNOTATION`].
    pub const SA_TOKEN_ANNOTATION_MSG: &str = r#"template.type="kubernetes.io/service-account-token" with annotation "kubernetes.io/service-account.name" is not allowed"#;
    /// A service-account-token Secret must not render its annotations from templateFrom.
    pub const SA_TOKEN_TEMPLATE_FROM: &str = "!has(self.type) || self.type != 'kubernetes.io/service-account-token' || !has(self.templateFrom) || !self.templateFrom.exists(t, has(t.target) && t.target.lowerAscii() == 'annotations')";
    /// ESO's message for [`SA_TOKEN_TEMPLATE_FROM`].
    pub const SA_TOKEN_TEMPLATE_FROM_MSG: &str = r#"template.type="kubernetes.io/service-account-token" with templateFrom target="Annotations" is not allowed"#;
    /// Bootstrap tokens may not be templated at all.
    pub const BOOTSTRAP_TOKEN: &str =
        "!has(self.type) || self.type != 'bootstrap.kubernetes.io/token'";
    /// ESO's message for [`BOOTSTRAP_TOKEN`].
    pub const BOOTSTRAP_TOKEN_MSG: &str =
        r#"template.type="bootstrap.kubernetes.io/token" is not allowed"#;
}

/// Blueprint of the target Secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": rules::SA_TOKEN_ANNOTATION, "message": rules::SA_TOKEN_ANNOTATION_MSG},
    {"rule": rules::SA_TOKEN_TEMPLATE_FROM, "message": rules::SA_TOKEN_TEMPLATE_FROM_MSG},
    {"rule": rules::BOOTSTRAP_TOKEN, "message": rules::BOOTSTRAP_TOKEN_MSG},
]))]
pub struct ExternalSecretTemplate {
    /// Secret type (`Opaque`, `kubernetes.io/tls`, …); an existing Secret keeps its type when
    /// omitted.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Template engine; only `v2` (Go templates with sprig-like functions) exists.
    #[serde(default)]
    pub engine_version: TemplateEngineVersion,
    /// Labels, annotations and finalizers of the Secret; label and annotation values are templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ExternalSecretTemplateMetadata>,
    /// Whether the rendered keys replace the fetched data or are merged with it.
    #[serde(default)]
    pub merge_policy: TemplateMergePolicy,
    /// Secret keys and the templates rendering their values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
    /// Further templates, read from ConfigMaps, Secrets or given literally.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub template_from: Vec<TemplateFrom>,
}

/// Metadata of the rendered Secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretTemplateMetadata {
    /// Annotations to set; values are templates.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Labels to set; values are templates.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Finalizers added to the Secret (never removed later).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
}

/// The template engine version.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum TemplateEngineVersion {
    /// Go templates with ESO's v2 function set (the default and only version).
    #[default]
    #[serde(rename = "v2")]
    V2,
}

/// How rendered keys combine with fetched keys.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum TemplateMergePolicy {
    /// Only the rendered keys end up in the Secret (the default).
    #[default]
    Replace,
    /// Rendered keys are added to the fetched keys.
    Merge,
}

/// One extra template source: a ConfigMap, a Secret, or a literal.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateFrom {
    /// Templates stored in a ConfigMap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<TemplateRef>,
    /// Templates stored in a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<TemplateRef>,
    /// Where the result goes. For Secrets only `Data`, `Annotations` and `Labels` (any case, or
    /// empty); for generic targets (`spec.target.manifest`) a dotted path such as `spec.config`.
    #[serde(default = "default_template_target")]
    #[schemars(length(max = 253))]
    pub target: String,
    /// An inline template whose output is parsed as keys and values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub literal: Option<String>,
    /// How rendered values are decoded (`None` when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_decoding_strategy: Option<DecodingStrategy>,
}

impl Default for TemplateFrom {
    fn default() -> Self {
        Self {
            config_map: None,
            secret: None,
            target: default_template_target(),
            literal: None,
            values_decoding_strategy: None,
        }
    }
}

fn default_template_target() -> String {
    "Data".to_owned()
}

/// A ConfigMap or Secret holding templates.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateRef {
    /// Name of the ConfigMap or Secret.
    #[schemars(length(min = 1, max = 253), pattern(DNS1123_SUBDOMAIN))]
    pub name: String,
    /// Keys of the object to use as templates.
    pub items: Vec<TemplateRefItem>,
}

/// One key of a template ConfigMap or Secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateRefItem {
    /// Key holding the template.
    #[schemars(length(min = 1, max = 253), pattern(SECRET_KEY))]
    pub key: String,
    /// Whether the template renders only values or whole `key: value` lines.
    #[serde(default)]
    pub template_as: TemplateScope,
}

/// How a template's output is interpreted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum TemplateScope {
    /// The template renders the value of the key of the same name (the default).
    #[default]
    Values,
    /// The template renders YAML/JSON holding keys and values.
    KeysAndValues,
}
