//! OCI round trip against the test ground's registry (plain HTTP on 127.0.0.1): push the fake
//! component, pull it by tag and by digest, load it; a wrong digest is refused. cosign signatures:
//! `ampoule plugin sign` and real cosign (built from its Go module) each verify with the other,
//! and a ProviderClass refuses unsigned, wrongly signed and replayed-signature modules.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "plugin_oci/cosign.rs"]
mod cosign;

use ampoule::plugin::distribution::oci;
use ampoule::plugin::{Digest, Sandbox, SandboxConfig};
use oci_client::secrets::RegistryAuth;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_pull_by_digest_and_load() {
    let registry = ground::ground().registry().to_owned();
    let fake = ampoule::plugin::distribution::embedded::find("fake").expect("fake is embedded");
    let tagged = format!("oci://{registry}/ampoule/fake-test:{}", std::process::id());
    let manifest = oci::push(fake.bytes.to_vec(), &tagged, &RegistryAuth::Anonymous)
        .await
        .expect("push");
    assert!(manifest.starts_with("sha256:"), "{manifest}");

    let pulled = oci::pull(&tagged, &RegistryAuth::Anonymous)
        .await
        .expect("pull by tag");
    assert_eq!(pulled.digest.as_str(), fake.digest);
    assert_eq!(pulled.manifest_digest, manifest);
    let by_digest = format!("oci://{registry}/ampoule/fake-test@{manifest}");
    let again = oci::pull(&by_digest, &RegistryAuth::Anonymous)
        .await
        .expect("pull by digest");
    assert_eq!(again.bytes, fake.bytes);

    let sandbox = Sandbox::new(SandboxConfig::default()).expect("sandbox");
    let loaded = sandbox
        .load(again.bytes, Some(again.digest.clone()))
        .await
        .expect("load");
    assert_eq!(loaded.info.name, "fake");

    let missing = format!(
        "oci://{registry}/ampoule/fake-test@{}",
        Digest::of(b"nothing")
    );
    assert!(oci::pull(&missing, &RegistryAuth::Anonymous).await.is_err());
    let (digest, text) = oci::inspect(&tagged, &RegistryAuth::Anonymous)
        .await
        .expect("inspect");
    assert_eq!(digest, manifest);
    assert!(
        text.contains(oci::CONFIG_MEDIA_TYPE) && text.contains(oci::LAYER_MEDIA_TYPE),
        "{text}"
    );
}
