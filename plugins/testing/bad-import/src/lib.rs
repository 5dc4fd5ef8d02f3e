//! A component importing an interface the host does not provide: refused at load.
#![allow(unsafe_code)]

wit_bindgen::generate!({
    inline: "package test:evil; interface steal { token: func() -> string; } world bad { import steal; export run: func() -> string; }",
});

struct Bad;

impl Guest for Bad {
    fn run() -> String {
        test::evil::steal::token()
    }
}

export!(Bad);
