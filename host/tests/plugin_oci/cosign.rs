//! cosign signatures against the ground's registry: Ampoule's signer and verifier, real cosign
//! (`cosign sign --key … --tlog-upload=false`, `cosign verify --key …`) on the same artifacts, and
//! the ProviderClass status for unsigned, wrongly signed and replayed signatures.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use ampoule::controller::provider_class::Classes;
use ampoule::crd::{ConditionStatus, ProviderClass};
use ampoule::plugin::distribution::cosign::{self, CosignError};
use ampoule::plugin::distribution::oci;
use ampoule::plugin::{NoCredentials, Sandbox, SandboxConfig, WasmProvider};
use kube::api::{Api, PostParams};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use p256::ecdsa::SigningKey;
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::json;

const AUTH: RegistryAuth = RegistryAuth::Anonymous;

/// A fresh key pair written as PEM files into `dir`: (private key path, public key PEM).
fn key_pair(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = SigningKey::from_slice(&rand::random::<[u8; 32]>()).unwrap();
    let private = dir.join(format!("{name}.key"));
    std::fs::write(
        &private,
        key.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes(),
    )
    .unwrap();
    let public = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    std::fs::write(dir.join(format!("{name}.pub")), &public).unwrap();
    (private, public)
}

fn tempdir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "{prefix}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Pushes `component` to `repo:tag` and returns the reference pinned to the manifest digest.
async fn push(component: &str, repo: &str, tag: &str) -> Reference {
    let bytes = ampoule::plugin::distribution::embedded::find(component)
        .unwrap()
        .bytes;
    let image = format!("{repo}:{tag}");
    let digest = oci::push(bytes.to_vec(), &image, &AUTH).await.unwrap();
    oci::parse(&format!("{repo}@{digest}")).unwrap()
}

fn ampoule(args: &[&str]) -> String {
    ground::run(Command::new(env!("CARGO_BIN_EXE_ampoule")).args(args))
}

