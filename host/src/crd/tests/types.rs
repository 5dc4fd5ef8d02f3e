//! The Rust types: serde defaults agree with the CRD defaults, provider key extraction, helpers.

use serde_json::json;

use crate::crd::external_secret::DEFAULT_REFRESH_INTERVAL;
use crate::crd::providers::SecretStoreProvider;
use crate::crd::sandbox::PrivateNetworks;
use crate::crd::secret_store::GenericStore;
use crate::crd::{
    ClusterSecretStore, CreationPolicy, DeletionPolicy, ExternalSecret, ExternalSecretSpec,
    ProviderClass, SecretStore, StoreKind,
};

fn provider(value: serde_json::Value) -> SecretStoreProvider {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("provider: {e}"))
}

#[test]
fn provider_key_of_a_typed_provider() {
    let p = provider(json!({"vault": {"server": "https://v:8200", "path": "secret"}}));
    assert_eq!(p.name(), Some("vault"));
    let (name, block) = p.key().unwrap_or_else(|| panic!("no key"));
    assert_eq!(name, "vault");
    // The plugin gets the block as JSON, with the serde defaults the apiserver also applies.
    assert_eq!(
        block,
        json!({"server": "https://v:8200", "path": "secret", "version": "v2"})
    );
    assert!(p.other.is_empty());
}

#[test]
fn provider_key_of_an_unknown_provider() {
    let block = json!({"server": "https://bao:8200", "auth": {"tokenSecretRef": {"name": "t"}}});
    let p = provider(json!({"openBao": block.clone()}));
    assert!(p.vault.is_none());
    assert_eq!(p.key(), Some(("openBao", block.clone())));
    assert_eq!(p, SecretStoreProvider::other("openBao", block.clone()));
    // Round trip keeps the unknown block untouched.
    let back = serde_json::to_value(&p).unwrap_or_default();
    assert_eq!(back, json!({"openBao": block}));
}

#[test]
fn provider_key_needs_exactly_one_key() {
    assert_eq!(provider(json!({})).key(), None);
    let two = provider(json!({"fake": {"data": []}, "acme": {}}));
    assert_eq!(two.names(), ["fake", "acme"]);
    assert_eq!(two.name(), None);
    assert_eq!(two.key(), None);
}

#[test]
fn every_typed_provider_round_trips() {
    let cases = [
        json!({"aws": {"service": "ParameterStore", "region": "eu-west-1", "role": "arn:aws:iam::1:role/r",
                       "auth": {"secretRef": {"accessKeyIDSecretRef": {"name": "a", "key": "id"},
                                              "secretAccessKeySecretRef": {"name": "a", "key": "secret"}}},
                       "sessionTagsPolicy": "Custom", "customSessionTags": {"team": "x"}}}),
        json!({"gcpsm": {"projectID": "p", "location": "europe-west1",
                         "auth": {"workloadIdentityFederation": {"audience": "aud",
                                  "credConfig": {"name": "c", "key": "k"}}},
                         "secretVersionSelectionPolicy": "LatestOrFetch"}}),
        json!({"fake": {"data": [{"key": "k", "value": "v", "version": "1"}]}}),
        json!({"vault": {"server": "s", "version": "v1", "namespace": "ns",
                         "auth": {"iam": {"vaultRole": "r", "externalID": "e", "vaultAwsIamServerID": "id"}}}}),
    ];
    for case in cases {
        let p = provider(case.clone());
        assert_eq!(serde_json::to_value(&p).unwrap_or_default(), case);
        assert_eq!(
            p.key()
                .map(|(_, block)| json!({p.name().unwrap_or_default(): block})),
            Some(case)
        );
    }
}

#[test]
fn external_secret_serde_defaults_match_the_crd_defaults() {
    let spec: ExternalSecretSpec =
        serde_json::from_value(json!({"data": [{"secretKey": "a", "remoteRef": {"key": "k"}}]}))
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(spec.target.creation_policy, CreationPolicy::Owner);
    assert_eq!(spec.target.deletion_policy, DeletionPolicy::Retain);
    assert_eq!(
        spec.refresh_interval.as_deref(),
        Some(DEFAULT_REFRESH_INTERVAL)
    );
    assert!(spec.target.is_secret());
    let interval = spec.refresh_interval().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(interval, std::time::Duration::from_secs(3600));
    // Strategies stay unset (ESO 2.9); the enums default to what the controller assumes.
    let remote = &spec.data[0].remote_ref;
    assert_eq!(remote.conversion_strategy, None);
    assert_eq!(
        remote.decoding_strategy.unwrap_or_default(),
        crate::crd::data::DecodingStrategy::None
    );
    assert_eq!(
        remote.metadata_policy.unwrap_or_default(),
        crate::crd::data::MetadataPolicy::None
    );
}

