//! `ampoule run` as a child process the scenarios kill, restart and scrape.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One operator process (restartable), its log appended across restarts.
pub struct Operator {
    bin: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    pub log: PathBuf,
    pub metrics_port: u16,
    child: Option<Child>,
    /// How many times this operator was started.
    pub starts: usize,
}

impl Operator {
    /// An operator for `namespace` and controller `class`, not yet started; `extra` args are
    /// appended (leader election, for instance).
    pub fn new(bin: PathBuf, namespace: &str, class: &str, log: PathBuf, extra: &[&str]) -> Self {
        let metrics_port = ground::free_port();
        let mut args: Vec<String> = [
            "run",
            "--namespace",
            namespace,
            "--controller-class",
            class,
            "--metrics-addr",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.push(format!("127.0.0.1:{metrics_port}"));
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let g = ground::ground();
        let env = vec![
            ("KUBECONFIG".into(), g.kubeconfig().display().to_string()),
            (
                "AMPOULE_CACHE_DIR".into(),
                std::env::temp_dir()
                    .join("ampoule-soak-cache")
                    .display()
                    .to_string(),
            ),
        ];
        Operator {
            bin,
            args,
            env,
            log,
            metrics_port,
            child: None,
            starts: 0,
        }
    }

    /// Sets an environment variable for the next starts (`POD_NAME` for leader election).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Starts the process (appending to its log).
    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap_or_else(|e| panic!("{}: {e}", self.log.display()));
        let err = log.try_clone().unwrap_or_else(|e| panic!("log: {e}"));
        let mut cmd = Command::new(&self.bin);
        cmd.args(&self.args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(
            cmd.spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display())),
        );
        self.starts += 1;
    }

    /// SIGKILL, reaped: nothing of the process runs any more.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Whether the process is still running (it has not crashed or exited).
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The process's PID, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The Prometheus text of `/metrics` (empty when it does not answer).
    pub async fn metrics(&self) -> String {
        let url = format!("http://127.0.0.1:{}/metrics", self.metrics_port);
        let client = reqwest::Client::new();
        match client.get(url).timeout(Duration::from_secs(5)).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Sum of the samples of `metric` whose labels contain every `(label, value)` of `with`.
    pub async fn metric_sum(&self, metric: &str, with: &[(&str, &str)]) -> f64 {
        sum(&self.metrics().await, metric, with)
    }

    /// Waits until `/readyz` answers 200 (components loaded, caches listed), up to `limit`.
    pub async fn wait_ready(&mut self, limit: Duration) {
        let url = format!("http://127.0.0.1:{}/readyz", self.metrics_port);
        let deadline = Instant::now() + limit;
        let client = reqwest::Client::new();
        while Instant::now() < deadline {
            if let Ok(r) = client.get(&url).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(self.alive(), "the operator exited:\n{}", self.tail());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the operator was not ready in {limit:?}:\n{}", self.tail());
    }

    /// The last lines of the log, for failure messages.
    pub fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Sum of Prometheus text samples of `metric` whose label set contains each of `with`.
pub fn sum(text: &str, metric: &str, with: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (name_labels, value) = l.rsplit_once(' ')?;
            let (name, labels) = match name_labels.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (name_labels, ""),
            };
            (name == metric
                && with
                    .iter()
                    .all(|(k, v)| labels.contains(&format!("{k}=\"{v}\""))))
            .then(|| value.parse::<f64>().ok())
            .flatten()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    #[test]
    fn sums_matching_samples() {
        let text = "# HELP x\nx_total{a=\"1\",b=\"2\"} 3\nx_total{a=\"1\",b=\"3\"} 4\nx_total{a=\"2\"} 5\ny 1\n";
        assert_eq!(super::sum(text, "x_total", &[("a", "1")]), 7.0);
        assert_eq!(super::sum(text, "x_total", &[]), 12.0);
        assert_eq!(super::sum(text, "y", &[]), 1.0);
    }
}
