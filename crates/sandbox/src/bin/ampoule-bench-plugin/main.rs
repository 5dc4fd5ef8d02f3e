//! Prints the plugin sandbox's figures: `cargo run --release -p ampoule-sandbox --bin
//! ampoule-bench-plugin` (providers), or `… --bin ampoule-bench-plugin template [N]` (the
//! template component next to the Go oracle).

mod http;
mod providers;
mod template;

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
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let template = args.first().is_some_and(|a| a == "template");
    if template {
        args.remove(0);
    }
    let iterations = args.first().and_then(|n| n.parse().ok()).unwrap_or(2000);
    let report = if template {
        runtime.block_on(template::run(iterations))
    } else {
        runtime.block_on(providers::run(iterations))
    };
    match report {
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
