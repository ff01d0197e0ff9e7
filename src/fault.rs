//! Fault injection: a layer that makes the service it wraps (the greeter, usually) fail with a
//! chosen Connect code, answer late, or panic, each for a configured fraction of calls — to show
//! what the resilience interceptors do when the handler misbehaves.
//!
//! ```
//! use interceptor_bench::fault::{FaultConfig, FaultLayer};
//! use interceptor_bench::greeter::{Greeter, SAY_HELLO};
//! use interceptor_bench::rpc::{Code, RpcRequest};
//! use tower::{Layer, ServiceExt};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
//! let config: FaultConfig = "error=1:unavailable".parse().unwrap();
//! let layer = FaultLayer::new(config.seed(7));
//! let service = layer.layer(Greeter::new());
//! let request = RpcRequest::new(SAY_HELLO, serde_json::json!({"name": "Ada"}));
//! assert_eq!(service.oneshot(request).await.unwrap_err().code, Code::Unavailable);
//!
//! // Faults off from now on, for every service the layer built.
//! layer.handle().set(FaultConfig::none());
//! let request = RpcRequest::new(SAY_HELLO, serde_json::json!({"name": "Ada"}));
//! assert!(layer.layer(Greeter::new()).oneshot(request).await.is_ok());
//! assert_eq!(layer.handle().calls(), 2);
//! # });
//! ```
//!
//! The spec syntax ([`FaultConfig`]'s `FromStr`, what `ibench serve --fault` takes) is a
//! comma-separated list of `error=RATE:CODE`, `latency=RATE:DURATION` and `panic=RATE`, rates
//! between 0 and 1, e.g. `error=0.2:unavailable,latency=0.1:50ms,panic=0.01`, plus an optional
//! `seed=N` (see [`FaultConfig::seed`]); `none` turns everything off. Each kind is drawn independently per call: a call can be late *and* fail.
//! A panic happens when the response future is first polled after any delay, so the
//! `error_handler` interceptor sees it as a handler panic.
//!
//! The random draws come from one [`StdRng`] shared by all services the layer built; with
//! [`FaultConfig::seed`] a sequence of calls gets the same faults every run. Latency is a
//! `tokio::time::sleep`, so tests with paused time skip it. With every rate at 0 a call costs
//! one atomic increment (the call counter) and one atomic load.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Sleep;
use tower::{Layer, Service};

use crate::rpc::{Code, RpcError, RpcRequest, RpcResponse};

/// Which faults to inject and how often. Builder methods take and return `self`.
///
/// ```
/// use std::time::Duration;
/// use interceptor_bench::fault::FaultConfig;
/// use interceptor_bench::rpc::Code;
///
/// let built = FaultConfig::none()
///     .error(0.2, Code::Unavailable)
///     .latency(0.1, Duration::from_millis(50))
///     .panic(0.01);
/// let parsed: FaultConfig = "error=0.2:unavailable,latency=0.1:50ms,panic=0.01".parse().unwrap();
/// assert_eq!(built, parsed);
/// assert_eq!(parsed.to_string(), "error=0.2:unavailable,latency=0.1:50ms,panic=0.01");
/// assert!("error=2:unavailable".parse::<FaultConfig>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FaultConfig {
    error: Option<(f64, Code)>,
    latency: Option<(f64, Duration)>,
    panic: f64,
    seed: Option<u64>,
}

impl FaultConfig {
    /// No faults: every call goes straight to the inner service.
    pub const fn none() -> Self {
        FaultConfig { error: None, latency: None, panic: 0.0, seed: None }
    }

    /// Fails a fraction `rate` (0 to 1) of calls with `code`, without calling the inner service.
    pub const fn error(mut self, rate: f64, code: Code) -> Self {
        self.error = Some((rate, code));
        self
    }

    /// Delays a fraction `rate` (0 to 1) of calls by `delay` before anything else happens.
    pub const fn latency(mut self, rate: f64, delay: Duration) -> Self {
        self.latency = Some((rate, delay));
        self
    }

    /// Panics in a fraction `rate` (0 to 1) of calls instead of calling the inner service.
    pub const fn panic(mut self, rate: f64) -> Self {
        self.panic = rate;
        self
    }

    /// Draws from a generator seeded with `seed`, so the same calls get the same faults every
    /// run; without it the generator is seeded from the OS.
    pub const fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// True when no call is ever faulted.
    pub fn is_none(&self) -> bool {
        self.error.is_none_or(|(rate, _)| rate == 0.0)
            && self.latency.is_none_or(|(rate, _)| rate == 0.0)
            && self.panic == 0.0
    }

    fn rng(&self) -> StdRng {
        self.seed.map_or_else(StdRng::from_os_rng, StdRng::seed_from_u64)
    }

