//! Filling the module cache with the embedded components' compiled code (`ampoule compile`).
//!
//! Compiling the embedded components with Cranelift leaves about 80 MiB in the allocator of the
//! process that did it: glibc keeps the freed arenas, and `malloc_trim` would need unsafe code.
//! `ampoule run` therefore compiles in short-lived children (`ampoule compile`): a child
//! compiles into the on-disk cache and exits, taking that memory with it, and the operator then
//! loads the component from the cache. The providers are compiled so at start; the template
//! component (2 MB; its compile takes a child to about 97 MiB) only when a first template is
//! rendered. Measured on `ampoule run` with an empty cache, compiling every component: 124-132
//! MiB resident compiling in process, 53-58 MiB with the child (52 MiB from a warm cache).

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::embedded;
use crate::Digest;
use crate::{Sandbox, SandboxConfig, SandboxError};

/// One embedded component, compiled (or found in the cache).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warmed {
    pub name: &'static str,
    pub digest: Digest,
    pub elapsed: Duration,
}

/// Compiles the embedded components named in `only` (all when empty) with the engines of
/// `sandbox`, providers first, then the template component, calling `each` as each one is
/// done. With a cache directory in the sandbox's config, this is what fills the cache.
pub fn compile_embedded(
    sandbox: &Sandbox,
    only: &[String],
    mut each: impl FnMut(&Warmed),
) -> Result<Vec<Warmed>, SandboxError> {
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    if let Some(unknown) = only.iter().find(|o| {
        *o != embedded::TRANSFORM.name
            && !embedded::PLUGINS
                .iter()
                .chain(embedded::GENERATORS.iter())
                .any(|p| p.name == o.as_str())
    }) {
        let known: Vec<&str> = embedded::PLUGINS
            .iter()
            .chain(embedded::GENERATORS.iter())
            .chain(std::iter::once(&embedded::TRANSFORM))
            .map(|p| p.name)
            .collect();
        return Err(SandboxError::Engine(format!(
            "no embedded component {unknown:?} (embedded: {})",
            known.join(", ")
        )));
    }
    let mut out = Vec::new();
    for plugin in embedded::PLUGINS.iter().filter(|p| wanted(p.name)) {
        let started = Instant::now();
        let want = Digest::parse(plugin.digest).map_err(|e| SandboxError::Engine(e.to_string()))?;
        let (digest, _) = sandbox.compile(plugin.bytes, Some(&want))?;
        out.push(Warmed {
            name: plugin.name,
            digest,
            elapsed: started.elapsed(),
        });
        each(&out[out.len() - 1]);
    }
    for generator in embedded::GENERATORS.iter().filter(|p| wanted(p.name)) {
        let started = Instant::now();
        let want =
            Digest::parse(generator.digest).map_err(|e| SandboxError::Engine(e.to_string()))?;
        // Compiled with the engine the generators load with, so their load finds it cached.
        let digest = Digest::of(generator.bytes);
        if digest != want {
            return Err(SandboxError::DigestMismatch {
                expected: want.to_string(),
                actual: digest.to_string(),
            });
        }
        wasmtime::component::Component::new(sandbox.engine(), generator.bytes)
            .map_err(|e| SandboxError::Compile(format!("{e:#}")))?;
        out.push(Warmed {
            name: generator.name,
            digest,
            elapsed: started.elapsed(),
        });
        each(&out[out.len() - 1]);
    }
    if wanted(embedded::TRANSFORM.name) {
        let started = Instant::now();
        let transform = sandbox.compile_transform(embedded::TRANSFORM.bytes)?;
        out.push(Warmed {
            name: embedded::TRANSFORM.name,
            digest: transform.digest,
            elapsed: started.elapsed(),
        });
        each(&out[out.len() - 1]);
    }
    Ok(out)
}

/// `ampoule compile`: a sandbox configured as `ampoule run` configures its own (so the cache
/// keys match), every embedded component compiled into `config.cache_dir`.
pub fn fill_cache(
    config: SandboxConfig,
    only: &[String],
    each: impl FnMut(&Warmed),
) -> Result<Vec<Warmed>, SandboxError> {
    if config.cache_dir.is_none() {
        return Err(SandboxError::Engine(
            "no module cache directory to fill".into(),
        ));
    }
    let sandbox: Arc<Sandbox> = Sandbox::new(config)?;
    compile_embedded(&sandbox, only, each)
}

