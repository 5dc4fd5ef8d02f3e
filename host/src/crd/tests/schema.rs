//! The generated CRDs: names, versions, columns, structural schemas, defaults, rules.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};

use super::{CES, CPS, CSS, ES, PC, PS, SS, all, crd, node, root};

#[test]
fn all_crds_in_stable_order() {
    let names: Vec<_> = all()
        .iter()
        .filter_map(|c| c.metadata.name.as_deref())
        .collect();
    assert_eq!(names[..7], [ES, SS, CSS, CES, PC, PS, CPS]);
    let generators: Vec<_> = super::super::generators::all()
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert_eq!(names[7..], generators);
}

#[test]
fn names_scopes_and_categories_match_eso() {
    let cases = [
        (ES, "ExternalSecret", "Namespaced", "es"),
        (SS, "SecretStore", "Namespaced", "ss"),
        (CSS, "ClusterSecretStore", "Cluster", "css"),
        (CES, "ClusterExternalSecret", "Cluster", "ces"),
        (PS, "PushSecret", "Namespaced", "ps"),
        (CPS, "ClusterPushSecret", "Cluster", ""),
    ];
    for (name, kind, scope, short) in cases {
        let crd = crd(name);
        assert_eq!(crd.spec.names.kind, kind);
        assert_eq!(crd.spec.scope, scope, "{name}");
        let shorts = (!short.is_empty()).then(|| vec![short.to_owned()]);
        assert_eq!(crd.spec.names.short_names, shorts, "{name}");
        assert_eq!(
            crd.spec.names.categories,
            Some(vec!["external-secrets".to_owned()])
        );
        let labels = crd.metadata.labels.unwrap_or_default();
        assert_eq!(
            labels
                .get("external-secrets.io/component")
                .map(String::as_str),
            Some("controller"),
            "{name}"
        );
    }
    let pc = crd(PC);
    assert_eq!(pc.spec.scope, "Cluster");
    assert_eq!(pc.spec.group, "ampoule.dev");
    assert_eq!(pc.spec.versions.len(), 1);
    assert_eq!(pc.spec.versions[0].name, "v1alpha1");
}

#[test]
fn eso_kinds_serve_v1beta1_with_the_v1_schema() {
    for name in [ES, SS, CSS, CES] {
        let crd = crd(name);
        assert!(crd.spec.conversion.is_none(), "{name}: conversion None");
        let versions: Vec<_> = crd
            .spec
            .versions
            .iter()
            .map(|v| (v.name.as_str(), v.served, v.storage))
            .collect();
        assert_eq!(
            versions,
            [("v1", true, true), ("v1beta1", true, false)],
            "{name}"
        );
        let (v1, v1beta1) = (&crd.spec.versions[0], &crd.spec.versions[1]);
        assert_eq!(v1.schema, v1beta1.schema, "{name}");
        assert_eq!(
            v1.additional_printer_columns,
            v1beta1.additional_printer_columns
        );
        assert!(
            v1.subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some()
        );
        assert_eq!(v1.subresources, v1beta1.subresources);
    }
}

#[test]
fn printer_columns_match_eso() {
    let columns = |name: &str| -> Vec<(String, String, String)> {
        crd(name).spec.versions[0]
            .additional_printer_columns
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c.name, c.type_, c.json_path))
            .collect()
    };
    let ready_reason = r#".status.conditions[?(@.type=="Ready")].reason"#;
    let ready_status = r#".status.conditions[?(@.type=="Ready")].status"#;
    let own = |rows: &[(&str, &str, &str)]| -> Vec<(String, String, String)> {
        rows.iter()
            .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
            .collect()
    };
    assert_eq!(
        columns(ES),
        own(&[
            ("StoreType", "string", ".spec.secretStoreRef.kind"),
            ("Store", "string", ".spec.secretStoreRef.name"),
            ("Refresh Interval", "string", ".spec.refreshInterval"),
            ("Status", "string", ready_reason),
            ("Ready", "string", ready_status),
            ("Last Sync", "date", ".status.refreshTime"),
        ])
    );
    let store = own(&[
        ("AGE", "date", ".metadata.creationTimestamp"),
        ("Status", "string", ready_reason),
        ("Capabilities", "string", ".status.capabilities"),
        ("Ready", "string", ready_status),
    ]);
    assert_eq!(columns(SS), store);
    assert_eq!(columns(CSS), store);
    assert_eq!(
        columns(CES),
        own(&[
            (
                "Store",
                "string",
                ".spec.externalSecretSpec.secretStoreRef.name"
            ),
            ("Refresh Interval", "string", ".spec.refreshTime"),
            ("Ready", "string", ready_status),
        ])
    );
    let selectable: Vec<_> = crd(ES).spec.versions[0]
        .selectable_fields
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|f| f.json_path)
        .collect();
    assert_eq!(
        selectable,
        [
            ".spec.secretStoreRef.name",
            ".spec.secretStoreRef.kind",
            ".spec.target.name",
            ".spec.refreshInterval"
        ]
    );
}

