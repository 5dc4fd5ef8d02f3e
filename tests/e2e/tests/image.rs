//! The operator's container image as `tests/image/build` makes it without a Docker engine: pushed
//! to the ground's registry as an OCI image index, read back from the registry (index, manifest,
//! config, the flattened filesystem), reproducible (a second build pushes the same digest) and
//! self-contained: the exported rootfs runs `/ampoule` under chroot as user 65532 with nothing
//! from this machine but the kernel.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use ground::{ground, run};
use serde_json::Value;
use sha2::{Digest, Sha256};

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

fn crane() -> Command {
    let path = run(&mut Command::new(
        ground().repo.join("tests/ground/lib/build-crane.sh"),
    ));
    Command::new(path.trim())
}

/// The target directory this test binary was built in (`<target>/debug/deps/image-…`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .nth(3)
        .unwrap_or_else(|| panic!("{} is not in <target>/<profile>/deps", exe.display()))
        .to_path_buf()
}

/// The release binary to ship ([`ground::release_binary`]: `$AMPOULE_BIN`, else the one
/// ./run-tests builds beside this test; the test cannot build it itself while `cargo test` holds
/// the target directory's lock).
fn release_binary() -> Option<PathBuf> {
    Some(ground::release_binary())
}

fn git(args: &[&str]) -> String {
    run(Command::new("git")
        .arg("-C")
        .arg(&ground().repo)
        .args(args)
        .env("TZ", "UTC"))
    .trim()
    .to_string()
}

