//! Command line: `ampoule crd`, `ampoule run`, ….

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Ampoule — External Secrets Operator's API, with every provider sandboxed in WebAssembly.
#[derive(Debug, Parser)]
#[command(name = "ampoule", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print every CustomResourceDefinition Ampoule serves as one multi-document YAML stream.
    Crd,
    /// Run the controllers against the cluster of KUBECONFIG (or the in-cluster config).
    Run(crate::run::RunArgs),
    /// Provider plugins: push a component to an OCI registry, inspect one.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Push a component (.wasm) as a CNCF wasm OCI artifact and print its manifest digest.
    /// Credentials: OCI_USERNAME / OCI_PASSWORD (anonymous otherwise).
    Push {
        /// The component file.
        file: std::path::PathBuf,
        /// Destination, e.g. oci://127.0.0.1:5000/ampoule/fake:0.1.0
        reference: String,
    },
    /// Print the manifest digest and manifest of a pushed component.
    Inspect {
        /// e.g. oci://127.0.0.1:5000/ampoule/fake:0.1.0
        reference: String,
    },
}

/// Runs a parsed command line and maps failures to a clear message and exit code 1.
pub fn main(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Crd => crate::crd::print_all(&mut std::io::stdout().lock()),
        Command::Plugin(command) => plugin(command),
        Command::Run(args) => runtime().and_then(|rt| rt.block_on(crate::run::run(args))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ampoule: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn plugin(command: PluginCommand) -> anyhow::Result<()> {
    use crate::plugin::oci;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let auth = oci::auth_from_env();
    match command {
        PluginCommand::Push { file, reference } => {
            let bytes =
                std::fs::read(&file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let digest = runtime.block_on(oci::push(bytes, &reference, &auth))?;
            // What a ProviderClass pins: the repository (tag dropped) at the manifest digest.
            let base = reference.trim_start_matches("oci://");
            let repo = match base.rsplit_once('/') {
                Some((head, tail)) => {
                    format!("{head}/{}", tail.split([':', '@']).next().unwrap_or(tail))
                }
                None => base.to_string(),
            };
            println!("oci://{repo}@{digest}");
        }
        PluginCommand::Inspect { reference } => {
            let (digest, manifest) = runtime.block_on(oci::inspect(&reference, &auth))?;
            println!("digest: {digest}\n{manifest}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
