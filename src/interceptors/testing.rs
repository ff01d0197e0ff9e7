//! Test support shared by the interceptors' tests: a handler that follows a script.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use serde_json::json;
use tokio::sync::Semaphore;
use tower::Service;

use crate::greeter::SAY_HELLO;
use crate::rpc::{Code, RpcError, RpcRequest, RpcResponse, RpcResult};

/// What the scripted handler does with one call.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step {
    /// Answers `{"message": "ok"}`.
    Answer,
    /// Fails with this code.
    Fail(Code),
    /// Panics inside `Service::call`.
    PanicInCall,
    /// Panics while its future is polled.
    PanicInFuture,
    /// Never answers.
    Hang,
    /// Answers once [`Handler::release`] lets it.
    Held,
}

/// A cloneable handler that plays its script, one step per call, then repeats its last step.
/// Clones share the script, the call count and the gate of held calls.
#[derive(Clone)]
pub(crate) struct Handler {
    script: Arc<Mutex<VecDeque<Step>>>,
    calls: Arc<AtomicUsize>,
    gate: Arc<Semaphore>,
    panic_in_poll_ready: bool,
    not_ready: Option<Code>,
}

impl Handler {
    /// Plays `steps` in order; the last one repeats forever.
    pub(crate) fn script(steps: impl IntoIterator<Item = Step>) -> Self {
        let script: VecDeque<Step> = steps.into_iter().collect();
        assert!(!script.is_empty(), "a script needs at least one step");
        Handler {
            script: Arc::new(Mutex::new(script)),
            calls: Arc::new(AtomicUsize::new(0)),
            gate: Arc::new(Semaphore::new(0)),
            panic_in_poll_ready: false,
            not_ready: None,
        }
    }

    /// Does `step` on every call.
    pub(crate) fn always(step: Step) -> Self {
        Handler::script([step])
    }

    /// Panics in `poll_ready` instead.
    pub(crate) fn panicking_in_poll_ready(mut self) -> Self {
        self.panic_in_poll_ready = true;
        self
    }

    /// Fails `poll_ready` with `code` instead.
    pub(crate) fn failing_poll_ready(mut self, code: Code) -> Self {
        self.not_ready = Some(code);
        self
    }

    /// How many times `call` ran.
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Lets `n` [`Step::Held`] calls answer.
    pub(crate) fn release(&self, n: usize) {
        self.gate.add_permits(n);
    }

    fn next_step(&self) -> Step {
        let mut script = self.script.lock().unwrap();
        if script.len() > 1 { script.pop_front().unwrap() } else { script[0] }
    }
}

impl Service<RpcRequest> for Handler {
    type Response = RpcResponse;
    type Error = RpcError;
    type Future = Pin<Box<dyn Future<Output = RpcResult> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), RpcError>> {
        assert!(!self.panic_in_poll_ready, "scripted panic in poll_ready");
        Poll::Ready(match self.not_ready {
            Some(code) => Err(RpcError::new(code, "scripted readiness failure")),
            None => Ok(()),
        })
    }

    fn call(&mut self, _request: RpcRequest) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let step = self.next_step();
        let gate = self.gate.clone();
        match step {
            Step::PanicInCall => panic!("scripted panic in call"),
            Step::Answer => Box::pin(async { Ok(answer()) }),
            Step::Fail(code) => Box::pin(async move { Err(RpcError::new(code, "scripted failure")) }),
            Step::PanicInFuture => Box::pin(async { panic!("scripted panic in the future") }),
            Step::Hang => Box::pin(std::future::pending()),
            Step::Held => Box::pin(async move {
                gate.acquire().await.expect("the gate is never closed").forget();
                Ok(answer())
            }),
        }
    }
}

/// The scripted handler's answer.
pub(crate) fn answer() -> RpcResponse {
    RpcResponse::new(json!({"message": "ok"}))
}

/// A `SayHello` request for Ada, without a deadline.
pub(crate) fn request() -> RpcRequest {
    RpcRequest::new(SAY_HELLO, json!({"name": "Ada"}))
}
