//! Filling the module cache with the embedded components' compiled code (`ampoule compile`).
//!
//! Compiling the embedded components with Cranelift leaves about 80 MiB in the allocator of the
//! process that did it: glibc keeps the freed arenas, and `malloc_trim` would need unsafe code.
//! `ampoule run` therefore runs `ampoule compile` in a short-lived child first: the child
//! compiles into the on-disk cache and exits, taking that memory with it, and the operator then
//! loads every component from the cache. Measured on `ampoule run` with an empty cache: 107 MiB
//! resident compiling in process, 53 MiB with the child (52 MiB from a warm cache either way).

use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::cache::Digest;
use super::embedded;
use super::{Sandbox, SandboxConfig, SandboxError};

/// One embedded component, compiled (or found in the cache).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warmed {
    pub name: &'static str,
    pub digest: Digest,
    pub elapsed: Duration,
}

/// Compiles every embedded component with the engines of `sandbox`, providers first, then the
/// template component, calling `each` as each one is done. With a cache directory in the
/// sandbox's config, this is what fills the cache.
pub fn compile_embedded(
    sandbox: &Sandbox,
    mut each: impl FnMut(&Warmed),
) -> Result<Vec<Warmed>, SandboxError> {
    let mut out = Vec::new();
    for plugin in embedded::PLUGINS {
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
    let started = Instant::now();
    let transform = sandbox.compile_transform(embedded::TRANSFORM.bytes)?;
    out.push(Warmed {
        name: embedded::TRANSFORM.name,
        digest: transform.digest,
        elapsed: started.elapsed(),
    });
    each(&out[out.len() - 1]);
    Ok(out)
}

/// `ampoule compile`: a sandbox configured as `ampoule run` configures its own (so the cache
/// keys match), every embedded component compiled into `config.cache_dir`.
pub fn fill_cache(
    config: SandboxConfig,
    each: impl FnMut(&Warmed),
) -> Result<Vec<Warmed>, SandboxError> {
    if config.cache_dir.is_none() {
        return Err(SandboxError::Engine(
            "no module cache directory to fill".into(),
        ));
    }
    let sandbox: Arc<Sandbox> = Sandbox::new(config)?;
    compile_embedded(&sandbox, each)
}

/// Why warming the cache in a child process did not work. `ampoule run` logs it and compiles
/// in its own process instead, as it would with no cache.
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    #[error("cannot start {0} compile: {1}")]
    Spawn(String, std::io::Error),
    #[error("{0} compile exited with {1}")]
    Failed(String, std::process::ExitStatus),
}

/// `<exe> compile`, running. `ampoule compile` prints one line per component as it is done
/// (`<name> <digest> <seconds>`), providers first: the operator can load the providers from the
/// cache while the child still compiles the template component.
pub struct ChildCompile {
    /// Resolves when every embedded provider is in the cache; an error when the child stopped
    /// before that.
    pub providers: oneshot::Receiver<()>,
    /// Resolves when the child has exited: how long it ran, or why it failed.
    pub finished: JoinHandle<Result<Duration, ChildError>>,
}

/// Starts `<exe> compile --cache-dir <cache_dir>`. Its stderr (errors only) goes to ours.
pub fn compile_in_child(exe: &Path, cache_dir: &Path) -> Result<ChildCompile, ChildError> {
    let started = Instant::now();
    let shown = exe.display().to_string();
    let mut child = tokio::process::Command::new(exe)
        .arg("compile")
        .arg("--cache-dir")
        .arg(cache_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ChildError::Spawn(shown.clone(), e))?;
    let stdout = child.stdout.take();
    let (ready, providers) = oneshot::channel();
    let finished = tokio::spawn(async move {
        let mut ready = Some(ready);
        let mut pending: HashSet<&str> = embedded::PLUGINS.iter().map(|p| p.name).collect();
        if let Some(stdout) = stdout {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(name) = line.split_whitespace().next() {
                    pending.remove(name);
                }
                if pending.is_empty()
                    && let Some(ready) = ready.take()
                {
                    let _ = ready.send(());
                }
            }
        }
        let status = child
            .wait()
            .await
            .map_err(|e| ChildError::Spawn(shown.clone(), e))?;
        if !status.success() {
            return Err(ChildError::Failed(shown, status));
        }
        Ok(started.elapsed())
    });
    Ok(ChildCompile {
        providers,
        finished,
    })
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
        let warmed = fill_cache(config.clone(), |w| seen.push(w.name)).unwrap();
        // Reported one by one as they are done, providers before the template component.
        assert_eq!(seen, warmed.iter().map(|w| w.name).collect::<Vec<_>>());
        assert_eq!(seen.last(), Some(&embedded::TRANSFORM.name));
        let mut names: Vec<_> = warmed.iter().map(|w| w.name).collect();
        names.sort_unstable();
        let mut want: Vec<_> = embedded::PLUGINS.iter().map(|p| p.name).collect();
        want.push(embedded::TRANSFORM.name);
        want.sort_unstable();
        assert_eq!(names, want);
        for w in &warmed {
            let bytes = embedded::PLUGINS
                .iter()
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
    fn refuses_to_run_without_a_cache_directory() {
        let err = fill_cache(SandboxConfig::default(), |_| {}).unwrap_err();
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