    fn draw(&self, rng: &mut StdRng) -> Decision {
        let mut hit = |rate: f64| rate > 0.0 && rng.random::<f64>() < rate;
        let delay = self.latency.filter(|&(rate, _)| hit(rate)).map(|(_, delay)| delay);
        let outcome = if hit(self.panic) {
            Outcome::Panic
        } else if let Some((_, code)) = self.error.filter(|&(rate, _)| hit(rate)) {
            Outcome::Fail(code)
        } else {
            Outcome::Call
        };
        Decision { delay, outcome }
    }
}

impl fmt::Display for FaultConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some((rate, code)) = self.error {
            parts.push(format!("error={rate}:{code}"));
        }
        if let Some((rate, delay)) = self.latency {
            parts.push(format!("latency={rate}:{}", humantime::format_duration(delay)));
        }
        if self.panic > 0.0 {
            parts.push(format!("panic={}", self.panic));
        }
        if let Some(seed) = self.seed {
            parts.push(format!("seed={seed}"));
        }
        if parts.is_empty() { f.write_str("none") } else { f.write_str(&parts.join(",")) }
    }
}

/// Why a fault spec could not be parsed; the message names the offending part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad fault spec {part:?}: {reason} (expected e.g. error=0.2:unavailable,latency=0.1:50ms,panic=0.01)")]
pub struct InvalidFaultSpec {
    /// The comma-separated part that is wrong.
    pub part: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FromStr for FaultConfig {
    type Err = InvalidFaultSpec;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let spec = spec.trim();
        if spec == "none" {
            return Ok(FaultConfig::none());
        }
        let mut config = FaultConfig::none();
        let mut seen = Vec::new();
        for part in spec.split(',').map(str::trim) {
            let bad = |reason: String| InvalidFaultSpec { part: part.to_owned(), reason };
            let (kind, value) = part.split_once('=').ok_or_else(|| bad("expected KIND=VALUE".to_owned()))?;
            if seen.contains(&kind) {
                return Err(bad(format!("{kind} is given twice")));
            }
            seen.push(kind);
            if kind == "seed" {
                let seed = value.parse::<u64>().map_err(|e| bad(format!("bad seed {value:?}: {e}")))?;
                config = config.seed(seed);
                continue;
            }
            let (rate, argument) = match value.split_once(':') {
                Some((rate, argument)) => (rate, Some(argument)),
                None => (value, None),
            };
            let rate = parse_rate(rate).map_err(bad)?;
            match (kind, argument) {
                ("error", Some(code)) => {
                    let code = code.parse::<Code>().map_err(|_| bad(format!("unknown Connect code {code:?}")))?;
                    config = config.error(rate, code);
                }
                ("latency", Some(delay)) => {
                    let delay = humantime::parse_duration(delay).map_err(|e| bad(format!("bad duration: {e}")))?;
                    config = config.latency(rate, delay);
                }
                ("panic", None) => config = config.panic(rate),
                ("error", None) => return Err(bad("expected error=RATE:CODE".to_owned())),
                ("latency", None) => return Err(bad("expected latency=RATE:DURATION".to_owned())),
                ("panic", Some(_)) => return Err(bad("expected panic=RATE".to_owned())),
                (other, _) => return Err(bad(format!("unknown fault {other:?}; known: error, latency, panic, seed"))),
            }
        }
        Ok(config)
    }
}

fn parse_rate(rate: &str) -> Result<f64, String> {
    match rate.parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        Ok(rate) => Err(format!("rate {rate} is not between 0 and 1")),
        Err(e) => Err(format!("bad rate {rate:?}: {e}")),
    }
}

#[derive(Debug, Clone, Copy)]
struct Decision {
    delay: Option<Duration>,
    outcome: Outcome,
}

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Call,
    Fail(Code),
    Panic,
}

#[derive(Debug)]
struct Shared {
    active: AtomicBool,
    calls: AtomicU64,
    state: Mutex<(FaultConfig, StdRng)>,
}

/// Changes the faults of a running [`FaultLayer`] (and every service it built) and counts the
/// calls that reached it. Cheap to clone; all clones share one state.
///
/// ```
/// use interceptor_bench::fault::{FaultConfig, FaultHandle};
///
/// let handle = FaultHandle::new("panic=0.5".parse().unwrap());
/// assert!(!handle.get().is_none());
/// handle.clone().set(FaultConfig::none());
/// assert!(handle.get().is_none());
/// ```
#[derive(Debug, Clone)]
pub struct FaultHandle {
    shared: Arc<Shared>,
}

impl FaultHandle {
    /// A handle injecting `config`.
    pub fn new(config: FaultConfig) -> Self {
        let shared = Shared {
            active: AtomicBool::new(!config.is_none()),
            calls: AtomicU64::new(0),
            state: Mutex::new((config, config.rng())),
        };
        FaultHandle { shared: Arc::new(shared) }
    }

