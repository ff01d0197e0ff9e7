//! The `timeout` interceptor: fails a call with `deadline_exceeded` once the smaller of its own
//! limit (30 s by default) and the client's deadline (`Connect-Timeout-Ms`) has passed.
//!
//! ```
//! use std::time::Duration;
//!
//! use interceptor_bench::interceptors::timeout::TimeoutLayer;
//! use interceptor_bench::rpc::{Code, RpcError, RpcRequest, RpcResponse};
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
//! let slow = service_fn(|_request: RpcRequest| async {
//!     tokio::time::sleep(Duration::from_secs(60)).await;
//!     Ok::<_, RpcError>(RpcResponse::new(serde_json::json!({})))
//! });
//! let service = TimeoutLayer::new(Duration::from_secs(5)).layer(slow);
//! let request = RpcRequest::new("greeter.v1.GreeterService/SayHello", serde_json::json!({"name": "Ada"}));
//! let error = service.oneshot(request).await.unwrap_err();
//! assert_eq!(error.code, Code::DeadlineExceeded);
//! # });
//! ```
//!
//! The effective deadline is written into [`RpcRequest::deadline`] before the inner service is
//! called, so inner interceptors (the retry) see it. Time is tokio's, so tests can pause it.
//!
//! Hand-written in the shape of `tower::timeout::Timeout`: tower's timeout has one fixed
//! duration per layer (it cannot honour a per-request deadline) and fails with a boxed
//! `Elapsed` error that would have to be downcast back into a Connect code; tower-resilience's
//! time limiter boxes every response future. The future here is tower's — the inner future
//! beside a `tokio::time::Sleep` — with `sleep_until` the effective deadline.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep, sleep_until};
use tower::{Layer, Service};

use crate::rpc::{Code, RpcError, RpcRequest, RpcResponse};

/// The seed framework's default limit.
pub const DEFAULT_LIMIT: Duration = Duration::from_secs(30);

/// Applies [`Timeout`]: `deadline_exceeded` past the limit or the request's deadline.
///
/// ```
/// use std::time::Duration;
/// use interceptor_bench::interceptors::timeout::TimeoutLayer;
///
/// assert_eq!(TimeoutLayer::default().get_limit(), Duration::from_secs(30));
/// let strict = TimeoutLayer::default().limit(Duration::from_millis(250));
/// assert_eq!(strict.get_limit(), Duration::from_millis(250));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TimeoutLayer {
    limit: Duration,
}

impl TimeoutLayer {
    /// A layer with the given limit (capped at about 30 years).
    pub const fn new(limit: Duration) -> Self {
        TimeoutLayer { limit: super::capped(limit) }
    }

    /// Sets the limit; a request's own, earlier deadline still wins.
    pub const fn limit(self, limit: Duration) -> Self {
        TimeoutLayer::new(limit)
    }

    /// The limit.
    pub const fn get_limit(&self) -> Duration {
        self.limit
    }
}

impl Default for TimeoutLayer {
    /// 30 seconds.
    fn default() -> Self {
        TimeoutLayer::new(DEFAULT_LIMIT)
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Timeout { inner, limit: self.limit }
    }
}

/// Fails calls with `deadline_exceeded` past its limit or the request's deadline. See the
/// [module docs](self).
#[derive(Debug, Clone)]
pub struct Timeout<S> {
    inner: S,
    limit: Duration,
}

impl<S> Timeout<S> {
    /// Wraps `inner` with the given limit.
    pub const fn new(inner: S, limit: Duration) -> Self {
        Timeout { inner, limit: TimeoutLayer::new(limit).limit }
    }

    define_inner_service_accessors!();
}

impl<S> Service<RpcRequest> for Timeout<S>
where
    S: Service<RpcRequest, Response = RpcResponse, Error = RpcError>,
{
    type Response = RpcResponse;
    type Error = RpcError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RpcError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: RpcRequest) -> Self::Future {
        let own = Instant::now() + self.limit;
        let deadline = request.deadline.map_or(own, |client| client.min(own));
        request.deadline = Some(deadline);
        ResponseFuture { response: self.inner.call(request), sleep: sleep_until(deadline) }
    }
}

