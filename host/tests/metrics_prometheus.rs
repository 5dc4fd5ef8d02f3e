//! A real Prometheus scrapes the operator during a sync, loads the chart's PrometheusRule rules,
//! and answers the seed guide's alert and dashboard queries: the failing case fires
//! SecretSyncFailed, the healthy case does not, the dashboard queries return series.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use ampoule::provider::ProviderError;
use common::prometheus::Prometheus;
use common::start;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

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

async fn alert_state(prom: &Prometheus, name: &str) -> Option<String> {
    let body = prom.api("alerts", &[]).await?;
    body["data"]["alerts"]
        .as_array()?
        .iter()
        .find(|a| a["labels"]["alertname"] == name)
        .and_then(|a| a["state"].as_str().map(str::to_string))
}

/// Time of the last rule evaluation (RFC 3339), to know an evaluation happened after a change.
async fn last_evaluation(prom: &Prometheus) -> Option<String> {
    let body = prom.api("rules", &[]).await?;
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

    let prom = Prometheus::start(admin, json!({}), chart_rules(g)).await;

    // Healthy: the dashboard's success rate has a series, nothing fails, the alert stays quiet.
    ground::eventually(
        Duration::from_secs(30),
        "the dashboard's success-rate query to return a series",
        || async {
            let r = prom
                .query(r#"rate(external_secrets_sync_calls_total{status="success"}[5m])"#)
                .await;
            (!r.is_empty()).then_some(())
        },
    )
    .await;
    let failing = prom.query("external_secrets_sync_calls_error").await;
    assert_eq!(failing[0]["value"][1], "0", "{failing:?}");
    let seen = last_evaluation(&prom).await;
    ground::eventually(
        Duration::from_secs(30),
        "a rule evaluation after the healthy scrape",
        || async {
            let now = last_evaluation(&prom).await;
            (now.is_some() && now != seen).then_some(())
        },
    )
    .await;
    assert_eq!(
        alert_state(&prom, "SecretSyncFailed").await,
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
            (alert_state(&prom, "SecretSyncFailed").await.as_deref() == Some("firing"))
                .then_some(())
        },
    )
    .await;
    let errors = prom
        .query("rate(external_secrets_sync_calls_error[5m])")
        .await;
    assert!(
        !errors.is_empty(),
        "the dashboard's error query returns a series"
    );
    let cond = prom
        .query(
            r#"externalsecret_status_condition{condition="Ready",status="False",name="watched"}"#,
        )
        .await;
    assert_eq!(cond[0]["value"][1], "1");
}
