//! ESO's generators on the ground's apiserver: `dataFrom[].sourceRef.generatorRef` in
//! ExternalSecrets (a namespaced generator and a ClusterGenerator), a PushSecret whose source is a
//! generator, a restart that does not regenerate, and a kind without a component refused with a
//! clear condition. The generators are the real embedded components.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{WAIT, data, start};
use serde_json::{Value, json};

fn generator(kind: &str, name: &str, spec: Value) -> Value {
    json!({"apiVersion": "generators.external-secrets.io/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec})
}

fn es_from_generator(name: &str, kind: &str, generator: &str, extra: Value) -> Value {
    let mut spec = json!({
        "refreshInterval": "1h",
        "target": {"name": name},
        "dataFrom": [{"sourceRef": {"generatorRef": {
            "apiVersion": "generators.external-secrets.io/v1alpha1", "kind": kind, "name": generator}}}],
    });
    if let (Value::Object(s), Value::Object(e)) = (&mut spec, extra) {
        s.extend(e);
    }
    json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": name}, "spec": spec})
}

#[tokio::test]
async fn a_password_generator_fills_the_secret_and_a_restart_keeps_it() {
    let mut c = start("gen-pw", |_| {}).await;
    // ESO's documented example (docs/snippets/generator-password.yaml), names aside.
    c.apply(generator(
        "Password",
        "my-password",
        json!({"length": 42, "digits": 5, "symbols": 5, "symbolCharacters": "-_$@", "noUpper": false, "allowRepeat": true}),
    ))
    .await;
    c.apply(es_from_generator(
        "pw",
        "Password",
        "my-password",
        json!({}),
    ))
    .await;
    let s = c
        .secret_where("pw", "the generated password", |s| {
            data(s).get("password").is_some_and(|p| p.len() == 42)
        })
        .await;
    let first = data(&s)["password"].clone();
    assert_eq!(first.chars().filter(char::is_ascii_digit).count(), 5);
    assert_eq!(
        first.chars().filter(|c| "-_$@".contains(*c)).count(),
        5,
        "{} symbols",
        first.len()
    );
    c.es_ready("pw", "True", "SecretSynced").await;

    // A restart: the new controller checks the ExternalSecret (its refresh is an hour away) and
    // generates nothing.
    c.restart().await;
    c.apply(es_from_generator("probe", "UUID", "id", json!({})))
        .await;
    c.apply(generator("UUID", "id", json!({}))).await;
    c.secret_where("probe", "the probe synced by the new controller", |s| {
        data(s).contains_key("uuid")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        data(&c.secret("pw").await.unwrap())["password"],
        first,
        "a restart does not regenerate before refreshInterval"
    );

    // A change of the ExternalSecret syncs it again: a new password, as in ESO.
    common::force_sync(&c.client, &c.namespace, "pw", "1").await;
    c.secret_where("pw", "a new password after a forced sync", |s| {
        data(s).get("password").is_some_and(|p| *p != first)
    })
    .await;
}

#[tokio::test]
async fn a_cluster_generator_and_rewrites_and_an_unsupported_kind() {
    let c = start("gen-cluster", |_| {}).await;
    let name = common::unique("cg");
    common::apply(
        &c.client,
        None,
        json!({"apiVersion": "generators.external-secrets.io/v1alpha1", "kind": "ClusterGenerator",
            "metadata": {"name": name},
            "spec": {"kind": "UUID", "generator": {"uuidSpec": {}}}}),
    )
    .await
    .unwrap();
    c.apply(es_from_generator(
        "ids",
        "ClusterGenerator",
        &name,
        json!({"dataFrom": [{
            "sourceRef": {"generatorRef": {"apiVersion": "generators.external-secrets.io/v1alpha1", "kind": "ClusterGenerator", "name": name}},
            "rewrite": [{"regexp": {"source": "^uuid$", "target": "request-id"}}],
        }]}),
    ))
    .await;
    let s = c
        .secret_where("ids", "the ClusterGenerator's uuid, rewritten", |s| {
            data(s).contains_key("request-id")
        })
        .await;
    let id = &data(&s)["request-id"];
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(id.as_bytes()[14], b'4', "a version-4 UUID: {id}");

    // Fake: static values (ESO's docs/snippets/generator-fake.yaml).
    c.apply(generator(
        "Fake",
        "fake",
        json!({"data": {"foo": "bar", "baz": "bang"}}),
    ))
    .await;
    c.apply(es_from_generator("fake", "Fake", "fake", json!({})))
        .await;
    let s = c
        .secret_where("fake", "the Fake generator's data", |s| {
            data(s).contains_key("foo")
        })
        .await;
    assert_eq!(data(&s)["baz"], "bang");

    // A kind that is installed but has no component: Ready=False with a clear message.
    c.apply(generator(
        "Grafana",
        "grafana",
        json!({"url": "https://grafana.example.com", "auth": {"basic": {"username": "u", "password": {"name": "p", "key": "k"}}}, "serviceAccount": {"name": "sa", "role": "Viewer"}}),
    ))
    .await;
    c.apply(es_from_generator("graf", "Grafana", "grafana", json!({})))
        .await;
    c.es_ready("graf", "False", "SecretSyncedError").await;
    let (kind, _, note) = ground::eventually(WAIT, "a Warning naming the kind", || async {
        c.events("graf")
            .await
            .into_iter()
            .find(|e| e.0 == "Warning" && e.2.contains("Grafana"))
    })
    .await;
    assert_eq!(kind, "Warning");
    assert!(
        note.contains("generator kind Grafana is not supported by Ampoule yet"),
        "{note}"
    );
    kube::Api::<ampoule::crd::ClusterGenerator>::all(c.client.clone())
        .delete(&name, &Default::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_push_secret_pushes_what_a_generator_makes() {
    let c = start("gen-push", |_| {}).await;
    let backend = c.store("vault").await;
    // ESO's docs/snippets/pushsecret-generator-rotation-example.yaml, names aside.
    c.apply(generator(
        "Password",
        "strong-password",
        json!({"length": 128, "digits": 5, "symbols": 5, "symbolCharacters": "-_$@", "noUpper": false, "allowRepeat": true}),
    ))
    .await;
    c.apply(json!({
        "apiVersion": "external-secrets.io/v1alpha1", "kind": "PushSecret", "metadata": {"name": "rotate"},
        "spec": {
            "refreshInterval": "6h0m0s",
            "secretStoreRefs": [{"name": "vault", "kind": "SecretStore"}],
            "selector": {"generatorRef": {"apiVersion": "generators.external-secrets.io/v1alpha1", "kind": "Password", "name": "strong-password"}},
            "data": [{"match": {"secretKey": "password", "remoteRef": {"remoteKey": "prod/myql/password"}}}],
        },
    }))
    .await;
    let pushed = ground::eventually(WAIT, "the generated password pushed", || async {
        backend.value("prod/myql/password")
    })
    .await;
    assert_eq!(pushed.len(), 128);
}

/// ESO's GeneratorState controller: a state gets the finalizer, is kept until its
/// garbage-collection deadline, then its generator cleans up and the object goes.
#[tokio::test]
async fn generator_states_are_collected_at_their_deadline() {
    let c = start("gen-gc", |_| {}).await;
    let api: kube::Api<ampoule::crd::GeneratorState> = c.api();
    let resource = json!({"apiVersion": "generators.external-secrets.io/v1alpha1", "kind": "Fake",
        "metadata": {"name": "f"}, "spec": {"data": {"k": "v"}}});
    let soon =
        k8s_openapi::jiff::Timestamp::now() + k8s_openapi::jiff::SignedDuration::from_secs(3);
    for (name, deadline) in [("due", Some(soon.to_string())), ("kept", None)] {
        let mut spec = json!({"resource": resource, "state": {"lease": name}});
        if let Some(d) = deadline {
            spec["garbageCollectionDeadline"] = json!(d);
        }
        c.apply(json!({"apiVersion": "generators.external-secrets.io/v1alpha1", "kind": "GeneratorState",
            "metadata": {"name": name}, "spec": spec}))
            .await;
    }
    ground::eventually(WAIT, "both states carry the finalizer", || async {
        let has = |o: &ampoule::crd::GeneratorState| {
            o.metadata
                .finalizers
                .iter()
                .flatten()
                .any(|f| f == "generatorstate.externalsecrets.io/finalizer")
        };
        let due = api.get_opt("due").await.unwrap()?;
        let kept = api.get_opt("kept").await.unwrap()?;
        (has(&due) && has(&kept)).then_some(())
    })
    .await;
    ground::eventually(WAIT, "the due state cleaned up and deleted", || async {
        api.get_opt("due").await.unwrap().is_none().then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        api.get_opt("kept").await.unwrap().is_some(),
        "a state without a deadline stays"
    );
    // Deleting it runs the cleanup and lets it go (the finalizer comes off).
    api.delete("kept", &Default::default()).await.unwrap();
    ground::eventually(WAIT, "the kept state finalized", || async {
        api.get_opt("kept").await.unwrap().is_none().then_some(())
    })
    .await;
}

/// The kinds the CRD module says Ampoule runs are exactly the kinds the embedded components
/// serve.
#[tokio::test]
async fn the_kinds_with_a_component_are_the_embedded_ones() {
    let generators = common::generators().await;
    for kind in ampoule::crd::GeneratorKind::ALL {
        if kind == ampoule::crd::GeneratorKind::ClusterGenerator {
            continue;
        }
        assert_eq!(
            generators.serves(kind.as_str()),
            kind.has_component(),
            "{}",
            kind.as_str()
        );
    }
}
