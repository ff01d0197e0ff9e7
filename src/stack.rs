//! The stack catalog: named interceptor stacks, and a builder for your own.
//!
//! Every later part — the in-process benches, the loopback benches, `ibench serve` — builds its
//! services from this one catalog, so a stack means the same thing at every depth.
//!
//! Order is onion order: the first interceptor listed is the outermost, it sees the request
//! first and the response last. The seed's full chain is
//! `error_handler → timeout → bulkhead → circuit_breaker → retry → validation → serializer → logger → otel`:
//! the error handler outermost so that nothing escapes it; the timeout outside the retry so
//! that retries never outlive the deadline; the bulkhead outside the breaker so that rejected
//! calls never count as failures; validation inside the resilience layers so that business
//! errors reach the breaker, which ignores them.
//!
//! A stack has two levels. RPC-level interceptors (the built-in ones, your `Layer<BoxRpcService>`)
//! run inside the Connect codec; HTTP-level layers ([`crate::ecosystem`]: tower-http's, tower's,
//! your `Layer` over `http::Request`) run around it. The builder places each at its level, in
//! the order given within that level: a stack's HTTP service ([`Stack::http_service`]) is its
//! HTTP-level layers, outermost first, around the codec, around its RPC-level interceptors.
//!
//! ```
//! use interceptor_bench::greeter::{Greeter, SAY_HELLO};
//! use interceptor_bench::rpc::RpcRequest;
//! use interceptor_bench::stack::{Interceptor, Interceptors, Stack, catalog};
//! use tower::ServiceExt;
//!
//! let full = catalog().into_iter().find(|stack| stack.name() == "full").unwrap();
//! assert_eq!(full.interceptor_names()[0], "error_handler");
//!
//! let mine = Stack::builder("mine")
//!     .interceptor(Interceptor::Timeout)
//!     .layer("identity", tower::layer::util::Identity::new())
//!     .build();
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let service = mine.service(&Interceptors::default(), Greeter::new());
//! let request = RpcRequest::new(SAY_HELLO, serde_json::json!({"name": "Ada"}));
//! let response = service.oneshot(request).await.unwrap();
//! assert_eq!(response.message["message"], "Hello, Ada!");
//! # });
//! ```

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::Serialize;
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service};

use crate::connect::{ConnectService, ResponseBody};
use crate::ecosystem::{self, BoxHttpService, HttpLayer};
use crate::greeter::{SAY_GOODBYE, SAY_HELLO};
use crate::interceptors::method_filter::{InvalidPattern, MethodFilterLayer, ProcedurePattern};
use crate::interceptors::{
    bulkhead::BulkheadLayer, circuit_breaker::CircuitBreakerLayer, error_handler::ErrorHandlerLayer,
    fallback::FallbackLayer, logger::LoggerLayer, otel::OtelLayer, retry::RetryLayer, serializer::SerializerLayer,
    timeout::TimeoutLayer, validation::ValidationLayer,
};
use crate::rpc::{RpcError, RpcRequest, RpcResponse};

/// A type-erased RPC service: what every catalog stack builds to.
pub type BoxRpcService = BoxCloneSyncService<RpcRequest, RpcResponse, RpcError>;

/// The built-in interceptors, by name.
///
/// ```
/// use interceptor_bench::stack::Interceptor;
/// assert_eq!("circuit_breaker".parse::<Interceptor>(), Ok(Interceptor::CircuitBreaker));
/// assert_eq!(Interceptor::Otel.name(), "otel");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Interceptor {
    /// Turns any failure, a panic included, into a Connect error.
    ErrorHandler,
    /// Fails the call with `deadline_exceeded` past its limit or the client's deadline.
    Timeout,
    /// Caps calls in flight and queued; rejects the rest with `resource_exhausted`.
    Bulkhead,
    /// Fails fast with `unavailable` after consecutive server-side failures.
    CircuitBreaker,
    /// Retries `unavailable` and `resource_exhausted` with backoff, within the deadline.
    Retry,
    /// Answers a configured message when the call fails.
    Fallback,
    /// Checks declarative field rules; rejects with `invalid_argument`.
    Validation,
    /// Converts the messages to their JSON bytes and back around the call.
    Serializer,
    /// One structured `tracing` event per call.
    Logger,
    /// One OpenTelemetry server span per call.
    Otel,
}

