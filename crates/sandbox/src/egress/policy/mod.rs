//! The egress decision — the ONE place it is made (docs/architecture.md#egress).
//!
//! Effective grant = what the plugin requests for this config ∩ the ProviderClass ceiling ∩ the
//! store's `spec.sandbox` (when it has one): a request is allowed only when a rule of EVERY layer
//! matches it. Order: parse + normalise the URL → scheme/host/port/method/path-prefix rules →
//! header rules → (budgets, in `http.rs`) → after DNS: [`EgressPolicy::vet_address`].

mod net;
#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::time::Duration;

pub use net::{NetClass, classify};

use crate::config::{
    AllowRule, ConfigError, LimitsSpec, PrivateNetworks, SandboxSpec, parse_duration,
};

/// Headers a plugin may never set (hop-by-hop, proxy, host, and forwarding headers).
pub const FORBIDDEN_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "host",
    "http2-settings",
    "te",
    "trailer",
    "expect",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
];
const MAX_HEADERS: usize = 100;
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// One rule, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub schemes: Vec<String>,
    pub host: HostPattern,
    pub ports: Vec<u16>,
    pub methods: Vec<String>,
    pub path_prefixes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    Any,
    Exact(String),
    /// `*.example.com` → matches `a.example.com`, not `example.com`. Stored as `.example.com`.
    Suffix(String),
    Ip(IpAddr),
}

impl HostPattern {
    fn parse(text: &str) -> HostPattern {
        let host = normalise_host(text);
        if host == "*" {
            HostPattern::Any
        } else if let Some(rest) = host.strip_prefix("*.") {
            HostPattern::Suffix(format!(".{rest}"))
        } else if let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            HostPattern::Ip(ip)
        } else {
            HostPattern::Exact(host)
        }
    }

    fn matches(&self, host: &Host) -> bool {
        match (self, host) {
            (HostPattern::Any, _) => true,
            (HostPattern::Ip(ip), Host::Ip(h)) => ip == h,
            (HostPattern::Exact(name), Host::Name(h)) => name == h,
            (HostPattern::Suffix(suffix), Host::Name(h)) => {
                h.ends_with(suffix.as_str()) && h.len() > suffix.len()
            }
            _ => false,
        }
    }
}

impl Rule {
    pub fn from_allow(rule: &AllowRule) -> Rule {
        Rule {
            schemes: rule
                .schemes
                .iter()
                .map(|s| s.to_ascii_lowercase())
                .collect(),
            host: HostPattern::parse(&rule.host),
            ports: rule.ports.clone(),
            methods: rule
                .methods
                .iter()
                .map(|m| m.to_ascii_uppercase())
                .collect(),
            path_prefixes: rule.path_prefixes.clone(),
        }
    }

    /// Any host, any port, any method, any path: the built-in ceiling without a ProviderClass.
    pub fn any() -> Rule {
        Rule {
            schemes: Vec::new(),
            host: HostPattern::Any,
            ports: Vec::new(),
            methods: Vec::new(),
            path_prefixes: Vec::new(),
        }
    }

    fn matches(&self, t: &Target, method: &str) -> bool {
        let scheme_ok = if self.schemes.is_empty() {
            t.scheme == "https" || t.scheme == "http"
        } else {
            self.schemes.contains(&t.scheme)
        };
        let port_ok = if self.ports.is_empty() {
            self.host == HostPattern::Any || t.port == default_port(&t.scheme)
        } else {
            self.ports.contains(&t.port)
        };
        scheme_ok
            && port_ok
            && self.host.matches(&t.host)
            && (self.methods.is_empty() || self.methods.iter().any(|m| m == method))
            && (self.path_prefixes.is_empty()
                || self
                    .path_prefixes
                    .iter()
                    .any(|p| path_has_prefix(&t.path, p)))
    }

