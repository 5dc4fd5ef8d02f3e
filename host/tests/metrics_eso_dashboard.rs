//! ESO's own Grafana dashboards and SLI queries (tests/fixtures/eso-metrics, copied from ESO) on
//! the operator's metrics: a real Prometheus scrapes the operator while it syncs ExternalSecrets,
//! SecretStores, ClusterSecretStores, ClusterExternalSecrets, PushSecrets and a
//! ClusterPushSecret, some of each failing; every query of every panel, with Grafana's template
//! variables substituted as the dashboards define them, returns a series. Only the admission
//! webhook's panels stay empty (Ampoule serves no webhook, docs/eso-behaviour.md#metrics), and
//! the test checks they do. The scrape is also checked name by name: every metric of ESO's
//! metrics page and of controller-runtime that Ampoule serves appears with ESO's label names.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ampoule::provider::ProviderError;
use common::prometheus::{Prometheus, SCRAPE_INTERVAL};
use common::{apply, start, unique};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

const FIXTURES: &str = "tests/fixtures/eso-metrics";

/// Metric name prefixes with no data in Ampoule, and why (the docs table says the same).
const NOT_SERVED: &[(&str, &str)] = &[(
    "controller_runtime_webhook_",
    "Ampoule serves no admission webhook (the CRDs validate with CEL)",
)];

/// One query of a dashboard panel.
#[derive(Debug, Clone)]
struct Query {
    source: String,
    title: String,
    expr: String,
    /// The panel is repeated for each value of this variable.
    repeat: Option<String>,
    instant: bool,
}

fn panels(source: &str, list: &[Value], out: &mut Vec<Query>) {
    for p in list {
        for t in p["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = t["expr"].as_str() {
                out.push(Query {
                    source: source.into(),
                    title: p["title"].as_str().unwrap_or_default().into(),
                    expr: expr.into(),
                    repeat: p["repeat"].as_str().map(str::to_string),
                    instant: t["instant"] == true,
                });
            }
        }
        panels(
            source,
            p["panels"].as_array().map_or(&[], Vec::as_slice),
            out,
        );
    }
}

/// A dashboard's queries and its template variables.
fn dashboard(file: &str) -> (Vec<Query>, Vec<Value>) {
    let path = ground::ground().repo.join(FIXTURES).join(file);
    let d: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = Vec::new();
    panels(file, d["panels"].as_array().unwrap(), &mut out);
    (
        out,
        d["templating"]["list"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
    )
}

/// The SLI queries of ESO's metrics page (its PromQL code blocks).
fn sli_queries(metrics_md: &str) -> Vec<Query> {
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    let mut title = String::new();
    for line in metrics_md.lines() {
        if let Some(h) = line.strip_prefix("#### ") {
            title = h.trim().into();
        }
        if line.trim_start().starts_with("```") {
            match block.take() {
                Some(expr) => out.push(Query {
                    source: "metrics.md".into(),
                    title: title.clone(),
                    expr,
                    repeat: None,
                    instant: false,
                }),
                None => block = Some(String::new()),
            }
        } else if let Some(b) = block.as_mut() {
            b.push_str(line);
            b.push('\n');
        }
    }
    out
}

/// The metric names a query reads: identifiers followed by a selector or a range.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let re = regex::Regex::new(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[\{\[]").unwrap();
    re.captures_iter(expr).map(|c| c[1].to_string()).collect()
}