pin_project! {
    /// The response future of [`Timeout`].
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        response: F,
        #[pin]
        sleep: Sleep,
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<RpcResponse, RpcError>>,
{
    type Output = Result<RpcResponse, RpcError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(result) = this.response.poll(cx) {
            return Poll::Ready(result);
        }
        match this.sleep.poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(RpcError::new(Code::DeadlineExceeded, "deadline exceeded"))),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tower::{ServiceExt, service_fn};

    use super::*;
    use crate::interceptors::testing::{Handler, Step, answer, request};

    const SECOND: Duration = Duration::from_secs(1);

    /// Calls a hanging handler and says when the call failed, and with what.
    async fn hang(layer: TimeoutLayer, request: RpcRequest) -> (Duration, RpcError) {
        let start = Instant::now();
        let error = layer.layer(Handler::always(Step::Hang)).oneshot(request).await.unwrap_err();
        (start.elapsed(), error)
    }

    #[tokio::test(start_paused = true)]
    async fn fires_after_the_default_30_seconds() {
        let (elapsed, error) = hang(TimeoutLayer::default(), request()).await;
        assert_eq!(error, RpcError::new(Code::DeadlineExceeded, "deadline exceeded"));
        assert_eq!(elapsed, 30 * SECOND);
    }

    #[tokio::test(start_paused = true)]
    async fn a_shorter_request_deadline_wins() {
        let request = request().with_deadline(Instant::now() + 2 * SECOND);
        let (elapsed, error) = hang(TimeoutLayer::new(10 * SECOND), request).await;
        assert_eq!(error.code, Code::DeadlineExceeded);
        assert_eq!(elapsed, 2 * SECOND);
    }

    #[tokio::test(start_paused = true)]
    async fn the_limit_wins_over_a_later_request_deadline() {
        let request = request().with_deadline(Instant::now() + 60 * SECOND);
        let (elapsed, error) = hang(TimeoutLayer::new(5 * SECOND), request).await;
        assert_eq!(error.code, Code::DeadlineExceeded);
        assert_eq!(elapsed, 5 * SECOND);
    }

    #[tokio::test(start_paused = true)]
    async fn a_timely_answer_passes_and_inner_layers_see_the_effective_deadline() {
        let seen = Arc::new(Mutex::new(None));
        let recorded = seen.clone();
        let handler = service_fn(move |request: RpcRequest| {
            *recorded.lock().unwrap() = request.deadline;
            async { Ok::<_, RpcError>(answer()) }
        });
        let start = Instant::now();
        let response = TimeoutLayer::new(5 * SECOND).layer(handler).oneshot(request()).await;
        assert_eq!(response.unwrap(), answer());
        assert_eq!(*seen.lock().unwrap(), Some(start + 5 * SECOND));
    }

    #[tokio::test(start_paused = true)]
    async fn errors_pass_through() {
        let service = TimeoutLayer::default().layer(Handler::always(Step::Fail(Code::NotFound)));
        assert_eq!(service.oneshot(request()).await.unwrap_err().code, Code::NotFound);
    }

    #[tokio::test(start_paused = true)]
    async fn in_the_full_chain_retries_stop_at_the_client_deadline() {
        use crate::stack::{Interceptor, Interceptors, Stack};

        let handler = Handler::always(Step::Fail(Code::Unavailable));
        let full = Stack::of("full", &Interceptor::FULL_CHAIN).service(&Interceptors::default(), handler.clone());
        let start = Instant::now();
        let request = request().with_deadline(start + Duration::from_millis(650));
        assert_eq!(full.oneshot(request).await.unwrap_err().code, Code::Unavailable);
        assert_eq!(handler.calls(), 3, "two retries fit before the deadline, a third would not");
        assert!(start.elapsed() < Duration::from_millis(650));
    }

    #[test]
    fn huge_limits_are_capped() {
        assert_eq!(TimeoutLayer::new(Duration::MAX).get_limit(), crate::interceptors::MAX_WAIT);
    }
}
