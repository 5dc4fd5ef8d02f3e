//! The chart's CRDs (`charts/ampoule/crds/crds.yaml`) are exactly what `ampoule crd` prints.

const REGENERATE: &str =
    "cargo run -p ampoule --bin ampoule -- crd > charts/ampoule/crds/crds.yaml";

#[test]
fn chart_crds_are_up_to_date() {
    let path = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default())
        .join("../charts/ampoule/crds/crds.yaml");
    let mut generated = Vec::new();
    ampoule::crd::print_all(&mut generated).unwrap_or_else(|e| panic!("printing CRDs: {e:#}"));
    let generated = String::from_utf8(generated).unwrap_or_else(|e| panic!("{e}"));
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; generate it with `{REGENERATE}`",
            path.display()
        )
    });
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "charts/ampoule/crds/crds.yaml is stale (first difference at line {}); regenerate it \
             from the repository root with `{REGENERATE}`",
            line + 1
        );
    }
}
