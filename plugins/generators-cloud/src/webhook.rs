//! ESO's Webhook generator: one HTTP request built from Go templates, a JSON answer turned into
//! keys.
//!
//! - `url` is rendered with every template value query-escaped, `body` and `headers` with the
//!   raw values (ESO's two data sets); `method` defaults to GET.
//! - `secrets[]` offers Secrets to the templates as `.<name>.<key>`. The host resolves one key
//!   per credential, so the component requests each `.<name>.<key>` (or
//!   `index .<name> "<key>"`) that a template action names, plus `secretRef.key` when set.
//! - The answer must be JSON; `result.jsonPath` picks a value (see [`crate::jsonpath`]); a
//!   string result is decoded as JSON again; the result must be an object, whose members become
//!   the keys (strings as they are, other values as their JSON).
//! - 404 is not-found; any other non-2xx is "endpoint gave error <status>".
//! - Egress: the URL's origin (which must not be templated), the method, and the path up to
//!   its first template action.
//! - `caBundle` replaces the trusted roots. Not supported (refused): `auth.ntlm`, `caProvider`.
//!   `timeout` is not applied (the host's deadline bounds the call).

use std::collections::{BTreeMap, BTreeSet};

use ampoule_sdk::bindings::ampoule::host::credentials::SecretKeyRef;
use ampoule_sdk::http::Request;
use ampoule_sdk::{CredentialRequest, CredentialSource, EgressRule, ProviderError};
use ampoule_template::{Delims, Value as TValue};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use crate::Output;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    #[serde(default)]
    method: Option<String>,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    auth: Option<Value>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    timeout: Option<String>,
    #[serde(default)]
    result: WebhookResult,
    #[serde(default)]
    secrets: Vec<SecretEntry>,
    #[serde(default)]
    ca_bundle: Option<String>,
    #[serde(default)]
    ca_provider: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WebhookResult {
    #[serde(default)]
    json_path: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SecretEntry {
    name: String,
    secret_ref: LocalRef,
}

#[derive(Debug, Deserialize)]
struct LocalRef {
    #[serde(default)]
    name: String,
    #[serde(default)]
    key: Option<String>,
}

fn invalid(m: impl Into<String>) -> ProviderError {
    ProviderError::InvalidConfig(m.into())
}

impl Spec {
    pub fn parse(spec: &str) -> Result<Spec, ProviderError> {
        let spec: Spec = serde_json::from_str(spec)
            .map_err(|e| invalid(format!("failed to parse provider spec: {e}")))?;
        spec.check()?;
        Ok(spec)
    }

    fn check(&self) -> Result<(), ProviderError> {
        if self.auth.as_ref().is_some_and(|a| !a.is_null()) {
            return Err(invalid(
                "webhook auth (ntlm) is not supported by this component",
            ));
        }
        if self.ca_provider.as_ref().is_some_and(|c| !c.is_null()) {
            return Err(invalid(
                "webhook caProvider is not supported by this component; use caBundle",
            ));
        }
        let mut names = BTreeSet::new();
        for s in &self.secrets {
            if s.name.is_empty() || s.secret_ref.name.is_empty() {
                return Err(invalid("secrets[]: name and secretRef.name are required"));
            }
            if !names.insert(s.name.as_str()) {
                return Err(invalid(format!("secrets[]: name {:?} twice", s.name)));
            }
        }
        for (what, text) in self.templates() {
            ampoule_template::Template::parse(what, text, &Delims::default())
                .map_err(|e| invalid(format!("failed to parse {what}: {e}")))?;
        }
        self.egress()?;
        Ok(())
    }

    fn method(&self) -> String {
        match self.method.as_deref() {
            None | Some("") => "GET".to_owned(),
            Some(m) => m.to_ascii_uppercase(),
        }
    }

    fn templates(&self) -> Vec<(&str, &str)> {
        let mut out = vec![("url", self.url.as_str())];
        if let Some(b) = &self.body {
            out.push(("body", b.as_str()));
        }
        for (k, v) in &self.headers {
            out.push((k.as_str(), v.as_str()));
        }
        out
    }

    /// The URL's origin (never templated) and the literal path prefix before any action.
    pub fn egress(&self) -> Result<Vec<EgressRule>, ProviderError> {
        let literal = self.url.split("{{").next().unwrap_or_default();
        let (_, after_scheme) = literal
            .split_once("://")
            .ok_or_else(|| invalid("url: the scheme and host must not be templated"))?;
        let Some(path_start) = after_scheme.find(['/', '?']) else {
            if literal.len() == self.url.len() {
                // "https://host" with no path at all.
                return self.rule(&self.url, "/");
            }
            return Err(invalid("url: the host must not be templated"));
        };
        let origin_len = literal.len() - after_scheme.len() + path_start;
        let origin = &literal[..origin_len];
        let rest = &literal[origin_len..];
        let path = rest.split(['?', '#']).next().unwrap_or_default();
        // An action inside the path: allow up to the last '/' before it. An action in the query
        // (or none): the path is complete.
        let templated_path = literal.len() < self.url.len() && path.len() == rest.len();
        let prefix = if templated_path {
            match path.rfind('/') {
                Some(i) => &path[..=i],
                None => "/",
            }
        } else {
            path
        };
        let prefix = if prefix.is_empty() { "/" } else { prefix };
        self.rule(origin, prefix)
    }

    fn rule(&self, origin: &str, prefix: &str) -> Result<Vec<EgressRule>, ProviderError> {
        let (scheme, host, ports) = ampoule_plugin_common::endpoint_parts(origin)
            .ok_or_else(|| invalid("url: not an http(s) URL with a host"))?;
        Ok(vec![EgressRule {
            schemes: vec![scheme],
            host,
            ports,
            methods: vec![self.method()],
            path_prefixes: if prefix == "/" {
                Vec::new()
            } else {
                vec![prefix.to_owned()]
            },
        }])
    }

    /// (entry name, key) of every Secret key the templates can read.
    fn wanted_keys(&self) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        let actions: Vec<&str> = self
            .templates()
            .into_iter()
            .flat_map(|(_, t)| t.split("{{").skip(1).filter_map(|a| a.split("}}").next()))
            .collect();
        for s in &self.secrets {
            if let Some(k) = s.secret_ref.key.as_deref().filter(|k| !k.is_empty()) {
                out.insert((s.name.clone(), k.to_owned()));
            }
            let dotted = format!(".{}.", s.name);
            let indexed = format!(".{} \"", s.name);
            for action in &actions {
                for (i, _) in action.match_indices(&dotted) {
                    let rest = &action[i + dotted.len()..];
                    let end = rest
                        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .unwrap_or(rest.len());
                    if end > 0 {
                        out.insert((s.name.clone(), rest[..end].to_owned()));
                    }
                }
                for (i, _) in action.match_indices(&indexed) {
                    if let Some(key) = action[i + indexed.len()..].split('"').next() {
                        out.insert((s.name.clone(), key.to_owned()));
                    }
                }
            }
        }
        out
    }

    pub fn credentials(&self) -> Vec<CredentialRequest> {
        self.wanted_keys()
            .into_iter()
            .filter_map(|(entry, key)| {
                let s = self.secrets.iter().find(|s| s.name == entry)?;
                Some(CredentialRequest {
                    name: cred_name(&entry, &key),
                    source: CredentialSource::SecretKey(SecretKeyRef {
                        name: s.secret_ref.name.clone(),
                        key,
                        namespace: None,
                    }),
                })
            })
            .collect()
    }

    pub fn generate(&self) -> Result<Output, ProviderError> {
        if let Some(ca) = self.ca_bundle.as_deref().filter(|c| !c.is_empty()) {
            let pem = base64::engine::general_purpose::STANDARD
                .decode(ca)
                .map_err(|_| invalid("caBundle is not base64"))?;
            ampoule_sdk::tls::set_trust(&pem)?;
        }
        let mut raw: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut secrets = Vec::new();
        for (entry, key) in self.wanted_keys() {
            let bytes = ampoule_sdk::credential(&cred_name(&entry, &key))?;
            let value = String::from_utf8_lossy(&bytes).into_owned();
            secrets.push(value.clone());
            raw.entry(entry).or_default().insert(key, value);
        }
        for s in &self.secrets {
            raw.entry(s.name.clone()).or_default();
        }
        let scrub = |e: ProviderError| crate::scrub(e, &secrets);
        let escaped: BTreeMap<String, BTreeMap<String, String>> = raw
            .iter()
            .map(|(n, m)| {
                let m = m
                    .iter()
                    .map(|(k, v)| (k.clone(), query_escape(v)))
                    .collect();
                (n.clone(), m)
            })
            .collect();
        let env = crate::template_env()?;
        let render = |what: &str, text: &str, data: &BTreeMap<String, BTreeMap<String, String>>| {
            let data = TValue::map(
                data.iter()
                    .map(|(n, m)| (n.clone(), TValue::string_map(m.clone())))
                    .collect(),
            );
            ampoule_template::render(what, text, &data, &env, &Delims::default())
                .map_err(|e| invalid(format!("failed to parse {what}: {e}")))
        };
        let url = render("url", &self.url, &escaped).map_err(scrub)?;
        let body = match &self.body {
            Some(b) => render("body", b, &raw).map_err(scrub)?,
            None => String::new(),
        };
        let mut req = Request::new(&self.method(), &url).body(body.into_bytes());
        for (k, v) in &self.headers {
            let value = render(k, v, &raw).map_err(scrub)?;
            req = req.header(k, &value);
        }
        let resp = req.send().map_err(|e| scrub(ProviderError::from(e)))?;
        match resp.status {
            404 => return Err(ProviderError::NotFound("the webhook answered 404".into())),
            s if !(200..300).contains(&s) => {
                return Err(ampoule_sdk::errors::from_status(
                    s,
                    resp.retry_after(),
                    "endpoint gave error",
                ));
            }
            _ => {}
        }
        result_map(
            &resp.body,
            self.result.json_path.as_deref().filter(|p| !p.is_empty()),
        )
        .map_err(|m| scrub(ProviderError::Internal(m)))
    }
}

