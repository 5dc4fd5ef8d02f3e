//! The kind list, the CRD set, and resolving a `generatorRef` to a kind and spec.

use serde_json::{Value, json};

use super::*;
use crate::crd::data::GeneratorRef;

fn reference(kind: &str, name: &str) -> GeneratorRef {
    serde_json::from_value(json!({"kind": kind, "name": name})).unwrap()
}

fn enum_at(crd: &CustomResourceDefinition, path: &[&str]) -> Vec<String> {
    let mut node = crd.spec.versions[0]
        .schema
        .clone()
        .and_then(|s| s.open_api_v3_schema)
        .unwrap();
    for step in path {
        node = node.properties.unwrap().remove(*step).unwrap();
    }
    node.enum_
        .unwrap()
        .into_iter()
        .map(|v| v.0.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn one_kind_list_for_generator_refs_and_cluster_generators() {
    let names: Vec<&str> = GeneratorKind::ALL.iter().map(|k| k.as_str()).collect();
    // Serde, Display and FromStr agree with `as_str`.
    for kind in GeneratorKind::ALL {
        assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        assert_eq!(kind.to_string(), kind.as_str());
        assert_eq!(kind.as_str().parse::<GeneratorKind>(), Ok(kind));
    }
    assert!("Nope".parse::<GeneratorKind>().is_err());
    // The ExternalSecret's generatorRef.kind enum is the whole list, ClusterGenerator included.
    let es = crate::crd::all()
        .into_iter()
        .find(|c| c.spec.names.kind == "ExternalSecret")
        .unwrap();
    let path = [
        "spec",
        "dataFrom",
        "[]",
        "sourceRef",
        "generatorRef",
        "kind",
    ];
    let mut node = es.spec.versions[0]
        .schema
        .clone()
        .and_then(|s| s.open_api_v3_schema)
        .unwrap();
    for step in path {
        node = if step == "[]" {
            match node.items.unwrap() {
                k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaPropsOrArray::Schema(s) => *s,
                _ => panic!("items"),
            }
        } else {
            node.properties.unwrap().remove(step).unwrap()
        };
    }
    let es_enum: Vec<String> = node
        .enum_
        .unwrap()
        .into_iter()
        .map(|v| v.0.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(es_enum, names);
    // ClusterGenerator.spec.kind: the same list without ClusterGenerator.
    let cluster = all()
        .into_iter()
        .find(|c| c.spec.names.kind == "ClusterGenerator")
        .unwrap();
    let mut embeddable = names.clone();
    embeddable.retain(|k| *k != "ClusterGenerator");
    assert_eq!(enum_at(&cluster, &["spec", "kind"]), embeddable);
    // And spec.generator has one member per embeddable kind.
    let members = cluster.spec.versions[0]
        .schema
        .clone()
        .and_then(|s| s.open_api_v3_schema)
        .and_then(|s| {
            s.properties?
                .remove("spec")?
                .properties?
                .remove("generator")
        })
        .and_then(|g| g.properties)
        .unwrap();
    let mut keys: Vec<&str> = GeneratorKind::embeddable()
        .map(|k| k.cluster_spec_key().unwrap())
        .collect();
    keys.sort_unstable();
    assert_eq!(members.keys().map(String::as_str).collect::<Vec<_>>(), keys);
}

#[test]
fn one_crd_per_kind_and_the_state() {
    let crds = all();
    assert_eq!(crds.len(), GeneratorKind::ALL.len() + 1);
    for (crd, kind) in crds.iter().zip(GeneratorKind::ALL) {
        assert_eq!(crd.spec.names.kind, kind.as_str());
        assert_eq!(crd.spec.names.plural, kind.plural());
        assert_eq!(crd.spec.group, GROUP);
        let scope = if kind == GeneratorKind::ClusterGenerator {
            "Cluster"
        } else {
            "Namespaced"
        };
        assert_eq!(crd.spec.scope, scope, "{kind}");
        assert!(
            crd.spec.versions[0]
                .subresources
                .as_ref()
                .is_some_and(|s| s.status.is_some())
        );
    }
    let state = crds.last().unwrap();
    assert_eq!(state.spec.names.kind, "GeneratorState");
    assert_eq!(state.spec.names.short_names, Some(vec!["gs".to_owned()]));
    assert_eq!(
        state.spec.versions[0].subresources,
        Some(CustomResourceSubresources::default())
    );
}

#[test]
fn components_exist_for_the_kinds_ampoule_runs() {
    let supported: Vec<&str> = GeneratorKind::ALL
        .into_iter()
        .filter(|k| k.has_component())
        .map(GeneratorKind::as_str)
        .collect();
    assert_eq!(
        supported,
        [
            "Fake",
            "Password",
            "SSHKey",
            "UUID",
            "VaultDynamicSecret",
            "Webhook"
        ]
    );
}

#[test]
fn a_namespaced_reference_resolves_in_the_namespace() {
    let target = GeneratorTarget::new(&reference("Password", "pw"), "apps").unwrap();
    assert_eq!(target.namespace.as_deref(), Some("apps"));
    let ar = target.api_resource();
    assert_eq!(
        (ar.plural.as_str(), ar.kind.as_str()),
        ("passwords", "Password")
    );
    assert_eq!(ar.api_version, API_VERSION);
    let object = json!({
        "apiVersion": API_VERSION, "kind": "Password",
        "metadata": {"name": "pw", "namespace": "apps"},
        "spec": {"length": 32, "symbols": 0},
    });
    let resolved = resolve(&target, &object).unwrap();
    assert_eq!(resolved.kind, GeneratorKind::Password);
    assert!(!resolved.cluster);
    assert_eq!(resolved.spec, json!({"length": 32, "symbols": 0}));
    let typed = resolved.typed().unwrap();
    let password = typed.password_spec.unwrap();
    assert_eq!((password.length, password.symbols), (32, Some(0)));
    assert_eq!(password.encoding, simple::PasswordEncoding::Raw);
    assert!(resolved.supported().is_ok());
}

#[test]
fn a_spec_less_uuid_resolves_to_an_empty_spec() {
    let target = GeneratorTarget::new(&reference("UUID", "id"), "apps").unwrap();
    let resolved = resolve(
        &target,
        &json!({"kind": "UUID", "metadata": {"name": "id"}}),
    )
    .unwrap();
    assert_eq!(resolved.spec, json!({}));
    assert_eq!(resolved.typed().unwrap().uuid_spec, Some(UuidSpec {}));
}

#[test]
fn a_cluster_generator_resolves_to_its_embedded_spec() {
    let target = GeneratorTarget::new(&reference("ClusterGenerator", "shared"), "apps").unwrap();
    assert_eq!(target.namespace, None);
    assert_eq!(target.api_resource().plural, "clustergenerators");
    let object = json!({
        "kind": "ClusterGenerator", "metadata": {"name": "shared"},
        "spec": {"kind": "Fake", "generator": {"fakeSpec": {"data": {"a": "b"}}}},
    });
    let resolved = resolve(&target, &object).unwrap();
    assert_eq!(resolved.kind, GeneratorKind::Fake);
    assert!(resolved.cluster);
    assert_eq!(resolved.spec, json!({"data": {"a": "b"}}));
    let fake = resolved.typed().unwrap().fake_spec.unwrap();
    assert_eq!(fake.data.get("a").map(String::as_str), Some("b"));
}

#[test]
fn broken_cluster_generators_are_refused() {
    let target = GeneratorTarget::new(&reference("ClusterGenerator", "c"), "apps").unwrap();
    let cases: Vec<(Value, &str)> = vec![
        (json!({"generator": {"fakeSpec": {}}}), "spec.kind None"),
        (
            json!({"kind": "ClusterGenerator", "generator": {}}),
            "spec.kind Some(\"ClusterGenerator\")",
        ),
        (
            json!({"kind": "Fake", "generator": {"passwordSpec": {}}}),
            "must hold exactly fakeSpec (for kind Fake), it holds [\"passwordSpec\"]",
        ),
        (
            json!({"kind": "Fake", "generator": {"fakeSpec": {}, "uuidSpec": {}}}),
            "it holds [\"fakeSpec\", \"uuidSpec\"]",
        ),
        (json!({"kind": "Fake"}), "it holds []"),
    ];
    for (spec, want) in cases {
        let object = json!({"kind": "ClusterGenerator", "spec": spec});
        let err = resolve(&target, &object).unwrap_err();
        assert!(err.to_string().contains(want), "{err} / {want}");
        assert_eq!(err.reason(), "InvalidGeneratorRef");
    }
}

#[test]
fn references_and_objects_must_agree() {
    let mut other: GeneratorRef = reference("Password", "p");
    other.api_version = "generators.external-secrets.io/v1".into();
    assert_eq!(
        GeneratorTarget::new(&other, "apps"),
        Err(GeneratorError::ApiVersion(
            "generators.external-secrets.io/v1".into()
        ))
    );
    let target = GeneratorTarget::new(&reference("Password", "p"), "apps").unwrap();
    let err = resolve(&target, &json!({"kind": "UUID", "spec": {}})).unwrap_err();
    assert_eq!(
        err.to_string(),
        "generatorRef names a Password but the object is a UUID"
    );
}

#[test]
fn kinds_without_a_component_are_refused_with_a_reason() {
    let target = GeneratorTarget::new(&reference("GithubAccessToken", "gh"), "apps").unwrap();
    let resolved = resolve(&target, &json!({"spec": {}})).unwrap();
    let err = resolved.supported().unwrap_err();
    assert_eq!(
        err,
        GeneratorError::NotSupported(GeneratorKind::GithubAccessToken)
    );
    assert_eq!(err.reason(), "GeneratorNotSupported");
    assert_eq!(
        err.to_string(),
        "generator kind GithubAccessToken is not supported by Ampoule yet"
    );
}

#[test]
fn invalid_specs_are_reported_without_their_values() {
    let target = GeneratorTarget::new(&reference("Fake", "f"), "apps").unwrap();
    let resolved = resolve(&target, &json!({"spec": {"data": {"k": 12345}}})).unwrap();
    let err = resolved.typed().unwrap_err().to_string();
    assert!(
        err.starts_with("spec of Fake f is invalid: a value is not expected"),
        "{err}"
    );
    assert!(!err.contains("12345"), "{err}");
    let target = GeneratorTarget::new(&reference("Webhook", "w"), "apps").unwrap();
    let resolved = resolve(
        &target,
        &json!({"spec": {"url": "https://x", "result": {}, "method": "hunter2-as-a-number-is-fine", "body": 42}}),
    )
    .unwrap();
    let err = resolved.typed().unwrap_err().to_string();
    assert!(!err.contains("42"), "{err}");
    let resolved = resolve(&target, &json!({"spec": {"result": {}}})).unwrap();
    assert_eq!(
        resolved.typed().unwrap_err().to_string(),
        "spec of Webhook w is invalid: missing field `url`"
    );
}