#[test]
fn store_kinds_share_one_schema() {
    for part in ["spec", "status"] {
        assert_eq!(
            node(&root(SS), &[part]),
            node(&root(CSS), &[part]),
            "{part}"
        );
    }
}

/// Checks the apiserver's structural-schema rules on every node: a type everywhere (unless
/// int-or-string or preserve-unknown), nothing but validation inside anyOf/oneOf/allOf/not, no
/// `$ref`, `properties` and `additionalProperties` never together, no `nullable` left except
/// where ESO has it.
fn structural_violations(
    props: &JSONSchemaProps,
    path: &str,
    inside_logic: bool,
    out: &mut Vec<String>,
) {
    let here = if path.is_empty() { "<root>" } else { path };
    if inside_logic {
        if props.type_.is_some() || props.description.is_some() || props.default.is_some() {
            out.push(format!(
                "{here}: type/description/default inside a logic junctor"
            ));
        }
        if props.additional_properties.is_some() || props.nullable.is_some() {
            out.push(format!(
                "{here}: additionalProperties/nullable inside a logic junctor"
            ));
        }
        if props.properties.is_some() || props.items.is_some() {
            out.push(format!("{here}: properties/items inside a logic junctor"));
        }
    } else if props.type_.is_none()
        && props.x_kubernetes_int_or_string != Some(true)
        && props.x_kubernetes_preserve_unknown_fields != Some(true)
    {
        out.push(format!("{here}: no type"));
    }
    if props.ref_path.is_some() {
        out.push(format!("{here}: $ref"));
    }
    if props.properties.is_some()
        && matches!(
            props.additional_properties,
            Some(JSONSchemaPropsOrBool::Schema(_))
        )
    {
        out.push(format!("{here}: properties and additionalProperties"));
    }
    if props.nullable.is_some() && path != ".status.refreshTime" {
        out.push(format!("{here}: nullable"));
    }
    for (name, child) in props.properties.iter().flatten() {
        structural_violations(child, &format!("{path}.{name}"), inside_logic, out);
    }
    match &props.items {
        Some(JSONSchemaPropsOrArray::Schema(item)) => {
            structural_violations(item, &format!("{path}[]"), inside_logic, out);
        }
        Some(JSONSchemaPropsOrArray::Schemas(_)) => out.push(format!("{here}: tuple items")),
        None => {}
    }
    if let Some(JSONSchemaPropsOrBool::Schema(value)) = &props.additional_properties {
        structural_violations(value, &format!("{path}{{}}"), inside_logic, out);
    }
    for junctor in [&props.all_of, &props.any_of, &props.one_of]
        .into_iter()
        .flatten()
    {
        for branch in junctor {
            structural_violations(branch, path, true, out);
        }
    }
    if let Some(not) = &props.not {
        structural_violations(not, path, true, out);
    }
}

#[test]
fn schemas_are_structural() {
    for crd in all() {
        let mut violations = Vec::new();
        let schema = crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref());
        structural_violations(
            schema.unwrap_or_else(|| panic!("no schema")),
            "",
            false,
            &mut violations,
        );
        assert!(
            violations.is_empty(),
            "{:?}: {violations:#?}",
            crd.metadata.name
        );
    }
}

#[test]
fn every_field_has_a_description() {
    fn walk(props: &JSONSchemaProps, path: &str, missing: &mut Vec<String>) {
        for (name, child) in props.properties.iter().flatten() {
            let here = format!("{path}.{name}");
            if child.description.as_deref().unwrap_or_default().is_empty() {
                missing.push(here.clone());
            }
            walk(child, &here, missing);
        }
        if let Some(JSONSchemaPropsOrArray::Schema(item)) = &props.items {
            walk(item, &format!("{path}[]"), missing);
        }
        if let Some(JSONSchemaPropsOrBool::Schema(value)) = &props.additional_properties {
            walk(value, &format!("{path}{{}}"), missing);
        }
    }
    for name in [ES, SS, CES, PC] {
        let mut missing = Vec::new();
        walk(&root(name), "", &mut missing);
        assert!(missing.is_empty(), "{name}: {missing:#?}");
    }
}
