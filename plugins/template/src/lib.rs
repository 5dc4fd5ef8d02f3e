//! The template component: ESO's `spec.target.template` and `rewrite.transform`, rendered by
//! [`ampoule_transform`] inside the sandbox. It imports nothing but the host's log (plus what
//! the Rust standard library links from WASI, which the host satisfies with no authority).

use std::collections::BTreeMap;

use ampoule_template::Delims;
use ampoule_transform::{Decoding, Item, Request, Scope, Source, Target};

#[allow(unsafe_code, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "ampoule:transform/transformer",
        generate_all,
    });
}

use bindings::ampoule::transform::types as wit;
use bindings::exports::ampoule::transform::transform::Guest;

struct Component;

fn target(t: wit::Target) -> Target {
    match t {
        wit::Target::Data => Target::Data,
        wit::Target::Labels => Target::Labels,
        wit::Target::Annotations => Target::Annotations,
    }
}

fn scope(s: wit::Scope) -> Scope {
    match s {
        wit::Scope::Values => Scope::Values,
        wit::Scope::KeysAndValues => Scope::KeysAndValues,
    }
}

fn decoding(d: wit::Decoding) -> Decoding {
    match d {
        wit::Decoding::None => Decoding::None,
        wit::Decoding::Base64 => Decoding::Base64,
        wit::Decoding::Base64url => Decoding::Base64Url,
        wit::Decoding::Auto => Decoding::Auto,
    }
}

fn map<V>(pairs: Vec<(String, V)>) -> BTreeMap<String, V> {
    pairs.into_iter().collect()
}

impl Guest for Component {
    fn render(req: wit::RenderRequest) -> Result<wit::Rendered, String> {
        let request = Request {
            data: map(req.data),
            sources: req
                .sources
                .into_iter()
                .map(|s| Source {
                    target: target(s.target),
                    decoding: decoding(s.decoding),
                    items: s
                        .items
                        .into_iter()
                        .map(|i| Item {
                            key: i.key,
                            text: i.text,
                            scope: scope(i.scope),
                        })
                        .collect(),
                })
                .collect(),
            data_templates: map(req.data_templates),
            label_templates: map(req.label_templates),
            annotation_templates: map(req.annotation_templates),
            delims: Delims {
                left: req.left_delimiter,
                right: req.right_delimiter,
            },
            env: ampoule_transform::env(req.now_unix_nanos, &req.seed),
        };
        let out = ampoule_transform::render(&request)?;
        Ok(wit::Rendered {
            data: out.data.into_iter().collect(),
            labels: out.labels.into_iter().collect(),
            annotations: out.annotations.into_iter().collect(),
        })
    }

    fn rewrite_keys(
        template: String,
        keys: Vec<String>,
        now_unix_nanos: i64,
        seed: Vec<u8>,
    ) -> Result<Vec<String>, String> {
        ampoule_transform::rewrite_keys(
            &template,
            &keys,
            &ampoule_transform::env(now_unix_nanos, &seed),
        )
    }
}

/// The export glue wit-bindgen generates (unsafe ABI code, confined to this module).
#[allow(unsafe_code)]
mod export {
    use super::{Component, bindings};
    bindings::export!(Component with_types_in bindings);
}
