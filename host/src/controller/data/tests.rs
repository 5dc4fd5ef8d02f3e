use std::collections::BTreeMap;

use super::keys::{convert_key, decode, rewrite_regexp, validate_keys};
use crate::crd::data::{ConversionStrategy, DecodingStrategy};

#[test]
fn converts_keys_like_eso() {
    assert_eq!(
        convert_key("a/b c.d", ConversionStrategy::Default),
        "a_b_c.d"
    );
    assert_eq!(convert_key("a/b", ConversionStrategy::Unicode), "a_U002f_b");
    assert_eq!(
        convert_key("日本", ConversionStrategy::Default),
        "日本",
        "letters of any script are kept"
    );
}

#[test]
fn validates_keys() {
    let ok = BTreeMap::from([("a-b.c_D9".to_string(), 1), (String::new(), 2)]);
    assert_eq!(
        validate_keys(ok).unwrap().len(),
        1,
        "empty keys are dropped"
    );
    let bad = BTreeMap::from([("a/b".to_string(), 1)]);
    let err = validate_keys(bad).unwrap_err().to_string();
    assert!(
        err.starts_with(
            "invalid secret keys (TIP: use rewrite or conversionStrategy to change keys)"
        ),
        "{err}"
    );
    let long = BTreeMap::from([("k".repeat(254), 1)]);
    assert!(validate_keys(long).is_err());
}

#[test]
fn decodes() {
    assert_eq!(
        decode(b"aGk=".to_vec(), DecodingStrategy::Base64).unwrap(),
        b"hi"
    );
    assert!(decode(b"not base64!".to_vec(), DecodingStrategy::Base64).is_err());
    assert_eq!(
        decode(b"-_8=".to_vec(), DecodingStrategy::Base64Url).unwrap(),
        vec![0xfb, 0xff]
    );
    assert_eq!(
        decode(b"-_8=".to_vec(), DecodingStrategy::Auto).unwrap(),
        vec![0xfb, 0xff]
    );
    assert_eq!(
        decode(b"plain text".to_vec(), DecodingStrategy::Auto).unwrap(),
        b"plain text"
    );
    assert_eq!(
        decode(b"aGk=".to_vec(), DecodingStrategy::None).unwrap(),
        b"aGk="
    );
}

#[test]
fn rewrites_keys_with_go_style_expansion() {
    let map = BTreeMap::from([("db/user".to_string(), 1), ("db/pass".to_string(), 2)]);
    let out = rewrite_regexp(map, "db/(.*)", "DB_$1").unwrap();
    assert_eq!(out.keys().collect::<Vec<_>>(), vec!["DB_pass", "DB_user"]);
}

mod stages {
    //! The stages of `fetch_from`, and `fetch_from` itself against the counting test backend
    //! (no cluster).

    use futures::future::BoxFuture;
    use serde_json::json;

    use super::super::*;
    use crate::controller::counting::Counting;
    use crate::crd::data::GeneratorKind;
    use crate::transform::{RenderRequest, Rendered, TransformError};

    /// The ExternalSecrets here have no templates: a render or rewrite is a test failure.
    struct NoTransforms;

