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
    Run(Box<crate::run::RunArgs>),
    /// Compile the embedded components into the module cache and exit (`ampoule run` runs this
    /// in child processes, so the compiler's memory leaves with the child). The cache is
    /// $AMPOULE_CACHE_DIR/modules, else $XDG_CACHE_HOME/ampoule/modules, else
    /// ~/.cache/ampoule/modules.
    Compile {
        /// The module cache directory (default: the one `ampoule run` uses).
        #[arg(long)]
        cache_dir: Option<std::path::PathBuf>,
        /// Only these components (vault, aws, gcpsm, fake, generators, template; default: all).
        components: Vec<String>,
    },
    /// Print the Secret the operator would write for an ExternalSecret, with no cluster: data
    /// from ESO's fake provider (--data or --store), templates rendered by the template
    /// component exactly as the controller does. For a PushSecret: what it would push where,
    /// from the Secrets in the file.
    Render(crate::render::RenderArgs),
    /// Provider plugins: start, build and test one (the authoring kit); push a component to an
    /// OCI registry, inspect, sign or verify one.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Start a provider project: the language's template with NAME as its provider key, the WIT
    /// it targets and the SDK, ready to build and test.
    New {
        /// The template's language.
        #[arg(long, value_enum)]
        lang: crate::kit::Lang,
        /// The provider key (`spec.provider.NAME`), a DNS label such as acme-kv.
        name: String,
        /// Where to create it (default ./NAME); must not exist or be empty.
        dir: Option<std::path::PathBuf>,
    },
    /// Build the project in DIR (default .) to DIR/build/NAME.wasm and check it as the operator
    /// loads it: imports against what the host provides, exports, describe.
    Build {
        /// The project directory.
        dir: Option<std::path::PathBuf>,
    },
    /// Run a component in the sandbox against the cases of a case file: describe,
    /// validateConfig, validate, get, getMap, find, each with its expectation. Exit status 0
    /// only when every case passes.
    Test {
        /// The component file (.wasm).
        component: std::path::PathBuf,
        /// The SecretStore (or ClusterSecretStore) it serves; `${BACKEND_URL}` is replaced by
        /// the case file's backend.
        #[arg(long)]
        store: std::path::PathBuf,
        /// The case file (default: cases.yaml next to the store file).
        #[arg(long = "case")]
        case: Option<std::path::PathBuf>,
        /// Run each case this many times and print the p50 (open + call).
        #[arg(long, default_value_t = 1)]
        repeat: usize,
    },
    /// Serve a JSON object file as the kit's JSON key-value API on 127.0.0.1 (the backend the
    /// templates read) and print its URL; runs until interrupted.
    Serve {
        /// A JSON object: key → value (a string or an object).
        file: std::path::PathBuf,
        /// Require `Authorization: Bearer TOKEN`.
        #[arg(long, env = "AMPOULE_SERVE_TOKEN")]
        token: Option<String>,
        /// The port (default: any free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
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
    /// Sign a pushed component as `cosign sign --key` does (a tag is resolved to its digest
    /// first; signatures already there are kept) and print the signature's reference.
    Sign {
        /// Unencrypted PKCS#8 PEM ECDSA P-256 private key.
        #[arg(long)]
        key: std::path::PathBuf,
        /// e.g. oci://127.0.0.1:5000/ampoule/fake@sha256:…
        reference: String,
    },
    /// Verify a pushed component's cosign signature with public keys, as a ProviderClass with
    /// `spec.module.verify.cosignPublicKeys` does before it pulls the component.
    Verify {
        /// PEM ECDSA P-256 public key (cosign.pub); repeat for several (any one may match).
        #[arg(long = "key", required = true)]
        keys: Vec<std::path::PathBuf>,
        /// e.g. oci://127.0.0.1:5000/ampoule/fake@sha256:…
        reference: String,
    },
}

