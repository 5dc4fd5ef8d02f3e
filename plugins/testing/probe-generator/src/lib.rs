//! A test generator (never shipped): kind `Probe` tries the HTTP GET `spec.url` and reports
//! what happened under key `outcome` (`denied`, `status <code>`, or `error <text>`). It
//! requests egress to that URL's origin only when `spec.request` is true. The sandbox tests use
//! it to show that a generator which asks for nothing gets nothing out, while the same request
//! goes through once it is asked for.

#[allow(unsafe_code, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit",
        world: "ampoule:provider/secret-generator",
        with: {
            "ampoule:host/log@0.1.0": ampoule_sdk::bindings::ampoule::host::log,
            "ampoule:host/credentials@0.1.0": ampoule_sdk::bindings::ampoule::host::credentials,
            "ampoule:host/cache@0.1.0": ampoule_sdk::bindings::ampoule::host::cache,
            "ampoule:host/tls@0.1.0": ampoule_sdk::bindings::ampoule::host::tls,
            "ampoule:provider/types@0.1.0": ampoule_sdk::bindings::ampoule::provider::types,
            "wasi:http/types@0.2.12": ampoule_sdk::bindings::wasi::http::types,
            "wasi:http/outgoing-handler@0.2.12": ampoule_sdk::bindings::wasi::http::outgoing_handler,
            "wasi:io/error@0.2.12": ampoule_sdk::bindings::wasi::io::error,
            "wasi:io/poll@0.2.12": ampoule_sdk::bindings::wasi::io::poll,
            "wasi:io/streams@0.2.12": ampoule_sdk::bindings::wasi::io::streams,
            "wasi:clocks/monotonic-clock@0.2.12": ampoule_sdk::bindings::wasi::clocks::monotonic_clock,
        },
    });
}

use ampoule_sdk::http::{HttpError, Request};
use ampoule_sdk::{CredentialRequest, EgressRule, ProviderError};
use bindings::exports::ampoule::provider::generator::{
    Generated, GeneratorContext, GeneratorInfo, Guest,
};

struct Probe;

impl Guest for Probe {
    fn describe() -> GeneratorInfo {
        GeneratorInfo {
            kinds: vec!["Probe".into()],
            version: "0".into(),
            spec_schemas: Vec::new(),
        }
    }
    fn validate_spec(_kind: String, _spec: String) -> Result<Vec<String>, ProviderError> {
        Ok(Vec::new())
    }
    fn requested_egress(
        _kind: String,
        spec: String,
        _settings: String,
    ) -> Result<Vec<EgressRule>, ProviderError> {
        let spec: serde_json::Value =
            serde_json::from_str(&spec).map_err(|e| ProviderError::InvalidConfig(e.to_string()))?;
        if spec["request"] != serde_json::Value::Bool(true) {
            return Ok(Vec::new());
        }
        let url = spec["url"].as_str().unwrap_or_default();
        let Some((scheme, host, ports)) = ampoule_plugin_common::endpoint_parts(url) else {
            return Err(ProviderError::InvalidConfig(format!("bad url {url}")));
        };
        Ok(vec![EgressRule {
            schemes: vec![scheme],
            host,
            ports,
            methods: vec!["GET".into()],
            path_prefixes: Vec::new(),
        }])
    }
    fn requested_credentials(
        _kind: String,
        _spec: String,
    ) -> Result<Vec<CredentialRequest>, ProviderError> {
        Ok(Vec::new())
    }
    fn generate(
        _kind: String,
        spec: String,
        _ctx: GeneratorContext,
    ) -> Result<Generated, ProviderError> {
        let spec: serde_json::Value =
            serde_json::from_str(&spec).map_err(|e| ProviderError::InvalidConfig(e.to_string()))?;
        let url = spec["url"].as_str().unwrap_or_default();
        let outcome = match Request::get(url).send() {
            Ok(r) => format!("status {}", r.status),
            Err(HttpError::Denied) => "denied".to_owned(),
            Err(e) => format!("error {e:?}"),
        };
        Ok(Generated {
            data: vec![("outcome".into(), outcome.into_bytes())],
            state: None,
        })
    }
    fn cleanup(
        _kind: String,
        _spec: String,
        _state: String,
        _ctx: GeneratorContext,
    ) -> Result<(), ProviderError> {
        Ok(())
    }
}

#[allow(unsafe_code)]
mod export {
    use super::{Probe, bindings};
    bindings::export!(Probe with_types_in bindings);
}
