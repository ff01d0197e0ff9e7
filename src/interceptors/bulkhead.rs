//! The `bulkhead` interceptor: at most 10 calls in flight and 10 waiting by default; any call
//! beyond that fails at once with `resource_exhausted`, so the queue is bounded and a caller
//! never stalls on a full bulkhead.
//!
//! ```
//! use interceptor_bench::interceptors::bulkhead::BulkheadLayer;
//! use interceptor_bench::rpc::{RpcError, RpcRequest, RpcResponse};
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let handler = service_fn(|_request: RpcRequest| async {
//!     Ok::<_, RpcError>(RpcResponse::new(serde_json::json!({"message": "Hello, Ada!"})))
//! });
//! let service = BulkheadLayer::new().max_concurrent(4).max_queued(8).layer(handler);
//! let request = RpcRequest::new("greeter.v1.GreeterService/SayHello", serde_json::json!({"name": "Ada"}));
//! assert!(service.oneshot(request).await.is_ok());
//! # });
//! ```
//!
//! The permits live in the service [`BulkheadLayer::layer`] builds and are shared by all its
//! clones (the codec calls a fresh clone per request), like tower's `ConcurrencyLimit`. A call
//! takes its permit in `call`, not in `poll_ready`, so outer interceptors (the timeout) also
//! bound the time spent waiting; a call that gets a permit at once costs no allocation, a
//! queued call one boxed wait.
//!
//! Hand-written on two `tokio::sync::Semaphore`s (running and waiting): tower's
//! `ConcurrencyLimit` waits without bound (with `LoadShed` it rejects without queueing at all),
//! and tower-resilience's bulkhead either rejects when full or lets any number of callers wait
//! for a time — neither is "10 in flight, 10 queued, reject the rest" — and it boxes every
//! response future (+238 ns per call against +18 ns for tower's `LoadShed<ConcurrencyLimit>`,
//! measured side by side on this machine).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore, TryAcquireError};
use tower::{Layer, Service};

use crate::rpc::{Code, RpcError, RpcRequest, RpcResponse};

/// The seed framework's default number of calls in flight.
pub const DEFAULT_MAX_CONCURRENT: usize = 10;
/// The seed framework's default number of calls waiting for a slot.
pub const DEFAULT_MAX_QUEUED: usize = 10;

/// Applies [`Bulkhead`]: bounded calls in flight, a bounded queue, `resource_exhausted` beyond.
///
/// ```
/// use interceptor_bench::interceptors::bulkhead::BulkheadLayer;
///
/// let layer = BulkheadLayer::default();
/// assert_eq!((layer.get_max_concurrent(), layer.get_max_queued()), (10, 10));
/// let no_queue = BulkheadLayer::new().max_concurrent(64).max_queued(0);
/// assert_eq!(no_queue.get_max_queued(), 0);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct BulkheadLayer {
    max_concurrent: usize,
    max_queued: usize,
}

impl BulkheadLayer {
    /// A layer with the seed defaults: 10 in flight, 10 queued.
    pub const fn new() -> Self {
        BulkheadLayer { max_concurrent: DEFAULT_MAX_CONCURRENT, max_queued: DEFAULT_MAX_QUEUED }
    }

    /// How many calls may run at once (at least 1, at most `Semaphore::MAX_PERMITS`).
    pub const fn max_concurrent(mut self, max_concurrent: usize) -> Self {
        self.max_concurrent = clamp(max_concurrent, 1);
        self
    }

    /// How many calls may wait for a slot (0 rejects every call that finds no slot free).
    pub const fn max_queued(mut self, max_queued: usize) -> Self {
        self.max_queued = clamp(max_queued, 0);
        self
    }

    /// How many calls may run at once.
    pub const fn get_max_concurrent(&self) -> usize {
        self.max_concurrent
    }

    /// How many calls may wait.
    pub const fn get_max_queued(&self) -> usize {
        self.max_queued
    }
}

const fn clamp(n: usize, min: usize) -> usize {
    if n < min {
        min
    } else if n > Semaphore::MAX_PERMITS {
        Semaphore::MAX_PERMITS
    } else {
        n
    }
}

impl Default for BulkheadLayer {
    fn default() -> Self {
        BulkheadLayer::new()
    }
}

impl<S> Layer<S> for BulkheadLayer {
    type Service = Bulkhead<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Bulkhead {
            inner,
            running: Arc::new(Semaphore::new(self.max_concurrent)),
            waiting: Arc::new(Semaphore::new(self.max_queued)),
        }
    }
}