    impl Transformer for NoTransforms {
        fn render(&self, _: RenderRequest) -> BoxFuture<'_, Result<Rendered, TransformError>> {
            Box::pin(async { Err(TransformError::Sandbox("no templates here".into())) })
        }
        fn rewrite_keys(
            &self,
            _: String,
            _: Vec<String>,
        ) -> BoxFuture<'_, Result<Vec<String>, TransformError>> {
            Box::pin(async { Err(TransformError::Sandbox("no templates here".into())) })
        }
    }

    fn es(spec: serde_json::Value) -> ExternalSecret {
        serde_json::from_value(json!({
            "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": {"name": "app", "namespace": "ns"},
            "spec": spec
        }))
        .unwrap()
    }

    fn data_from(v: serde_json::Value) -> ExternalSecretDataFromRemoteRef {
        serde_json::from_value(v).unwrap()
    }

    fn store_ref(name: &str) -> SecretStoreRef {
        serde_json::from_value(json!({"name": name})).unwrap()
    }

    #[test]
    fn each_entry_reads_its_own_store_or_the_default_and_never_a_generator() {
        let default = store_ref("default");
        let own = data_from(
            json!({"extract": {"key": "k"}, "sourceRef": {"storeRef": {"name": "other"}}}),
        );
        assert_eq!(data_from_store(&own, 0, &default).unwrap().name, "other");
        let plain = data_from(json!({"extract": {"key": "k"}}));
        assert_eq!(
            data_from_store(&plain, 0, &default).unwrap().name,
            "default"
        );
        let mut generated = plain.clone();
        generated.source_ref = Some(StoreGeneratorSourceRef::GeneratorRef(
            serde_json::from_value(json!({"kind": GeneratorKind::Password, "name": "pw"})).unwrap(),
        ));
        let err = data_from_store(&generated, 3, &default).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidSpec(m) if m.starts_with("spec.dataFrom[3].sourceRef.generatorRef (Password \"pw\") reads no store")),
            "{err}"
        );

        let d: ExternalSecretData = serde_json::from_value(
            json!({"secretKey": "a", "remoteRef": {"key": "k"}, "sourceRef": {"storeRef": {"name": "other"}}}),
        )
        .unwrap();
        assert_eq!(data_store(&d, 0, &default).unwrap().name, "other");
        let d: ExternalSecretData =
            serde_json::from_value(json!({"secretKey": "a", "remoteRef": {"key": "k"}})).unwrap();
        assert_eq!(data_store(&d, 0, &default).unwrap().name, "default");
    }

    #[test]
    fn a_data_from_entry_is_an_extract_or_a_find() {
        let (request, shaping) = data_from_request(
            &data_from(json!({"extract": {
                "key": "db", "property": "", "version": "v2", "metadataPolicy": "Fetch",
                "decodingStrategy": "Base64", "nullBytePolicy": "Fail"
            }})),
            0,
        )
        .unwrap();
        assert_eq!(
            request,
            Request::Extract(RemoteRef {
                key: "db".into(),
                property: None,
                version: Some("v2".into()),
                fetch_metadata: true,
            }),
            "an empty property is none"
        );
        assert_eq!(
            shaping,
            Shaping {
                conversion: None,
                decoding: Some(DecodingStrategy::Base64),
                null_bytes: Some(NullBytePolicy::Fail),
            }
        );
        let (request, shaping) = data_from_request(
            &data_from(json!({"find": {
                "path": "app/", "name": {"regexp": "^db"}, "tags": {"team": "a"},
                "conversionStrategy": "Unicode"
            }})),
            0,
        )
        .unwrap();
        assert_eq!(
            request,
            Request::Find(FindRef {
                path: Some("app/".into()),
                name_regexp: Some("^db".into()),
                tags: [("team".to_string(), "a".to_string())].into(),
            })
        );
        assert_eq!(shaping.conversion, Some(ConversionStrategy::Unicode));
        let err = data_from_request(&data_from(json!({})), 2).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidSpec(m) if m == "spec.dataFrom[2] sets neither extract nor find"),
            "{err}"
        );
    }

    #[test]
    fn not_found_is_skipped_and_noted_unless_retained() {
        let mut notes = Vec::new();
        let note = || "missing".to_string();
        let context = || "while reading".to_string();
        assert_eq!(
            found(Ok(1), false, &mut notes, note, context).unwrap(),
            Some(1)
        );
        assert_eq!(
            found::<u8>(
                Err(ProviderError::NotFound),
                false,
                &mut notes,
                note,
                context
            )
            .unwrap(),
            None
        );
        assert_eq!(notes, ["missing"]);
        for (result, retain) in [
            (Err(ProviderError::NotFound), true),
            (Err(ProviderError::Unavailable("down".into())), false),
        ] {
            let err = found::<u8>(result, retain, &mut notes, note, context).unwrap_err();
            assert!(
                matches!(&err, Error::Provider { context, .. } if context == "while reading"),
                "{err}"
            );
        }
        assert_eq!(notes.len(), 1, "an error is not a note");
    }

    #[test]
    fn values_are_decoded_and_checked_for_nul_bytes() {
        let shaping = Shaping {
            conversion: None,
            decoding: Some(DecodingStrategy::Base64),
            null_bytes: Some(NullBytePolicy::Fail),
        };
        let map: SecretMap = [("a".to_string(), b"aGk=".to_vec().into())].into();
        let out = data_from_values(map, shaping, 0).unwrap();
        assert_eq!(
            out.get("a").map(|v| v.expose().as_slice()),
            Some(&b"hi"[..])
        );
        let nul: SecretMap = [("a".to_string(), b"AA==".to_vec().into())].into();
        let err = data_from_values(nul, shaping, 1).unwrap_err();
        assert!(
            err.to_string().contains("spec.dataFrom[1] (key: a)"),
            "{err}"
        );
        let bad: SecretMap = [("a".to_string(), b"!".to_vec().into())].into();
        let err = data_from_values(bad, shaping, 1).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("error processing spec.dataFrom[1] (key: a): "),
            "{err}"
        );

        let d: ExternalSecretData = serde_json::from_value(
            json!({"secretKey": "s", "remoteRef": {"key": "k", "decodingStrategy": "Base64"}}),
        )
        .unwrap();
        assert_eq!(data_value(b"aGk=".to_vec(), &d, 0).unwrap(), b"hi");
        let err = data_value(b"!".to_vec(), &d, 4).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("error processing spec.data[4] (key: k): "),
            "{err}"
        );
    }

    fn store() -> StoreContext {
        StoreContext {
            kind: crate::provider::StoreKind::SecretStore,
            name: "backend".into(),
            store_namespace: Some("ns".into()),
            caller_namespace: Some("ns".into()),
            generation: 1,
            provider: "test".into(),
            config: json!({}),
            sandbox: None,
        }
    }

    #[tokio::test]
    async fn fetch_from_reads_every_entry_and_follows_the_deletion_policy() {
        let backend = Counting::default();
        let spec = |policy: &str| {
            es(json!({
                "secretStoreRef": {"name": "backend"},
                "target": {"deletionPolicy": policy},
                "data": [
                    {"secretKey": "a", "remoteRef": {"key": "k"}},
                    {"secretKey": "b", "remoteRef": {"key": "missing"}}
                ]
            }))
        };
        let clients = Clients::given(&backend, store());
        let got = fetch_from(clients, &NoTransforms, &spec("Delete"), &mut Vec::new())
            .await
            .unwrap();
        assert_eq!(
            got.data.get("a").map(|v| v.expose().as_slice()),
            Some(&b"k#0"[..])
        );
        assert_eq!(got.data.len(), 1);
        assert_eq!(
            got.missing,
            ["secret does not exist at provider using spec.data[1] (key=missing)"]
        );
        let clients = Clients::given(&backend, store());
        let err = fetch_from(clients, &NoTransforms, &spec("Retain"), &mut Vec::new())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Provider { context, source: ProviderError::NotFound }
                if context == "error processing spec.data[1] (key: missing)"),
            "{err}"
        );
    }
}