/// Grafana's `$__rate_interval`: max(4 × the scrape interval, the step + the scrape interval).
fn rate_interval(step: Duration) -> String {
    let d = (SCRAPE_INTERVAL * 4).max(step + SCRAPE_INTERVAL);
    format!("{}s", d.as_secs())
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The queries to run with every variable substituted: a repeated panel once per value of its
/// variable, any other with the variable's `allValue` (the dashboards' default is All).
fn substituted(
    queries: &[Query],
    variables: &BTreeMap<String, (Vec<String>, String)>,
    step: Duration,
) -> Vec<Query> {
    let mut out = Vec::new();
    for q in queries {
        let base = q.expr.replace("$__rate_interval", &rate_interval(step));
        let instances: Vec<(String, String)> = match &q.repeat {
            Some(var) => {
                let (values, _) = &variables[var];
                assert!(!values.is_empty(), "no values for ${var}");
                values
                    .iter()
                    .map(|v| {
                        (
                            format!("{} [{var}={v}]", q.title),
                            base.replace(&format!("${var}"), v),
                        )
                    })
                    .collect()
            }
            None => {
                let mut expr = base.clone();
                for (var, (_, all)) in variables {
                    expr = expr.replace(&format!("${var}"), all);
                }
                vec![(q.title.clone(), expr)]
            }
        };
        for (title, expr) in instances {
            assert!(!expr.contains('$'), "unsubstituted variable in {expr}");
            out.push(Query {
                title,
                expr,
                ..q.clone()
            });
        }
    }
    out
}

/// The `service` label a ServiceMonitor gives the scrape of the chart installed as release
/// `external-secrets` (the name ESO's release has): the metrics Service's name, which ESO's
/// queries match with `service=~".*external-secrets.*"`.
fn chart_service_name() -> String {
    let g = ground::ground();
    let rendered = ground::run(
        g.command("helm")
            .args(["template", "external-secrets"])
            .arg(g.repo.join("charts/ampoule"))
            .args(["--show-only", "templates/service.yaml"]),
    );
    let svc: Value = serde_norway::from_str(&rendered).unwrap();
    svc["metadata"]["name"].as_str().unwrap().to_string()
}

/// The label names ESO (and controller-runtime) give each metric Ampoule serves.
fn eso_label_names() -> BTreeMap<&'static str, &'static [&'static str]> {
    const OBJECT: &[&str] = &["name", "namespace"];
    const CONDITION: &[&str] = &["name", "namespace", "condition", "status"];
    const CONTROLLER: &[&str] = &["controller"];
    const QUEUE: &[&str] = &["name", "controller"];
    BTreeMap::from([
        ("clusterexternalsecret_status_condition", CONDITION),
        ("clusterexternalsecret_reconcile_duration", OBJECT),
        (
            "externalsecret_provider_api_calls_count",
            &["provider", "call", "status"][..],
        ),
        ("externalsecret_sync_calls_total", OBJECT),
        ("externalsecret_sync_calls_error", OBJECT),
        ("externalsecret_status_condition", CONDITION),
        ("externalsecret_reconcile_duration", OBJECT),
        ("pushsecret_status_condition", CONDITION),
        ("pushsecret_reconcile_duration", OBJECT),
        ("clusterpushsecret_status_condition", CONDITION),
        ("clusterpushsecret_reconcile_duration", OBJECT),
        ("clustersecretstore_status_condition", CONDITION),
        ("clustersecretstore_reconcile_duration", OBJECT),
        ("secretstore_status_condition", CONDITION),
        ("secretstore_reconcile_duration", OBJECT),
        (
            "controller_runtime_reconcile_total",
            &["controller", "result"][..],
        ),
        ("controller_runtime_reconcile_errors_total", CONTROLLER),
        (
            "controller_runtime_reconcile_time_seconds_bucket",
            &["controller", "le"][..],
        ),
        (
            "controller_runtime_reconcile_time_seconds_count",
            CONTROLLER,
        ),
        ("controller_runtime_max_concurrent_reconciles", CONTROLLER),
        ("controller_runtime_active_workers", CONTROLLER),
        ("workqueue_depth", QUEUE),
        ("workqueue_adds_total", QUEUE),
        ("workqueue_retries_total", QUEUE),
        (
            "workqueue_queue_duration_seconds_bucket",
            &["name", "controller", "le"][..],
        ),
        (
            "workqueue_work_duration_seconds_bucket",
            &["name", "controller", "le"][..],
        ),
        ("workqueue_unfinished_work_seconds", QUEUE),
        ("workqueue_longest_running_processor_seconds", QUEUE),
    ])
}

/// The metric names of ESO's metrics page tables.
fn metrics_md_names(md: &str) -> BTreeSet<String> {
    md.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect()
}

/// Series name → the label-name sets it was exposed with, from a text exposition.
fn exposed(text: &str) -> BTreeMap<String, BTreeSet<Vec<String>>> {
    let mut out: BTreeMap<String, BTreeSet<Vec<String>>> = BTreeMap::new();
    let label = regex::Regex::new(r#"([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*""#).unwrap();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let name = &line[..name_end];
        let mut labels: Vec<String> = match line[name_end..].strip_prefix('{') {
            Some(rest) => label
                .captures_iter(&rest[..rest.rfind('}').unwrap()])
                .map(|c| c[1].to_string())
                .collect(),
            None => Vec::new(),
        };
        labels.sort();
        out.entry(name.to_string()).or_default().insert(labels);
    }
    out
}

/// Every ESO and controller-runtime metric name that the fixtures name appears in the docs
/// table, served or not applicable.
#[test]
fn the_docs_list_every_metric_esos_files_name() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let docs = std::fs::read_to_string(repo.join("docs/eso-behaviour.md")).unwrap();
    let md = std::fs::read_to_string(repo.join(FIXTURES).join("metrics.md")).unwrap();
    let mut names = metrics_md_names(&md);
    for q in sli_queries(&md) {
        names.extend(metric_names(&q.expr));
    }
    for file in ["grafana-dashboard.json", "dashboard.json"] {
        let d: Value =
            serde_json::from_str(&std::fs::read_to_string(repo.join(FIXTURES).join(file)).unwrap())
                .unwrap();
        let mut qs = Vec::new();
        panels(file, d["panels"].as_array().unwrap(), &mut qs);
        for q in qs {
            names.extend(metric_names(&q.expr));
        }
    }
    names.extend(eso_label_names().keys().map(|n| n.to_string()));
    assert!(names.len() > 25, "{names:?}");
    let missing: Vec<_> = names
        .iter()
        .map(|n| {
            // A histogram's series are documented under the histogram's name.
            let base = n.trim_end_matches("_bucket").trim_end_matches("_count");
            if base.ends_with("_seconds") {
                base
            } else {
                n.as_str()
            }
            .to_string()
        })
        .filter(|n| !docs.contains(&format!("`{n}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "not in docs/eso-behaviour.md: {missing:?}"
    );
}

#[tokio::test]
async fn esos_dashboards_and_sli_queries_have_data() {
    let g = ground::ground();
    let run = start("esodash", |s| {
        s.cluster_external_secrets = true;
        s.cluster_push_secrets = true;
    })
    .await;
    let ns = run.namespace.clone();
    let admin = ampoule::admin::serve("127.0.0.1:0", run.metrics.clone())
        .await
        .unwrap();
    let service = chart_service_name();
    assert!(service.contains("external-secrets"), "{service}");
    let prom = Prometheus::start(admin, json!({"service": service}), Value::Null).await;
    let t0 = now();

    // Healthy objects of every kind.
    let good = run.store("good").await;
    good.set("k", "v");
    good.set("plain", "not json");
    let down = run.provider.backend(&format!("{ns}/down"));
    down.fail_with(Some(ProviderError::Unavailable("backend down".into())));
    let class = run.class.clone();
    let label = unique("esodash");
    Api::<Namespace>::all(run.client.clone())
        .patch(
            &ns,
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"labels": {"esodash": label}}})),
        )
        .await
        .unwrap();
    let css_good = unique("css-good");
    let css_down = unique("css-down");
    let good_backend = format!("{ns}/good");
    let down_backend = format!("{ns}/down");
    for (name, backend) in [(&css_good, &good_backend), (&css_down, &down_backend)] {
        apply(&run.client, None, json!({
            "apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore", "metadata": {"name": name},
            "spec": {"controller": class, "refreshInterval": 1, "provider": {"test": {"backend": backend}},
                     "conditions": [{"namespaces": [ns]}]}
        }))
        .await
        .unwrap();
    }
    run.apply(json!({
        "apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "down"},
        "spec": {"controller": class, "refreshInterval": 1, "provider": {"test": {"backend": down_backend}}}
    }))
    .await;
    let es = |name: &str, store: Value, data: Value| {
        json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": name},
               "spec": {"refreshInterval": "1s", "secretStoreRef": store, "data": data}})
    };
    run.apply(es(
        "ok",
        json!({"name": "good"}),
        json!([{"secretKey": "k", "remoteRef": {"key": "k"}}]),
    ))
    .await;
    run.apply(es(
        "from-css",
        json!({"name": css_good, "kind": "ClusterSecretStore"}),
        json!([{"secretKey": "k", "remoteRef": {"key": "k"}}]),
    ))
    .await;
    // Failing: a property of a value that is not JSON is a provider error at every attempt.
    run.apply(es(
        "broken",
        json!({"name": "good"}),
        json!([{"secretKey": "k", "remoteRef": {"key": "plain", "property": "x"}}]),
    ))
    .await;
    let ces = |name: &str, es_name: &str, labels: Value| {
        json!({"apiVersion": "external-secrets.io/v1", "kind": "ClusterExternalSecret", "metadata": {"name": name},
               "spec": {"externalSecretName": es_name, "externalSecretMetadata": {"labels": labels},
                        "namespaceSelectors": [{"matchLabels": {"esodash": label}}], "refreshTime": "1m",
                        "externalSecretSpec": {"secretStoreRef": {"name": "good"}, "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]}}})
    };
    let ces_good = unique("ces-good");
    let ces_bad = unique("ces-bad");
    apply(&run.client, None, ces(&ces_good, "from-ces", json!({})))
        .await
        .unwrap();
    // Failing: the apiserver refuses its ExternalSecret (a label value may not hold a space).
    apply(
        &run.client,
        None,
        ces(&ces_bad, "refused", json!({"bad": "not valid"})),
    )
    .await
    .unwrap();
    run.apply(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "src"}, "stringData": {"a": "1"}}))
        .await;
    let ps = |name: &str, secret: &str| {
        json!({"apiVersion": "external-secrets.io/v1alpha1", "kind": "PushSecret", "metadata": {"name": name},
               "spec": {"refreshInterval": "1s", "secretStoreRefs": [{"name": "good"}], "selector": {"secret": {"name": secret}},
                        "data": [{"match": {"secretKey": "a", "remoteRef": {"remoteKey": format!("pushed-{name}")}}}]}})
    };
    run.apply(ps("pushed", "src")).await;
    // Failing: its source Secret does not exist.
    run.apply(ps("no-source", "missing")).await;
    let cps = unique("cps");
    apply(&run.client, None, json!({
        "apiVersion": "external-secrets.io/v1alpha1", "kind": "ClusterPushSecret", "metadata": {"name": cps},
        "spec": {"namespaceSelectors": [{"matchLabels": {"esodash": unique("nowhere")}}], "refreshTime": "1m",
                 "pushSecretSpec": {"secretStoreRefs": [{"name": "good"}], "selector": {"secret": {"name": "src"}},
                                    "data": [{"match": {"secretKey": "a", "remoteRef": {"remoteKey": "from-cps"}}}]}}
    }))
    .await
    .unwrap();
    run.es_ready("ok", "True", "SecretSynced").await;
    run.es_ready("broken", "False", "SecretSyncedError").await;

    // Every query, as the dashboards define it, until each returns a series.
    let step = SCRAPE_INTERVAL;
    let mut queries = Vec::new();
    let mut variables: BTreeMap<String, (Vec<String>, String)> = BTreeMap::new();
    for file in ["grafana-dashboard.json", "dashboard.json"] {
        let (qs, vars) = dashboard(file);
        queries.extend(qs);
        for v in vars.iter().filter(|v| v["type"] == "query") {
            let name = v["name"].as_str().unwrap().to_string();
            let def = v["definition"].as_str().unwrap();
            let inner = def
                .strip_prefix("label_values(")
                .and_then(|d| d.strip_suffix(')'))
                .unwrap();
            let (matcher, label) = inner.rsplit_once(',').unwrap();
            let all = v["allValue"].as_str().unwrap_or(".*").to_string();
            variables.insert(
                name,
                (vec![matcher.trim().into(), label.trim().into()], all),
            );
        }
    }
    let md = std::fs::read_to_string(g.repo.join(FIXTURES).join("metrics.md")).unwrap();
    queries.extend(sli_queries(&md));
    let mut seen = BTreeSet::new();
    queries.retain(|q| seen.insert((q.expr.clone(), q.repeat.clone(), q.instant)));

    // `$controller`: label_values over ESO's six controllers, as they run here.
    let wanted_controllers: BTreeSet<String> = [
        "clusterexternalsecret",
        "clusterpushsecret",
        "clustersecretstore",
        "externalsecret",
        "pushsecret",
        "secretstore",
    ]
    .map(String::from)
    .into();
    for (values, _) in variables.values_mut() {
        let (matcher, label) = (values[0].clone(), values[1].clone());
        let got: BTreeSet<String> = prom
            .label_values(&label, &matcher)
            .await
            .into_iter()
            .collect();
        assert_eq!(got, wanted_controllers, "label_values({matcher}, {label})");
        *values = got.into_iter().collect();
    }
    let runs = substituted(&queries, &variables, step);
    assert!(runs.len() >= 40, "{} queries", runs.len());
    let not_served = |q: &Query| {
        let names = metric_names(&q.expr);
        !names.is_empty()
            && names
                .iter()
                .all(|n| NOT_SERVED.iter().any(|(p, _)| n.starts_with(p)))
    };
    let missing = ground::eventually(
        Duration::from_secs(120),
        "every dashboard query to return a series",
        || async {
            let mut missing = Vec::new();
            for q in runs.iter().filter(|q| !not_served(q)) {
                let result = if q.instant {
                    prom.query(&q.expr).await
                } else {
                    prom.query_range(&q.expr, t0, step).await
                };
                if result.is_empty() {
                    missing.push(format!("{} / {}: {}", q.source, q.title, q.expr));
                }
            }
            if missing.is_empty() {
                Some(missing)
            } else {
                eprintln!("still without data: {missing:#?}");
                None
            }
        },
    )
    .await;
    assert!(missing.is_empty());
    // The webhook's panels have no data: no metric of a name Ampoule does not serve.
    for q in runs.iter().filter(|q| not_served(q)) {
        let r = prom.query_range(&q.expr, t0, step).await;
        assert!(r.is_empty(), "{}: {r:?}", q.expr);
    }

    // The scrape itself: each name ESO's metrics page lists, and controller-runtime's that
    // Ampoule serves, with ESO's label names and nothing else.
    let text = reqwest::get(format!("http://{admin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = exposed(&text);
    let labels = eso_label_names();
    for name in metrics_md_names(&md) {
        assert!(
            labels.contains_key(name.as_str()),
            "{name} (ESO's metrics page) has no label set here"
        );
    }
    for (name, want) in &labels {
        let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        want.sort();
        let got = series
            .get(*name)
            .unwrap_or_else(|| panic!("{name} is not on /metrics:\n{text}"));
        assert_eq!(got, &BTreeSet::from([want]), "{name}");
    }
    for name in [
        "workqueue_depth",
        "controller_runtime_max_concurrent_reconciles",
    ] {
        for c in &wanted_controllers {
            assert!(
                text.contains(&format!("{name}{{"))
                    && text.contains(&format!("controller=\"{c}\"")),
                "{name} for {c}"
            );
        }
    }

    for name in [&css_good, &css_down] {
        let _ = Api::<ampoule::crd::ClusterSecretStore>::all(run.client.clone())
            .delete(name, &Default::default())
            .await;
    }
    for name in [&ces_good, &ces_bad] {
        let _ = Api::<ampoule::crd::ClusterExternalSecret>::all(run.client.clone())
            .delete(name, &Default::default())
            .await;
    }
    let _ = Api::<ampoule::crd::ClusterPushSecret>::all(run.client.clone())
        .delete(&cps, &Default::default())
        .await;
    drop(prom);
}