    /// Human-readable form for status and error messages.
    pub fn describe(&self) -> String {
        let schemes = if self.schemes.is_empty() {
            "http(s)".to_owned()
        } else {
            self.schemes.join("|")
        };
        let host = match &self.host {
            HostPattern::Any => "*".to_owned(),
            HostPattern::Exact(h) => h.clone(),
            HostPattern::Suffix(s) => format!("*{s}"),
            HostPattern::Ip(IpAddr::V6(ip)) => format!("[{ip}]"),
            HostPattern::Ip(ip) => ip.to_string(),
        };
        let ports = if self.ports.is_empty() {
            String::new()
        } else {
            format!(
                ":{}",
                self.ports
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join("|")
            )
        };
        let methods = if self.methods.is_empty() {
            "*".to_owned()
        } else {
            self.methods.join("|")
        };
        let paths = if self.path_prefixes.is_empty() {
            "/".to_owned()
        } else {
            self.path_prefixes.join("|")
        };
        format!("{methods} {schemes}://{host}{ports}{paths}")
    }
}

fn path_has_prefix(path: &str, prefix: &str) -> bool {
    if prefix.ends_with('/') {
        path.starts_with(prefix)
    } else {
        path == prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

fn default_port(scheme: &str) -> u16 {
    if scheme == "http" { 80 } else { 443 }
}

fn normalise_host(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// A destination host after parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Name(String),
    Ip(IpAddr),
}

/// A request that passed the URL, rule and header checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub scheme: String,
    pub host: Host,
    pub port: u16,
    pub path: String,
}

/// Why a request was refused. `category()` is a bounded metric label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    #[error("malformed URL: {0}")]
    BadUrl(String),
    #[error(
        "{0} is not granted to this store (granted: {1}); allow it in the ProviderClass ceiling and the store's spec.sandbox, and make sure the provider config requests it"
    )]
    NotGranted(String, String),
    #[error("header {0:?} may not be set by a plugin")]
    ForbiddenHeader(String),
    #[error("request headers exceed {MAX_HEADERS} fields or {MAX_HEADER_BYTES} bytes")]
    HeadersTooLarge,
    #[error(
        "{host} resolves to {ip}, a {class} address; set sandbox.egress.privateNetworks: Allow in the ProviderClass to reach private networks (link-local/metadata addresses must be listed explicitly)"
    )]
    Address {
        host: String,
        ip: IpAddr,
        class: &'static str,
    },
    #[error("request budget of {0} requests per opened client exhausted")]
    RequestBudget(u32),
    #[error("request body larger than {0} bytes")]
    RequestTooLarge(u64),
}

impl Denial {
    pub fn category(&self) -> &'static str {
        match self {
            Denial::BadUrl(_) => "bad_url",
            Denial::NotGranted(..) => "not_granted",
            Denial::ForbiddenHeader(_) | Denial::HeadersTooLarge => "header",
            Denial::Address { .. } => "address",
            Denial::RequestBudget(_) => "budget",
            Denial::RequestTooLarge(_) => "request_too_large",
        }
    }
}

/// Effective limits of one store (ceiling ∩ store).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub memory_bytes: u64,
    pub timeout: Duration,
    pub requests: u32,
    pub response_bytes: u64,
    /// Sum of the response bytes of one opened client (its open and every call on it).
    pub total_bytes: u64,
    pub request_bytes: u64,
    pub connect_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            timeout: Duration::from_secs(10),
            requests: 50,
            response_bytes: 4 << 20,
            total_bytes: 32 << 20,
            request_bytes: 1 << 20,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

impl Limits {
    /// Narrows `self` by a spec (ceiling or store): each given value can only lower a limit.
    pub fn narrow(mut self, spec: &LimitsSpec) -> Result<Limits, ConfigError> {
        if let Some(m) = &spec.memory {
            self.memory_bytes = self.memory_bytes.min(m.bytes()?);
        }
        if let Some(t) = &spec.timeout {
            self.timeout = self.timeout.min(parse_duration(t)?);
        }
        if let Some(r) = spec.requests {
            self.requests = self.requests.min(r);
        }
        if let Some(b) = &spec.response_bytes {
            self.response_bytes = self.response_bytes.min(b.bytes()?);
            self.total_bytes = self.total_bytes.min(self.response_bytes.saturating_mul(8));
        }
        self.connect_timeout = self.connect_timeout.min(self.timeout);
        Ok(self)
    }

