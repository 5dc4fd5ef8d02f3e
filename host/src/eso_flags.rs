//! ESO's controller flags that have no effect in Ampoule, and Go's flag value syntax.
//!
//! `ampoule run` accepts every flag of ESO's controller command (the list is
//! tests/fixtures/eso-flags/flags.tsv), so ESO's Deployment arguments run unchanged. The ones
//! with a meaning here are fields of [`crate::run::RunArgs`]; the rest are here, parsed as ESO
//! parses them (a bad value still fails) and reported once at start, each with why it does
//! nothing (see docs/eso-behaviour.md, "Flags of `ampoule run`").

/// A Go `strconv.ParseBool` value, which pflag's bool flags read: 1, t, T, TRUE, true, True, 0, f,
/// F, FALSE, false, False.
pub fn go_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("{text:?} is not a boolean (true or false)")),
    }
}

/// A Go `strconv.ParseInt(text, 0, 64)` value, which pflag's int flags read: decimal, or 0x, 0o,
/// 0b (and a leading 0 for octal), with an optional sign and `_` between digits after a prefix.
pub fn go_int(text: &str) -> Result<i64, String> {
    let bad = || format!("{text:?} is not an integer");
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = digits.to_ascii_lowercase();
    let (radix, body) = if let Some(rest) = lower.strip_prefix("0x") {
        (16, rest.replace('_', ""))
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (8, rest.replace('_', ""))
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (2, rest.replace('_', ""))
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].replace('_', ""))
    } else {
        (10, lower.clone())
    };
    if body.is_empty() || body.starts_with(['+', '-']) {
        return Err(bad());
    }
    let magnitude = i128::from_str_radix(&body, radix).map_err(|_| bad())?;
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).map_err(|_| format!("{text:?} is out of range"))
}

/// A Go int flag, kept as given.
fn int_text(text: &str) -> Result<String, String> {
    go_int(text).map(|_| text.to_string())
}

/// A Go duration flag, kept as given.
fn duration_text(text: &str) -> Result<String, String> {
    crate::crd::duration::parse(text)
        .map(|_| text.to_string())
        .map_err(|e| e.to_string())
}

/// A string flag.
fn text(text: &str) -> Result<String, String> {
    Ok(text.to_string())
}

/// One of the flags below given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoEffect {
    /// As given, e.g. `--enable-secrets-caching`.
    pub flag: String,
    pub value: String,
    pub why: &'static str,
}

const PLAIN_METRICS: &str = "the metrics endpoint (/metrics, /healthz, /readyz) is plain HTTP without TLS or authentication; restrict it with the chart's networkPolicy";
const NO_CACHE: &str = "no informer cache of Secrets or ConfigMaps: managed Secrets are watched by their metadata only, and Secrets and ConfigMaps are read from the API server when a reconcile needs them";
const NO_DOPPLER: &str =
    "no Doppler provider is built in; a Doppler plugin takes its settings from its ProviderClass";
const NO_NEBIUS: &str = "no Nebius MysteryBox provider is built in; such a plugin takes its settings from its ProviderClass";
const VAULT_CACHE: &str = "the vault component always keeps a login's token (per store and component) until shortly before its lease ends; that cache has no size to set";

macro_rules! no_effect_flags {
    ($( $field:ident : $ty:ty [$($arg:tt)*] => $why:expr; )*) => {
        /// ESO's controller flags that do nothing in Ampoule.
        #[derive(Debug, Clone, Default, clap::Args)]
        #[command(next_help_heading = "ESO flags accepted with no effect")]
        pub struct NoEffectFlags {
            $(
                #[arg(long, help = $why, $($arg)*)]
                pub $field: Option<$ty>,
            )*
        }

        impl NoEffectFlags {
            /// The flag names (ESO's spelling) and why each does nothing.
            pub const ALL: &'static [(&'static str, &'static str)] = &[
                $( (stringify!($field), $why), )*
            ];

            /// The flags given, in this order, each once.
            pub fn given(&self) -> Vec<NoEffect> {
                let mut given = Vec::new();
                $(
                    if let Some(value) = &self.$field {
                        given.push(NoEffect {
                            flag: format!("--{}", stringify!($field).replace('_', "-")),
                            value: value.to_string(),
                            why: $why,
                        });
                    }
                )*
                given
            }
        }
    };
}

