//! Tests of the CRD module: the generated CRDs (`schema`), their fields' defaults and rules
//! (`fields`), the rules evaluated client-side (`cel`), and the Rust types (`types`).

mod cel;
mod fields;
mod schema;
mod types;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps,
};

/// [`super::all`], generated once for all tests (it is slow in debug builds).
fn all() -> &'static [CustomResourceDefinition] {
    static ALL: std::sync::OnceLock<Vec<CustomResourceDefinition>> = std::sync::OnceLock::new();
    ALL.get_or_init(super::all)
}

/// The CRD named `name` from [`super::all`].
fn crd(name: &str) -> CustomResourceDefinition {
    all()
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some(name))
        .cloned()
        .unwrap_or_else(|| panic!("no CRD {name}"))
}

/// The `v1` (first version's) schema of the CRD named `name`.
fn root(name: &str) -> JSONSchemaProps {
    crd(name).spec.versions[0]
        .schema
        .clone()
        .and_then(|s| s.open_api_v3_schema)
        .unwrap_or_else(|| panic!("{name} has no schema"))
}

/// The schema node at `path` (property names; `[]` for array items / map values).
fn node<'a>(root: &'a JSONSchemaProps, path: &[&str]) -> &'a JSONSchemaProps {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
        JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
    };
    let mut here = root;
    for step in path {
        here = if *step == "[]" {
            match (&here.items, &here.additional_properties) {
                (Some(JSONSchemaPropsOrArray::Schema(item)), _) => item,
                (_, Some(JSONSchemaPropsOrBool::Schema(value))) => value,
                _ => panic!("{path:?}: no items at {step}"),
            }
        } else {
            here.properties
                .as_ref()
                .and_then(|p| p.get(*step))
                .unwrap_or_else(|| panic!("{path:?}: no property {step}"))
        };
    }
    here
}

const ES: &str = "externalsecrets.external-secrets.io";
const SS: &str = "secretstores.external-secrets.io";
const CSS: &str = "clustersecretstores.external-secrets.io";
const CES: &str = "clusterexternalsecrets.external-secrets.io";
const PC: &str = "providerclasses.ampoule.dev";
const PS: &str = "pushsecrets.external-secrets.io";
const CPS: &str = "clusterpushsecrets.external-secrets.io";
