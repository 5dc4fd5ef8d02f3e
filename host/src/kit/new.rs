//! `ampoule plugin new --lang LANG NAME [DIR]`: a provider project from the embedded template
//! of LANG, with the WIT it targets and the language's SDK vendored at the paths the template
//! references.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{KitError, Lang, embedded};

/// What `new` wrote.
#[derive(Debug)]
pub struct Created {
    pub dir: PathBuf,
    pub files: usize,
}

/// Whether `name` is a DNS label: what a provider key under `spec.provider` should be.
pub fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && !name.ends_with('-')
}

/// The languages whose template this binary embeds.
pub fn available() -> Vec<Lang> {
    [Lang::Rust, Lang::Js, Lang::Python]
        .into_iter()
        .filter(|l| embedded::under(&template_root(*l)).next().is_some())
        .collect()
}

fn template_root(lang: Lang) -> String {
    format!("plugins/kit/{}", lang.dir())
}

/// Creates the project for `name` in `dir` (which must not exist or be empty).
pub fn create(lang: Lang, name: &str, dir: &Path) -> Result<Created, KitError> {
    if !valid_name(name) {
        return Err(KitError::BadName(name.to_owned()));
    }
    let files = project_files(lang, name)?;
    if let Ok(mut entries) = std::fs::read_dir(dir)
        && entries.next().is_some()
    {
        return Err(KitError::DirNotEmpty(dir.to_path_buf()));
    }
    if dir.is_file() {
        return Err(KitError::DirNotEmpty(dir.to_path_buf()));
    }
    for (rel, bytes) in &files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| KitError::Write {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(&path, bytes).map_err(|source| KitError::Write { path, source })?;
    }
    Ok(Created {
        dir: dir.to_path_buf(),
        files: files.len(),
    })
}

/// Every file of the project, by path relative to its directory.
pub fn project_files(lang: Lang, name: &str) -> Result<BTreeMap<String, Vec<u8>>, KitError> {
    let root = template_root(lang);
    let mut out = BTreeMap::new();
    for (rel, bytes) in embedded::under(&root) {
        out.insert(substitute(rel, name), substitute_bytes(bytes, name));
    }
    if out.is_empty() {
        let have: Vec<&str> = available().into_iter().map(Lang::dir).collect();
        return Err(KitError::NoTemplate(lang.dir(), have.join(", ")));
    }
    for (rel, bytes) in embedded::under("wit") {
        out.insert(format!("wit/{rel}"), bytes.to_vec());
    }
    match lang {
        Lang::Rust => {
            for (rel, bytes) in embedded::under("plugins/sdk") {
                let bytes = if rel == "Cargo.toml" {
                    standalone_sdk_manifest(bytes)?.into_bytes()
                } else {
                    bytes.to_vec()
                };
                out.insert(format!("vendor/ampoule-sdk/{rel}"), bytes);
            }
        }
        Lang::Js => {
            for (rel, bytes) in embedded::under("plugins/sdk-js") {
                out.insert(format!("vendor/ampoule-sdk/{rel}"), bytes.to_vec());
            }
        }
        Lang::Python => {
            for (rel, bytes) in embedded::under("plugins/sdk-py/ampoule_sdk") {
                out.insert(format!("ampoule_sdk/{rel}"), bytes.to_vec());
            }
        }
    }
    Ok(out)
}

fn substitute(text: &str, name: &str) -> String {
    text.replace("{{name_snake}}", &name.replace('-', "_"))
        .replace("{{name}}", name)
}

/// Text files get the placeholders replaced; anything not UTF-8 is copied as is.
fn substitute_bytes(bytes: &[u8], name: &str) -> Vec<u8> {
    match std::str::from_utf8(bytes) {
        Ok(text) => substitute(text, name).into_bytes(),
        Err(_) => bytes.to_vec(),
    }
}

