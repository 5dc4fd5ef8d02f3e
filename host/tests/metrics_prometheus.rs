//! A real Prometheus scrapes the operator during a sync, loads the chart's PrometheusRule rules,
//! and answers the seed guide's alert and dashboard queries: the failing case fires
//! SecretSyncFailed, the healthy case does not, the dashboard queries return series.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ampoule::provider::ProviderError;
use common::{start, unique};
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

struct Prometheus {
    child: Child,
    url: String,
    dir: std::path::PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The chart's alert rules, rendered with short `for` durations so the test need not wait 5 min.
fn chart_rules(g: &ground::Ground) -> Value {
    let rendered = ground::run(g.command("helm").args(["template", "t"]).arg(g.repo.join("charts/ampoule")).args([
        "--show-only",
        "templates/prometheusrule.yaml",
        "--set",
        "prometheusRule.enabled=true,prometheusRule.renderMode=alwaysRender,prometheusRule.syncFailedFor=0s,prometheusRule.storeNotReadyFor=0s",
    ]));
    let rule: Value = serde_norway::from_str(&rendered).unwrap();
    json!({"groups": rule["spec"]["groups"]})
}

/// A query that may fail (Prometheus still starting): `None` then.
async fn try_query(http: &reqwest::Client, prom: &str, q: &str) -> Option<Vec<Value>> {
    let resp = http
        .get(format!("{prom}/api/v1/query"))
        .query(&[("query", q)])
        .send()
        .await
        .ok()?;
    let body: Value = resp.json().await.ok()?;
    body["data"]["result"].as_array().cloned()
}

async fn query(http: &reqwest::Client, prom: &str, q: &str) -> Vec<Value> {
    let body: Value = http
        .get(format!("{prom}/api/v1/query"))
        .query(&[("query", q)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "success", "{q}: {body}");
    body["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A Prometheus API answer (`None` while it cannot answer).
async fn api(http: &reqwest::Client, prom: &str, path: &str) -> Option<Value> {
    http.get(format!("{prom}/api/v1/{path}"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()
}

async fn alert_state(http: &reqwest::Client, prom: &str, name: &str) -> Option<String> {
    let body = api(http, prom, "alerts").await?;
    body["data"]["alerts"]
        .as_array()?
        .iter()
        .find(|a| a["labels"]["alertname"] == name)
        .and_then(|a| a["state"].as_str().map(str::to_string))
}

/// Time of the last rule evaluation (RFC 3339), to know an evaluation happened after a change.
async fn last_evaluation(http: &reqwest::Client, prom: &str) -> Option<String> {
    let body = api(http, prom, "rules").await?;
    body["data"]["groups"][0]["lastEvaluation"]
        .as_str()
        .map(str::to_string)
}

#[tokio::test]
async fn seed_alert_and_dashboard_queries_work_on_the_operators_metrics() {
    let g = ground::ground();
    let run = start("prom", |_| {}).await;
    let admin = ampoule::admin::serve("127.0.0.1:0", run.metrics.clone())
        .await
        .unwrap();
    let backend = run.store("backend").await;
    backend.set("k", "v");
    run.apply(json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "watched"},
        "spec": {"secretStoreRef": {"name": "backend"}, "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]}}))
    .await;
    run.es_ready("watched", "True", "SecretSynced").await;

    let dir = std::env::temp_dir().join(unique("prometheus"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("rules.yml"),
        serde_norway::to_string(&chart_rules(g)).unwrap(),
    )
    .unwrap();
    let config = json!({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [dir.join("rules.yml")],
        "scrape_configs": [{"job_name": "ampoule", "static_configs": [{"targets": [admin.to_string()]}]}]
    });
    std::fs::write(
        dir.join("prometheus.yml"),
        serde_norway::to_string(&config).unwrap(),
    )
    .unwrap();
    let port = common::free_port();
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
    };
    let http = reqwest::Client::new();
    let url = prom.url.clone();

    ground::eventually(
        Duration::from_secs(60),
        "Prometheus to scrape the operator",
        || async {
            let up = try_query(&http, &url, r#"up{job="ampoule"}"#).await?;
            (up.first()?["value"][1] == "1").then_some(())
        },
    )
    .await;
    // Healthy: the dashboard's success rate has a series, nothing fails, the alert stays quiet.
    ground::eventually(
        Duration::from_secs(30),
        "the dashboard's success-rate query to return a series",
        || async {
            let r = query(
                &http,
                &url,
                r#"rate(external_secrets_sync_calls_total{status="success"}[5m])"#,
            )
            .await;
            (!r.is_empty()).then_some(())
        },
    )
    .await;
    let failing = query(&http, &url, "external_secrets_sync_calls_error").await;
    assert_eq!(failing[0]["value"][1], "0", "{failing:?}");
    let seen = last_evaluation(&http, &url).await;
    ground::eventually(
        Duration::from_secs(30),
        "a rule evaluation after the healthy scrape",
        || async {
            let now = last_evaluation(&http, &url).await;
            (now.is_some() && now != seen).then_some(())
        },
    )
    .await;
    assert_eq!(
        alert_state(&http, &url, "SecretSyncFailed").await,
        None,
        "no alert while healthy"
    );

    // Failing: the backend breaks; the seed's alert fires and the error dashboard has a series.
    backend.fail_with(Some(ProviderError::Unavailable("backend down".into())));
    let api = run.api::<ampoule::crd::ExternalSecret>();
    api.patch(
        "watched",
        &PatchParams::default(),
        &Patch::Merge(&json!({"metadata": {"annotations": {"force-sync": "1"}}})),
    )
    .await
    .unwrap();
    run.es_ready("watched", "False", "SecretSyncedError").await;
    ground::eventually(
        Duration::from_secs(60),
        "SecretSyncFailed to fire",
        || async {
            (alert_state(&http, &url, "SecretSyncFailed")
                .await
                .as_deref()
                == Some("firing"))
            .then_some(())
        },
    )
    .await;
    let errors = query(&http, &url, "rate(external_secrets_sync_calls_error[5m])").await;
    assert!(
        !errors.is_empty(),
        "the dashboard's error query returns a series"
    );
    let cond = query(
        &http,
        &url,
        r#"externalsecret_status_condition{condition="Ready",status="False",name="watched"}"#,
    )
    .await;
    assert_eq!(cond[0]["value"][1], "1");
}
