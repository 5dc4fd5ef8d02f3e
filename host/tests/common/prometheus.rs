//! The ground's real Prometheus, scraping one operator's `/metrics` every second, and its HTTP
//! API as the metrics tests query it.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use super::unique;

/// A Prometheus of the test's own (stopped and its data removed when dropped).
pub struct Prometheus {
    child: Child,
    pub url: String,
    dir: std::path::PathBuf,
    pub http: reqwest::Client,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// How often Prometheus scrapes and evaluates rules.
pub const SCRAPE_INTERVAL: Duration = Duration::from_secs(1);

impl Prometheus {
    /// Starts Prometheus scraping `target` as job `ampoule`, with the target labels `labels`
    /// (what a ServiceMonitor adds, such as `service`) and the rule groups `rules` (`null`: none);
    /// returns once it has scraped the target.
    pub async fn start(target: SocketAddr, labels: Value, rules: Value) -> Prometheus {
        let g = ground::ground();
        let dir = std::env::temp_dir().join(unique("prometheus"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut config = json!({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": "ampoule", "static_configs": [{"targets": [target.to_string()], "labels": labels}]}]
        });
        if !rules.is_null() {
            std::fs::write(
                dir.join("rules.yml"),
                serde_norway::to_string(&rules).unwrap(),
            )
            .unwrap();
            config["rule_files"] = json!([dir.join("rules.yml")]);
        }
        std::fs::write(
            dir.join("prometheus.yml"),
            serde_norway::to_string(&config).unwrap(),
        )
        .unwrap();
        let port = super::free_port();
        let child = Command::new(g.var("PROMETHEUS"))
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let prom = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
            http: reqwest::Client::new(),
        };
        ground::eventually(
            Duration::from_secs(60),
            "Prometheus to scrape the operator",
            || async {
                let up = prom.try_query(r#"up{job="ampoule"}"#).await?;
                (up.first()?["value"][1] == "1").then_some(())
            },
        )
        .await;
        prom
    }

    /// A Prometheus API answer (`None` while it cannot answer).
    pub async fn api(&self, path: &str, params: &[(&str, String)]) -> Option<Value> {
        self.http
            .get(format!("{}/api/v1/{path}", self.url))
            .query(params)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()
    }

    /// An instant query that may fail (Prometheus still starting): `None` then.
    pub async fn try_query(&self, q: &str) -> Option<Vec<Value>> {
        let body = self.api("query", &[("query", q.to_string())]).await?;
        body["data"]["result"].as_array().cloned()
    }

    /// An instant query; panics unless Prometheus accepts it.
    pub async fn query(&self, q: &str) -> Vec<Value> {
        let body = self
            .api("query", &[("query", q.to_string())])
            .await
            .unwrap();
        assert_eq!(body["status"], "success", "{q}: {body}");
        body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// A range query from `start` to now (Unix seconds) at `step`, as a Grafana graph runs it;
    /// panics unless Prometheus accepts it.
    pub async fn query_range(&self, q: &str, start: f64, step: Duration) -> Vec<Value> {
        let end = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let params = [
            ("query", q.to_string()),
            ("start", format!("{start:.3}")),
            ("end", format!("{end:.3}")),
            ("step", format!("{}", step.as_secs_f64())),
        ];
        let body = self.api("query_range", &params).await.unwrap();
        assert_eq!(body["status"], "success", "{q}: {body}");
        body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The values of label `label` on the series `matcher` selects (Grafana's `label_values`).
    pub async fn label_values(&self, label: &str, matcher: &str) -> Vec<String> {
        let body = self
            .api(
                &format!("label/{label}/values"),
                &[("match[]", matcher.to_string())],
            )
            .await
            .unwrap();
        assert_eq!(body["status"], "success", "{label} {matcher}: {body}");
        body["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    }
}