    /// A ceiling's limits: defaults raised or lowered by the ceiling (the admin sets them).
    pub fn from_ceiling(spec: &LimitsSpec) -> Result<Limits, ConfigError> {
        let mut l = Limits::default();
        if let Some(m) = &spec.memory {
            l.memory_bytes = m.bytes()?;
        }
        if let Some(t) = &spec.timeout {
            l.timeout = parse_duration(t)?;
        }
        if let Some(r) = spec.requests {
            l.requests = r;
        }
        if let Some(b) = &spec.response_bytes {
            l.response_bytes = b.bytes()?;
            l.total_bytes = l.response_bytes.saturating_mul(8);
        }
        l.connect_timeout = l.connect_timeout.min(l.timeout);
        Ok(l)
    }
}

/// The effective egress policy of one store for one plugin digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressPolicy {
    pub requested: Vec<Rule>,
    pub ceiling: Vec<Rule>,
    pub store: Option<Vec<Rule>>,
    pub private_networks: bool,
    /// Link-local IPs (metadata) that a ceiling rule names explicitly.
    explicit_link_local: Vec<IpAddr>,
    pub limits: Limits,
}

impl EgressPolicy {
    /// Nothing leaves: no requested rule, under the built-in ceiling and limits. What an instance
    /// gets before its config has asked for egress (`describe`, templates).
    pub fn deny_all() -> Self {
        EgressPolicy {
            requested: Vec::new(),
            ceiling: vec![Rule::any()],
            store: None,
            private_networks: false,
            explicit_link_local: Vec::new(),
            limits: Limits::default(),
        }
    }

    /// `ceiling = None` → the built-in ceiling: any public host the plugin requests.
    pub fn new(
        requested: Vec<Rule>,
        ceiling: Option<&SandboxSpec>,
        store: Option<&SandboxSpec>,
    ) -> Result<Self, ConfigError> {
        let (ceiling_rules, private, limits) = match ceiling {
            None => (vec![Rule::any()], false, Limits::default()),
            Some(c) => {
                let egress = c.egress.clone().unwrap_or_default();
                let private = egress.private_networks == Some(PrivateNetworks::Allow);
                // A class without `allow` rules only sets private networks and limits: hosts stay
                // bounded by what the plugin requests (as with the built-in ceiling).
                let rules = if egress.allow.is_empty() {
                    vec![Rule::any()]
                } else {
                    egress.allow.iter().map(Rule::from_allow).collect()
                };
                (rules, private, Limits::from_ceiling(&c.limits)?)
            }
        };
        let mut limits = limits;
        let mut private_networks = private;
        let mut store_rules = None;
        if let Some(s) = store {
            limits = limits.narrow(&s.limits)?;
            if let Some(e) = &s.egress {
                if !e.allow.is_empty() {
                    store_rules = Some(e.allow.iter().map(Rule::from_allow).collect());
                }
                private_networks &= e.private_networks != Some(PrivateNetworks::Deny);
            }
        }
        let explicit_link_local = ceiling_rules
            .iter()
            .filter_map(|r| match r.host {
                HostPattern::Ip(ip) if classify(ip) == NetClass::LinkLocal => Some(ip),
                _ => None,
            })
            .collect();
        Ok(EgressPolicy {
            requested,
            ceiling: ceiling_rules,
            store: store_rules,
            private_networks,
            explicit_link_local,
            limits,
        })
    }

    /// The requested rules that some ceiling (and store) rule could serve, for status.
    pub fn granted(&self) -> Vec<String> {
        let overlaps = |r: &Rule, layer: &[Rule]| {
            layer.iter().any(|c| match (&c.host, &r.host) {
                (HostPattern::Any, _) => true,
                (a, b) => a == b || matches!((a, b), (HostPattern::Suffix(s), HostPattern::Exact(h)) if h.ends_with(s.as_str())),
            })
        };
        self.requested
            .iter()
            .filter(|r| {
                overlaps(r, &self.ceiling) && self.store.as_deref().is_none_or(|s| overlaps(r, s))
            })
            .map(Rule::describe)
            .collect()
    }