impl Interceptor {
    /// Every built-in interceptor.
    pub const ALL: [Interceptor; 10] = [
        Interceptor::ErrorHandler,
        Interceptor::Timeout,
        Interceptor::Bulkhead,
        Interceptor::CircuitBreaker,
        Interceptor::Retry,
        Interceptor::Fallback,
        Interceptor::Validation,
        Interceptor::Serializer,
        Interceptor::Logger,
        Interceptor::Otel,
    ];

    /// The seed's full chain, outermost first.
    pub const FULL_CHAIN: [Interceptor; 9] = [
        Interceptor::ErrorHandler,
        Interceptor::Timeout,
        Interceptor::Bulkhead,
        Interceptor::CircuitBreaker,
        Interceptor::Retry,
        Interceptor::Validation,
        Interceptor::Serializer,
        Interceptor::Logger,
        Interceptor::Otel,
    ];

    /// The interceptor's name, as used in stack listings and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Interceptor::ErrorHandler => "error_handler",
            Interceptor::Timeout => "timeout",
            Interceptor::Bulkhead => "bulkhead",
            Interceptor::CircuitBreaker => "circuit_breaker",
            Interceptor::Retry => "retry",
            Interceptor::Fallback => "fallback",
            Interceptor::Validation => "validation",
            Interceptor::Serializer => "serializer",
            Interceptor::Logger => "logger",
            Interceptor::Otel => "otel",
        }
    }
}

impl fmt::Display for Interceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error for a name that is no built-in interceptor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown interceptor {0:?}; known: error_handler, timeout, bulkhead, circuit_breaker, retry, fallback, validation, serializer, logger, otel"
)]
pub struct UnknownInterceptor(pub String);

impl FromStr for Interceptor {
    type Err = UnknownInterceptor;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Interceptor::ALL.into_iter().find(|i| i.name() == s).ok_or_else(|| UnknownInterceptor(s.to_owned()))
    }
}

/// The configuration of every built-in interceptor, as their layers.
///
/// `Default` gives the seed framework's defaults, the greeter's validation rules
/// ([`crate::greeter::validation_rules`]), the logger writing to a sink and the
/// OpenTelemetry SDK exporting nowhere, so that benches never measure a terminal.
/// Layers hold configuration only: a stack's shared state (the bulkhead's permits, the
/// breaker's counts) is created when the stack is built, once per built service.
#[derive(Clone)]
pub struct Interceptors {
    /// See [`crate::interceptors::error_handler`].
    pub error_handler: ErrorHandlerLayer,
    /// See [`crate::interceptors::timeout`].
    pub timeout: TimeoutLayer,
    /// See [`crate::interceptors::bulkhead`].
    pub bulkhead: BulkheadLayer,
    /// See [`crate::interceptors::circuit_breaker`].
    pub circuit_breaker: CircuitBreakerLayer,
    /// See [`crate::interceptors::retry`].
    pub retry: RetryLayer,
    /// See [`crate::interceptors::fallback`].
    pub fallback: FallbackLayer,
    /// See [`crate::interceptors::validation`].
    pub validation: ValidationLayer,
    /// See [`crate::interceptors::serializer`].
    pub serializer: SerializerLayer,
    /// See [`crate::interceptors::logger`].
    pub logger: LoggerLayer,
    /// See [`crate::interceptors::otel`].
    pub otel: OtelLayer,
}