async fn verify(image: &Reference, pems: &[&str]) -> Result<usize, CosignError> {
    let pems: Vec<String> = pems.iter().map(|p| p.to_string()).collect();
    let keys = cosign::parse_public_keys(&pems).unwrap();
    cosign::verify(image, &AUTH, &keys).await.map(|v| v.key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_verify_only_with_their_keys_and_only_for_their_digest() {
    let registry = ground::ground().registry().to_owned();
    let repo = format!(
        "oci://{registry}/ampoule/cosign-{:08x}",
        rand::random::<u32>()
    );
    let dir = tempdir("ampoule-cosign");
    let (a_key, a_pub) = key_pair(&dir, "a");
    let (_, b_pub) = key_pair(&dir, "b");
    let fake = push("fake", &repo, "fake").await;
    let vault = push("vault", &repo, "vault").await;

    let err = verify(&fake, &[&a_pub]).await.unwrap_err();
    assert!(matches!(err, CosignError::Unsigned { .. }), "{err}");
    // `ampoule plugin sign` resolves the tag to the digest it signs.
    let sig = ampoule(&[
        "plugin",
        "sign",
        "--key",
        a_key.to_str().unwrap(),
        &format!("{repo}:fake"),
    ]);
    assert!(
        sig.trim()
            .ends_with(&cosign::signature_tag(fake.digest().unwrap())),
        "{sig}"
    );
    assert_eq!(verify(&fake, &[&a_pub]).await.unwrap(), 0);
    assert_eq!(verify(&fake, &[&b_pub, &a_pub]).await.unwrap(), 1);
    let err = verify(&fake, &[&b_pub]).await.unwrap_err();
    assert!(
        matches!(
            err,
            CosignError::NoValidSignature {
                signatures: 1,
                keys: 1,
                ..
            }
        ),
        "{err}"
    );
    let out = ampoule(&[
        "plugin",
        "verify",
        "--key",
        dir.join("a.pub").to_str().unwrap(),
        &format!("{repo}:fake"),
    ]);
    assert!(out.contains("verified with key 0"), "{out}");

    // A second signature is added next to the first.
    let b_key = dir.join("b.key");
    ampoule(&[
        "plugin",
        "sign",
        "--key",
        b_key.to_str().unwrap(),
        &fake.whole(),
    ]);
    assert_eq!(verify(&fake, &[&b_pub]).await.unwrap(), 0);
    assert_eq!(verify(&fake, &[&a_pub]).await.unwrap(), 0);

    // Replaying fake's valid signature manifest for another digest is refused: its payload
    // names fake's digest.
    let client = Client::new(oci_client::client::ClientConfig {
        protocol: oci_client::client::ClientProtocol::Http,
        ..Default::default()
    });
    let tag = |r: &Reference| {
        Reference::with_tag(
            r.registry().into(),
            r.repository().into(),
            cosign::signature_tag(r.digest().unwrap()),
        )
    };
    let (raw, _) = client
        .pull_manifest_raw(
            &tag(&fake),
            &AUTH,
            &[oci_client::manifest::OCI_IMAGE_MEDIA_TYPE],
        )
        .await
        .unwrap();
    client
        .push_manifest_raw(
            &tag(&vault),
            raw,
            oci_client::manifest::OCI_IMAGE_MEDIA_TYPE.parse().unwrap(),
        )
        .await
        .unwrap();
    let err = verify(&vault, &[&a_pub, &b_pub]).await.unwrap_err();
    assert!(
        matches!(err, CosignError::NoValidSignature { signatures: 2, .. }),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Builds cosign from its Go module (cached under $HOME/.cache/ampoule) and returns its path.
fn cosign_binary() -> PathBuf {
    let script = ground::ground()
        .repo
        .join("tests/ground/lib/build-cosign.sh");
    PathBuf::from(ground::run(&mut Command::new(script)).trim())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_cosign_and_ampoule_verify_each_others_signatures() {
    let cosign_bin = cosign_binary();
    let registry = ground::ground().registry().to_owned();
    let repo = format!(
        "oci://{registry}/ampoule/cosign-real-{:08x}",
        rand::random::<u32>()
    );
    let dir = tempdir("ampoule-cosign-real");
    let cosign = |args: &[&str]| {
        ground::run(
            Command::new(&cosign_bin)
                .args(args)
                .current_dir(&dir)
                .env("COSIGN_PASSWORD", "")
                .env("HOME", &dir)
                .env("SIGSTORE_NO_CACHE", "1"),
        )
    };
    let by_cosign = push("fake", &repo, "by-cosign").await;
    let by_ampoule = push("vault", &repo, "by-ampoule").await;
    let plain = |r: &Reference| r.whole();

    // cosign's own key pair (an encrypted private key Ampoule never reads) signs; Ampoule verifies.
    cosign(&["generate-key-pair"]);
    let cosign_pub = std::fs::read_to_string(dir.join("cosign.pub")).unwrap();
    cosign(&[
        "sign",
        "--key",
        "cosign.key",
        "--tlog-upload=false",
        "--yes",
        &plain(&by_cosign),
    ]);
    assert_eq!(verify(&by_cosign, &[&cosign_pub]).await.unwrap(), 0);
    let (_, other_pub) = key_pair(&dir, "other");
    assert!(verify(&by_cosign, &[&other_pub]).await.is_err());

    // Ampoule signs; cosign verifies (and refuses the other key).
    let (key, _) = key_pair(&dir, "ampoule");
    ampoule(&[
        "plugin",
        "sign",
        "--key",
        key.to_str().unwrap(),
        &format!("oci://{}", plain(&by_ampoule)),
    ]);
    let verify_args = |key: &str| {
        vec![
            "verify".to_string(),
            "--key".into(),
            key.into(),
            "--insecure-ignore-tlog=true".into(),
            plain(&by_ampoule),
        ]
    };
    let ok = Command::new(&cosign_bin)
        .args(verify_args("ampoule.pub"))
        .current_dir(&dir)
        .env("HOME", &dir)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let wrong = Command::new(&cosign_bin)
        .args(verify_args("cosign.pub"))
        .current_dir(&dir)
        .env("HOME", &dir)
        .output()
        .unwrap();
    assert!(!wrong.status.success(), "cosign accepted the wrong key");
    let _ = std::fs::remove_dir_all(&dir);
}

async fn class_status(
    classes: &mut Classes,
    api: &Api<ProviderClass>,
    spec: serde_json::Value,
) -> (ConditionStatus, String, String) {
    let pc: ProviderClass = serde_json::from_value(json!({
        "apiVersion": "ampoule.dev/v1alpha1", "kind": "ProviderClass",
        "metadata": {"name": spec["provider"]}, "spec": spec
    }))
    .unwrap();
    let pc = api.create(&PostParams::default(), &pc).await.unwrap();
    classes.apply(&pc).await;
    let status = api
        .get(&pc.metadata.name.clone().unwrap())
        .await
        .unwrap()
        .status
        .unwrap();
    let ready = status
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    (
        ready.status,
        ready.reason.unwrap_or_default(),
        ready.message.unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_class_runs_only_modules_signed_by_its_keys() {
    let g = ground::ground();
    let client = g.client().await;
    crate::common::crds(&client).await;
    let id = format!("{:08x}", rand::random::<u32>());
    let repo = format!("oci://{}/ampoule/cosign-class-{id}", g.registry());
    let dir = tempdir("ampoule-cosign-class");
    let (key, public) = key_pair(&dir, "signer");
    let (_, stranger) = key_pair(&dir, "stranger");
    let signed = push("fake", &repo, "signed").await;
    let unsigned = push("vault", &repo, "unsigned").await;
    ampoule(&[
        "plugin",
        "sign",
        "--key",
        key.to_str().unwrap(),
        &format!("oci://{}", signed.whole()),
    ]);

    let sandbox = Sandbox::new(SandboxConfig::default()).unwrap();
    let wasm = Arc::new(WasmProvider::new(sandbox.clone(), Arc::new(NoCredentials)));
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let mut classes = Classes::new(client.clone(), sandbox, wasm.clone(), tx);
    let api: Api<ProviderClass> = Api::all(client.clone());
    let spec = |name: &str, image: &Reference, keys: Vec<&str>| {
        json!({"provider": format!("cosign-{name}-{id}"),
               "module": {"image": format!("oci://{}", image.whole()),
                          "verify": {"cosignPublicKeys": keys}}})
    };
    let cases = [
        (
            "good",
            spec("good", &signed, vec![&stranger, &public]),
            ConditionStatus::True,
            "Loaded",
            "verified",
        ),
        (
            "wrong",
            spec("wrong", &signed, vec![&stranger]),
            ConditionStatus::False,
            "VerificationFailed",
            "none of its 1 cosign signature(s) is valid",
        ),
        (
            "unsigned",
            spec("unsigned", &unsigned, vec![&public]),
            ConditionStatus::False,
            "VerificationFailed",
            "has no cosign signature",
        ),
        (
            "junk",
            spec("junk", &signed, vec!["not a key"]),
            ConditionStatus::False,
            "InvalidSpec",
            "cosign public key 0",
        ),
    ];
    for (name, spec, status, reason, message) in cases {
        let key = spec["provider"].as_str().unwrap().to_owned();
        let got = class_status(&mut classes, &api, spec).await;
        let _ = api.delete(&key, &Default::default()).await;
        assert_eq!(
            (&got.0, got.1.as_str()),
            (&status, reason),
            "{name}: {}",
            got.2
        );
        assert!(got.2.contains(message), "{name}: {}", got.2);
        assert_eq!(
            wasm.digest(&key).is_some(),
            status == ConditionStatus::True,
            "{name}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
