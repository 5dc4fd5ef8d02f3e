//! The chart's RBAC is enough for what the operator does, and no more: the controller runs with
//! a token of the chart's ServiceAccount against the ground's apiserver and syncs
//! ExternalSecrets in two namespaces; verbs the code never uses are denied.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use ampoule::controller::credentials::{ControllerAccount, KubeCredentials};
use ampoule::controller::{self, Settings};
use ampoule::plugin::{
    ControllerIdentity, CredentialRequest, CredentialResolver, CredentialSource,
};
use ampoule::provider::{StoreContext, StoreKind};
use common::{TestProvider, apply, crds, data, ready, unique};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;

async fn can(client: &kube::Client, user: &str, verb: &str, resource: &str, group: &str) -> bool {
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.into()),
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.into()),
                resource: Some(resource.into()),
                group: Some(group.into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let r = Api::<SubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .unwrap();
    r.status.unwrap().allowed
}

#[tokio::test]
async fn the_chart_service_account_can_sync_and_nothing_more() {
    let g = ground::ground();
    let admin = g.client().await;
    crds(&admin).await;
    let release = unique("rbac");
    let ns = g.namespace("ampoule-system").await;
    // Render the chart and install its ServiceAccount and RBAC (the Deployment cannot run here).
    let rendered = ground::run(
        g.command("helm")
            .args(["template", &release])
            .arg(g.repo.join("charts/ampoule"))
            .args(["--namespace", &ns, "--set", "metrics.service.enabled=false"]),
    );
    for doc in rendered.split("\n---") {
        let value: serde_json::Value = match serde_norway::from_str(doc) {
            Ok(v) => v,
            Err(_) => continue,
        };
        let kind = value["kind"].as_str().unwrap_or_default().to_string();
        if [
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
        ]
        .contains(&kind.as_str())
        {
            apply(&admin, Some(&ns), value).await.unwrap();
        }
    }
    let sa_name = format!("{release}-ampoule");
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            audiences: None,
            expiration_seconds: Some(3600),
            ..Default::default()
        }),
        ..Default::default()
    };
    let token = Api::<ServiceAccount>::namespaced(admin.clone(), &ns)
        .create_token_request(&sa_name, &PostParams::default(), &request)
        .await
        .unwrap()
        .status
        .unwrap()
        .token
        .unwrap();

    // A client that is the chart's ServiceAccount.
    let mut kubeconfig = Kubeconfig::read_from(g.kubeconfig()).unwrap();
    for user in &mut kubeconfig.auth_infos {
        if let Some(auth) = user.auth_info.as_mut() {
            auth.token = Some(token.clone().into());
        }
    }
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    let as_operator = kube::Client::try_from(config).unwrap();
    let own_identity = as_operator.clone();

    let provider = Arc::new(TestProvider::default());
    let class = unique("rbac-class");
    let namespaces = [g.namespace("rbac-a").await, g.namespace("rbac-b").await];
    for target in &namespaces {
        provider.backend(&format!("{target}/b")).set("k", target);
        apply(&admin, Some(target), json!({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "b"},
            "spec": {"controller": class, "provider": {"test": {"backend": format!("{target}/b")}}}})).await.unwrap();
        // templateFrom reads a ConfigMap in the ExternalSecret's namespace (configmaps get).
        apply(
            &admin,
            Some(target),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tpl"},
            "data": {"greeting": "hello {{ .k }}"}}),
        )
        .await
        .unwrap();
        // A PushSecret with deletionPolicy Delete: source read, finalizer and status patches.
        apply(&admin, Some(target), json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "push-src", "labels": {"push": "yes"}},
            "stringData": {"p": format!("pushed from {target}")}})).await.unwrap();
        apply(&admin, Some(target), json!({"apiVersion": "external-secrets.io/v1alpha1", "kind": "PushSecret", "metadata": {"name": "p"},
            "spec": {"deletionPolicy": "Delete", "secretStoreRefs": [{"name": "b"}],
                "selector": {"secret": {"selector": {"matchLabels": {"push": "yes"}}}},
                "data": [{"match": {"secretKey": "p", "remoteRef": {"remoteKey": "pushed"}}}]}})).await.unwrap();
        apply(&admin, Some(target), json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "e"},
            "spec": {"secretStoreRef": {"name": "b"}, "target": {"deletionPolicy": "Delete", "template": {"mergePolicy": "Merge",
                "templateFrom": [{"configMap": {"name": "tpl", "items": [{"key": "greeting"}]}}]}},
                "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]}})).await.unwrap();
    }
    let settings = Settings {
        controller_class: class,
        cluster_external_secrets: false,
        ..Settings::default()
    };
    let leader =
        controller::leader::LeaderElection::new(ns.clone(), unique("lease"), "rbac-test".into());
    let provider_view = provider.clone();
    let running = tokio::spawn(controller::run(
        as_operator,
        provider,
        common::transformer().await,
        common::generators().await,
        settings,
        Arc::new(ampoule::metrics::Metrics::new()),
        Some(leader),
    ));
    for target in &namespaces {
        let secrets: Api<Secret> = Api::namespaced(admin.clone(), target);
        let s = ground::eventually(
            common::WAIT,
            "the ExternalSecret synced with the chart's RBAC",
            || async { secrets.get_opt("e").await.unwrap() },
        )
        .await;
        assert_eq!(data(&s)["k"], *target);
        assert_eq!(data(&s)["greeting"], format!("hello {target}"));
        let backend = provider_view.backend(&format!("{target}/b"));
        ground::eventually(
            common::WAIT,
            "the PushSecret pushed with the chart's RBAC",
            || async {
                (backend.value("pushed") == Some(format!("pushed from {target}"))).then_some(())
            },
        )
        .await;
        ground::eventually(common::WAIT, "the PushSecret Ready", || async {
            let ps = common::get_v1alpha1(&admin, target, "pushsecrets", "p").await;
            (ready(&ps).as_deref() == Some("True")).then_some(())
        })
        .await;
    }
    assert!(
        !running.is_finished(),
        "the controller stopped: {:?}",
        running.await
    );
    running.abort();

    // The operator's own identity (a ProviderClass with spec.credentials.allowControllerIdentity):
    // a token of the chart's ServiceAccount for STS, and that ServiceAccount's annotations.
    let creds = KubeCredentials::new(own_identity)
        .with_controller(ControllerAccount::parse(&format!("{ns}/{sa_name}")));
    let store = StoreContext {
        kind: StoreKind::ClusterSecretStore,
        name: "own".into(),
        store_namespace: None,
        caller_namespace: None,
        generation: 1,
        provider: "aws".into(),
        config: json!({}),
        sandbox: None,
    };
    for identity in [
        ControllerIdentity::Token {
            audiences: vec!["sts.amazonaws.com".into()],
        },
        ControllerIdentity::Annotation {
            key: "eks.amazonaws.com/role-arn".into(),
        },
    ] {
        let request = CredentialRequest {
            name: "own".into(),
            source: CredentialSource::Controller(identity.clone()),
        };
        let resolved = creds.resolve(&store, &request).await;
        assert!(resolved.is_ok(), "{identity:?}: {:?}", resolved.err());
    }

    let user = format!("system:serviceaccount:{ns}:{sa_name}");
    for (verb, resource, group) in [
        ("list", "secrets", ""),
        ("patch", "externalsecrets/status", "external-secrets.io"),
        ("create", "serviceaccounts/token", ""),
        ("get", "serviceaccounts", ""),
        ("get", "configmaps", ""),
        ("watch", "pushsecrets", "external-secrets.io"),
        ("watch", "clusterpushsecrets", "external-secrets.io"),
        ("patch", "clusterpushsecrets/status", "external-secrets.io"),
    ] {
        assert!(
            can(&admin, &user, verb, resource, group).await,
            "{verb} {resource} must be allowed"
        );
    }
    for (verb, resource, group) in [
        ("update", "secrets", ""),
        ("deletecollection", "secrets", ""),
        ("list", "configmaps", ""),
        ("list", "serviceaccounts", ""),
        ("update", "serviceaccounts", ""),
        ("create", "pods", ""),
        ("delete", "secretstores", "external-secrets.io"),
        ("get", "pushsecrets", "external-secrets.io"),
        ("patch", "clusterpushsecrets", "external-secrets.io"),
        ("update", "namespaces", ""),
        ("escalate", "clusterroles", "rbac.authorization.k8s.io"),
    ] {
        assert!(
            !can(&admin, &user, verb, resource, group).await,
            "{verb} {resource} must be denied"
        );
    }
}
