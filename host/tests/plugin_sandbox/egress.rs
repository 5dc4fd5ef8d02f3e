//! Egress from the hostile component: only inside the grant, private addresses refused after DNS
//! unless the ceiling allows them, no redirects, no big responses, and a request budget.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn egress_is_granted_only_inside_the_grant() {
    let (p, port) = served("Allow").await;
    // Inside the grant.
    assert_eq!(
        get(&p, "ok", egress(port), &http(port, "/ok"))
            .await
            .unwrap(),
        "200 hello"
    );
    // Not requested by the plugin's config → denied.
    denied(&p, "no", json!({}), &http(port, "/ok")).await;
    // Outside the ceiling.
    let cfg = json!({"egress": [{"host": "evil.test"}]});
    denied(&p, "c", cfg, "http https://evil.test/").await;
    // The metadata address: not in this ceiling → denied before any connection.
    let metadata = "http http://169.254.169.254/latest/meta-data/";
    denied(&p, "m", egress(port), metadata).await;
    // Even a ceiling allowing every host and private networks refuses link-local after DNS
    // unless it lists the address explicitly.
    let sb = p.sandbox().clone();
    let open = WasmProvider::new(sb.clone(), Arc::new(NoCredentials));
    let loaded = sb
        .load(component("ampoule_test_hostile"), None)
        .await
        .unwrap();
    let wide: ProviderClassConfig = serde_json::from_value(json!({"provider": "hostile",
        "sandbox": {"egress": {"allow": [{"host": "*"}], "privateNetworks": "Allow"}}}))
    .unwrap();
    open.bind("hostile", loaded, Some(wide));
    denied(&open, "m2", egress(port), metadata).await;
    assert_eq!(sb.metrics.egress_denied().get("address"), Some(&1));
    // Traversal in the path.
    let cfg = json!({"egress": [{"host": "127.0.0.1", "ports": [port], "pathPrefixes": ["/ok"]}]});
    denied(&p, "t", cfg, &http(port, "/ok/../big")).await;
    assert!(p.sandbox().metrics.egress_denied_total() >= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_addresses_are_refused_after_dns_unless_the_ceiling_allows_them() {
    let (p, port) = served("Deny").await;
    let localhost = format!("http http://localhost:{port}/ok");
    denied(&p, "l", egress(port), &localhost).await;
    denied(&p, "i", egress(port), &http(port, "/ok")).await;
    assert_eq!(p.sandbox().metrics.egress_denied().get("address"), Some(&2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed_and_big_responses_are_refused() {
    let (p, port) = served("Allow").await;
    assert_eq!(
        get(&p, "r", egress(port), &http(port, "/redirect"))
            .await
            .unwrap(),
        "302 "
    );
    let err = get(&p, "b", egress(port), &http(port, "/big"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("HttpResponseBodySize") || err.to_string().contains("TooLarge"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_budget_is_enforced() {
    let (p, port) = served("Allow").await;
    let (client, _) = p
        .open(&store_for("hostile", "budget", egress(port)))
        .await
        .unwrap();
    let url = http(port, "/ok");
    for _ in 0..5 {
        client.get_secret(&key(&url)).await.unwrap();
    }
    assert!(
        client
            .get_secret(&key(&url))
            .await
            .unwrap_err()
            .to_string()
            .contains("Denied")
    );
}