/// Why warming the cache in a child process did not work. `ampoule run` logs it and compiles
/// in its own process instead, as it would with no cache.
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    #[error("cannot start {0} compile: {1}")]
    Spawn(String, std::io::Error),
    #[error("{0} compile exited with {1}")]
    Failed(String, std::process::ExitStatus),
    #[error("{0} compile did not finish within {1:?} and was stopped")]
    TimedOut(String, Duration),
}

/// How long a compile child may run: a cold compile of every component took 5-12 s here.
pub const CHILD_LIMIT: Duration = Duration::from_secs(300);

/// Runs `<exe> compile --cache-dir <cache_dir> <components>...` and waits for it, at most
/// [`CHILD_LIMIT`] (then it is killed): how long it ran, or why it failed. Its stderr (errors
/// only) goes to ours.
pub async fn compile_in_child(
    exe: &Path,
    cache_dir: &Path,
    components: &[&str],
) -> Result<Duration, ChildError> {
    let started = Instant::now();
    let shown = exe.display().to_string();
    let status = tokio::process::Command::new(exe)
        .arg("compile")
        .arg("--cache-dir")
        .arg(cache_dir)
        .args(components)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .status();
    let status = tokio::time::timeout(CHILD_LIMIT, status)
        .await
        .map_err(|_| ChildError::TimedOut(shown.clone(), CHILD_LIMIT))?
        .map_err(|e| ChildError::Spawn(shown.clone(), e))?;
    if !status.success() {
        return Err(ChildError::Failed(shown, status));
    }
    Ok(started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_every_embedded_component_into_the_cache() {
        let dir = std::env::temp_dir().join(format!(
            "ampoule-warm-test-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let config = SandboxConfig {
            cache_dir: Some(dir.clone()),
            ..Default::default()
        };
        let mut seen = Vec::new();
        let warmed = fill_cache(config.clone(), &[], |w| seen.push(w.name)).unwrap();
        // Reported one by one as they are done, providers before the template component.
        assert_eq!(seen, warmed.iter().map(|w| w.name).collect::<Vec<_>>());
        assert_eq!(seen.last(), Some(&embedded::TRANSFORM.name));
        let mut names: Vec<_> = warmed.iter().map(|w| w.name).collect();
        names.sort_unstable();
        let mut want: Vec<_> = embedded::PLUGINS
            .iter()
            .chain(embedded::GENERATORS.iter())
            .map(|p| p.name)
            .collect();
        want.push(embedded::TRANSFORM.name);
        want.sort_unstable();
        assert_eq!(names, want);
        for w in &warmed {
            let bytes = embedded::PLUGINS
                .iter()
                .chain(embedded::GENERATORS.iter())
                .chain(std::iter::once(&embedded::TRANSFORM))
                .find(|p| p.name == w.name)
                .unwrap()
                .bytes;
            assert_eq!(w.digest, Digest::of(bytes));
        }
        // The cache now holds compiled code: one file per component at least.
        let files = walk(&dir);
        assert!(
            files >= warmed.len(),
            "{files} files in the cache for {} components",
            warmed.len()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn compiles_only_the_components_named() {
        let sandbox = Sandbox::new(SandboxConfig::default()).unwrap();
        let only = ["template".to_string(), "fake".to_string()];
        let warmed = compile_embedded(&sandbox, &only, |_| {}).unwrap();
        let names: Vec<_> = warmed.iter().map(|w| w.name).collect();
        assert_eq!(names, ["fake", "template"]);
        let err = compile_embedded(&sandbox, &["nope".to_string()], |_| {}).unwrap_err();
        assert!(
            err.to_string()
                .contains("no embedded component \"nope\" (embedded: "),
            "{err}"
        );
    }

    #[test]
    fn refuses_to_run_without_a_cache_directory() {
        let err = fill_cache(SandboxConfig::default(), &[], |_| {}).unwrap_err();
        assert!(err.to_string().contains("no module cache"), "{err}");
    }

    fn walk(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    walk(&e.path())
                } else {
                    1
                }
            })
            .sum()
    }
}