impl Default for Interceptors {
    fn default() -> Self {
        Interceptors {
            error_handler: ErrorHandlerLayer::default(),
            timeout: TimeoutLayer::default(),
            bulkhead: BulkheadLayer::default(),
            circuit_breaker: CircuitBreakerLayer::default(),
            retry: RetryLayer::default(),
            fallback: FallbackLayer::default(),
            validation: crate::greeter::validation_rules(),
            serializer: SerializerLayer,
            logger: LoggerLayer::default(),
            otel: OtelLayer::default(),
        }
    }
}

impl Interceptors {
    /// Wraps `inner` in the built-in interceptor `which`.
    pub fn wrap(&self, which: Interceptor, inner: BoxRpcService) -> BoxRpcService {
        match which {
            Interceptor::ErrorHandler => BoxRpcService::new(self.error_handler.layer(inner)),
            Interceptor::Timeout => BoxRpcService::new(self.timeout.layer(inner)),
            Interceptor::Bulkhead => BoxRpcService::new(self.bulkhead.layer(inner)),
            Interceptor::CircuitBreaker => BoxRpcService::new(self.circuit_breaker.layer(inner)),
            Interceptor::Retry => BoxRpcService::new(self.retry.layer(inner)),
            Interceptor::Fallback => BoxRpcService::new(self.fallback.layer(inner)),
            Interceptor::Validation => BoxRpcService::new(self.validation.layer(inner)),
            Interceptor::Serializer => BoxRpcService::new(self.serializer.layer(inner)),
            Interceptor::Logger => BoxRpcService::new(self.logger.layer(inner)),
            Interceptor::Otel => BoxRpcService::new(self.otel.layer(inner)),
        }
    }
}

type WrapFn = Arc<dyn Fn(BoxRpcService) -> BoxRpcService + Send + Sync>;

#[derive(Clone)]
enum Part {
    Builtin(Interceptor),
    Filtered { name: String, pattern: ProcedurePattern, interceptor: Interceptor },
    Custom { name: String, wrap: WrapFn },
}

impl Part {
    fn name(&self) -> &str {
        match self {
            Part::Builtin(interceptor) => interceptor.name(),
            Part::Filtered { name, .. } | Part::Custom { name, .. } => name,
        }
    }
}

/// A named stack: HTTP-level layers and RPC-level interceptors, each level outermost first.
#[derive(Clone)]
pub struct Stack {
    name: String,
    http: Vec<HttpLayer>,
    parts: Vec<Part>,
}

impl fmt::Debug for Stack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stack")
            .field("name", &self.name)
            .field("http_layers", &self.http_layer_names())
            .field("interceptors", &self.interceptor_names())
            .finish()
    }
}

impl Stack {
    /// Starts a custom stack called `name`.
    pub fn builder(name: impl Into<String>) -> StackBuilder {
        StackBuilder { stack: Stack { name: name.into(), http: Vec::new(), parts: Vec::new() } }
    }

    /// A stack of built-in interceptors, outermost first.
    pub fn of(name: impl Into<String>, interceptors: &[Interceptor]) -> Stack {
        interceptors.iter().fold(Stack::builder(name), |builder, &i| builder.interceptor(i)).build()
    }

    /// The stack's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The RPC-level interceptors' names, outermost first.
    pub fn interceptor_names(&self) -> Vec<&str> {
        self.parts.iter().map(Part::name).collect()
    }

    /// The HTTP-level layers' names, outermost first.
    pub fn http_layer_names(&self) -> Vec<&str> {
        self.http.iter().map(HttpLayer::name).collect()
    }

    /// The whole chain as a request meets it: the HTTP-level layers, the codec, the RPC-level
    /// interceptors; `(no interceptors)` for the baseline.
    ///
    /// ```
    /// use interceptor_bench::stack::parse_chain;
    /// let stack = parse_chain("mine", "timeout,tower_http_trace").unwrap();
    /// assert_eq!(stack.describe(), "tower_http_trace → [connect codec] → timeout");
    /// ```
    pub fn describe(&self) -> String {
        if self.is_empty() {
            return "(no interceptors)".to_owned();
        }
        let mut chain = self.http_layer_names();
        if !self.http.is_empty() && !self.parts.is_empty() {
            chain.push("[connect codec]");
        }
        chain.extend(self.interceptor_names());
        chain.join(" → ")
    }

