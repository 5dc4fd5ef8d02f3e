//! Times sprig's key generation natively (RSA is the cost that matters for the fuel-metered
//! wasm component): `cargo run --release -p ampoule-template --example keygen -- [N]`.

use std::time::Instant;

use ampoule_template::{Delims, Env, Value, render};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u8 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(5);
    let cases = [
        (
            "genPrivateKey \"rsa\" (4096 bits)",
            r#"{{ genPrivateKey "rsa" | len }}"#,
        ),
        (
            "genCA (RSA 2048 + certificate)",
            r#"{{ (genCA "x" 1).Cert | len }}"#,
        ),
        (
            "genPrivateKey \"dsa\" (L2048N256)",
            r#"{{ genPrivateKey "dsa" | len }}"#,
        ),
        (
            "genPrivateKey \"ecdsa\"",
            r#"{{ genPrivateKey "ecdsa" | len }}"#,
        ),
    ];
    for (label, template) in cases {
        let mut ms = Vec::new();
        for seed in 0..n {
            let env = Env {
                seed: [seed; 32],
                ..Env::default()
            };
            let start = Instant::now();
            render("k", template, &Value::Nil, &env, &Delims::default())?;
            ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
        ms.sort_by(f64::total_cmp);
        println!(
            "{label}: n={n} min={:.0}ms median={:.0}ms max={:.0}ms",
            ms[0],
            ms[ms.len() / 2],
            ms[ms.len() - 1]
        );
    }
    Ok(())
}