#[test]
fn external_secret_round_trips() {
    let manifest = json!({
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": "es", "namespace": "ns"},
        "spec": {
            "secretStoreRef": {"name": "s", "kind": "ClusterSecretStore"},
            "refreshPolicy": "OnChange",
            "refreshInterval": "0s",
            "syncWindows": {"kind": "deny", "windows": [{"schedule": "@daily", "duration": "1h"}]},
            "target": {"name": "t", "creationPolicy": "Orphan", "deletionPolicy": "Delete", "immutable": true,
                       "template": {"type": "kubernetes.io/tls", "engineVersion": "v2", "mergePolicy": "Merge",
                                    "metadata": {"labels": {"a": "b"}},
                                    "templateFrom": [{"configMap": {"name": "c", "items": [{"key": "k", "templateAs": "KeysAndValues"}]},
                                                      "target": "Annotations"}]}},
            "data": [{"secretKey": "a", "remoteRef": {"key": "k", "property": "p", "decodingStrategy": "Base64URL"},
                      "sourceRef": {"storeRef": {"name": "other"}}}],
            "dataFrom": [
                {"find": {"path": "p", "name": {"regexp": ".*"}, "conversionStrategy": "Unicode"},
                 "rewrite": [{"regexp": {"source": "a", "target": "b"}},
                             {"merge": {"into": "x", "priorityPolicy": "IgnoreNotFound", "conflictPolicy": "Ignore", "strategy": "JSON"}}]},
                {"sourceRef": {"generatorRef": {"apiVersion": "generators.external-secrets.io/v1alpha1", "kind": "ECRAuthorizationToken", "name": "g"}}}
            ]
        },
        "status": {"refreshTime": null, "conditions": [{"type": "Ready", "status": "True", "reason": "SecretSynced"}],
                   "binding": {"name": "t"}}
    });
    let es: ExternalSecret =
        serde_json::from_value(manifest.clone()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        es.spec
            .secret_store_ref
            .as_ref()
            .map(|r| r.effective_kind()),
        Some(StoreKind::ClusterSecretStore)
    );
    let ready = es
        .status
        .as_ref()
        .and_then(|s| s.ready())
        .map(|c| c.reason.clone());
    assert_eq!(ready, Some(Some("SecretSynced".to_owned())));
    let mut expected = manifest;
    // ESO writes `refreshTime: null`; Ampoule omits it.
    if let Some(status) = expected["status"].as_object_mut() {
        status.remove("refreshTime");
    }
    assert_eq!(serde_json::to_value(&es).unwrap_or_default(), expected);
}

#[test]
fn both_store_kinds_share_the_spec() {
    let spec = json!({"provider": {"fake": {"data": [{"key": "k", "value": "v"}]}}, "refreshInterval": 300});
    let ss: SecretStore =
        serde_json::from_value(json!({"metadata": {"name": "a"}, "spec": spec.clone()}))
            .unwrap_or_else(|e| panic!("{e}"));
    let css: ClusterSecretStore =
        serde_json::from_value(json!({"metadata": {"name": "a"}, "spec": spec}))
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ss.store_spec(), css.store_spec());
    assert_eq!(css.spec.provider.name(), Some("fake"));
    assert_eq!(SecretStore::KIND, StoreKind::SecretStore);
    assert_eq!(
        <ClusterSecretStore as GenericStore>::KIND.as_str(),
        "ClusterSecretStore"
    );
}

#[test]
fn provider_class_ceiling_denies_private_networks_by_default() {
    let pc: ProviderClass = serde_json::from_value(json!({
        "metadata": {"name": "vault"},
        "spec": {"provider": "vault", "settings": {"endpoints": {"a": 1}},
                 "sandbox": {"egress": {"allow": [{"host": "*.example.com", "ports": [443]}]},
                             "limits": {"memory": "64Mi", "timeout": "10s", "requests": 50}}}
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pc.spec.private_networks(), PrivateNetworks::Deny);
    assert_eq!(
        pc.spec.settings.as_ref().and_then(|s| s.get("endpoints")),
        Some(&json!({"a": 1}))
    );
}
