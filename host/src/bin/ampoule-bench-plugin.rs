//! Prints the plugin sandbox's figures: `cargo run --release -p ampoule --bin ampoule-bench-plugin`.

fn main() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ampoule-bench-plugin: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let iterations = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    match runtime.block_on(ampoule::plugin::bench::run(iterations)) {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ampoule-bench-plugin: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
