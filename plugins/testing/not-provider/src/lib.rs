//! A valid component that does not export the provider world: the host must refuse it at load.
#![allow(unsafe_code)]

wit_bindgen::generate!({
    inline: "package test:other; world other { export run: func() -> string; }",
});

struct Other;

impl Guest for Other {
    fn run() -> String {
        "not a provider".into()
    }
}

export!(Other);