    /// How many interceptors and layers the stack has, at both levels.
    pub fn len(&self) -> usize {
        self.http.len() + self.parts.len()
    }

    /// True for a stack with no interceptors or layers (the baseline).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Builds the stack around `handler` with the given interceptor configuration.
    ///
    /// Each interceptor is one boxed service; the handler is boxed too, so a stack of `n`
    /// interceptors costs `n` extra dynamic calls over the baseline, and the in-process benches
    /// count that as part of each interceptor's cost.
    pub fn service<H>(&self, interceptors: &Interceptors, handler: H) -> BoxRpcService
    where
        H: Service<RpcRequest, Response = RpcResponse, Error = RpcError> + Clone + Send + Sync + 'static,
        H::Future: Send + 'static,
    {
        self.parts.iter().rev().fold(BoxRpcService::new(handler), |inner, part| match part {
            Part::Builtin(interceptor) => interceptors.wrap(*interceptor, inner),
            Part::Filtered { pattern, interceptor, .. } => {
                let layer = tower::layer::layer_fn(|inner| interceptors.wrap(*interceptor, inner));
                BoxRpcService::new(MethodFilterLayer::with_pattern(pattern.clone(), layer).layer(inner))
            }
            Part::Custom { wrap, .. } => wrap(inner),
        })
    }

    /// Wraps `codec` (an HTTP service, usually a [`ConnectService`] over [`Stack::service`]) in
    /// the stack's HTTP-level layers. A stack with `tower_buffer` spawns its worker here: call
    /// it within a tokio runtime.
    pub fn wrap_http<C>(&self, codec: C) -> BoxHttpService
    where
        C: Service<ecosystem::HttpRequest, Response = http::Response<ResponseBody>, Error = Infallible>
            + Clone
            + Send
            + 'static,
        C::Future: Send + 'static,
    {
        self.http.iter().rev().fold(BoxHttpService::new(codec), |inner, layer| layer.wrap(inner))
    }

    /// The stack's HTTP service over `handler`: its HTTP-level layers around the Connect codec
    /// around its RPC-level interceptors. What `ibench serve` and the loopback benches serve.
    ///
    /// ```
    /// use http_body_util::{BodyExt, Full};
    /// use interceptor_bench::ecosystem::box_request;
    /// use interceptor_bench::greeter::Greeter;
    /// use interceptor_bench::stack::{Interceptors, parse_chain};
    /// use tower::ServiceExt;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let stack = parse_chain("mine", "error_handler,tower_http_request_id,logger").unwrap();
    /// let service = stack.http_service(&Interceptors::default(), Greeter::new());
    /// let request = box_request(interceptor_bench::bench::http_request());
    /// let response = service.oneshot(request).await.unwrap();
    /// assert!(response.headers().contains_key("x-request-id"));
    /// let body = response.into_body().collect().await.unwrap().to_bytes();
    /// assert_eq!(body, r#"{"message":"Hello, Ada!"}"#);
    /// # });
    /// ```
    pub fn http_service<H>(&self, interceptors: &Interceptors, handler: H) -> BoxHttpService
    where
        H: Service<RpcRequest, Response = RpcResponse, Error = RpcError> + Clone + Send + Sync + 'static,
        H::Future: Send + 'static,
    {
        self.wrap_http(ConnectService::greeter(self.service(interceptors, handler)))
    }
}

/// Builds a [`Stack`]: built-in interceptors and your own layers, outermost first.
pub struct StackBuilder {
    stack: Stack,
}

impl StackBuilder {
    /// Adds a built-in interceptor inside the ones added so far.
    pub fn interceptor(mut self, interceptor: Interceptor) -> Self {
        self.stack.parts.push(Part::Builtin(interceptor));
        self
    }

