//! Issue 17, part 3: malformed objects that pass the schema, against the ground with the
//! `ampoule run` binary and the embedded `fake` provider and template component. Each one ends
//! Ready=False with a reason and a Warning event, corrupts nothing, and leaves its neighbours
//! syncing: a `find.name.regexp` that does not compile, templates that loop, recurse or nest
//! deeply, 1,000 dataFrom entries, a 1 MiB value, keys that collide after conversion, a target
//! another ExternalSecret owns (also when two race for it), and a namespace deleted mid-sync.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "bad_input/namespace.rs"]
mod namespace;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::operator::Operated;
use common::{WAIT, apply, data};
use kube::ResourceExt;
use serde_json::{Value, json};

pub fn es(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": name}, "spec": spec})
}

/// A `fake` SecretStore serving these (key, value) pairs.
pub fn fake_store(op: &Operated, name: &str, entries: &[(String, String)]) -> Value {
    let data: Vec<Value> = entries
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    json!({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": name},
        "spec": {"controller": op.class, "provider": {"fake": {"data": data}}}})
}

/// An ExternalSecret copying remote `key` of `store` into its Secret's key `v`.
pub fn copy(name: &str, store: &str, key: &str) -> Value {
    es(
        name,
        json!({"refreshInterval": "1h", "secretStoreRef": {"name": store},
            "data": [{"secretKey": "v", "remoteRef": {"key": key}}]}),
    )
}

/// `status.syncedResourceVersion` of an ExternalSecret in `ns`, when Ready=True.
async fn synced_version(client: &kube::Client, ns: &str, name: &str) -> Option<String> {
    let es = common::get(client, Some(ns), "externalsecrets", name).await?;
    let ready = es.data["status"]["conditions"]
        .as_array()?
        .iter()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    ready.then(|| {
        es.data["status"]["syncedResourceVersion"]
            .as_str()
            .map(str::to_owned)
    })?
}