no_effect_flags! {
    metrics_auth: bool [value_parser = go_bool, num_args = 0..=1, default_missing_value = "true"] => PLAIN_METRICS;
    metrics_secure: bool [value_parser = go_bool, num_args = 0..=1, default_missing_value = "true"] => PLAIN_METRICS;
    metrics_cert_dir: String [value_parser = text] => PLAIN_METRICS;
    metrics_cert_name: String [value_parser = text] => PLAIN_METRICS;
    metrics_key_name: String [value_parser = text] => PLAIN_METRICS;
    enable_http2: bool [value_parser = go_bool, num_args = 0..=1, default_missing_value = "true"] =>
        "the metrics endpoint speaks HTTP/1.1 only (ESO's default)";
    zap_time_encoding: String [value_parser = text] =>
        "logs are JSON lines written by tracing, with RFC 3339 timestamps; there is no zap encoder to choose";
    enable_secret_store_reconciler: bool [value_parser = go_bool, num_args = 0..=1, default_missing_value = "true"] =>
        "SecretStores are always validated: their Ready condition drives the flood gate";
    enable_secrets_caching: bool [value_parser = go_bool, num_args = 0..=1, default_missing_value = "true"] => NO_CACHE;
    enable_configmaps_caching: bool [value_parser = go_bool, num_args = 0..=1, default_missing_value = "true"] => NO_CACHE;
    enable_managed_secrets_caching: bool [value_parser = go_bool, num_args = 0..=1, default_missing_value = "true"] => NO_CACHE;
    enable_secret_api_read_on_cache_mismatch: bool [value_parser = go_bool, num_args = 0..=1, default_missing_value = "true"] => NO_CACHE;
    enable_generator_state: bool [value_parser = go_bool, num_args = 0..=1, default_missing_value = "true"] =>
        "GeneratorStates are always kept for stateful generators (ESO's default)";
    generator_gc_grace_period: String [value_parser = duration_text] =>
        "GeneratorStates flagged for garbage collection are deleted after ESO's default grace period, 2m";
    enable_extended_metric_labels: bool [value_parser = go_bool, num_args = 0..=1, default_missing_value = "true"] =>
        "metrics carry ESO's default labels only; the app.kubernetes.io labels are never added";
    unsafe_allow_generic_targets: bool [value_parser = go_bool, num_args = 0..=1, default_missing_value = "true"] =>
        "only Secret targets: an ExternalSecret with spec.target.manifest is refused";
    experimental_enable_doppler_oidc_cache: bool [value_parser = go_bool, num_args = 0..=1, default_missing_value = "true"] => NO_DOPPLER;
    experimental_doppler_oidc_cache_size: String [value_parser = int_text] => NO_DOPPLER;
    doppler_etag_cache_size: String [value_parser = int_text] => NO_DOPPLER;
    mysterybox_tokens_cache_size: String [value_parser = int_text] => NO_NEBIUS;
    mysterybox_connections_cache_size: String [value_parser = int_text] => NO_NEBIUS;
    enable_vault_token_cache: bool [value_parser = go_bool, num_args = 0..=1, default_missing_value = "true"] => VAULT_CACHE;
    vault_token_cache_size: String [value_parser = int_text] => VAULT_CACHE;
    experimental_enable_vault_token_cache: bool [value_parser = go_bool, num_args = 0..=1, default_missing_value = "true"] => VAULT_CACHE;
    experimental_vault_token_cache_size: String [value_parser = int_text] => VAULT_CACHE;
}

/// Logs one warning for each flag of `flags` given.
pub fn warn_given(flags: &NoEffectFlags) {
    for given in flags.given() {
        tracing::warn!(
            flag = %given.flag,
            value = %given.value,
            reason = given.why,
            "ESO flag accepted; it has no effect in Ampoule"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_values() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(go_bool(t), Ok(true));
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(go_bool(f), Ok(false));
        }
        assert!(go_bool("yes").is_err());
        assert!(go_bool("").is_err());
        assert_eq!(go_int("100"), Ok(100));
        assert_eq!(go_int("-3"), Ok(-3));
        assert_eq!(go_int("0x10"), Ok(16));
        assert_eq!(go_int("010"), Ok(8));
        assert_eq!(go_int("0b1_0"), Ok(2));
        assert_eq!(go_int("0"), Ok(0));
        assert!(go_int("1.5").is_err());
        assert!(go_int("").is_err());
        assert!(go_int("--1").is_err());
        assert!(go_int("99999999999999999999").is_err());
    }
}
