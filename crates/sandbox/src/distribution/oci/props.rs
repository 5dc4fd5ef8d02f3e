//! Property tests (issue 17): image references and manifests from a registry never panic the
//! parser or the layout check, and the check accepts exactly the CNCF wasm layout within the cap.

use oci_client::manifest::OciImageManifest;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::{
    CONFIG_MEDIA_TYPE, LAYER_MEDIA_TYPE, LEGACY_CONFIG_MEDIA_TYPE, LEGACY_LAYER_MEDIA_TYPE,
    MAX_MODULE_BYTES, check_layout, is_loopback, parse,
};

fn config() -> ProptestConfig {
    // `ProptestConfig::default()` reads `PROPTEST_CASES`; without it, 256 cases.
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 256;
    }
    c
}

fn media_type() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(CONFIG_MEDIA_TYPE.to_owned()),
        Just(LEGACY_CONFIG_MEDIA_TYPE.to_owned()),
        Just(LAYER_MEDIA_TYPE.to_owned()),
        Just(LEGACY_LAYER_MEDIA_TYPE.to_owned()),
        Just("application/vnd.oci.image.layer.v1.tar+gzip".to_owned()),
        "\\PC{0,12}",
    ]
}

fn size() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(0i64),
        Just(MAX_MODULE_BYTES),
        Just(MAX_MODULE_BYTES + 1),
        Just(-1i64),
        any::<i64>(),
        0i64..4096,
    ]
}

fn descriptor() -> impl Strategy<Value = Value> {
    (media_type(), size(), "sha256:[0-9a-f]{0,64}").prop_map(|(media_type, size, digest)| {
        json!({"mediaType": media_type, "size": size, "digest": digest})
    })
}

fn manifest() -> impl Strategy<Value = Value> {
    (
        descriptor(),
        prop::collection::vec(descriptor(), 0..4),
        0u8..4,
    )
        .prop_map(|(config, layers, version)| {
            json!({"schemaVersion": version, "config": config, "layers": layers})
        })
}

fn reference() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,48}",
        "(oci://)?[a-zA-Z0-9.:\\[\\]-]{0,16}/[a-z0-9/._-]{0,16}([:@][a-zA-Z0-9:._-]{0,72})?",
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_references_never_panic(image in reference()) {
        if let Ok(r) = parse(&image) {
            let _ = is_loopback(r.resolve_registry());
        }
        let _ = is_loopback(&image);
    }

    #[test]
    fn arbitrary_manifest_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(m) = serde_json::from_slice::<OciImageManifest>(&bytes) {
            let _ = check_layout("img", &m);
        }
    }

    /// Accepted: a wasm config and exactly one wasm layer of 0..=64 MiB; nothing else.
    #[test]
    fn layout_check_accepts_exactly_the_wasm_layout(value in manifest()) {
        let Ok(m) = serde_json::from_value::<OciImageManifest>(value) else {
            return Ok(());
        };
        let config_ok = [CONFIG_MEDIA_TYPE, LEGACY_CONFIG_MEDIA_TYPE]
            .contains(&m.config.media_type.as_str());
        let layer_ok = match m.layers.as_slice() {
            [l] => {
                [LAYER_MEDIA_TYPE, LEGACY_LAYER_MEDIA_TYPE].contains(&l.media_type.as_str())
                    && (0..=MAX_MODULE_BYTES).contains(&l.size)
            }
            _ => false,
        };
        prop_assert_eq!(check_layout("img", &m).is_ok(), config_ok && layer_ok);
    }
}