/// Runs tests/image/build and returns the last line of its stdout.
fn build(repo: &str, binary: Option<&Path>) -> String {
    let g = ground();
    let mut cmd = Command::new(g.repo.join("tests/image/build"));
    cmd.args(["--repo", repo])
        .env("OCI_REGISTRY", g.registry())
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("SOURCE_DATE_EPOCH");
    if let Some(binary) = binary {
        cmd.arg("--binary").arg(binary);
    }
    let out = run(&mut cmd);
    out.lines()
        .last()
        .unwrap_or_else(|| panic!("tests/image/build printed nothing on stdout"))
        .to_string()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A manifest (or index) as the registry serves it, checked against the digest it is pinned by.
fn manifest(reference: &str) -> Value {
    let raw = crane().args(["manifest", reference]).output().unwrap();
    assert!(
        raw.status.success(),
        "crane manifest {reference}: {}",
        String::from_utf8_lossy(&raw.stderr)
    );
    let digest = reference.rsplit_once('@').unwrap().1;
    assert_eq!(
        format!("sha256:{}", sha256_hex(&raw.stdout)),
        digest,
        "the registry's bytes for {reference} do not hash to its digest"
    );
    serde_json::from_slice(&raw.stdout).unwrap()
}

#[derive(Debug)]
struct TarEntry {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: u64,
    kind: u8,
    link: String,
}

fn octal(field: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(field);
    let digits = text.trim_matches(|c: char| c == '\0' || c == ' ');
    u64::from_str_radix(digits, 8).unwrap_or_else(|_| panic!("bad octal field {text:?}"))
}

fn c_string(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8(field[..end].to_vec()).unwrap()
}

/// The entries of a tar stream (ustar headers; crane export writes no others for this image).
fn tar_entries(tar: &[u8]) -> BTreeMap<String, TarEntry> {
    let mut entries = BTreeMap::new();
    let mut at = 0;
    while at + 512 <= tar.len() {
        let h = &tar[at..at + 512];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let kind = h[156];
        assert!(
            matches!(kind, b'0' | b'\0' | b'2' | b'5'),
            "unexpected tar entry type {:?} at {at}",
            kind as char
        );
        let (name, prefix) = (c_string(&h[0..100]), c_string(&h[345..500]));
        let path = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let size = usize::try_from(octal(&h[124..136])).unwrap();
        let entry = TarEntry {
            mode: u32::try_from(octal(&h[100..108])).unwrap(),
            uid: u32::try_from(octal(&h[108..116])).unwrap(),
            gid: u32::try_from(octal(&h[116..124])).unwrap(),
            mtime: octal(&h[136..148]),
            kind,
            link: c_string(&h[157..257]),
        };
        entries.insert(path.trim_end_matches('/').to_string(), entry);
        at += 512 + size.div_ceil(512) * 512;
    }
    entries
}

/// `/ampoule ARGS` inside the rootfs, chrooted, as 65532:65532, with only HOME and PATH set.
fn in_image(rootfs: &Path, args: &[&str]) -> String {
    run(Command::new("chroot")
        .env_clear()
        .env("HOME", "/home/nonroot")
        // the image's PATH (it also finds chroot here)
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .arg("--userspec=65532:65532")
        .arg(rootfs)
        .arg("/ampoule")
        .args(args))
}

#[test]
fn builds_a_reproducible_nonroot_image_that_runs_on_its_own() {
    let g = ground();
    let repo = format!("image-test-{}/ampoule", std::process::id());
    let binary = release_binary();
    eprintln!(
        "binary: {}",
        binary
            .as_deref()
            .map_or("built by tests/image/build".into(), |p| p
                .display()
                .to_string())
    );

    // The pinned reference of the index: HOST:PORT/REPO@sha256:<64 hex>.
    let pinned = build(&repo, binary.as_deref());
    let (name, index_digest) = pinned
        .split_once('@')
        .unwrap_or_else(|| panic!("last line {pinned:?} is not REF@DIGEST"));
    assert_eq!(name, format!("{}/{repo}", g.registry()), "{pinned}");
    let hex_digest = index_digest
        .strip_prefix("sha256:")
        .unwrap_or_else(|| panic!("{pinned}: not a sha256 digest"));
    assert!(
        hex_digest.len() == 64 && hex_digest.bytes().all(|b| b.is_ascii_hexdigit()),
        "{pinned}"
    );

    // The index: one linux/amd64 image manifest today, room for more platforms.
    let index = manifest(&pinned);
    assert_eq!(index["mediaType"], OCI_INDEX, "{index}");
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 1, "{index}");
    assert_eq!(manifests[0]["mediaType"], OCI_MANIFEST, "{index}");
    assert_eq!(
        manifests[0]["platform"],
        serde_json::json!({"os": "linux", "architecture": "amd64"}),
        "{index}"
    );
    let image = format!("{name}@{}", manifests[0]["digest"].as_str().unwrap());
    let image_manifest = manifest(&image);
    assert_eq!(image_manifest["mediaType"], OCI_MANIFEST);
    assert_eq!(image_manifest["config"]["mediaType"], OCI_CONFIG);
    let layers = image_manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2, "base and operator: {image_manifest}");
    assert!(layers.iter().all(|l| l["mediaType"] == OCI_LAYER));
    run(crane().args(["validate", "--remote", &image]));

    // The config: who and what runs, and the labels that say where it comes from.
    let config: Value = serde_json::from_str(&run(crane().args(["config", &image]))).unwrap();
    let revision = git(&["rev-parse", "HEAD"]);
    let created = git(&[
        "log",
        "-1",
        "--date=format-local:%Y-%m-%dT%H:%M:%SZ",
        "--format=%cd",
    ]);
    assert_eq!(config["os"], "linux");
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(config["created"], created.as_str(), "the commit's time");
    let run_config = &config["config"];
    assert_eq!(run_config["User"], "65532:65532");
    assert_eq!(run_config["Entrypoint"], serde_json::json!(["/ampoule"]));
    assert_eq!(run_config["Cmd"], serde_json::json!(["run"]));
    let labels = &run_config["Labels"];
    let label = |key: &str| {
        labels[key]
            .as_str()
            .unwrap_or_else(|| panic!("no label {key}: {labels}"))
            .to_string()
    };
    assert_eq!(label("org.opencontainers.image.revision"), revision);
    assert_eq!(label("org.opencontainers.image.created"), created);
    assert_eq!(label("org.opencontainers.image.title"), "ampoule");
    assert_eq!(label("org.opencontainers.image.licenses"), "Apache-2.0");
    assert_eq!(
        label("org.opencontainers.image.source"),
        "https://github.com/ampoule-dev/ampoule"
    );
    assert!(!label("org.opencontainers.image.version").is_empty());
    let packages = label("dev.ampoule.image.debian-packages");
    for package in ["libc6=", "libgcc-s1=", "ca-certificates="] {
        assert!(packages.contains(package), "{packages}");
    }
    assert_eq!(
        image_manifest["annotations"]["org.opencontainers.image.revision"],
        revision.as_str()
    );
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
    assert_eq!(config["history"].as_array().unwrap().len(), 2);

    // The filesystem: fixed times, root-owned but for the nonroot home, nothing extra.
    let work = std::env::temp_dir().join(format!("image-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let tar_path = work.join("rootfs.tar");
    run(crane().args(["export", &image]).arg(&tar_path));
    let tar = std::fs::read(&tar_path).unwrap();
    let entries = tar_entries(&tar);
    for (path, e) in &entries {
        assert_eq!(e.mtime, 0, "{path}: {e:?}");
        let nonroot = path == "home/nonroot";
        let owner = if nonroot { 65532 } else { 0 };
        assert_eq!((e.uid, e.gid), (owner, owner), "{path}: {e:?}");
        let top = path.split('/').next().unwrap();
        assert!(
            [
                "ampoule", "etc", "home", "lib", "lib64", "tmp", "usr", "var"
            ]
            .contains(&top),
            "unexpected {path} in the image"
        );
    }
    let entry = |path: &str| {
        entries
            .get(path)
            .unwrap_or_else(|| panic!("the image lacks /{path}: {:?}", entries.keys()))
    };
    assert_eq!(
        (entry("ampoule").kind, entry("ampoule").mode),
        (b'0', 0o755)
    );
    assert_eq!(
        (entry("home/nonroot").kind, entry("home/nonroot").mode),
        (b'5', 0o700)
    );
    assert_eq!((entry("tmp").kind, entry("tmp").mode), (b'5', 0o1777));
    let loader = entry("lib64/ld-linux-x86-64.so.2");
    assert!(
        loader.kind == b'0'
            || (loader.kind == b'2' && entries.contains_key(loader.link.trim_start_matches('/'))),
        "{loader:?}"
    );
    for path in [
        "etc/passwd",
        "etc/group",
        "etc/ssl/certs/ca-certificates.crt",
        "var/lib/dpkg/status.d/libc6",
        "usr/share/doc/libc6/copyright",
    ] {
        assert_eq!(entry(path).kind, b'0', "{path}");
    }

    // It runs from its own files only: chroot into the exported rootfs, as the image's user.
    let rootfs = work.join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    run(Command::new("tar")
        .args(["-x", "-p", "--numeric-owner", "-f"])
        .arg(&tar_path)
        .arg("-C")
        .arg(&rootfs));
    // What the script shipped (it builds into this test's target directory when given none).
    let shipped = binary.unwrap_or_else(|| target_dir().join("release/ampoule"));
    assert_eq!(
        sha256_hex(&std::fs::read(rootfs.join("ampoule")).unwrap()),
        sha256_hex(&std::fs::read(&shipped).unwrap()),
        "/ampoule is not {}",
        shipped.display()
    );
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap();
    assert!(passwd.contains("nonroot:x:65532:65532:"), "{passwd}");
    let uid = run(Command::new("id").arg("-u"));
    assert_eq!(
        uid.trim(),
        "0",
        "this test chroots into the image's rootfs, which needs root"
    );
    let version = in_image(&rootfs, &["--version"]);
    assert!(version.starts_with("ampoule "), "{version}");
    let crds = in_image(&rootfs, &["crd"]);
    assert!(crds.contains("kind: CustomResourceDefinition"), "{crds}");
    // The sandbox works in the image: compile a component into the nonroot user's cache.
    in_image(&rootfs, &["compile", "fake"]);
    let cache = rootfs.join("home/nonroot/.cache/ampoule/modules");
    assert!(
        std::fs::read_dir(&cache).is_ok_and(|mut d| d.next().is_some()),
        "`ampoule compile fake` left nothing in {}",
        cache.display()
    );

    // Reproducible: the same commit and binary give the same digest.
    let again = build(&repo, Some(&shipped));
    assert_eq!(again, pinned, "a second build pushed another digest");
    std::fs::remove_dir_all(&work).unwrap();
}