    /// URL, rules and headers. `uri` is the absolute request URI.
    pub fn check<'a>(
        &self,
        method: &str,
        uri: &http::Uri,
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Target, Denial> {
        let target = parse_target(uri)?;
        let method = method.to_ascii_uppercase();
        let layers = [
            Some(self.requested.as_slice()),
            Some(self.ceiling.as_slice()),
            self.store.as_deref(),
        ];
        for layer in layers.into_iter().flatten() {
            if !layer.iter().any(|r| r.matches(&target, &method)) {
                let host = match &target.host {
                    Host::Name(n) => n.clone(),
                    Host::Ip(IpAddr::V6(ip)) => format!("[{ip}]"),
                    Host::Ip(ip) => ip.to_string(),
                };
                let what = format!(
                    "{method} {}://{host}:{}{}",
                    target.scheme, target.port, target.path
                );
                return Err(Denial::NotGranted(what, self.granted().join(", ")));
            }
        }
        let (mut count, mut bytes) = (0usize, 0usize);
        for (name, value) in headers {
            let lower = name.to_ascii_lowercase();
            if FORBIDDEN_HEADERS.contains(&lower.as_str()) {
                return Err(Denial::ForbiddenHeader(lower));
            }
            count += 1;
            bytes += name.len() + value.len();
        }
        if count > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
            return Err(Denial::HeadersTooLarge);
        }
        Ok(target)
    }

    /// After DNS: may the host connect to `ip`?
    pub fn vet_address(&self, host: &Host, ip: IpAddr) -> Result<(), Denial> {
        let class = classify(ip);
        let allowed = match class {
            NetClass::Public => true,
            NetClass::Private | NetClass::Loopback => self.private_networks,
            NetClass::LinkLocal => self.explicit_link_local.contains(&ip) && *host == Host::Ip(ip),
            NetClass::Reserved => false,
        };
        if allowed {
            return Ok(());
        }
        let host = match host {
            Host::Name(n) => n.clone(),
            Host::Ip(ip) => ip.to_string(),
        };
        Err(Denial::Address {
            host,
            ip,
            class: class.as_str(),
        })
    }
}

/// Parses and normalises the request URI; refuses what could confuse a prefix match.
pub fn parse_target(uri: &http::Uri) -> Result<Target, Denial> {
    let bad = |why: &str| Denial::BadUrl(why.to_owned());
    let scheme = uri
        .scheme_str()
        .ok_or_else(|| bad("no scheme"))?
        .to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(Denial::BadUrl(format!(
            "scheme {scheme} is not http or https"
        )));
    }
    let authority = uri.authority().ok_or_else(|| bad("no host"))?;
    if authority.as_str().contains('@') {
        return Err(bad("userinfo in the URL"));
    }
    let raw_host = authority.host();
    let host_text = normalise_host(raw_host.trim_start_matches('[').trim_end_matches(']'));
    if host_text.is_empty() || host_text.contains('%') || host_text.contains('\\') {
        return Err(bad("invalid host"));
    }
    let host = match host_text.parse::<IpAddr>() {
        Ok(ip) => Host::Ip(ip),
        Err(_) => Host::Name(host_text),
    };
    let port = authority
        .port_u16()
        .unwrap_or_else(|| default_port(&scheme));
    let path = uri.path();
    let path = if path.is_empty() { "/" } else { path };
    check_path(path)?;
    Ok(Target {
        scheme,
        host,
        port,
        path: path.to_owned(),
    })
}

fn check_path(path: &str) -> Result<(), Denial> {
    if !path.starts_with('/') {
        return Err(Denial::BadUrl("path must be absolute".into()));
    }
    if path.contains('\\') {
        return Err(Denial::BadUrl("backslash in path".into()));
    }
    let bytes = path.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            let value = hex
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| Denial::BadUrl("bad percent-encoding".into()))?;
            if matches!(value, b'.' | b'/' | b'\\' | 0) {
                return Err(Denial::BadUrl(format!(
                    "encoded {:?} in path",
                    value as char
                )));
            }
        }
    }
    if path.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(Denial::BadUrl("dot segment in path".into()));
    }
    Ok(())
}
