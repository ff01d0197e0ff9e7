//! The `error_handler` interceptor: every failure of the inner service — an [`RpcError`], an
//! error from `poll_ready`, or a panic in `poll_ready`, `call` or the response future — comes
//! out as a Connect error, so nothing escapes as a dropped connection.
//!
//! ```
//! use interceptor_bench::interceptors::error_handler::ErrorHandlerLayer;
//! use interceptor_bench::rpc::{Code, RpcError, RpcRequest, RpcResponse};
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let handler = service_fn(|_request: RpcRequest| async {
//!     if true {
//!         panic!("bug in the handler");
//!     }
//!     Ok::<_, RpcError>(RpcResponse::new(serde_json::json!({})))
//! });
//! let service = ErrorHandlerLayer::new().log_errors(true).layer(handler);
//! let request = RpcRequest::new("greeter.v1.GreeterService/SayHello", serde_json::json!({"name": "Ada"}));
//! let error = service.oneshot(request).await.unwrap_err();
//! assert_eq!(error.code, Code::Internal);
//! # });
//! ```
//!
//! A panic becomes `internal` with a fixed message (the panic's own message may hold internals,
//! so it only goes to the log); an [`RpcError`] passes through unchanged. With
//! [`ErrorHandlerLayer::log_errors`] every failure is also logged as one `tracing` event at
//! `ERROR` level (target `interceptor_bench::interceptors::error_handler`), off by default.
//!
//! Hand-written: no crate catches panics at the RPC level (tower-http's `CatchPanic` works on
//! HTTP responses, outside the codec). The happy path costs one `catch_unwind` around `call`
//! and around each poll, which is a no-op when nothing panics.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_util::FutureExt;
use futures_util::future::CatchUnwind;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::rpc::{Code, Procedure, RpcError, RpcRequest, RpcResponse};

/// The message a client gets when the handler panicked.
const PANIC_MESSAGE: &str = "internal error: the handler panicked";

/// Applies [`ErrorHandler`]: turns panics into `internal` errors, optionally logging failures.
///
/// ```
/// use interceptor_bench::interceptors::error_handler::ErrorHandlerLayer;
///
/// let quiet = ErrorHandlerLayer::default();
/// let logging = ErrorHandlerLayer::new().log_errors(true);
/// # let _ = (quiet, logging);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorHandlerLayer {
    log_errors: bool,
}

impl ErrorHandlerLayer {
    /// A layer that does not log (the seed default).
    pub const fn new() -> Self {
        ErrorHandlerLayer { log_errors: false }
    }

    /// Logs every failure (procedure, code, message; a panic's own message) as a `tracing`
    /// event at `ERROR` level.
    pub const fn log_errors(mut self, log_errors: bool) -> Self {
        self.log_errors = log_errors;
        self
    }
}

impl<S> Layer<S> for ErrorHandlerLayer {
    type Service = ErrorHandler<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ErrorHandler { inner, log_errors: self.log_errors, not_ready: None }
    }
}

/// Turns every failure of `S`, a panic included, into an [`RpcError`]. See the
/// [module docs](self).
#[derive(Debug, Clone)]
pub struct ErrorHandler<S> {
    inner: S,
    log_errors: bool,
    /// A failure of `poll_ready`, answered by the next `call`.
    not_ready: Option<RpcError>,
}

impl<S> ErrorHandler<S> {
    /// Wraps `inner` without logging.
    pub const fn new(inner: S) -> Self {
        ErrorHandler { inner, log_errors: false, not_ready: None }
    }

    define_inner_service_accessors!();
}

impl<S> Service<RpcRequest> for ErrorHandler<S>
where
    S: Service<RpcRequest, Response = RpcResponse, Error = RpcError>,
{
    type Response = RpcResponse;
    type Error = RpcError;
    type Future = ResponseFuture<S::Future>;

    /// Always ready once the inner service is: a readiness failure (or panic) is kept and
    /// answered by the next `call`, so that it goes through the same path as every other failure.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RpcError>> {
        if self.not_ready.is_none() {
            match catch_unwind(AssertUnwindSafe(|| self.inner.poll_ready(cx))) {
                Ok(Poll::Pending) => return Poll::Pending,
                Ok(Poll::Ready(Ok(()))) => {}
                Ok(Poll::Ready(Err(error))) => self.not_ready = Some(error),
                Err(panic) => self.not_ready = Some(panicked(panic, self.log_errors, None)),
            }
        }
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: RpcRequest) -> Self::Future {
        let procedure = self.log_errors.then(|| request.procedure.clone());
        let state = match self.not_ready.take() {
            Some(error) => State::Failed { error: Some(error) },
            None => match catch_unwind(AssertUnwindSafe(|| self.inner.call(request))) {
                Ok(response) => State::Called { response: AssertUnwindSafe(response).catch_unwind() },
                Err(panic) => State::Failed { error: Some(panicked(panic, self.log_errors, procedure.as_ref())) },
            },
        };
        ResponseFuture { state, procedure }
    }
}

