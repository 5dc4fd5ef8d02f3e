//! A hostile provider for the sandbox tests. `get-secret` interprets `key` as a command:
//! `loop`, `oom`, `trap`, `http URL`, `post URL`, `file PATH`, `socket ADDR`, `env`, `spam`,
//! `log`, `cache-set K V`, `cache-get K`, `cred NAME`, `echo TEXT`. The config's `egress` list is
//! returned by `requested-egress`, `credentials` by `requested-credentials`.

use ampoule_sdk::http::Request;
use ampoule_sdk::{
    Capabilities, Client, CredentialRequest, CredentialSource, EgressRule, FindQuery, Guest,
    GuestClient, ProviderError, ProviderInfo, PushRequest, SecretMap, SecretRef, StoreContext,
    Validation,
};
use serde::Deserialize;

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Config {
    #[serde(default)]
    egress: Vec<Rule>,
    #[serde(default)]
    credentials: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    #[serde(default)]
    schemes: Vec<String>,
    host: String,
    #[serde(default)]
    ports: Vec<u16>,
    #[serde(default)]
    methods: Vec<String>,
    #[serde(default)]
    path_prefixes: Vec<String>,
}

fn config(text: &str) -> Result<Config, ProviderError> {
    serde_json::from_str(text).map_err(|e| ProviderError::InvalidConfig(e.to_string()))
}

struct Hostile;

impl Guest for Hostile {
    type Client = HostileClient;

    fn describe() -> ProviderInfo {
        ProviderInfo {
            name: "hostile".into(),
            version: "0".into(),
            capabilities: Capabilities::READ,
            config_schema: None,
        }
    }
    fn validate_config(text: String) -> Result<Vec<String>, ProviderError> {
        config(&text).map(|_| Vec::new())
    }
    fn requested_egress(text: String, _settings: String) -> Result<Vec<EgressRule>, ProviderError> {
        Ok(config(&text)?
            .egress
            .into_iter()
            .map(|r| EgressRule {
                schemes: r.schemes,
                host: r.host,
                ports: r.ports,
                methods: r.methods,
                path_prefixes: r.path_prefixes,
            })
            .collect())
    }
    fn requested_credentials(text: String) -> Result<Vec<CredentialRequest>, ProviderError> {
        Ok(config(&text)?
            .credentials
            .into_iter()
            .map(|name| CredentialRequest {
                source: CredentialSource::SecretKey(
                    ampoule_sdk::bindings::ampoule::host::credentials::SecretKeyRef {
                        name: name.clone(),
                        key: "value".into(),
                        namespace: None,
                    },
                ),
                name,
            })
            .collect())
    }
}

struct HostileClient;

fn internal(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::Internal(e.to_string())
}

#[inline(never)]
fn spin(mut n: u64) -> u64 {
    loop {
        n = n
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        if n == 42 {
            return n;
        }
    }
}

fn run(command: &str) -> Result<Vec<u8>, ProviderError> {
    let (verb, arg) = command.split_once(' ').unwrap_or((command, ""));
    match verb {
        "loop" => Ok(spin(arg.len() as u64).to_le_bytes().to_vec()),
        "oom" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![7u8; 8 << 20]);
                if hoard.len() > 1 << 20 {
                    return Ok(Vec::new());
                }
            }
        }
        "trap" => std::process::abort(),
        "http" => {
            let resp = Request::get(arg)
                .send()
                .map_err(|e| ProviderError::Unavailable(format!("{e:?}")))?;
            let mut out = format!("{} ", resp.status).into_bytes();
            out.extend(resp.body);
            Ok(out)
        }
        "post" => {
            let resp = Request::new("POST", arg)
                .body(b"hello".to_vec())
                .send()
                .map_err(|e| ProviderError::Unavailable(format!("{e:?}")))?;
            Ok(format!("{}", resp.status).into_bytes())
        }
        "file" => std::fs::read(arg).map_err(internal),
        "socket" => std::net::TcpStream::connect(arg)
            .map(|_| b"connected".to_vec())
            .map_err(internal),
        "env" => Ok(format!(
            "{:?} {:?}",
            std::env::vars().collect::<Vec<_>>(),
            std::env::args().collect::<Vec<_>>()
        )
        .into_bytes()),
        "spam" => {
            for i in 0..100_000 {
                println!("line {i} of a lot of output");
            }
            Ok(b"done".to_vec())
        }
        "log" => {
            ampoule_sdk::log::info(arg);
            Ok(Vec::new())
        }
        "cache-set" => {
            let (k, v) = arg.split_once(' ').unwrap_or((arg, ""));
            ampoule_sdk::cache::set(k, v.as_bytes(), 60).map_err(ProviderError::Internal)?;
            Ok(Vec::new())
        }
        "cache-get" => {
            ampoule_sdk::cache::get(arg).ok_or_else(|| ProviderError::NotFound(arg.into()))
        }
        "cred" => ampoule_sdk::credential(arg),
        "echo" => Ok(arg.as_bytes().to_vec()),
        "missing" => Err(ProviderError::NotFound(arg.into())),
        _ => Err(ProviderError::InvalidConfig(format!(
            "unknown command {verb}"
        ))),
    }
}

impl GuestClient for HostileClient {
    fn open(text: String, _ctx: StoreContext) -> Result<Client, ProviderError> {
        config(&text)?;
        Ok(Client::new(HostileClient))
    }
    fn validate(&self) -> Result<Validation, ProviderError> {
        Ok(Validation::Unknown)
    }
    fn get_secret(&self, secret: SecretRef) -> Result<Vec<u8>, ProviderError> {
        run(&secret.key)
    }
    fn get_secret_map(&self, secret: SecretRef) -> Result<SecretMap, ProviderError> {
        Ok(vec![(secret.key.clone(), run(&secret.key)?)])
    }
    fn get_all_secrets(&self, _query: FindQuery) -> Result<SecretMap, ProviderError> {
        Ok(Vec::new())
    }
    fn push_secret(&self, _req: PushRequest) -> Result<(), ProviderError> {
        Err(ProviderError::Forbidden("read only".into()))
    }
    fn delete_secret(&self, _key: String, _property: Option<String>) -> Result<(), ProviderError> {
        Err(ProviderError::Forbidden("read only".into()))
    }
    fn secret_exists(
        &self,
        _key: String,
        _property: Option<String>,
    ) -> Result<bool, ProviderError> {
        Ok(false)
    }
}

ampoule_sdk::export!(Hostile with_types_in ampoule_sdk::bindings);
