//! `ampoule`: the operator binary. Everything lives in the library; this only parses and dispatches.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = ampoule::cli::Cli::parse();
    ampoule::cli::main(cli)
}