/// Runs a parsed command line and maps failures to a clear message and exit code 1.
pub fn main(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Crd => crate::crd::print_all(&mut std::io::stdout().lock()),
        Command::Plugin(command) => kit(command),
        Command::Run(args) => runtime().and_then(|rt| rt.block_on(crate::run::run(*args))),
        Command::Compile {
            cache_dir,
            components,
        } => compile(cache_dir, &components),
        Command::Render(args) => runtime().and_then(|rt| {
            let yaml = rt.block_on(crate::render::render(&args))?;
            print!("{yaml}");
            Ok(())
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ampoule: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `ampoule compile`: one line per component, `<name> <digest> <seconds>`.
fn compile(cache_dir: Option<std::path::PathBuf>, components: &[String]) -> anyhow::Result<()> {
    let mut config = crate::run::sandbox_config();
    if cache_dir.is_some() {
        config.cache_dir = cache_dir;
    }
    let dir = config.cache_dir.clone().unwrap_or_default();
    crate::plugin::distribution::warm::fill_cache(config, components, |warmed| {
        println!(
            "{} {} {:.2}s",
            warmed.name,
            warmed.digest,
            warmed.elapsed.as_secs_f64()
        );
    })?;
    println!("module cache: {}", dir.display());
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn read(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// `ampoule plugin new|build|test|serve`.
fn kit(command: PluginCommand) -> anyhow::Result<()> {
    match command {
        PluginCommand::New { lang, name, dir } => {
            let dir = dir.unwrap_or_else(|| std::path::PathBuf::from(&name));
            let made = crate::kit::new::create(lang, &name, &dir)?;
            println!(
                "created {} ({} files): cd {} && ampoule plugin build && ampoule plugin test build/{name}.wasm --store store.yaml",
                made.dir.display(),
                made.files,
                made.dir.display()
            );
        }
        PluginCommand::Build { dir } => {
            let dir = dir.unwrap_or_else(|| std::path::PathBuf::from("."));
            let started = std::time::Instant::now();
            let built = crate::kit::build::build(&dir, crate::run::sandbox_config().cache_dir)?;
            println!(
                "built {} ({} bytes) in {:.1} s: describe says {} {}; imports are all provided by the host",
                built.path.display(),
                built.size,
                started.elapsed().as_secs_f64(),
                built.describes.0,
                built.describes.1
            );
            if built.describes.0 != built.name {
                println!(
                    "note: describe names {:?}, the project is {:?}: stores use the name describe gives",
                    built.describes.0, built.name
                );
            }
        }
        PluginCommand::Test {
            component,
            store,
            case,
            repeat,
        } => {
            let options = crate::kit::harness::Options {
                component,
                store,
                cases: case,
                repeat,
                cache_dir: crate::run::sandbox_config().cache_dir,
            };
            let report = runtime()?.block_on(crate::kit::harness::run(&options))?;
            for line in report.lines() {
                println!("{line}");
            }
            if !report.passed() {
                anyhow::bail!("some cases failed");
            }
        }
        PluginCommand::Serve { file, token, port } => {
            let text = read(&file)?;
            let data = crate::kit::backend::Data::from_json(&text, token)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            runtime()?.block_on(async {
                let backend = crate::kit::backend::start(data, port).await?;
                println!("{}", backend.url());
                use std::io::Write;
                std::io::stdout().flush()?;
                tokio::signal::ctrl_c().await?;
                anyhow::Ok(())
            })?;
        }
        other => plugin(other)?,
    }
    Ok(())
}

fn plugin(command: PluginCommand) -> anyhow::Result<()> {
    use crate::plugin::distribution::{cosign, oci};
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
        PluginCommand::Sign { key, reference } => {
            let key = cosign::parse_private_key(&read(&key)?)?;
            let signature = runtime.block_on(async {
                let pinned = oci::resolve(&reference, &auth).await?;
                anyhow::Ok(cosign::sign(&pinned, &auth, &key).await?)
            })?;
            println!("oci://{signature}");
        }
        PluginCommand::Verify { keys, reference } => {
            let pems = keys
                .iter()
                .map(|k| read(k))
                .collect::<Result<Vec<_>, _>>()?;
            let keys = cosign::parse_public_keys(&pems)?;
            let (pinned, verified) = runtime.block_on(async {
                let pinned = oci::resolve(&reference, &auth).await?;
                let verified = cosign::verify(&pinned, &auth, &keys).await?;
                anyhow::Ok((pinned, verified))
            })?;
            println!(
                "oci://{} verified with key {}",
                pinned.whole(),
                verified.key
            );
        }
        PluginCommand::New { .. }
        | PluginCommand::Build { .. }
        | PluginCommand::Test { .. }
        | PluginCommand::Serve { .. } => anyhow::bail!("not an OCI command"),
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

    /// The flags of an `ampoule run` command line.
    fn run_args(args: &[&str]) -> crate::run::RunArgs {
        use clap::Parser;
        match super::Cli::try_parse_from(args).unwrap().command {
            super::Command::Run(run) => *run,
            _ => panic!("not run"),
        }
    }

    #[test]
    fn template_limits_come_from_the_run_flags() {
        let parse = |args: &[&str]| run_args(args).template_limits();
        let default = parse(&["ampoule", "run"]);
        assert_eq!(default, crate::plugin::TransformLimits::default());
        let raised = parse(&[
            "ampoule",
            "run",
            "--template-fuel",
            "50000000000",
            "--template-timeout",
            "1m30s",
        ]);
        assert_eq!(raised.fuel, 50_000_000_000);
        assert_eq!(raised.timeout, std::time::Duration::from_secs(90));
        assert_eq!(raised.memory_bytes, default.memory_bytes);
    }

    #[test]
    fn compile_in_child_is_on_unless_turned_off() {
        use clap::Parser;
        let parse = |args: &[&str]| run_args(args).compile_in_child;
        assert!(parse(&["ampoule", "run"]));
        assert!(!parse(&["ampoule", "run", "--compile-in-child=false"]));
        assert!(matches!(
            super::Cli::try_parse_from(["ampoule", "compile"])
                .unwrap()
                .command,
            super::Command::Compile {
                cache_dir: None,
                ..
            }
        ));
    }

    /// The arguments ESO's chart (deploy/charts/external-secrets/templates/deployment.yaml at
    /// ESO v2.9) renders with every branch taken: leaderElect and its timings, scopedNamespace
    /// and scopedRBAC, processPushSecret/processSecretStore false, storeRequeueInterval,
    /// controllerClass, extendedMetricLabels, enableHTTP2, vault.enableTokenCache and its size,
    /// concurrent, genericTargets, extraArgs (one valueless), the metrics and log values, the
    /// probes' --live-addr, metrics.listen.secure and auth.
    const ESO_CHART_ARGS: &[&str] = &[
        "--enable-leader-election=true",
        "--leader-election-id=external-secrets-controller",
        "--leader-election-lease-duration=30s",
        "--leader-election-renew-deadline=20s",
        "--leader-election-retry-period=5s",
        "--namespace=team-a",
        "--enable-cluster-store-reconciler=false",
        "--enable-cluster-external-secret-reconciler=false",
        "--enable-cluster-push-secret-reconciler=false",
        "--enable-push-secret-reconciler=false",
        "--enable-secret-store-reconciler=false",
        "--store-requeue-interval=1m30s",
        "--controller-class=team-a",
        "--enable-extended-metric-labels=true",
        "--enable-http2=true",
        "--enable-vault-token-cache=true",
        "--vault-token-cache-size=262144",
        "--concurrent=4",
        "--unsafe-allow-generic-targets=true",
        "--client-qps=20",
        "--client-burst=40",
        "--enable-secrets-caching",
        "--metrics-addr=:8080",
        "--loglevel=info",
        "--zap-time-encoding=epoch",
        "--live-addr=:8082",
        "--metrics-secure=true",
        "--metrics-cert-dir=/etc/tls",
        "--metrics-cert-name=/etc/tls/tls.crt",
        "--metrics-key-name=/etc/tls/tls.key",
        "--metrics-auth=true",
    ];

    #[test]
    fn eso_chart_arguments_run_unchanged() {
        let args: Vec<&str> = ["ampoule", "run"]
            .iter()
            .chain(ESO_CHART_ARGS)
            .copied()
            .collect();
        let run = run_args(&args);
        let s = std::time::Duration::from_secs;
        let settings = run.settings();
        assert_eq!(settings.namespace.as_deref(), Some("team-a"));
        assert_eq!(settings.controller_class, "team-a");
        assert_eq!(settings.concurrent, 4);
        assert!(!settings.cluster_stores && !settings.cluster_external_secrets);
        assert!(!settings.push_secrets && !settings.cluster_push_secrets);
        assert_eq!(settings.store_requeue_interval, s(90));
        assert_eq!(run.live_addr.as_deref(), Some(":8082"));
        assert_eq!(
            run.client_rate().unwrap(),
            Some(crate::rate_limit::Rate {
                qps: 20.0,
                burst: 40
            })
        );
        let leader = run.leader_election("me".into()).unwrap().unwrap();
        assert_eq!(leader.name, "external-secrets-controller");
        assert_eq!(
            (leader.lease_duration, leader.renew_deadline, leader.retry),
            (s(30), s(20), s(5))
        );
        // One warning for each flag given that does nothing here, and only those.
        let warned: Vec<String> = run.no_effect.given().into_iter().map(|w| w.flag).collect();
        assert_eq!(
            warned,
            [
                "--metrics-auth",
                "--metrics-secure",
                "--metrics-cert-dir",
                "--metrics-cert-name",
                "--metrics-key-name",
                "--enable-http2",
                "--zap-time-encoding",
                "--enable-secret-store-reconciler",
                "--enable-secrets-caching",
                "--enable-extended-metric-labels",
                "--unsafe-allow-generic-targets",
                "--enable-vault-token-cache",
                "--vault-token-cache-size",
            ]
        );
        assert!(run_args(&["ampoule", "run"]).no_effect.given().is_empty());
        // No rate flag: no limit (docs/eso-behaviour.md#flags-of-ampoule-run); one of them: the
        // other takes ESO's default.
        let default = run_args(&["ampoule", "run"]);
        assert_eq!(default.client_rate().unwrap(), None);
        assert_eq!(
            run_args(&["ampoule", "run", "--client-qps=20"])
                .client_rate()
                .unwrap(),
            Some(crate::rate_limit::Rate {
                qps: 20.0,
                burst: 100
            })
        );
        assert_eq!(
            run_args(&["ampoule", "run", "--client-burst=7"])
                .client_rate()
                .unwrap(),
            Some(crate::rate_limit::Rate {
                qps: 50.0,
                burst: 7
            })
        );
        assert!(default.leader_election("me".into()).unwrap().is_none());
        assert_eq!(default.live_addr, None);
    }

    #[test]
    fn flags_that_are_neither_esos_nor_ours_fail() {
        use clap::Parser;
        for flag in [
            "--no-such-flag",
            "--no-such-flag=1",
            // ESO's webhook and cert-controller commands have these, not the controller.
            "--port=10250",
            "--healthz-addr=:8081",
        ] {
            let err = super::Cli::try_parse_from(["ampoule", "run", flag]).unwrap_err();
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::UnknownArgument,
                "{flag}"
            );
        }
        // A bad value of an ESO flag fails as it does in ESO.
        for bad in [
            "--client-qps=fast",
            "--client-burst=1.5",
            "--enable-secrets-caching=yes",
            "--generator-gc-grace-period=2",
            "--vault-token-cache-size=big",
        ] {
            assert!(
                super::Cli::try_parse_from(["ampoule", "run", bad]).is_err(),
                "{bad}"
            );
        }
    }

    /// ESO's controller flags at v2.9 (tests/fixtures/eso-flags, refreshed from ESO's source by
    /// its script): name, pflag type.
    fn eso_flags() -> Vec<(&'static str, &'static str)> {
        include_str!("../../tests/fixtures/eso-flags/flags.tsv")
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .map(|line| {
                let mut columns = line.split('\t');
                (columns.next().unwrap(), columns.next().unwrap())
            })
            .collect()
    }

    #[test]
    fn every_eso_controller_flag_is_accepted_in_go_syntax() {
        use clap::Parser;
        let flags = eso_flags();
        assert!(flags.len() >= 46, "{}", flags.len());
        for (name, kind) in &flags {
            let value = match *kind {
                "bool" => "false",
                "int" => "3",
                "float32" => "2.5",
                "duration" => "1m30s",
                "string" => "x",
                other => panic!("--{name}: a {other} flag; teach this test its syntax"),
            };
            let mut forms = vec![
                vec![format!("--{name}={value}")],
                vec![format!("--{name}"), value.to_string()],
            ];
            if *kind == "bool" {
                forms.push(vec![format!("--{name}")]);
                forms.push(vec![format!("--{name}=true"), "--loglevel=info".into()]);
            }
            for form in forms {
                let args = ["ampoule", "run"]
                    .into_iter()
                    .map(String::from)
                    .chain(form.clone());
                if let Err(e) = super::Cli::try_parse_from(args) {
                    panic!("{form:?}: {e}");
                }
            }
        }
        // What the no-effect list names is ESO's.
        for (field, _) in crate::eso_flags::NoEffectFlags::ALL {
            let name = field.replace('_', "-");
            assert!(
                flags.iter().any(|(f, _)| *f == name),
                "--{name} is not an ESO flag"
            );
        }
    }
}