fn cred_name(entry: &str, key: &str) -> String {
    format!("webhook-secret/{entry}/{key}")
}

/// ESO's answer handling: JSON, the jsonPath, a string decoded again, an object's members.
pub fn result_map(body: &[u8], json_path: Option<&str>) -> Result<Output, String> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| format!("failed to parse response json: {e}"))?;
    let mut picked = match json_path {
        Some(p) => crate::jsonpath::get(p, &doc)
            .map_err(|e| format!("failed to get response path {p}: {e}"))?
            .clone(),
        None => doc,
    };
    if let Value::String(s) = &picked {
        picked = serde_json::from_str(s)
            .map_err(|e| format!("failed to parse response json from jsonpath: {e}"))?;
    }
    let Value::Object(map) = picked else {
        return Err("failed to get response (not a JSON object)".into());
    };
    Ok(map
        .iter()
        .map(|(k, v)| (k.clone(), ampoule_plugin_common::gojson::byte_value(v)))
        .collect())
}

/// Go's `url.QueryEscape`: unreserved bytes kept, space as `+`, the rest percent-encoded.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b' ' => out.push('+'),
            b if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') => {
                out.push(char::from(b));
            }
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: Value) -> Spec {
        Spec::parse(&v.to_string()).unwrap()
    }

    #[test]
    fn egress_is_the_origin_method_and_literal_path() {
        let s = spec(
            json!({"url": "http://127.0.0.1:8080/api/v1/{{ .auth.token }}?x=1",
            "method": "post", "result": {}}),
        );
        let r = &s.egress().unwrap()[0];
        assert_eq!(
            (r.host.as_str(), r.ports.as_slice()),
            ("127.0.0.1", &[8080][..])
        );
        assert_eq!(r.methods, ["POST"]);
        assert_eq!(r.path_prefixes, ["/api/v1/"]);
        let s = spec(json!({"url": "https://h.example/a/b?q={{ .x.y }}", "result": {}}));
        assert_eq!(s.egress().unwrap()[0].path_prefixes, ["/a/b"]);
        let s = spec(json!({"url": "https://h.example/a/b", "result": {}}));
        assert_eq!(s.egress().unwrap()[0].path_prefixes, ["/a/b"]);
        assert_eq!(s.egress().unwrap()[0].methods, ["GET"]);
        for bad in [
            "https://{{ .h.x }}/a",
            "{{ .u.x }}",
            "ftp://h/x",
            "https://h{{ .p.x }}/",
        ] {
            assert!(
                Spec::parse(&json!({"url": bad, "result": {}}).to_string()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn wanted_keys_come_from_actions_and_the_ref() {
        let s = spec(
            json!({"url": "http://h/{{ .creds.user }}", "body": "{{ index .creds \"pass-word\" }} .creds.notme",
            "headers": {"X": "{{ .other.tok | upper }}"}, "result": {},
            "secrets": [{"name": "creds", "secretRef": {"name": "s1"}},
                        {"name": "other", "secretRef": {"name": "s2", "key": "k"}}]}),
        );
        let keys: Vec<_> = s.wanted_keys().into_iter().collect();
        assert_eq!(
            keys,
            [
                ("creds".to_owned(), "pass-word".to_owned()),
                ("creds".to_owned(), "user".to_owned()),
                ("other".to_owned(), "k".to_owned()),
                ("other".to_owned(), "tok".to_owned()),
            ]
        );
    }

    #[test]
    fn results_like_eso() {
        let got = result_map(br#"{"a":"x","b":{"c":1}}"#, None).unwrap();
        assert_eq!(
            got,
            vec![
                ("a".into(), b"x".to_vec()),
                ("b".into(), br#"{"c":1}"#.to_vec())
            ]
        );
        let got = result_map(br#"{"data":"{\"k\":\"v\"}"}"#, Some("$.data")).unwrap();
        assert_eq!(got, vec![("k".into(), b"v".to_vec())]);
        assert!(result_map(b"[1]", None).is_err());
        assert!(result_map(b"nope", None).is_err());
        assert_eq!(query_escape("a b&c/d"), "a+b%26c%2Fd");
    }
}
