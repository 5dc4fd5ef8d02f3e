//! The client-side rate limit of the Kubernetes client (`--client-qps`, `--client-burst`), as
//! client-go's token bucket: `burst` requests at once, then `qps` a second. A request waits for
//! its token before it is sent; every request counts once (a watch when it opens).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// client-go's `DefaultQPS` and `DefaultBurst` (k8s.io/client-go/rest), which a QPS or burst of 0
/// stands for.
pub const CLIENT_GO_QPS: f64 = 5.0;
pub const CLIENT_GO_BURST: u32 = 10;

/// Requests a second and the bucket's size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub qps: f64,
    pub burst: u32,
}

impl Rate {
    /// The limit of ESO's `--client-qps`/`--client-burst` as client-go reads them (rest.Config):
    /// 0 is client-go's default (5 a second, burst 10), a negative QPS no limit at all.
    pub fn from_flags(qps: f32, burst: i64) -> Result<Option<Rate>, String> {
        if qps.is_nan() {
            return Err("--client-qps is not a number".into());
        }
        if qps < 0.0 {
            return Ok(None);
        }
        let burst = match burst {
            0 => CLIENT_GO_BURST,
            b => u32::try_from(b).map_err(|_| format!("--client-burst={b}: out of range"))?,
        };
        let qps = if qps == 0.0 {
            CLIENT_GO_QPS
        } else {
            f64::from(qps)
        };
        if qps.is_infinite() {
            return Ok(None);
        }
        Ok(Some(Rate { qps, burst }))
    }
}

/// A token bucket: full at first, one token per request, refilled at `qps` up to `burst`. The
/// count goes below zero by the requests waiting, as golang.org/x/time/rate's reservations do.
#[derive(Debug)]
struct Bucket {
    rate: Rate,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: Rate) -> Self {
        Self {
            rate,
            tokens: f64::from(rate.burst),
            last: Instant::now(),
        }
    }

    /// Takes a token; returns how long to wait until it is there.
    fn take(&mut self, now: Instant) -> Duration {
        let refill = now.saturating_duration_since(self.last).as_secs_f64() * self.rate.qps;
        self.tokens = (self.tokens + refill).min(f64::from(self.rate.burst));
        self.last = now;
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate.qps)
        }
    }
}

/// A tower layer limiting the requests of the service it wraps to `rate`.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitLayer(pub Rate);

impl<S> tower::Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit {
            inner,
            bucket: Bucket::new(self.0),
            reserved: false,
            wait: None,
        }
    }
}

/// The service of [`RateLimitLayer`]. It is ready once its next request's token is there (kube's
/// client drives it from one buffer, so requests queue there in order).
pub struct RateLimit<S> {
    inner: S,
    bucket: Bucket,
    /// A token is taken for the next call.
    reserved: bool,
    wait: Option<Pin<Box<Sleep>>>,
}

impl<S, R> tower::Service<R> for RateLimit<S>
where
    S: tower::Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        if !self.reserved {
            self.reserved = true;
            let wait = self.bucket.take(Instant::now());
            if !wait.is_zero() {
                self.wait = Some(Box::pin(tokio::time::sleep(wait)));
            }
        }
        if let Some(wait) = self.wait.as_mut() {
            ready!(wait.as_mut().poll(cx));
            self.wait = None;
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> S::Future {
        self.reserved = false;
        self.inner.call(request)
    }
}

/// A Kubernetes client for `config` whose requests are limited to `rate` (none: unlimited).
pub fn kube_client(config: kube::Config, rate: Option<Rate>) -> Result<kube::Client, kube::Error> {
    let builder = kube::client::ClientBuilder::try_from(config)?;
    Ok(match rate {
        Some(rate) => builder.with_layer(&RateLimitLayer(rate)).build(),
        None => builder.build(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn flags_read_as_client_go_reads_them() {
        assert_eq!(
            Rate::from_flags(50.0, 100),
            Ok(Some(Rate {
                qps: 50.0,
                burst: 100
            }))
        );
        assert_eq!(
            Rate::from_flags(0.0, 0),
            Ok(Some(Rate {
                qps: 5.0,
                burst: 10
            }))
        );
        assert_eq!(Rate::from_flags(-1.0, 100), Ok(None));
        assert!(Rate::from_flags(5.0, -1).is_err());
        assert!(Rate::from_flags(f32::NAN, 1).is_err());
    }

    /// Counts the requests it is sent.
    struct Count(Arc<AtomicUsize>);

    impl tower::Service<()> for Count {
        type Response = ();
        type Error = Infallible;
        type Future = std::future::Ready<Result<(), Infallible>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, (): ()) -> Self::Future {
            self.0.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Ok(()))
        }
    }

    fn limited(rate: Rate) -> (RateLimit<Count>, Arc<AtomicUsize>) {
        use tower::Layer;
        let seen = Arc::new(AtomicUsize::new(0));
        (RateLimitLayer(rate).layer(Count(seen.clone())), seen)
    }

    /// Sends `n` requests one after another; returns the (virtual) time they took.
    async fn send(service: &mut RateLimit<Count>, n: usize) -> Duration {
        use tower::Service;
        let start = Instant::now();
        for _ in 0..n {
            std::future::poll_fn(|cx| service.poll_ready(cx))
                .await
                .unwrap();
            service.call(()).await.unwrap();
        }
        start.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_goes_at_once_and_the_rest_at_qps() {
        let (mut service, seen) = limited(Rate {
            qps: 10.0,
            burst: 5,
        });
        assert_eq!(send(&mut service, 5).await, Duration::ZERO);
        // The burst is spent: 20 more at 10 a second take 2 s.
        let elapsed = send(&mut service, 20).await;
        assert_eq!(seen.load(Ordering::SeqCst), 25);
        assert!(
            elapsed >= Duration::from_secs(2) && elapsed < Duration::from_millis(2100),
            "{elapsed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_client_gets_its_burst_back() {
        let (mut service, _) = limited(Rate { qps: 2.0, burst: 3 });
        // Three at once, the fourth half a second later.
        assert_eq!(send(&mut service, 4).await, Duration::from_millis(500));
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(send(&mut service, 3).await, Duration::ZERO);
        assert_eq!(send(&mut service, 1).await, Duration::from_millis(500));
    }
}