pin_project! {
    /// The response future of [`ErrorHandler`].
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
        // Only kept when failures are logged.
        procedure: Option<Procedure>,
    }
}

pin_project! {
    #[project = StateProj]
    #[derive(Debug)]
    enum State<F> {
        Called { #[pin] response: CatchUnwind<AssertUnwindSafe<F>> },
        Failed { error: Option<RpcError> },
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<RpcResponse, RpcError>>,
{
    type Output = Result<RpcResponse, RpcError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let logged = this.procedure.is_some();
        let result = match this.state.project() {
            StateProj::Called { response } => match ready!(response.poll(cx)) {
                Ok(result) => result,
                Err(panic) => return Poll::Ready(Err(panicked(panic, logged, this.procedure.as_ref()))),
            },
            StateProj::Failed { error } => Err(error.take().expect("ResponseFuture polled after completion")),
        };
        if let (Err(error), Some(procedure)) = (&result, this.procedure.as_ref()) {
            tracing::error!(procedure = %procedure, code = %error.code, message = %error.message, "rpc failed");
        }
        Poll::Ready(result)
    }
}

/// The `internal` error for a caught panic, logged (with the panic's message) when asked.
fn panicked(panic: Box<dyn Any + Send>, log: bool, procedure: Option<&Procedure>) -> RpcError {
    if log {
        let what = panic
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("a non-string panic payload");
        let procedure = procedure.map_or("<not called yet>", Procedure::as_str);
        tracing::error!(procedure, code = %Code::Internal, panic = what, "handler panicked");
    }
    RpcError::new(Code::Internal, PANIC_MESSAGE)
}

#[cfg(test)]
mod tests {
    use tower::ServiceExt;

    use super::*;
    use crate::interceptors::testing::{Handler, Step, answer, request};

    async fn call(layer: ErrorHandlerLayer, handler: Handler) -> Result<RpcResponse, RpcError> {
        layer.layer(handler).oneshot(request()).await
    }

    #[tokio::test]
    async fn a_panic_in_call_becomes_internal() {
        let error = call(ErrorHandlerLayer::new(), Handler::always(Step::PanicInCall)).await.unwrap_err();
        assert_eq!(error, RpcError::new(Code::Internal, PANIC_MESSAGE));
    }

    #[tokio::test]
    async fn a_panic_in_the_future_becomes_internal() {
        let error = call(ErrorHandlerLayer::new(), Handler::always(Step::PanicInFuture)).await.unwrap_err();
        assert_eq!(error, RpcError::new(Code::Internal, PANIC_MESSAGE));
    }

    #[tokio::test]
    async fn a_panic_in_poll_ready_becomes_internal() {
        let handler = Handler::always(Step::Answer).panicking_in_poll_ready();
        let error = call(ErrorHandlerLayer::new(), handler.clone()).await.unwrap_err();
        assert_eq!(error.code, Code::Internal);
        assert_eq!(handler.calls(), 0, "a service that failed readiness is not called");
    }

    #[tokio::test]
    async fn a_poll_ready_failure_is_answered_by_call() {
        let handler = Handler::always(Step::Answer).failing_poll_ready(Code::Unavailable);
        let mut service = ErrorHandlerLayer::new().layer(handler.clone());
        std::future::poll_fn(|cx| service.poll_ready(cx)).await.expect("always ready");
        let error = service.call(request()).await.unwrap_err();
        assert_eq!(error, RpcError::new(Code::Unavailable, "scripted readiness failure"));
        assert_eq!(handler.calls(), 0);
    }

    #[tokio::test]
    async fn rpc_errors_and_answers_pass_through_unchanged() {
        let handler = Handler::script([Step::Fail(Code::InvalidArgument), Step::Answer]);
        let service = ErrorHandlerLayer::new().layer(handler);
        let error = service.clone().oneshot(request()).await.unwrap_err();
        assert_eq!(error, RpcError::new(Code::InvalidArgument, "scripted failure"));
        assert_eq!(service.oneshot(request()).await.unwrap(), answer());
    }

    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn logs_failures_only_when_asked() {
        let log = Captured::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let logged = |log: &Captured| String::from_utf8(log.0.lock().unwrap().clone()).unwrap();

        let quiet = call(ErrorHandlerLayer::new(), Handler::always(Step::Fail(Code::DataLoss))).await;
        assert_eq!(quiet.unwrap_err().code, Code::DataLoss);
        assert_eq!(logged(&log), "");

        let layer = ErrorHandlerLayer::new().log_errors(true);
        let error = call(layer, Handler::always(Step::PanicInFuture)).await.unwrap_err();
        assert_eq!(error.code, Code::Internal);
        let error = call(layer, Handler::always(Step::Fail(Code::DataLoss))).await.unwrap_err();
        assert_eq!(error.code, Code::DataLoss);
        let lines = logged(&log);
        assert_eq!(lines.lines().count(), 2, "{lines}");
        assert!(lines.contains("handler panicked") && lines.contains("scripted panic in the future"), "{lines}");
        assert!(lines.contains("code=data_loss") && lines.contains("greeter.v1.GreeterService/SayHello"), "{lines}");
    }
}
