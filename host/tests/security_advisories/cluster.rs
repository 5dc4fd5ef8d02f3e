//! ClusterSecretStore `conditions`
//! (docs/eso-behaviour.md#store-conditions-and-referent-authentication) hold for every
//! ExternalSecret, including those a ClusterExternalSecret fans out
//! (docs/eso-behaviour.md#clusterexternalsecret): the fan-out reaches every selected namespace, the
//! store serves only the namespaces its conditions admit.

use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::api::events::v1::Event;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::common::operator::Operated;
use super::common::{WAIT, apply, data, force_sync, get};
use super::marker;

async fn label(client: &Client, ns: &str, labels: serde_json::Value) {
    Api::<Namespace>::all(client.clone())
        .patch(
            ns,
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"labels": labels}})),
        )
        .await
        .unwrap();
}

/// The Ready condition (status, reason) of ExternalSecret `name` in `ns`.
async fn ready_in(client: &Client, ns: &str, name: &str) -> Option<(String, String)> {
    let es = get(client, Some(ns), "externalsecrets", name).await?;
    let c = es.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?
        .clone();
    Some((c["status"].as_str()?.into(), c["reason"].as_str()?.into()))
}

async fn notes_in(client: &Client, ns: &str) -> Vec<String> {
    Api::<Event>::namespaced(client.clone(), ns)
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|e| e.note)
        .collect()
}

async fn secret_in(client: &Client, ns: &str, name: &str) -> Option<Secret> {
    Api::<Secret>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .unwrap()
}

/// How many syncs of `fanned` in `ns` the operator's log shows refused by the conditions.
fn denials_in(op: &Operated, ns: &str) -> usize {
    let wanted = format!("is not allowed from namespace \\\"{ns}\\\": denied by spec.condition");
    std::fs::read_to_string(&op.log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("sync failed") && l.contains(&wanted))
        .count()
}

/// Waits until `fanned` in `ns` is Ready=False with ESO's denial in a Warning event.
async fn refused(client: &Client, css: &str, ns: &str, wait: std::time::Duration) {
    let wanted = format!(
        "using cluster store \"{css}\" is not allowed from namespace \"{ns}\": denied by spec.condition"
    );
    ground::eventually(wait, &format!("the denial in {ns}"), || async {
        let ready = ready_in(client, ns, "fanned").await?;
        let noted = notes_in(client, ns)
            .await
            .iter()
            .any(|n| n.contains(&wanted));
        (ready == ("False".into(), "SecretSyncedError".into()) && noted).then_some(())
    })
    .await;
}

/// Three namespaces a ClusterExternalSecret selects; the ClusterSecretStore admits one by label
/// and one by name. The third gets its ExternalSecret (ESO provisions it) and no Secret; the one
/// admitted by label loses its admission when the label goes, and its Secret never sees the
/// value the store serves after that.
#[tokio::test]
async fn cluster_store_conditions_hold_for_cluster_external_secret_fan_out() {
    let client = super::common::operator::client().await;
    let g = ground::ground();
    let home = g.namespace("adv-ces").await;
    let mut op = Operated::start(&client, home, false);
    op.wait = WAIT * 2;
    let id = format!("{:08x}", rand::random::<u32>());
    let (by_label, by_name, denied) = (
        g.namespace("adv-ces-label").await,
        g.namespace("adv-ces-name").await,
        g.namespace("adv-ces-denied").await,
    );
    for ns in [&by_label, &by_name, &denied] {
        label(&client, ns, json!({"adv-ces": id})).await;
    }
    label(&client, &by_label, json!({"adv-tenant": id})).await;
    let (first, rotated) = (marker("css-first"), marker("css-rotated"));
    let css = format!("adv-css-{id}");
    let ces = format!("adv-ces-{id}");
    let _cleanup = super::Cleanup(vec![
        format!("clusterexternalsecrets.external-secrets.io/{ces}"),
        format!("clustersecretstores.external-secrets.io/{css}"),
    ]);
    let store = |value: &str| {
        json!({"apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore", "metadata": {"name": css},
            "spec": {"controller": op.class, "provider": {"fake": {"data": [{"key": "shared", "value": value}]}},
                "conditions": [{"namespaceSelector": {"matchLabels": {"adv-tenant": id}}}, {"namespaces": [by_name]}]}})
    };
    apply(&client, None, store(&first)).await.unwrap();
    apply(&client, None, json!({"apiVersion": "external-secrets.io/v1", "kind": "ClusterExternalSecret", "metadata": {"name": ces},
        "spec": {"externalSecretName": "fanned", "namespaceSelectors": [{"matchLabels": {"adv-ces": id}}],
            "externalSecretSpec": {"refreshInterval": "1h", "secretStoreRef": {"kind": "ClusterSecretStore", "name": css},
                "data": [{"secretKey": "v", "remoteRef": {"key": "shared"}}]}}}))
    .await
    .unwrap();

    for ns in [&by_label, &by_name] {
        super::common::wait_secret_within(
            &client,
            ns,
            "fanned",
            op.wait,
            "an admitted namespace's Secret",
            |s| data(s).get("v") == Some(&first),
        )
        .await;
    }
    refused(&client, &css, &denied, op.wait).await;
    assert!(secret_in(&client, &denied, "fanned").await.is_none());
    let status = ground::eventually(WAIT, "the fan-out to all three namespaces", || async {
        let c = get(&client, None, "clusterexternalsecrets", &ces).await?;
        let ns = c.data["status"]["provisionedNamespaces"]
            .as_array()?
            .clone();
        (ns.len() == 3).then_some(ns)
    })
    .await;
    assert!(status.contains(&json!(denied)), "{status:?}");

    // The label goes, the store serves a new value: only the namespace admitted by name gets it.
    label(&client, &by_label, json!({"adv-tenant": null})).await;
    apply(&client, None, store(&rotated)).await.unwrap();
    // The operator sees the new spec a moment later: force-sync until the admitted namespace
    // has the new value; a sync of the other two after that must be refused.
    let mut round = 0;
    ground::eventually(op.wait, "the rotated value where admitted", || {
        round += 1;
        let (client, by_name, rotated) = (client.clone(), by_name.clone(), rotated.clone());
        async move {
            force_sync(&client, &by_name, "fanned", &format!("rotation-{round}")).await;
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            let s = secret_in(&client, &by_name, "fanned").await?;
            (data(&s).get("v") == Some(&rotated)).then_some(())
        }
    })
    .await;
    for ns in [&by_label, &denied] {
        let denials = || denials_in(&op, ns);
        let before = denials();
        force_sync(&client, ns, "fanned", "after-rotation").await;
        ground::eventually(
            op.wait,
            &format!("a sync of {ns} after the rotation"),
            || async { (denials() > before).then_some(()) },
        )
        .await;
        refused(&client, &css, ns, op.wait).await;
    }
    let kept = secret_in(&client, &by_label, "fanned").await.unwrap();
    assert_eq!(
        data(&kept)["v"],
        first,
        "no write once the namespace is no longer admitted"
    );

    let log = std::fs::read_to_string(&op.log).unwrap_or_default();
    for v in [&first, &rotated] {
        assert!(!log.contains(v.as_str()), "{v} in the operator log");
        for ns in [&by_label, &by_name, &denied] {
            assert!(
                !notes_in(&client, ns)
                    .await
                    .iter()
                    .any(|n| n.contains(v.as_str())),
                "{v} in an event of {ns}"
            );
        }
    }
    assert!(secret_in(&client, &denied, "fanned").await.is_none());
}