    /// Adds a built-in interceptor inside the ones added so far, applied only to the procedures
    /// matching `pattern` (`*`, `package.Service/*` or `package.Service/Method`; see
    /// [`crate::interceptors::method_filter`]). It is listed as `interceptor@pattern`.
    ///
    /// ```
    /// use interceptor_bench::stack::{Interceptor, Stack};
    /// let stack = Stack::builder("hello-only")
    ///     .interceptor_for("greeter.v1.GreeterService/SayHello", Interceptor::Validation)
    ///     .unwrap()
    ///     .build();
    /// assert_eq!(stack.interceptor_names(), ["validation@greeter.v1.GreeterService/SayHello"]);
    /// assert!(Stack::builder("bad").interceptor_for("greeter", Interceptor::Logger).is_err());
    /// ```
    pub fn interceptor_for(mut self, pattern: &str, interceptor: Interceptor) -> Result<Self, InvalidPattern> {
        let pattern = ProcedurePattern::parse(pattern)?;
        let name = format!("{interceptor}@{pattern}");
        self.stack.parts.push(Part::Filtered { name, pattern, interceptor });
        Ok(self)
    }

    /// Adds your own `tower::Layer`, named `name` in listings and bench ids.
    pub fn layer<L>(mut self, name: impl Into<String>, layer: L) -> Self
    where
        L: Layer<BoxRpcService> + Send + Sync + 'static,
        L::Service: Service<RpcRequest, Response = RpcResponse, Error = RpcError> + Clone + Send + Sync + 'static,
        <L::Service as Service<RpcRequest>>::Future: Send + 'static,
    {
        let wrap: WrapFn = Arc::new(move |inner| BoxRpcService::new(layer.layer(inner)));
        self.stack.parts.push(Part::Custom { name: name.into(), wrap });
        self
    }

    /// Adds an HTTP-level layer (an [`ecosystem::layer`], or yours as [`HttpLayer::new`]) inside
    /// the HTTP-level layers added so far, outside the codec and every RPC-level interceptor,
    /// whatever was added before it.
    pub fn http(mut self, layer: HttpLayer) -> Self {
        self.stack.http.push(layer);
        self
    }

    /// Adds the catalog interceptor or ecosystem layer called `name` at its level, or limits a
    /// built-in interceptor to some procedures with `interceptor@pattern` (see
    /// [`StackBuilder::interceptor_for`]).
    ///
    /// # Errors
    /// An unknown name, or a pattern on an HTTP-level layer (it runs before the codec knows the
    /// procedure); the message lists what exists.
    pub fn named(self, name: &str) -> Result<Self, String> {
        let (base, pattern) = match name.split_once('@') {
            Some((base, pattern)) => (base, Some(pattern)),
            None => (name, None),
        };
        if let Some(layer) = ecosystem::layer(base) {
            return match pattern {
                None => Ok(self.http(layer)),
                Some(pattern) => Err(format!(
                    "{name:?}: {base} is an HTTP-level layer; it runs before the codec knows the procedure, so it cannot be limited to {pattern:?} (only RPC-level interceptors can)"
                )),
            };
        }
        let interceptor = base.parse::<Interceptor>().map_err(|_| unknown_layer(name))?;
        match pattern {
            None => Ok(self.interceptor(interceptor)),
            Some(pattern) => self.interceptor_for(pattern, interceptor).map_err(|e| format!("{name:?}: {e}")),
        }
    }

    /// The finished stack.
    pub fn build(self) -> Stack {
        self.stack
    }
}

fn unknown_layer(name: &str) -> String {
    let rpc: Vec<&str> = Interceptor::ALL.iter().map(|i| i.name()).collect();
    format!(
        "unknown interceptor or layer {name:?}; RPC-level interceptors: {}; HTTP-level layers: {}",
        rpc.join(", "),
        ecosystem::NAMES.join(", ")
    )
}