/// Bounds the calls in flight and waiting; rejects the rest with `resource_exhausted`. Clones
/// share the bounds. See the [module docs](self).
#[derive(Clone)]
pub struct Bulkhead<S> {
    inner: S,
    running: Arc<Semaphore>,
    waiting: Arc<Semaphore>,
}

impl<S: fmt::Debug> fmt::Debug for Bulkhead<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bulkhead")
            .field("inner", &self.inner)
            .field("free_slots", &self.running.available_permits())
            .field("free_queue_places", &self.waiting.available_permits())
            .finish()
    }
}

impl<S> Bulkhead<S> {
    /// Wraps `inner` with the seed defaults.
    pub fn new(inner: S) -> Self {
        BulkheadLayer::new().layer(inner)
    }

    define_inner_service_accessors!();
}

impl<S> Service<RpcRequest> for Bulkhead<S>
where
    S: Service<RpcRequest, Response = RpcResponse, Error = RpcError> + Clone,
{
    type Response = RpcResponse;
    type Error = RpcError;
    type Future = ResponseFuture<S, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RpcError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: RpcRequest) -> Self::Future {
        let state = match self.running.clone().try_acquire_owned() {
            Ok(permit) => State::Running { response: self.inner.call(request), _permit: permit },
            Err(TryAcquireError::NoPermits) => match self.waiting.clone().try_acquire_owned() {
                Ok(place) => {
                    // The ready service waits with the call; this one stays ready for the next.
                    let ready = self.inner.clone();
                    let inner = std::mem::replace(&mut self.inner, ready);
                    let running = self.running.clone();
                    let wait: WaitForSlot = Box::pin(async move {
                        let _place = place;
                        running.acquire_owned().await
                    });
                    State::Queued { wait, call: Some((inner, request)) }
                }
                Err(_) => State::Rejected,
            },
            Err(TryAcquireError::Closed) => State::Rejected,
        };
        ResponseFuture { state }
    }
}

type WaitForSlot = Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + Send>>;

pin_project! {
    /// The response future of [`Bulkhead`].
    #[derive(Debug)]
    pub struct ResponseFuture<S, F> {
        #[pin]
        state: State<S, F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, F> {
        Queued { wait: WaitForSlot, call: Option<(S, RpcRequest)> },
        Running { #[pin] response: F, _permit: OwnedSemaphorePermit },
        Rejected,
    }
}

impl<S: std::fmt::Debug, F: std::fmt::Debug> std::fmt::Debug for State<S, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The wait for a slot is a boxed future of the semaphore's.
            State::Queued { call, .. } => f.debug_struct("Queued").field("call", call).finish_non_exhaustive(),
            State::Running { response, .. } => {
                f.debug_struct("Running").field("response", response).finish_non_exhaustive()
            }
            State::Rejected => f.write_str("Rejected"),
        }
    }
}