    /// Injects `config` from the next call on; a new seed restarts the generator.
    pub fn set(&self, config: FaultConfig) {
        let mut state = self.shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        let rng = if config.seed.is_some() && config.seed != state.0.seed { config.rng() } else { state.1.clone() };
        *state = (config, rng);
        self.shared.active.store(!config.is_none(), Ordering::Release);
    }

    /// The faults injected now.
    pub fn get(&self) -> FaultConfig {
        self.shared.state.lock().unwrap_or_else(PoisonError::into_inner).0
    }

    /// How many calls reached the fault layer so far, faulted or not.
    pub fn calls(&self) -> u64 {
        self.shared.calls.load(Ordering::Relaxed)
    }

    fn decide(&self) -> Decision {
        self.shared.calls.fetch_add(1, Ordering::Relaxed);
        if !self.shared.active.load(Ordering::Acquire) {
            return Decision { delay: None, outcome: Outcome::Call };
        }
        let mut state = self.shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (config, rng) = &mut *state;
        config.draw(rng)
    }
}

/// Applies [`Fault`] to a service. Clones share one [`FaultHandle`].
///
/// ```
/// use interceptor_bench::fault::FaultLayer;
/// use interceptor_bench::stack::{Interceptors, find};
/// use interceptor_bench::greeter::Greeter;
/// use tower::Layer;
///
/// let faults = FaultLayer::new("error=0.2:unavailable".parse().unwrap());
/// let service = find("full").unwrap().service(&Interceptors::default(), faults.layer(Greeter::new()));
/// # let _ = service;
/// ```
#[derive(Debug, Clone)]
pub struct FaultLayer {
    handle: FaultHandle,
}

impl FaultLayer {
    /// A layer injecting `config`.
    pub fn new(config: FaultConfig) -> Self {
        FaultLayer { handle: FaultHandle::new(config) }
    }

    /// A layer driven by an existing handle.
    pub fn with_handle(handle: FaultHandle) -> Self {
        FaultLayer { handle }
    }

    /// The handle that changes this layer's faults and counts its calls.
    pub fn handle(&self) -> &FaultHandle {
        &self.handle
    }
}

impl<S> Layer<S> for FaultLayer {
    type Service = Fault<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Fault { inner, handle: self.handle.clone() }
    }
}

/// Injects the faults of its [`FaultHandle`] into the calls of `S`.
#[derive(Debug, Clone)]
pub struct Fault<S> {
    inner: S,
    handle: FaultHandle,
}

impl<S> Fault<S> {
    /// Wraps `inner`, injecting the faults `handle` says.
    pub fn new(inner: S, handle: FaultHandle) -> Self {
        Fault { inner, handle }
    }

    define_inner_service_accessors!();
}

impl<S> Service<RpcRequest> for Fault<S>
where
    S: Service<RpcRequest, Response = RpcResponse, Error = RpcError>,
{
    type Response = RpcResponse;
    type Error = RpcError;
    type Future = future::ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: RpcRequest) -> Self::Future {
        let Decision { delay, outcome } = self.handle.decide();
        let state = match outcome {
            Outcome::Call => future::State::Call { response: self.inner.call(request) },
            Outcome::Fail(code) => {
                future::State::Fail { error: Some(RpcError::new(code, format!("injected fault: {code}"))) }
            }
            Outcome::Panic => future::State::Panic,
        };
        future::ResponseFuture::new(delay.map(tokio::time::sleep), state)
    }
}

/// The response future of [`Fault`].
pub mod future {
    use super::*;

    pin_project! {
        /// Waits out an injected delay, then answers the inner call, the injected error or a panic.
        #[derive(Debug)]
        pub struct ResponseFuture<F> {
            #[pin]
            delay: Option<Sleep>,
            #[pin]
            state: State<F>,
        }
    }

    impl<F> ResponseFuture<F> {
        pub(super) fn new(delay: Option<Sleep>, state: State<F>) -> Self {
            ResponseFuture { delay, state }
        }
    }

