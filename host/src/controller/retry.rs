//! A store's `spec.retrySettings` (docs/eso-behaviour.md#retry-settings): how often a provider
//! call that failed for a passing reason (the backend unavailable, rate limited) is tried again
//! within one reconcile, and how long to wait between tries.
//!
//! ESO hands the settings to each provider's own client library, so their meaning differs per
//! provider; [`Retry::for_store`] keeps each provider's meaning:
//!
//! | provider | tries | wait before retry `n` (1, 2, …) |
//! |---|---|---|
//! | `vault` (Vault's API client) | 1 + `maxRetries` (default 0) | `n × retryInterval`; without one, `n ×` 1 to 1.5 s |
//! | `aws` (the AWS SDK's standard retryer) | `maxRetries` (default 3), at least 1 | `retryInterval`; without one, up to `2ⁿ` s (random), at most 20 s |
//! | any other | 1 + `maxRetries` (default 0) | `retryInterval`; without one, as `aws` |
//!
//! Without `retrySettings` a call is tried once and the reconcile's backoff retries
//! (docs/eso-behaviour.md#retry-backoff). Tries are capped at [`MAX_TRIES`] and each wait at
//! [`MAX_WAIT`], so a worker is never held for long.

use std::future::Future;
use std::time::Duration;

use crate::crd::secret_store::SecretStoreRetrySettings;
use crate::provider::ProviderError;

/// The most tries one call gets, whatever `maxRetries` says.
pub const MAX_TRIES: u32 = 10;
/// The longest wait between two tries.
pub const MAX_WAIT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// `n × d` before retry `n`.
    Linear(Duration),
    /// `n ×` a random time between 1 and 1.5 s (Vault's client without `retryInterval`).
    LinearJitter,
    /// The same wait before each retry.
    Fixed(Duration),
    /// A random time up to `2ⁿ` seconds, at most 20 s (the AWS SDK's standard backoff).
    ExponentialJitter,
}

/// How one provider call is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    tries: u32,
    wait: Wait,
}

impl Default for Retry {
    /// One try: the reconcile's backoff does the retrying.
    fn default() -> Self {
        Retry {
            tries: 1,
            wait: Wait::Fixed(Duration::ZERO),
        }
    }
}

impl Retry {
    /// The retry of a store with this provider (`spec.provider`'s key) and `retrySettings`.
    /// A `retryInterval` that is not a Go duration is an error, as in ESO's Vault and AWS
    /// providers.
    pub fn for_store(
        provider: &str,
        settings: Option<&SecretStoreRetrySettings>,
    ) -> Result<Self, String> {
        let Some(settings) = settings else {
            return Ok(Retry::default());
        };
        let interval = match settings.retry_interval.as_deref() {
            None => None,
            Some(s) => {
                let d: kube::core::Duration = s.parse().map_err(|e| {
                    format!("spec.retrySettings.retryInterval {s:?} is not a duration: {e}")
                })?;
                Some(if d.is_negative() {
                    Duration::ZERO
                } else {
                    Duration::from(d)
                })
            }
        };
        let retries = |default: i32| {
            u32::try_from(settings.max_retries.unwrap_or(default).max(0)).unwrap_or(0)
        };
        let (tries, wait) = match provider {
            "vault" => (
                1 + retries(0),
                interval.map_or(Wait::LinearJitter, Wait::Linear),
            ),
            "aws" => (
                retries(3).max(1),
                interval
                    .filter(|d| !d.is_zero())
                    .map_or(Wait::ExponentialJitter, Wait::Fixed),
            ),
            _ => (
                1 + retries(0),
                interval.map_or(Wait::ExponentialJitter, Wait::Fixed),
            ),
        };
        Ok(Retry {
            tries: tries.min(MAX_TRIES),
            wait,
        })
    }

    /// How many tries a call gets.
    pub fn tries(&self) -> u32 {
        self.tries
    }

    /// The wait before retry `n` (1 for the first retry), before any `Retry-After`.
    fn wait_before(&self, n: u32) -> Duration {
        let wait = match self.wait {
            Wait::Linear(d) => d.saturating_mul(n),
            Wait::LinearJitter => {
                Duration::from_millis(1000 + rand::random_range(0..=500)).saturating_mul(n)
            }
            Wait::Fixed(d) => d,
            Wait::ExponentialJitter => {
                let ceiling = Duration::from_secs(1u64 << n.min(5)).min(Duration::from_secs(20));
                ceiling.mul_f64(rand::random::<f64>())
            }
        };
        wait.min(MAX_WAIT)
    }