/// plugins/sdk/Cargo.toml with every `x.workspace = true` replaced by the value plugins/Cargo.toml
/// gives `x` and the workspace `[lints]` dropped: a manifest that builds outside the repository.
pub fn standalone_sdk_manifest(manifest: &[u8]) -> Result<String, KitError> {
    let bad = |why: String| KitError::Manifest(format!("vendoring plugins/sdk/Cargo.toml: {why}"));
    let manifest = std::str::from_utf8(manifest).map_err(|e| bad(e.to_string()))?;
    let workspace = embedded::file("plugins/Cargo.toml")
        .and_then(|b| std::str::from_utf8(b).ok())
        .ok_or_else(|| bad("plugins/Cargo.toml is not embedded".into()))?;
    let values = workspace_values(workspace);
    let mut out = String::new();
    let mut section = String::new();
    for line in manifest.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed.to_owned();
            if section == "[lints]" {
                continue;
            }
        }
        if section == "[lints]" {
            continue;
        }
        if let Some((key, value)) = trimmed.split_once('=')
            && let Some(field) = key.trim().strip_suffix(".workspace")
            && value.trim() == "true"
        {
            let value = values
                .get(field)
                .ok_or_else(|| bad(format!("no workspace value for {field}")))?;
            out.push_str(&format!("{field} = {value}\n"));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    Ok(out)
}

/// `key = value` lines of `[workspace.package]` and `[workspace.dependencies]`.
fn workspace_values(manifest: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut section = "";
    for line in manifest.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed;
            continue;
        }
        if (section == "[workspace.package]" || section == "[workspace.dependencies]")
            && !trimmed.starts_with('#')
            && let Some((key, value)) = trimmed.split_once('=')
        {
            out.insert(key.trim().to_owned(), value.trim().to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels() {
        for good in ["acme-kv", "a", "kv2", "x-1-y"] {
            assert!(valid_name(good), "{good}");
        }
        let long = "a".repeat(64);
        for bad in [
            "",
            "Acme",
            "1kv",
            "-kv",
            "kv-",
            "a_b",
            "a.b",
            "a/b",
            long.as_str(),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_rust_project_is_standalone() {
        let files = project_files(Lang::Rust, "acme-kv").unwrap();
        let manifest = String::from_utf8(files["vendor/ampoule-sdk/Cargo.toml"].clone()).unwrap();
        assert!(!manifest.contains("workspace"), "{manifest}");
        assert!(manifest.contains("wit-bindgen = {"), "{manifest}");
        assert!(manifest.contains("edition = \"2024\""), "{manifest}");
        let project = String::from_utf8(files["Cargo.toml"].clone()).unwrap();
        assert!(project.contains("name = \"acme-kv\""), "{project}");
        assert!(project.contains("name = \"acme_kv\""), "{project}");
        assert!(
            project.contains("path = \"vendor/ampoule-sdk\""),
            "{project}"
        );
        assert!(files.contains_key("wit/provider.wit"));
        assert!(files.contains_key("wit/deps/ampoule-host/host.wit"));
        assert!(files.contains_key("vendor/ampoule-sdk/src/lib.rs"));
        assert!(
            files.iter().all(|(path, bytes)| !path.contains("{{")
                && !String::from_utf8_lossy(bytes).contains("{{name")),
            "a placeholder was left"
        );
    }

    #[test]
    fn refuses_bad_names_and_used_directories() {
        let dir = tempfile::tempdir().unwrap();
        let err = create(Lang::Rust, "Bad_Name", &dir.path().join("x")).unwrap_err();
        assert_eq!(err.category(), "bad_name");
        std::fs::write(dir.path().join("keep"), b"").unwrap();
        let err = create(Lang::Rust, "acme-kv", dir.path()).unwrap_err();
        assert_eq!(err.category(), "dir_not_empty");
        assert!(std::fs::read(dir.path().join("keep")).is_ok());
        let made = create(Lang::Rust, "acme-kv", &dir.path().join("acme-kv")).unwrap();
        assert!(made.files > 10);
        assert!(dir.path().join("acme-kv/src/lib.rs").is_file());
    }
}