/// Forces a sync of `name` `rounds` times, each time measuring from the annotation change to the
/// status recording the sync (polled every 10 ms); returns the times, sorted.
pub async fn sync_times(
    client: &kube::Client,
    ns: &str,
    name: &str,
    label: &str,
    rounds: usize,
) -> Vec<Duration> {
    let mut times = Vec::new();
    for round in 0..rounds {
        let before = synced_version(client, ns, name).await;
        let started = Instant::now();
        common::force_sync(client, ns, name, &format!("{label}-{round}")).await;
        loop {
            let now = synced_version(client, ns, name).await;
            if now.is_some() && now != before {
                break;
            }
            assert!(
                started.elapsed() < WAIT,
                "the neighbour {ns}/{name} did not sync within {WAIT:?} ({label})"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        times.push(started.elapsed());
    }
    times.sort();
    times
}

pub fn describe(times: &[Duration]) -> String {
    let ms: Vec<String> = times
        .iter()
        .map(|t| format!("{:.0}", t.as_secs_f64() * 1e3))
        .collect();
    format!(
        "median {:.0} ms (all: {} ms)",
        times[times.len() / 2].as_secs_f64() * 1e3,
        ms.join(", ")
    )
}

/// No panic, and none of `values` in the operator's log or the namespace's events and statuses.
pub async fn assert_clean(op: &Operated, values: &[&str]) {
    let text = op.visible_text().await;
    assert!(
        !text.contains("panicked"),
        "a panic in {}",
        op.log.display()
    );
    for v in values {
        assert!(
            !text.contains(v),
            "{v} in an event, a status or {}",
            op.log.display()
        );
    }
}

/// The bad objects: name, spec, and what the Warning event must say.
fn bad_objects() -> Vec<(&'static str, Value, String)> {
    let tpl = |data: Value| {
        json!({"refreshInterval": "1h", "secretStoreRef": {"name": "fake"},
            "target": {"template": {"data": data}}, "dataFrom": [{"extract": {"key": "pair-ok"}}]})
    };
    let nesting = format!(
        "{}x{}",
        "{{ if true }}".repeat(20_000),
        "{{ end }}".repeat(20_000)
    );
    let thousand: Vec<Value> = (0..1000)
        .map(|i| json!({"extract": {"key": format!("k{i}")}}))
        .collect();
    vec![
        (
            "bad-regexp",
            json!({"refreshInterval": "1h", "secretStoreRef": {"name": "fake"},
                "dataFrom": [{"find": {"name": {"regexp": "^db(/|_user"}}}]}),
            "find.name.regexp".to_owned(),
        ),
        (
            "bad-loop",
            tpl(json!({"x": "{{ range $i := until 100000000 }}{{ $i }}{{ end }}"})),
            "could not apply template".to_owned(),
        ),
        (
            "bad-recursion",
            tpl(
                json!({"x": "{{ define \"r\" }}{{ template \"r\" . }}{{ end }}{{ template \"r\" . }}"}),
            ),
            "could not apply template".to_owned(),
        ),
        (
            "bad-nesting",
            tpl(json!({ "x": nesting })),
            "could not apply template".to_owned(),
        ),
        (
            "bad-thousand",
            json!({"refreshInterval": "1h", "secretStoreRef": {"name": "fake"}, "dataFrom": thousand}),
            "error processing spec.dataFrom[999]".to_owned(),
        ),
        (
            "bad-big",
            json!({"refreshInterval": "1h", "secretStoreRef": {"name": "big"},
                "data": [{"secretKey": "big", "remoteRef": {"key": "big"}}, {"secretKey": "small", "remoteRef": {"key": "small"}}]}),
            "could not update secret".to_owned(),
        ),
        (
            "bad-collide",
            json!({"refreshInterval": "1h", "secretStoreRef": {"name": "fake"},
                "dataFrom": [{"extract": {"key": "pair"}}]}),
            "secret name collision during conversion: a_b".to_owned(),
        ),
        (
            "bad-collide-find",
            json!({"refreshInterval": "1h", "secretStoreRef": {"name": "fake"},
                "dataFrom": [{"find": {"name": {"regexp": "^db[/_]user$"}}}]}),
            "secret name collision during conversion: db_user".to_owned(),
        ),
        (
            "bad-collide-unicode",
            json!({"refreshInterval": "1h", "secretStoreRef": {"name": "fake"},
                "dataFrom": [{"extract": {"key": "unicode", "conversionStrategy": "Unicode"}}]}),
            "secret name collision during conversion: a_U0020_b".to_owned(),
        ),
        (
            "usurper",
            json!({"refreshInterval": "1h", "secretStoreRef": {"name": "n"}, "target": {"name": "neighbour-secret"},
                "data": [{"secretKey": "v", "remoteRef": {"key": "usurped"}}]}),
            "target is owned by another ExternalSecret".to_owned(),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_objects_fail_alone_with_a_reason_and_the_neighbour_keeps_syncing() {
    let client = common::operator::client().await;
    let ns = ground::ground().namespace("bad-input").await;
    let mut op = Operated::start(&client, ns, true);
    op.wait = WAIT * 2;
    let s = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    let neighbour_value = format!("neighbour-{:016x}", rand::random::<u64>());
    op.store(fake_store(
        &op,
        "n",
        &[s("n", &neighbour_value), s("usurped", "usurper-value")],
    ))
    .await;
    let mut entries = vec![
        s("pair", r#"{"a/b":"collide-1","a_b":"collide-2"}"#),
        s("pair-ok", r#"{"user":"u"}"#),
        s("db/user", "collide-3"),
        s("db_user", "collide-4"),
        s("unicode", r#"{"a b":"collide-5","a_U0020_b":"collide-6"}"#),
        s("twin", "twin-value"),
    ];
    entries.extend((0..999).map(|i| (format!("k{i}"), format!("{{\"k{i}\":\"v{i}\"}}"))));
    op.store(fake_store(&op, "fake", &entries)).await;
    // 1 MiB exactly: a Secret may hold it alone, not with another key.
    let big_marker = format!("big-{:016x}-", rand::random::<u64>());
    let big = format!("{big_marker}{}", "x".repeat((1 << 20) - big_marker.len()));
    op.store(fake_store(&op, "big", &[s("big", &big), s("small", "s")]))
        .await;
    let mut neighbour = copy("neighbour", "n", "n");
    neighbour["spec"]["target"] = json!({"name": "neighbour-secret"});
    op.apply(neighbour).await;
    let first = op
        .secret("neighbour-secret", "the neighbour's Secret", |_| true)
        .await;
    // Unmeasured rounds first: the first syncs of a fresh operator include warming up.
    sync_times(&client, &op.ns, "neighbour", "warm-up", 3).await;
    let without = sync_times(&client, &op.ns, "neighbour", "without", 5).await;

    // The schema's bound: 1,000 dataFrom entries pass, 1,001 do not.
    let too_many: Vec<Value> = (0..1001)
        .map(|i| json!({"extract": {"key": format!("k{i}")}}))
        .collect();
    let err = apply(
        &client,
        Some(&op.ns),
        es(
            "too-many",
            json!({"secretStoreRef": {"name": "fake"}, "dataFrom": too_many}),
        ),
    )
    .await
    .expect_err("1,001 dataFrom entries are refused by the schema");
    assert!(format!("{err}").contains("spec.dataFrom"), "{err}");

    for (name, spec, _) in bad_objects() {
        op.apply(es(name, spec)).await;
    }
    op.apply(es(
        "ok-big",
        json!({"refreshInterval": "1h", "secretStoreRef": {"name": "big"},
        "data": [{"secretKey": "big", "remoteRef": {"key": "big"}}]}),
    ))
    .await;
    // Two ExternalSecrets created at once for one target: one wins, the other is refused.
    let twin = |name: &str, key: &str| {
        es(
            name,
            json!({"refreshInterval": "1h", "secretStoreRef": {"name": "fake"}, "target": {"name": "twins"},
                "data": [{"secretKey": key, "remoteRef": {"key": "twin"}}]}),
        )
    };
    futures::future::join(op.apply(twin("twin-a", "a")), op.apply(twin("twin-b", "b"))).await;

    for (name, _, note) in bad_objects() {
        let started = Instant::now();
        op.wait_es(name, "False", "SecretSyncedError").await;
        let event = op.warning(Some(name), &[&note]).await;
        println!(
            "{name}: Ready=False after {:.1}s: {}",
            started.elapsed().as_secs_f64(),
            event.chars().take(300).collect::<String>()
        );
    }
    for name in [
        "bad-regexp",
        "bad-loop",
        "bad-recursion",
        "bad-nesting",
        "bad-thousand",
        "bad-big",
        "bad-collide",
        "bad-collide-find",
        "bad-collide-unicode",
    ] {
        assert!(
            op.secrets().get_opt(name).await.unwrap().is_none(),
            "{name}: no Secret, no partial data"
        );
    }
    let ok = op.secret("ok-big", "a 1 MiB value alone", |_| true).await;
    assert_eq!(
        ok.data.as_ref().unwrap()["big"].0,
        big.as_bytes(),
        "byte-identical"
    );

    let with = sync_times(&client, &op.ns, "neighbour", "with", 5).await;
    println!(
        "NEIGHBOUR force-sync → synced, without the bad objects: {}",
        describe(&without)
    );
    println!(
        "NEIGHBOUR force-sync → synced, with the bad objects:    {}",
        describe(&with)
    );

    // The neighbour's Secret is its own: same data, same single owner.
    let now = op.secrets().get("neighbour-secret").await.unwrap();
    assert_eq!(data(&now), data(&first));
    assert_eq!(
        data(&now),
        BTreeMap::from([("v".to_string(), neighbour_value.clone())])
    );
    let owners: Vec<String> = now
        .owner_references()
        .iter()
        .map(|o| o.name.clone())
        .collect();
    assert_eq!(owners, vec!["neighbour".to_string()]);

    twins_settle(&op).await;

    // 1,000 entries sync once the last one exists (and the failure's backoff does not hold it).
    entries.push(s("k999", r#"{"k999":"v999"}"#));
    op.apply(fake_store(&op, "fake", &entries)).await;
    // The operator sees the store's new spec a moment later, and a sync that still read the old
    // one fails again: force a sync until the Secret is complete.
    let started = Instant::now();
    let mut round = 0;
    let all = ground::eventually(op.wait, "1,000 dataFrom entries synced", || {
        round += 1;
        let op = &op;
        async move {
            if round % 30 == 1 {
                op.force_sync("bad-thousand", &format!("complete-{round}"))
                    .await;
            }
            let s = op.secrets().get_opt("bad-thousand").await.ok()??;
            s.data
                .as_ref()
                .is_some_and(|d| d.len() == 1000)
                .then_some(s)
        }
    })
    .await;
    println!(
        "1,000 dataFrom entries: store completed → Secret with 1,000 keys in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(data(&all)["k999"], "v999");
    op.wait_es("bad-thousand", "True", "SecretSynced").await;

    assert_clean(
        &op,
        &[
            &neighbour_value,
            &big_marker,
            "collide-1",
            "collide-2",
            "collide-3",
            "collide-4",
            "collide-5",
            "collide-6",
            "usurper-value",
            "twin-value",
        ],
    )
    .await;
}

/// Of two ExternalSecrets racing for one target, exactly one owns it and its data; the other is
/// refused with ESO's reason.
async fn twins_settle(op: &Operated) {
    let (winner, loser) = ground::eventually(op.wait, "one twin synced, one refused", || async {
        let a = op.es_ready("twin-a").await?;
        let b = op.es_ready("twin-b").await?;
        let refused = |m: &str| m == "target is owned by another ExternalSecret";
        match (a.0.as_str(), b.0.as_str()) {
            ("True", "False") if refused(&b.2) => Some((("twin-a", "a"), "twin-b")),
            ("False", "True") if refused(&a.2) => Some((("twin-b", "b"), "twin-a")),
            _ => None,
        }
    })
    .await;
    op.warning(Some(loser), &["target is owned by another ExternalSecret"])
        .await;
    let s = op.secrets().get("twins").await.unwrap();
    assert_eq!(
        data(&s),
        BTreeMap::from([(winner.1.to_string(), "twin-value".to_string())]),
        "only the winner's data"
    );
    let controllers: Vec<&str> = s
        .owner_references()
        .iter()
        .filter(|o| o.controller == Some(true))
        .map(|o| o.name.as_str())
        .collect();
    assert_eq!(controllers, vec![winner.0]);
}
