//! Post-processing of the CRDs `#[derive(CustomResource)]` generates, for what the derive cannot
//! express: ESO's `v1beta1` version, defaults and rules that depend on where a type is used, and
//! the removal of `nullable` so nulls are pruned (as in ESO's CRDs) instead of stored.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSON, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};

/// The served-only version ESO manifests still use; same schema as `v1`, no conversion needed.
pub const LEGACY_VERSION: &str = "v1beta1";

/// A schema location, as property names from the root (`[]` for "every item"/"every value").
pub type Path<'a> = &'a [&'a str];

/// How to finish one CRD.
#[derive(Clone, Copy, Default)]
pub(crate) struct Finish<'a> {
    /// Also serve the schema as [`LEGACY_VERSION`] (storage stays on the first version).
    pub legacy_version: bool,
    /// Fields whose explicit `null` is kept (ESO marks them `+nullable`).
    pub nullable: &'a [Path<'a>],
    /// Defaults to set at given paths.
    pub defaults: &'a [(Path<'a>, serde_json::Value)],
}

/// Applies `finish` to a generated CRD.
pub(crate) fn finish(
    mut crd: CustomResourceDefinition,
    finish: &Finish,
) -> CustomResourceDefinition {
    for version in &mut crd.spec.versions {
        let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        else {
            continue;
        };
        walk(schema, &mut Vec::new(), &mut |path, props| {
            mark_label_selector(props);
            if props
                .format
                .as_deref()
                .is_some_and(|f| f.starts_with("uint"))
            {
                // schemars' `uint8`/`uint16`/`uint32` are no OpenAPI formats; `minimum: 0` stays.
                props.format = None;
            }
            let here: Vec<&str> = path.iter().map(String::as_str).collect();
            if !finish.nullable.contains(&here.as_slice()) {
                props.nullable = None;
            }
            for (at, value) in finish.defaults {
                if *at == here.as_slice() {
                    props.default = Some(JSON(value.clone()));
                }
            }
        });
    }
    if finish.legacy_version
        && let Some(first) = crd.spec.versions.first()
    {
        let mut legacy = first.clone();
        legacy.name = LEGACY_VERSION.to_owned();
        legacy.served = true;
        legacy.storage = false;
        crd.spec.versions.push(legacy);
    }
    crd
}

/// Label selectors are atomic for server-side apply, as in every Kubernetes API (and ESO's CRDs).
fn mark_label_selector(props: &mut JSONSchemaProps) {
    let Some(properties) = props.properties.as_mut() else {
        return;
    };
    if properties.len() != 2 || !properties.contains_key("matchLabels") {
        return;
    }
    let Some(expressions) = properties.get_mut("matchExpressions") else {
        return;
    };
    expressions.x_kubernetes_list_type = Some("atomic".to_owned());
    if let Some(JSONSchemaPropsOrArray::Schema(item)) = expressions.items.as_mut()
        && let Some(values) = item.properties.as_mut().and_then(|p| p.get_mut("values"))
    {
        values.x_kubernetes_list_type = Some("atomic".to_owned());
    }
    props.x_kubernetes_map_type = Some("atomic".to_owned());
}

/// Removes a type's own description, so that the field's doc comment is the description of
/// every field of that type. (Without it an `Option<Enum>` field shows the enum's doc instead
/// of the field's.) Used as `#[schemars(transform = drop_description)]` on enums.
pub fn drop_description(schema: &mut schemars::Schema) {
    if let Some(object) = schema.as_object_mut() {
        object.remove("description");
    }
}

/// Marks `field` required while its serde default stays (schemars leaves a defaulted field
/// optional). ESO's CRDs mark the Vault auth mount paths required and defaulted; the apiserver
/// fills the default in before it validates, so the same objects are accepted either way.
fn require(schema: &mut schemars::Schema, field: &str) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    let required = object
        .entry("required")
        .or_insert_with(|| serde_json::Value::Array(Vec::new()));
    if let Some(list) = required.as_array_mut()
        && !list.iter().any(|v| v == field)
    {
        list.push(field.into());
        list.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    }
}

/// [`require`] for `path`. Used as `#[schemars(transform = require_path)]`.
pub fn require_path(schema: &mut schemars::Schema) {
    require(schema, "path");
}

/// [`require`] for `mountPath`. Used as `#[schemars(transform = require_mount_path)]`.
pub fn require_mount_path(schema: &mut schemars::Schema) {
    require(schema, "mountPath");
}

/// Any JSON value, kept as written (ESO's `apiextensionsv1.JSON` fields, such as a PushSecret's
/// provider-specific `metadata`). Used as `#[schemars(schema_with = "…::any_json")]`.
pub fn any_json(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "x-kubernetes-preserve-unknown-fields": true })
}

/// Calls `f` on every schema node, depth first, with its path (`[]` for items and map values).
pub fn walk(
    props: &mut JSONSchemaProps,
    path: &mut Vec<String>,
    f: &mut dyn FnMut(&[String], &mut JSONSchemaProps),
) {
    f(path, props);
    if let Some(properties) = props.properties.as_mut() {
        for (name, child) in properties.iter_mut() {
            path.push(name.clone());
            walk(child, path, f);
            path.pop();
        }
    }
    let mut nested: Vec<&mut JSONSchemaProps> = Vec::new();
    match props.items.as_mut() {
        Some(JSONSchemaPropsOrArray::Schema(item)) => nested.push(item),
        Some(JSONSchemaPropsOrArray::Schemas(items)) => nested.extend(items.iter_mut()),
        None => {}
    }
    if let Some(JSONSchemaPropsOrBool::Schema(value)) = props.additional_properties.as_mut() {
        nested.push(value);
    }
    for child in nested {
        path.push("[]".to_owned());
        walk(child, path, f);
        path.pop();
    }
    for group in [&mut props.all_of, &mut props.any_of, &mut props.one_of]
        .into_iter()
        .flatten()
    {
        for child in group.iter_mut() {
            walk(child, path, f);
        }
    }
    if let Some(not) = props.not.as_mut() {
        walk(not, path, f);
    }
}