impl<S, F> Future for ResponseFuture<S, F>
where
    S: Service<RpcRequest, Response = RpcResponse, Error = RpcError, Future = F>,
    F: Future<Output = Result<RpcResponse, RpcError>>,
{
    type Output = Result<RpcResponse, RpcError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Running { response, .. } => return response.poll(cx),
                StateProj::Queued { wait, call } => {
                    let Ok(permit) = ready!(wait.as_mut().poll(cx)) else {
                        state.set(State::Rejected);
                        continue;
                    };
                    let (mut inner, request) = call.take().expect("a queued call is started once");
                    let response = inner.call(request);
                    state.set(State::Running { response, _permit: permit });
                }
                StateProj::Rejected => {
                    return Poll::Ready(Err(RpcError::new(Code::ResourceExhausted, "bulkhead full: too many calls")));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::FutureExt;
    use tokio::task::JoinHandle;
    use tower::ServiceExt;

    use super::*;
    use crate::interceptors::testing::{Handler, Step, answer, request};

    /// Starts `n` calls, each through its own clone, as the codec does.
    fn start(service: &Bulkhead<Handler>, n: usize) -> Vec<JoinHandle<Result<RpcResponse, RpcError>>> {
        (0..n).map(|_| tokio::spawn(service.clone().oneshot(request()))).collect()
    }

    /// Lets spawned calls run until they are all waiting.
    async fn settle() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn rejects_the_21st_call_at_once_and_admits_again_when_one_finishes() {
        let handler = Handler::always(Step::Held);
        let service = BulkheadLayer::default().layer(handler.clone());
        let calls = start(&service, 20);
        settle().await;
        assert_eq!(handler.calls(), 10, "10 run, 10 wait");

        let error = service.clone().oneshot(request()).now_or_never().expect("rejected at once").unwrap_err();
        assert_eq!(error, RpcError::new(Code::ResourceExhausted, "bulkhead full: too many calls"));

        handler.release(1);
        settle().await;
        assert_eq!(handler.calls(), 11, "the first queued call took the freed slot");
        let admitted = start(&service, 1);
        settle().await;
        assert!(!admitted[0].is_finished(), "queued in the freed place, not rejected");

        handler.release(20);
        for call in calls.into_iter().chain(admitted) {
            assert_eq!(call.await.unwrap().unwrap(), answer());
        }
        assert_eq!(handler.calls(), 21);
    }

    #[tokio::test(start_paused = true)]
    async fn with_no_queue_rejects_whatever_finds_no_slot() {
        let handler = Handler::always(Step::Held);
        let service = BulkheadLayer::new().max_concurrent(2).max_queued(0).layer(handler.clone());
        let calls = start(&service, 3);
        settle().await;
        assert_eq!(handler.calls(), 2);
        let results: Vec<_> = calls.iter().map(JoinHandle::is_finished).collect();
        assert_eq!(results.iter().filter(|done| **done).count(), 1, "exactly one call was turned away");
        handler.release(2);
        let codes: Vec<_> = futures_util::future::join_all(calls)
            .await
            .into_iter()
            .map(|result| result.unwrap().err().map(|error| error.code))
            .collect();
        assert_eq!(codes.iter().filter(|code| **code == Some(Code::ResourceExhausted)).count(), 1);
        assert_eq!(codes.iter().filter(|code| code.is_none()).count(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_queued_call_frees_its_place_and_a_finished_call_its_slot() {
        let handler = Handler::always(Step::Held);
        let service = BulkheadLayer::new().max_concurrent(1).max_queued(1).layer(handler.clone());
        let running = start(&service, 1);
        settle().await;
        let queued = start(&service, 1);
        settle().await;
        queued[0].abort();
        settle().await;
        let requeued = start(&service, 1);
        settle().await;
        assert!(!requeued[0].is_finished(), "the aborted call's place was given back");
        handler.release(2);
        assert_eq!(running.into_iter().next().unwrap().await.unwrap(), Ok(answer()));
        assert_eq!(requeued.into_iter().next().unwrap().await.unwrap(), Ok(answer()));
        assert_eq!(service.running.available_permits(), 1);
        assert_eq!(service.waiting.available_permits(), 1);
    }

    #[test]
    fn bounds_are_clamped() {
        let layer = BulkheadLayer::new().max_concurrent(0).max_queued(usize::MAX);
        assert_eq!(layer.get_max_concurrent(), 1);
        assert_eq!(layer.get_max_queued(), Semaphore::MAX_PERMITS);
    }
}