/// A stack called `name` from a comma-separated chain of catalog interceptors and ecosystem
/// layers, each placed at its level (what `ibench serve --stack 'NAME=CHAIN@PORT'` serves).
///
/// ```
/// use interceptor_bench::stack::parse_chain;
///
/// let mine = parse_chain("mine", "error_handler,timeout,tower_http_trace,logger").unwrap();
/// assert_eq!(mine.http_layer_names(), ["tower_http_trace"]);
/// assert_eq!(mine.interceptor_names(), ["error_handler", "timeout", "logger"]);
/// assert!(parse_chain("mine", "logger,nope").unwrap_err().contains("tower_http_trace"));
/// ```
///
/// # Errors
/// An empty name or chain, a name that is already a catalog stack, an unknown or misplaced
/// layer; the message lists what exists.
pub fn parse_chain(name: &str, chain: &str) -> Result<Stack, String> {
    if name.is_empty() {
        return Err("the stack needs a name: NAME=CHAIN@PORT".to_owned());
    }
    if find(name).is_ok() {
        return Err(format!("{name:?} is already a catalog stack; give your chain another name"));
    }
    if chain.trim().is_empty() {
        return Err(format!("stack {name:?} lists no interceptors or layers"));
    }
    chain.split(',').try_fold(Stack::builder(name), |builder, item| builder.named(item.trim())).map(StackBuilder::build)
}

/// One listener of the seed's test server: its name (the stack it serves), its port and its
/// interceptors, outermost first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedListener {
    /// The listener's and its stack's name.
    pub name: &'static str,
    /// Its port, before any `--port-offset`.
    pub port: u16,
    /// Its interceptors, outermost first.
    pub interceptors: &'static [Interceptor],
}

/// The seed's listener layout, in port order: the one table `ibench serve`'s default
/// listeners, `ibench load`'s default targets, the built-in scenarios and the k6 scripts'
/// defaults (`tests/performance/lib/config.js`, checked against it by a test) come from.
///
/// ```
/// use interceptor_bench::stack::SEED_LAYOUT;
/// let layout: Vec<(&str, u16)> = SEED_LAYOUT.iter().map(|l| (l.name, l.port)).collect();
/// assert_eq!(layout, [("full", 8080), ("baseline", 8081), ("validation", 8082), ("logger", 8083), ("tracing", 8084)]);
/// ```
pub const SEED_LAYOUT: [SeedListener; 5] = [
    SeedListener { name: "full", port: 8080, interceptors: &Interceptor::FULL_CHAIN },
    SeedListener { name: "baseline", port: 8081, interceptors: &[] },
    SeedListener { name: "validation", port: 8082, interceptors: &[Interceptor::Validation] },
    SeedListener { name: "logger", port: 8083, interceptors: &[Interceptor::Logger] },
    SeedListener { name: "tracing", port: 8084, interceptors: &[Interceptor::Otel] },
];

/// The seed's listener stacks, in [`SEED_LAYOUT`] order.
pub fn seed_stacks() -> Vec<Stack> {
    SEED_LAYOUT.iter().map(|listener| Stack::of(listener.name, listener.interceptors)).collect()
}

/// Every named stack: the seed's five, then each remaining interceptor alone under its own
/// name (`otel` alone is the seed's `tracing`), then the method filter: `method_filter_match`
/// applies validation to `SayHello` (the call every bench makes), `method_filter_miss` to
/// `SayGoodbye` only, so that the benches' `SayHello` bypasses it. Against `validation` and
/// `baseline` they give what routing a layer by procedure costs, applied and bypassed.
///
/// ```
/// use interceptor_bench::stack::catalog;
/// let names: Vec<String> = catalog().iter().map(|s| s.name().to_owned()).collect();
/// assert_eq!(names[..5], ["full", "baseline", "validation", "logger", "tracing"]);
/// assert!(names.ends_with(&["method_filter_match".to_owned(), "method_filter_miss".to_owned()]));
/// ```
pub fn catalog() -> Vec<Stack> {
    let mut stacks = seed_stacks();
    for interceptor in Interceptor::ALL {
        let covered = matches!(interceptor, Interceptor::Validation | Interceptor::Logger | Interceptor::Otel);
        if !covered {
            stacks.push(Stack::of(interceptor.name(), &[interceptor]));
        }
    }
    for (name, procedure) in [("method_filter_match", SAY_HELLO), ("method_filter_miss", SAY_GOODBYE)] {
        let filtered = Stack::builder(name).interceptor_for(procedure, Interceptor::Validation);
        stacks.push(filtered.expect("a greeter procedure is a valid pattern").build());
    }
    stacks
}

