#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

fn req(data: &[(&str, &str)]) -> Request {
    Request {
        data: data
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect(),
        ..Request::default()
    }
}

fn tmap(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn s(v: &[u8]) -> &str {
    std::str::from_utf8(v).unwrap()
}

#[test]
fn data_templates_render_each_key_from_the_fetched_strings() {
    let mut r = req(&[("username", "app"), ("password", "p@ss")]);
    r.data_templates = tmap(&[(
        "url",
        "postgres://{{ .username }}:{{ .password | urlquery }}@db:5432/app",
    )]);
    let out = render(&r).unwrap();
    assert_eq!(s(&out.data["url"]), "postgres://app:p%40ss@db:5432/app");
    assert_eq!(out.data.len(), 1, "only rendered keys come back");
}

#[test]
fn missing_keys_are_errors_with_eso_wording() {
    let mut r = req(&[("a", "1")]);
    r.data_templates = tmap(&[("out", "{{ .nope }}")]);
    let err = render(&r).unwrap_err();
    assert!(
        err.starts_with("could not execute template: could not execute template: unable to execute template at key out: unable to execute template at key out: template: out:1:3: executing \"out\" at <.nope>: map has no entry for key \"nope\""),
        "{err}"
    );
}

#[test]
fn parse_errors_name_the_key() {
    let mut r = req(&[]);
    r.data_templates = tmap(&[("bad", "{{ .a ")]);
    let err = render(&r).unwrap_err();
    assert!(
        err.contains("unable to parse template at key bad: template: bad:1:"),
        "{err}"
    );
}

#[test]
fn order_is_template_from_then_data_then_labels_then_annotations() {
    let mut r = req(&[("user", "u"), ("team", "payments")]);
    r.sources = vec![
        Source {
            target: Target::Data,
            decoding: Decoding::None,
            items: vec![
                Item {
                    key: "config".into(),
                    text: "user={{ .user }}".into(),
                    scope: Scope::Values,
                },
                Item {
                    key: "ignored".into(),
                    text: "a: \"{{ .user }}-1\"\nconfig: from-kv".into(),
                    scope: Scope::KeysAndValues,
                },
            ],
        },
        Source {
            target: Target::Labels,
            decoding: Decoding::None,
            items: vec![Item {
                key: "x".into(),
                text: "team: {{ .team }}\nowner: from-template-from".into(),
                scope: Scope::KeysAndValues,
            }],
        },
    ];
    r.data_templates = tmap(&[("a", "{{ .user }}-wins")]);
    r.label_templates = tmap(&[("owner", "{{ .user }}")]);
    r.annotation_templates = tmap(&[("note", "{{ .team | upper }}")]);
    let out = render(&r).unwrap();
    assert_eq!(
        s(&out.data["config"]),
        "from-kv",
        "later templateFrom items win"
    );
    assert_eq!(
        s(&out.data["a"]),
        "u-wins",
        "template.data wins over templateFrom"
    );
    assert_eq!(out.labels["team"], "payments");
    assert_eq!(
        out.labels["owner"], "u",
        "metadata labels win over templateFrom labels"
    );
    assert_eq!(out.annotations["note"], "PAYMENTS");
}

#[test]
fn keys_and_values_must_be_a_string_map() {
    let mut r = req(&[]);
    r.sources = vec![Source {
        target: Target::Data,
        decoding: Decoding::None,
        items: vec![Item {
            key: "lit".into(),
            text: "port: 5432".into(),
            scope: Scope::KeysAndValues,
        }],
    }];
    let err = render(&r).unwrap_err();
    assert!(
        err.starts_with("error fetching templateFrom data: could not unmarshal template to 'map[string][]byte': json: cannot unmarshal number"),
        "{err}"
    );
    r.sources[0].items[0].text = "{{/* nothing */}}".into();
    assert!(
        render(&r).unwrap().data.is_empty(),
        "empty output is an empty map"
    );
}

#[test]
fn values_decoding_applies_to_rendered_values() {
    let mut r = req(&[("blob", "aGVsbG8=")]);
    r.sources = vec![Source {
        target: Target::Data,
        decoding: Decoding::Base64,
        items: vec![Item {
            key: "plain".into(),
            text: "{{ .blob }}".into(),
            scope: Scope::Values,
        }],
    }];
    assert_eq!(s(&render(&r).unwrap().data["plain"]), "hello");
    r.sources[0].items[0].text = "not base64!".into();
    let err = render(&r).unwrap_err();
    assert!(
        err.contains("failed to decode rendered template value for key plain"),
        "{err}"
    );
}

#[test]
fn dockerconfigjson_like_eso_docs() {
    let mut r = req(&[("user", "robot"), ("token", "t0k")]);
    r.data_templates = tmap(&[(
        ".dockerconfigjson",
        r#"{"auths":{"registry.example.com":{"auth":"{{ printf "%s:%s" .user .token | b64enc }}"}}}"#,
    )]);
    let out = render(&r).unwrap();
    assert_eq!(
        s(&out.data[".dockerconfigjson"]),
        r#"{"auths":{"registry.example.com":{"auth":"cm9ib3Q6dDBr"}}}"#
    );
}

#[test]
fn custom_delimiters() {
    let mut r = req(&[("a", "x")]);
    r.delims = Delims {
        left: "<<".into(),
        right: ">>".into(),
    };
    r.data_templates = tmap(&[("k", "{{ literal }} << .a >>")]);
    assert_eq!(s(&render(&r).unwrap().data["k"]), "{{ literal }} x");
}

#[test]
fn clock_and_entropy_come_from_the_inputs() {
    let e = env(1_700_000_000_123_456_789, &[7; 32]);
    let mut r = req(&[]);
    r.env = e.clone();
    r.data_templates = tmap(&[
        ("now", "{{ now | unixEpoch }}"),
        ("rand", "{{ randAlphaNum 16 }}"),
    ]);
    let a = render(&r).unwrap();
    let b = render(&r).unwrap();
    assert_eq!(s(&a.data["now"]), "1700000000");
    assert_eq!(a, b, "same inputs, same output");
    r.env = env(1_700_000_000_123_456_789, &[8; 32]);
    assert_ne!(render(&r).unwrap().data["rand"], a.data["rand"]);
}

#[test]
fn rewrite_transform_renders_each_key() {
    let keys = vec!["db-user".to_string(), "db-pass".to_string()];
    let out = rewrite_keys(
        r#"{{ .value | upper | replace "-" "_" }}"#,
        &keys,
        &Env::default(),
    )
    .unwrap();
    assert_eq!(out, vec!["DB_USER", "DB_PASS"]);
    let err = rewrite_keys("{{ .value", &keys, &Env::default()).unwrap_err();
    assert!(
        err.starts_with("transform failed with failed to parse template:"),
        "{err}"
    );
}
