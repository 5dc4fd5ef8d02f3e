//! Leader election with a `coordination.k8s.io/v1` Lease, as controller-runtime does: acquire when
//! the lease is free or expired, renew every `retry` while leading, give up (and stop the process)
//! when a renewal has not succeeded within `renew_deadline`.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};

/// Who competes for which lease.
#[derive(Debug, Clone)]
pub struct LeaderElection {
    pub namespace: String,
    pub name: String,
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry: Duration,
}

impl LeaderElection {
    pub fn new(namespace: String, name: String, identity: String) -> Self {
        Self {
            namespace,
            name,
            identity,
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry: Duration::from_secs(2),
        }
    }

    /// With ESO's `--leader-election-lease-duration`, `--leader-election-renew-deadline` and
    /// `--leader-election-retry-period`, checked as client-go's leader elector checks them.
    pub fn with_timing(
        self,
        lease_duration: Duration,
        renew_deadline: Duration,
        retry: Duration,
    ) -> Result<Self, String> {
        if lease_duration.is_zero() || renew_deadline.is_zero() || retry.is_zero() {
            return Err("the leader election durations must be greater than zero".into());
        }
        if lease_duration <= renew_deadline {
            return Err(format!(
                "--leader-election-lease-duration ({lease_duration:?}) must be greater than --leader-election-renew-deadline ({renew_deadline:?})"
            ));
        }
        if renew_deadline <= retry.mul_f64(JITTER) {
            return Err(format!(
                "--leader-election-renew-deadline ({renew_deadline:?}) must be greater than {JITTER} × --leader-election-retry-period ({retry:?})"
            ));
        }
        Ok(Self {
            lease_duration,
            renew_deadline,
            retry,
            ..self
        })
    }

    /// Waits until this process holds the lease.
    pub async fn acquire(self, client: &Client) -> Result<Held, kube::Error> {
        let api: Api<Lease> = Api::namespaced(client.clone(), &self.namespace);
        loop {
            match self.attempt(&api).await? {
                Attempt::Holds => {
                    tracing::info!(lease = %self.name, identity = %self.identity, "acquired the leader lease");
                    return Ok(Held {
                        election: self,
                        api,
                    });
                }
                // The holder's lease runs out before the next retry: try right after it does,
                // so a standby takes over within the lease duration of the last renewal.
                Attempt::Other { expires_in } => {
                    let wait = expires_in
                        .map_or(self.retry, |left| (left + EXPIRY_MARGIN).min(self.retry));
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// One attempt: true when this process holds the lease afterwards.
    async fn try_acquire_or_renew(&self, api: &Api<Lease>) -> Result<bool, kube::Error> {
        Ok(matches!(self.attempt(api).await?, Attempt::Holds))
    }

    /// One attempt to take or renew the lease.
    async fn attempt(&self, api: &Api<Lease>) -> Result<Attempt, kube::Error> {
        let now = Timestamp::now();
        let seconds = i32::try_from(self.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX);
        let Some(mut lease) = api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(seconds),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(Attempt::Holds),
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    Ok(Attempt::Other { expires_in: None })
                }
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.get_or_insert_with(Default::default);
        let ours = spec.holder_identity.as_deref() == Some(self.identity.as_str());
        let end = spec.renew_time.as_ref().and_then(|t| {
            let lasts = SignedDuration::from_secs(i64::from(
                spec.lease_duration_seconds.unwrap_or(seconds),
            ));
            t.0.checked_add(lasts).ok()
        });
        let expired = end.is_none_or(|end| end < now);
        if !ours
            && !expired
            && spec
                .holder_identity
                .as_deref()
                .is_some_and(|h| !h.is_empty())
        {
            let expires_in = end.and_then(|end| now.duration_until(end).try_into().ok());
            return Ok(Attempt::Other { expires_in });
        }
        if !ours {
            spec.holder_identity = Some(self.identity.clone());
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.lease_duration_seconds = Some(seconds);
        spec.renew_time = Some(MicroTime(now));
        // replace() carries the resourceVersion: a concurrent writer makes this fail with 409.
        match api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(Attempt::Holds),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(Attempt::Other { expires_in: None }),
            Err(e) => Err(e),
        }
    }
}

/// client-go's leader election `JitterFactor`: the renew deadline must exceed this many retry
/// periods.
const JITTER: f64 = 1.2;

/// How long after the holder's lease runs out a standby tries to take it.
const EXPIRY_MARGIN: Duration = Duration::from_millis(50);

/// The outcome of one attempt at the lease.
enum Attempt {
    /// This process holds it.
    Holds,
    /// Another process does; its lease runs out in `expires_in` (as its renewTime says).
    Other { expires_in: Option<Duration> },
}

/// Why a held lease ended.
#[derive(Debug, thiserror::Error)]
pub enum LeaseLost {
    #[error("leader election failed: {0}")]
    Renewal(#[source] kube::Error),
    #[error("lost the leader election lease")]
    TakenOver,
}

/// A held lease; [`Held::hold`] renews it until it is lost.
pub struct Held {
    election: LeaderElection,
    api: Api<Lease>,
}

impl Held {
    /// Renews the lease forever; returns an error once leadership is lost.
    pub async fn hold(&self) -> Result<(), LeaseLost> {
        let mut last_renewal = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(self.election.retry).await;
            match self.election.try_acquire_or_renew(&self.api).await {
                Ok(true) => last_renewal = tokio::time::Instant::now(),
                Ok(false) => return Err(LeaseLost::TakenOver),
                Err(e) => {
                    tracing::warn!(error = %e, "could not renew the leader lease");
                    if last_renewal.elapsed() > self.election.renew_deadline {
                        return Err(LeaseLost::Renewal(e));
                    }
                }
            }
        }
    }

    /// Gives the lease up on a clean stop, as client-go's `ReleaseOnCancel` does: no holder and a
    /// one-second duration, so another replica takes over at once instead of after the lease
    /// expires. Does nothing when another process holds it by now.
    pub async fn release(&self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.election.name).await? else {
            return Ok(());
        };
        let spec = lease.spec.get_or_insert_with(Default::default);
        if spec.holder_identity.as_deref() != Some(self.election.identity.as_str()) {
            return Ok(());
        }
        let now = MicroTime(Timestamp::now());
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.acquire_time = Some(now.clone());
        spec.renew_time = Some(now);
        self.api
            .replace(&self.election.name, &PostParams::default(), &lease)
            .await?;
        tracing::info!(lease = %self.election.name, "released the leader lease");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_is_checked_as_client_go_does() {
        let base = || LeaderElection::new("ns".into(), "lease".into(), "me".into());
        let s = Duration::from_secs;
        let quick = base().with_timing(s(30), s(20), s(5)).unwrap();
        assert_eq!(
            (quick.lease_duration, quick.renew_deadline, quick.retry),
            (s(30), s(20), s(5))
        );
        assert!(base().with_timing(s(10), s(10), s(2)).is_err());
        assert!(base().with_timing(s(15), s(10), s(9)).is_err());
        assert!(base().with_timing(s(15), s(10), Duration::ZERO).is_err());
        let default = base();
        assert!(
            base()
                .with_timing(
                    default.lease_duration,
                    default.renew_deadline,
                    default.retry
                )
                .is_ok()
        );
    }
}