/// The ecosystem catalog: each [`ecosystem::NAMES`] layer alone over the baseline, under its
/// own name. Bench them with [`Stack::http_service`] beside the `baseline`'s.
pub fn ecosystem() -> Vec<Stack> {
    ecosystem::NAMES
        .iter()
        .filter_map(|name| ecosystem::layer(name))
        .map(|layer| Stack::builder(layer.name().to_owned()).http(layer).build())
        .collect()
}

/// The stack called `name` in the [`catalog`] or the [`ecosystem`] catalog, or an error
/// listing the known names.
///
/// ```
/// use interceptor_bench::stack::find;
/// assert_eq!(find("full").unwrap().len(), 9);
/// assert_eq!(find("tower_http_trace").unwrap().http_layer_names(), ["tower_http_trace"]);
/// assert!(find("nope").unwrap_err().contains("baseline"));
/// ```
pub fn find(name: &str) -> Result<Stack, String> {
    let mut stacks = catalog();
    stacks.extend(ecosystem());
    let known: Vec<String> = stacks.iter().map(|s| s.name().to_owned()).collect();
    stacks
        .into_iter()
        .find(|stack| stack.name() == name)
        .ok_or_else(|| format!("unknown stack {name:?}; known stacks: {}", known.join(", ")))
}

/// The full chain built up one interceptor at a time: `chain/1` is the error handler alone,
/// `chain/2` adds the timeout inside it, … `chain/9` is the full chain. Benchmarked beside
/// `baseline`, consecutive differences give each interceptor's cost in its place in the chain.
pub fn cumulative_chain() -> Vec<Stack> {
    (1..=Interceptor::FULL_CHAIN.len())
        .map(|n| Stack::of(format!("chain/{n}"), &Interceptor::FULL_CHAIN[..n]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The k6 scripts cannot read this crate, so their default ports are a copy of
    /// [`SEED_LAYOUT`]; this keeps the copy equal to the table.
    #[test]
    fn the_k6_scripts_default_ports_are_the_seed_layout() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/performance/lib/config.js");
        let config = std::fs::read_to_string(path).expect("the k6 scripts' config.js");
        let line = config
            .lines()
            .find_map(|line| line.strip_prefix("export const LISTENERS = {"))
            .expect("config.js declares `export const LISTENERS = { name: port, ... };`");
        let listeners: Vec<(String, u16)> = line
            .trim_end_matches(['}', ';', ' '])
            .split(',')
            .map(|pair| {
                let (name, port) = pair.split_once(':').expect("name: port");
                (name.trim().to_owned(), port.trim().parse().expect("a port"))
            })
            .collect();
        let layout: Vec<(String, u16)> = SEED_LAYOUT.iter().map(|l| (l.name.to_owned(), l.port)).collect();
        assert_eq!(listeners, layout, "tests/performance/lib/config.js's LISTENERS");
    }

    #[test]
    fn the_seed_stacks_are_the_layout_and_lead_the_catalog() {
        let layout: Vec<(&str, Vec<&str>)> =
            SEED_LAYOUT.iter().map(|l| (l.name, l.interceptors.iter().map(|i| i.name()).collect())).collect();
        let seed = seed_stacks();
        let stacks: Vec<(&str, Vec<&str>)> = seed.iter().map(|s| (s.name(), s.interceptor_names())).collect();
        assert_eq!(stacks, layout);
        let catalog = catalog();
        assert!(catalog.iter().zip(&seed).all(|(a, b)| a.name() == b.name()));
    }
}