    /// Runs `call` until it succeeds, fails for a reason a retry cannot fix, or has had its
    /// tries. A rate limit's `Retry-After` lengthens the wait (within [`MAX_WAIT`]).
    pub async fn run<T, F, Fut>(&self, mut call: F) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let mut n = 1;
        loop {
            match call().await {
                Err(e) if n < self.tries && retryable(&e) => {
                    let mut wait = self.wait_before(n);
                    if let ProviderError::RateLimited {
                        retry_after_secs: Some(s),
                        ..
                    } = &e
                    {
                        wait = wait.max(Duration::from_secs(*s)).min(MAX_WAIT);
                    }
                    tracing::debug!(
                        error = e.category(),
                        retry = n,
                        ?wait,
                        "provider call failed; retrying (spec.retrySettings)"
                    );
                    tokio::time::sleep(wait).await;
                    n += 1;
                }
                other => return other,
            }
        }
    }
}

/// Failures that may pass: the backend unavailable (timeouts, 5xx, refused connections) or
/// rate limited. Not found, denied, invalid configuration and internal errors are final.
fn retryable(e: &ProviderError) -> bool {
    matches!(
        e,
        ProviderError::Unavailable(_) | ProviderError::RateLimited { .. }
    )
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn settings(max: Option<i32>, interval: Option<&str>) -> SecretStoreRetrySettings {
        SecretStoreRetrySettings {
            max_retries: max,
            retry_interval: interval.map(Into::into),
        }
    }

    #[test]
    fn each_provider_keeps_esos_meaning() {
        let tries = |p: &str, s: Option<SecretStoreRetrySettings>| {
            Retry::for_store(p, s.as_ref()).unwrap().tries()
        };
        assert_eq!(tries("vault", None), 1, "no settings: one try");
        assert_eq!(
            tries("vault", Some(settings(None, Some("1s")))),
            1,
            "vault: retries default to 0"
        );
        assert_eq!(
            tries("vault", Some(settings(Some(2), None))),
            3,
            "vault: maxRetries are retries"
        );
        assert_eq!(
            tries("aws", Some(settings(None, None))),
            3,
            "aws: three attempts by default"
        );
        assert_eq!(
            tries("aws", Some(settings(Some(5), None))),
            5,
            "aws: maxRetries are attempts"
        );
        assert_eq!(tries("aws", Some(settings(Some(0), None))), 1);
        assert_eq!(tries("gcpsm", Some(settings(Some(2), None))), 3);
        assert_eq!(tries("vault", Some(settings(Some(1000), None))), MAX_TRIES);
        assert_eq!(tries("vault", Some(settings(Some(-4), None))), 1);
        let bad = Retry::for_store("aws", Some(&settings(None, Some("soon"))));
        assert!(
            bad.unwrap_err()
                .contains("spec.retrySettings.retryInterval")
        );
    }

    #[test]
    fn waits_follow_each_client() {
        let vault = Retry::for_store("vault", Some(&settings(Some(3), Some("2s")))).unwrap();
        assert_eq!(vault.wait_before(1), Duration::from_secs(2));
        assert_eq!(vault.wait_before(3), Duration::from_secs(6), "linear");
        let aws = Retry::for_store("aws", Some(&settings(None, Some("2s")))).unwrap();
        assert_eq!(aws.wait_before(3), Duration::from_secs(2), "fixed");
        let jitter = Retry::for_store("vault", Some(&settings(Some(1), None))).unwrap();
        let w = jitter.wait_before(2);
        assert!(
            w >= Duration::from_secs(2) && w <= Duration::from_secs(3),
            "{w:?}"
        );
        let exp = Retry::for_store("aws", Some(&settings(None, None))).unwrap();
        assert!((1..10).all(|n| exp.wait_before(n) <= Duration::from_secs(20)));
        let long = Retry::for_store("vault", Some(&settings(Some(9), Some("1h")))).unwrap();
        assert_eq!(long.wait_before(1), MAX_WAIT);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_what_may_pass_and_stops_at_the_rest() {
        let retry = Retry::for_store("vault", Some(&settings(Some(2), Some("5s")))).unwrap();
        let calls = AtomicU32::new(0);
        let start = tokio::time::Instant::now();
        // Unavailable twice, then the value: three calls, 5 s + 10 s of waiting.
        let got = retry
            .run(|| async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => Err(ProviderError::Unavailable("503".into())),
                    _ => Ok("v"),
                }
            })
            .await;
        assert_eq!(got, Ok("v"));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(start.elapsed(), Duration::from_secs(15));
        // Out of tries: the last error.
        calls.store(0, Ordering::SeqCst);
        let got: Result<(), _> = retry
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(ProviderError::RateLimited {
                    message: "slow down".into(),
                    retry_after_secs: Some(30),
                })
            })
            .await;
        assert!(matches!(got, Err(ProviderError::RateLimited { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        // A final error is not retried.
        calls.store(0, Ordering::SeqCst);
        let got: Result<(), _> = retry
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(ProviderError::Forbidden("no".into()))
            })
            .await;
        assert!(got.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