    pin_project! {
        #[project = StateProj]
        #[derive(Debug)]
        pub(super) enum State<F> {
            Call { #[pin] response: F },
            Fail { error: Option<RpcError> },
            Panic,
        }
    }

    impl<F> Future for ResponseFuture<F>
    where
        F: Future<Output = Result<RpcResponse, RpcError>>,
    {
        type Output = Result<RpcResponse, RpcError>;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let mut this = self.project();
            if let Some(delay) = this.delay.as_mut().as_pin_mut() {
                std::task::ready!(delay.poll(cx));
                this.delay.set(None);
            }
            match this.state.project() {
                StateProj::Call { response } => response.poll(cx),
                StateProj::Fail { error } => Poll::Ready(Err(error.take().expect("polled after completion"))),
                StateProj::Panic => panic!("injected fault: panic"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::greeter::{Greeter, SAY_HELLO};
    use tower::ServiceExt;

    fn request() -> RpcRequest {
        RpcRequest::new(SAY_HELLO, serde_json::json!({"name": "Ada"}))
    }

    #[test]
    fn specs_parse_and_print_back() {
        let config: FaultConfig = " error=0.25:resource_exhausted , latency=1:2s ".parse().unwrap();
        assert_eq!(
            config,
            FaultConfig::none().error(0.25, Code::ResourceExhausted).latency(1.0, Duration::from_secs(2))
        );
        assert_eq!(config.to_string(), "error=0.25:resource_exhausted,latency=1:2s");
        assert_eq!("none".parse::<FaultConfig>().unwrap(), FaultConfig::none());
        assert_eq!(FaultConfig::none().to_string(), "none");
        assert!("panic=0".parse::<FaultConfig>().unwrap().is_none());
        let seeded: FaultConfig = "panic=0.5,seed=7".parse().unwrap();
        assert_eq!(seeded, FaultConfig::none().panic(0.5).seed(7));
        assert_eq!(seeded.to_string(), "panic=0.5,seed=7");
    }

    #[test]
    fn garbage_specs_name_the_bad_part() {
        for (spec, needle) in [
            ("", "expected KIND=VALUE"),
            ("error", "expected KIND=VALUE"),
            ("error=0.2", "expected error=RATE:CODE"),
            ("error=0.2:nope", "unknown Connect code \"nope\""),
            ("error=1.5:internal", "not between 0 and 1"),
            ("error=-0.1:internal", "not between 0 and 1"),
            ("error=NaN:internal", "not between 0 and 1"),
            ("error=x:internal", "bad rate \"x\""),
            ("latency=0.1", "expected latency=RATE:DURATION"),
            ("latency=0.1:fast", "bad duration"),
            ("panic=0.1:now", "expected panic=RATE"),
            ("slow=0.1", "unknown fault \"slow\""),
            ("panic=0.1,panic=0.2", "panic is given twice"),
            ("panic=0.1,", "expected KIND=VALUE"),
            ("seed=-1", "bad seed"),
        ] {
            let error = spec.parse::<FaultConfig>().unwrap_err().to_string();
            assert!(error.contains(needle), "{spec:?}: {error}");
        }
    }

    #[tokio::test]
    async fn no_faults_call_the_handler_and_count() {
        let layer = FaultLayer::new(FaultConfig::none());
        for _ in 0..3 {
            assert!(layer.layer(Greeter::new()).oneshot(request()).await.is_ok());
        }
        assert_eq!(layer.handle().calls(), 3);
    }

    #[tokio::test]
    async fn seeded_error_rates_are_repeatable_and_near_the_rate() {
        async fn failures(seed: u64) -> Vec<bool> {
            let layer = FaultLayer::new(FaultConfig::none().error(0.2, Code::Unavailable).seed(seed));
            let mut failed = Vec::new();
            for _ in 0..1000 {
                failed.push(layer.layer(Greeter::new()).oneshot(request()).await.is_err());
            }
            failed
        }
        let first = failures(42).await;
        assert_eq!(first, failures(42).await);
        assert_ne!(first, failures(43).await);
        let count = first.iter().filter(|&&failed| failed).count();
        assert!((150..=250).contains(&count), "{count} of 1000 failed at rate 0.2");
    }

    #[tokio::test(start_paused = true)]
    async fn latency_delays_by_tokio_time() {
        let layer = FaultLayer::new(FaultConfig::none().latency(1.0, Duration::from_millis(50)));
        let start = tokio::time::Instant::now();
        assert!(layer.layer(Greeter::new()).oneshot(request()).await.is_ok());
        assert_eq!(start.elapsed(), Duration::from_millis(50));
    }

    #[tokio::test]
    #[should_panic(expected = "injected fault: panic")]
    async fn panics_when_polled() {
        let _ = FaultLayer::new(FaultConfig::none().panic(1.0)).layer(Greeter::new()).oneshot(request()).await;
    }

    #[tokio::test]
    async fn the_handle_turns_faults_off_for_built_services() {
        let layer = FaultLayer::new(FaultConfig::none().error(1.0, Code::Internal));
        let service = layer.layer(Greeter::new());
        assert_eq!(service.clone().oneshot(request()).await.unwrap_err().code, Code::Internal);
        layer.handle().set(FaultConfig::none());
        assert!(service.oneshot(request()).await.is_ok());
    }
}
