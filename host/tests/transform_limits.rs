//! The template component's limits: a fuel budget, a memory cap and an output cap end a render
//! with a clear error, and the next render works.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use ampoule::plugin::{Sandbox, SandboxConfig, TransformLimits, WasmTransformer};
use ampoule::transform::{RenderRequest, TransformError, Transformer};

fn transformer(limits: TransformLimits) -> WasmTransformer {
    let sandbox = Sandbox::new(SandboxConfig {
        cache_dir: Some(ampoule::plugin::runtime::module_cache::default_cache_dir()),
        max_instances: 4,
        ..SandboxConfig::default()
    })
    .unwrap();
    WasmTransformer::embedded(sandbox).with_limits(limits)
}

fn request(template: &str) -> RenderRequest {
    RenderRequest {
        data_templates: BTreeMap::from([("out".to_string(), template.to_string())]),
        delimiters: ("{{".into(), "}}".into()),
        ..RenderRequest::default()
    }
}

#[tokio::test]
async fn fuel_memory_and_output_caps_end_a_render_clearly() {
    let t = transformer(TransformLimits {
        fuel: 50_000_000,
        memory_bytes: 32 << 20,
        timeout: Duration::from_secs(20),
        output_bytes: 64 << 10,
    });

    let ok = t.render(request("{{ 1 | add 1 }}")).await.unwrap();
    assert_eq!(ok.data["out"].expose(), b"2");

    let err = t
        .render(request(
            "{{ range until 3000 }}{{ range until 3000 }}{{ end }}{{ end }}",
        ))
        .await
        .unwrap_err();
    match &err {
        TransformError::Sandbox(m) => {
            assert!(m.contains("fuel budget"), "{m}");
            assert!(
                !m.contains("backtrace"),
                "a clear message, no wasm backtrace: {m}"
            );
        }
        other => panic!("expected a fuel error, got {other:?}"),
    }

    // Over the engine's 64 MiB cap per call: refused before anything is allocated.
    let err = t
        .render(request(r#"{{ repeat 100000000 "x" }}"#))
        .await
        .unwrap_err();
    match &err {
        TransformError::Template(m) => {
            assert!(m.contains("result longer than 67108864 bytes"), "{m}")
        }
        other => panic!("expected the engine's size error, got {other:?}"),
    }

    // Under that cap but over the component's 32 MiB memory: the sandbox ends it.
    let err = t
        .render(request(r#"{{ repeat 40000000 "x" }}"#))
        .await
        .unwrap_err();
    match &err {
        TransformError::Sandbox(m) => {
            assert!(
                m.contains("memory limit") || m.contains("fuel budget"),
                "{m}"
            )
        }
        other => panic!("expected a sandbox error, got {other:?}"),
    }

    let err = t
        .render(request(r#"{{ repeat 100000 "x" }}"#))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        TransformError::Template(
            "rendered output is 100003 bytes, over the limit of 65536 bytes".into()
        )
    );

    // A fresh instance per render: a failed render leaves nothing behind.
    let ok = t.render(request("{{ \"still fine\" }}")).await.unwrap();
    assert_eq!(ok.data["out"].expose(), b"still fine");
}
