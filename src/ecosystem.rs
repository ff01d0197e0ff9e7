//! HTTP-level layers: the boxed HTTP service they stack on, and the ecosystem catalog — the
//! tower-http and tower layers Rust teams run, by name, at their common configurations.
//!
//! A [`Stack`](crate::stack::Stack) holds two levels: RPC-level interceptors inside the codec
//! (they see the procedure, headers, deadline and decoded message) and HTTP-level layers
//! around it (they see `http::Request`s and response bodies), as a server runs them:
//!
//! ```text
//! hyper ─► HTTP-level layers ─► Connect codec ─► RPC-level interceptors ─► greeter
//!          (tower_http_trace,                     (error_handler, timeout,
//!           tower_concurrency_limit …)             logger, otel …)
//! ```
//!
//! Each HTTP-level layer is one [`BoxHttpService`]: requests carry an [`HttpBody`] (the body
//! boxed once where the request enters), and each layer's response body is read to its end
//! into one [`ResponseBody`] (gRPC's trailers kept) inside that layer's box, so a layer that
//! works while the body is read (tower-http's trace, compression) is measured doing that work.
//! A layer's errors (tower's `Elapsed`, `Overloaded`, a closed buffer) become Connect or gRPC
//! errors, by the request's protocol, as any server must map them.
//!
//! ```
//! use interceptor_bench::ecosystem::{NAMES, layer};
//! use interceptor_bench::stack::Stack;
//!
//! assert!(NAMES.contains(&"tower_http_trace"));
//! let stack = Stack::builder("traced").http(layer("tower_http_trace").unwrap()).build();
//! assert_eq!(stack.http_layer_names(), ["tower_http_trace"]);
//! assert!(stack.interceptor_names().is_empty());
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT_ENCODING, AUTHORIZATION, COOKIE, HeaderValue, ORIGIN};
use http::{Method, StatusCode};
use http_body::Body;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use pin_project_lite::pin_project;
use tower::util::BoxCloneService;
use tower::{BoxError, Layer, Service, ServiceExt};
use tracing::Dispatch;
use tracing::instrument::WithSubscriber;

use crate::connect::{Protocol, ResponseBody, encode_error, encode_grpc_error};
use crate::interceptors::logger::LogClock;
use crate::rpc::{Code, RpcError};

/// The request body every HTTP-level layer sees: the incoming body, boxed once.
pub type HttpBody = UnsyncBoxBody<Bytes, BodyError>;

/// A request as HTTP-level layers see it.
pub type HttpRequest = http::Request<HttpBody>;

/// A type-erased HTTP service: the codec, and every HTTP-level layer around it.
pub type BoxHttpService = BoxCloneService<HttpRequest, http::Response<ResponseBody>, Infallible>;

/// The error of an [`HttpBody`]: whatever the body it boxes failed with.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct BodyError(BoxError);

/// A body of `Bytes` whose errors convert to a [`BoxError`]: what HTTP-level layers take and
/// answer with (hyper's, http-body-util's and tower-http's bodies are).
pub trait BytesBody: Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static {}

impl<B: Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static> BytesBody for B {}

/// A service [`box_http`] boxes: an HTTP-level layer over a [`BoxHttpService`], answering
/// with a [`BytesBody`] `B`, its errors converting to a [`BoxError`].
pub trait BoxableHttpService<B>:
    Service<HttpRequest, Response = http::Response<B>, Error: Into<BoxError>, Future: Send + 'static>
    + Clone
    + Send
    + 'static
{
}

impl<S, B> BoxableHttpService<B> for S where
    S: Service<HttpRequest, Response = http::Response<B>, Error: Into<BoxError>, Future: Send + 'static>
        + Clone
        + Send
        + 'static
{
}

/// `request` with its body boxed into an [`HttpBody`], as it enters the HTTP-level layers.
///
/// ```
/// use bytes::Bytes;
/// use http_body_util::Full;
///
/// let request = http::Request::new(Full::new(Bytes::from_static(b"{}")));
/// let request = interceptor_bench::ecosystem::box_request(request);
/// assert_eq!(http_body::Body::size_hint(request.body()).exact(), Some(2));
/// ```
pub fn box_request<B: BytesBody>(request: http::Request<B>) -> HttpRequest {
    request.map(|body| UnsyncBoxBody::new(body.map_err(|error| BodyError(error.into()))))
}

/// Boxes `service` (an HTTP-level layer over a [`BoxHttpService`]) into a [`BoxHttpService`]:
/// its response body read to its end into one [`ResponseBody`] (gRPC's trailers kept), its
/// errors answered as errors of the request's protocol (`deadline_exceeded` for tower's
/// `Elapsed`, `unavailable` for `Overloaded` and a failed buffer, `internal` for any other).
pub fn box_http<S: BoxableHttpService<B>, B: BytesBody>(service: S) -> BoxHttpService {
    let collected = service.map_err(Into::<BoxError>::into).then(|answer| async move {
        let (parts, body) = answer?.into_parts();
        let collected = body.collect().await.map_err(Into::into)?;
        let trailers = collected.trailers().cloned();
        let data = collected.to_bytes();
        let body = match trailers {
            Some(trailers) => ResponseBody::with_trailers(data, trailers),
            None => ResponseBody::from(data),
        };
        Ok::<_, BoxError>(http::Response::from_parts(parts, body))
    });
    BoxCloneService::new(Answering { inner: collected, not_ready: None })
}

/// Answers every error of `S`, from `poll_ready` or from the call, as an error of the
/// request's protocol.
struct Answering<S> {
    inner: S,
    not_ready: Option<BoxError>,
}

impl<S: Clone> Clone for Answering<S> {
    fn clone(&self) -> Self {
        Answering { inner: self.inner.clone(), not_ready: None }
    }
}

impl<S> Service<HttpRequest> for Answering<S>
where
    S: Service<HttpRequest, Response = http::Response<ResponseBody>, Error = BoxError>,
{
    type Response = http::Response<ResponseBody>;
    type Error = Infallible;
    type Future = AnsweringFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        if self.not_ready.is_none() {
            self.not_ready = ready!(self.inner.poll_ready(cx)).err();
        }
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: HttpRequest) -> Self::Future {
        let grpc = Protocol::of(request.headers()) == Some(Protocol::Grpc);
        match self.not_ready.take() {
            Some(error) => AnsweringFuture::Failed { error: Some(error), grpc },
            None => AnsweringFuture::Called { future: self.inner.call(request), grpc },
        }
    }
}

pin_project! {
    /// The future of [`Answering`]: the call's answer, or the readiness error answered at once.
    #[project = AnsweringProjection]
    pub(crate) enum AnsweringFuture<F> {
        Failed { error: Option<BoxError>, grpc: bool },
        Called { #[pin] future: F, grpc: bool },
    }
}

impl<F> Future for AnsweringFuture<F>
where
    F: Future<Output = Result<http::Response<ResponseBody>, BoxError>>,
{
    type Output = Result<http::Response<ResponseBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (answer, grpc) = match self.project() {
            AnsweringProjection::Failed { error, grpc } => (Err(error.take().expect("polled after completion")), *grpc),
            AnsweringProjection::Called { future, grpc } => (ready!(future.poll(cx)), *grpc),
        };
        Poll::Ready(Ok(answer.unwrap_or_else(|error| error_response(&error, grpc))))
    }
}

fn error_response(error: &BoxError, grpc: bool) -> http::Response<ResponseBody> {
    let code = if error.is::<tower::timeout::error::Elapsed>() {
        Code::DeadlineExceeded
    } else if error.is::<tower::load_shed::error::Overloaded>()
        || error.is::<tower::buffer::error::Closed>()
        || error.is::<tower::buffer::error::ServiceError>()
    {
        Code::Unavailable
    } else {
        Code::Internal
    };
    let error = RpcError::new(code, error.to_string());
    if grpc { encode_grpc_error(&error) } else { encode_error(&error) }
}

/// Wraps a [`BoxHttpService`] in one HTTP-level layer.
pub type WrapHttp = Arc<dyn Fn(BoxHttpService) -> BoxHttpService + Send + Sync>;

/// An HTTP-level layer of a stack: its name and how it wraps the service inside it.
#[derive(Clone)]
pub struct HttpLayer {
    name: String,
    wrap: WrapHttp,
}

impl std::fmt::Debug for HttpLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("HttpLayer").field(&self.name).finish()
    }
}

impl HttpLayer {
    /// Any `tower::Layer` over HTTP services, named `name` in listings and bench ids.
    ///
    /// ```
    /// use interceptor_bench::ecosystem::HttpLayer;
    /// let layer = HttpLayer::new("cors", tower_http::cors::CorsLayer::permissive());
    /// assert_eq!(layer.name(), "cors");
    /// ```
    pub fn new<L, B>(name: impl Into<String>, layer: L) -> Self
    where
        L: Layer<BoxHttpService, Service: BoxableHttpService<B>> + Send + Sync + 'static,
        B: BytesBody,
    {
        Self::from_fn(name, move |inner| box_http(layer.layer(inner)))
    }

    /// A layer given as the function that wraps the service inside it.
    pub fn from_fn(
        name: impl Into<String>,
        wrap: impl Fn(BoxHttpService) -> BoxHttpService + Send + Sync + 'static,
    ) -> Self {
        HttpLayer { name: name.into(), wrap: Arc::new(wrap) }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `inner` wrapped in this layer. A `tower_buffer` layer spawns its worker here, so call
    /// it within a tokio runtime.
    pub fn wrap(&self, inner: BoxHttpService) -> BoxHttpService {
        (self.wrap)(inner)
    }
}

/// The bearer token `tower_http_validate_bearer` accepts: send `Authorization: Bearer ibench`.
pub const BEARER_TOKEN: &str = "ibench";

/// The origin `tower_http_cors_origins` allows (requests from it get CORS headers).
pub const ALLOWED_ORIGIN: &str = "https://app.example.com";

/// Every ecosystem layer's name, in catalog order.
pub const NAMES: [&str; 15] = [
    "tower_http_trace",
    "tower_http_trace_fmt",
    "tower_http_compression",
    "tower_http_cors",
    "tower_http_cors_origins",
    "tower_http_request_id",
    "tower_http_sensitive_headers",
    "tower_http_catch_panic",
    "tower_http_timeout",
    "tower_http_body_limit",
    "tower_http_validate_bearer",
    "tower_concurrency_limit",
    "tower_rate_limit",
    "tower_load_shed",
    "tower_buffer",
];

/// What each ecosystem layer is, at which configuration (for listings and the docs).
///
/// ```
/// let about = interceptor_bench::ecosystem::describe("tower_http_timeout").unwrap();
/// assert!(about.contains("10 s"));
/// ```
pub fn describe(name: &str) -> Option<&'static str> {
    Some(match name {
        "tower_http_trace" => "tower_http::trace::TraceLayer::new_for_http(), no subscriber",
        "tower_http_trace_fmt" => {
            "TraceLayer::new_for_http() under a tracing_subscriber::fmt subscriber (DEBUG) writing to a sink"
        }
        "tower_http_compression" => "tower_http::compression::CompressionLayer (gzip); compresses bodies over 32 bytes",
        "tower_http_cors" => "tower_http::cors::CorsLayer::permissive()",
        "tower_http_cors_origins" => {
            "CorsLayer with an explicit origin list (https://app.example.com), POST, content-type"
        }
        "tower_http_request_id" => "SetRequestIdLayer::x_request_id(MakeRequestUuid) + PropagateRequestIdLayer",
        "tower_http_sensitive_headers" => "SetSensitiveRequestHeadersLayer [authorization, cookie]",
        "tower_http_catch_panic" => "tower_http::catch_panic::CatchPanicLayer::new()",
        "tower_http_timeout" => "tower_http::timeout::TimeoutLayer, 10 s, 408 on expiry",
        "tower_http_body_limit" => "tower_http::limit::RequestBodyLimitLayer, 1 MiB",
        "tower_http_validate_bearer" => "ValidateRequestHeaderLayer::bearer(\"ibench\")",
        "tower_concurrency_limit" => "tower::limit::ConcurrencyLimitLayer, 64",
        "tower_rate_limit" => {
            "tower::limit::RateLimitLayer, 1,000,000,000 per second per connection (never waits: its bookkeeping)"
        }
        "tower_load_shed" => "tower::load_shed::LoadShedLayer",
        "tower_buffer" => "tower::buffer::BufferLayer, 1,024 requests",
        _ => return None,
    })
}

/// The ecosystem layer called `name` (one of [`NAMES`]), or `None`.
///
/// ```
/// assert!(interceptor_bench::ecosystem::layer("tower_load_shed").is_some());
/// assert!(interceptor_bench::ecosystem::layer("logger").is_none());
/// ```
pub fn layer(name: &str) -> Option<HttpLayer> {
    layer_with_clock(name, LogClock::System)
}

/// [`layer`], with the lines of a layer that logs (`tower_http_trace_fmt`) timestamped by
/// `clock`: a fixed clock makes its lines, and the instructions spent on them, the same in
/// every run, as the logger's [`LogClock`] does for the logger.
///
/// ```
/// use interceptor_bench::ecosystem::layer_with_clock;
/// use interceptor_bench::interceptors::logger::LogClock;
///
/// let fixed = LogClock::Fixed(std::time::SystemTime::UNIX_EPOCH);
/// assert_eq!(layer_with_clock("tower_http_trace_fmt", fixed).unwrap().name(), "tower_http_trace_fmt");
/// ```
pub fn layer_with_clock(name: &str, clock: LogClock) -> Option<HttpLayer> {
    use tower_http::{
        catch_panic::CatchPanicLayer,
        compression::CompressionLayer,
        cors::CorsLayer,
        limit::RequestBodyLimitLayer,
        request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
        sensitive_headers::SetSensitiveRequestHeadersLayer,
        timeout::TimeoutLayer,
        trace::TraceLayer,
        validate_request::ValidateRequestHeaderLayer,
    };
    Some(match name {
        "tower_http_trace" => HttpLayer::new(name, TraceLayer::new_for_http()),
        "tower_http_trace_fmt" => {
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::DEBUG)
                .with_timer(clock)
                .with_writer(std::io::sink)
                .finish();
            let dispatch = Dispatch::new(subscriber);
            HttpLayer::from_fn(name, move |inner| {
                let traced = box_http(TraceLayer::new_for_http().layer(inner));
                BoxCloneService::new(UnderSubscriber { inner: traced, dispatch: dispatch.clone() })
            })
        }
        "tower_http_compression" => HttpLayer::new(name, CompressionLayer::new()),
        "tower_http_cors" => HttpLayer::new(name, CorsLayer::permissive()),
        "tower_http_cors_origins" => HttpLayer::new(
            name,
            CorsLayer::new()
                .allow_origin([HeaderValue::from_static(ALLOWED_ORIGIN)])
                .allow_methods([Method::POST])
                .allow_headers([http::header::CONTENT_TYPE]),
        ),
        "tower_http_request_id" => HttpLayer::new(
            name,
            tower::ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(PropagateRequestIdLayer::x_request_id()),
        ),
        "tower_http_sensitive_headers" => {
            HttpLayer::new(name, SetSensitiveRequestHeadersLayer::new([AUTHORIZATION, COOKIE]))
        }
        "tower_http_catch_panic" => HttpLayer::new(name, CatchPanicLayer::new()),
        "tower_http_timeout" => {
            HttpLayer::new(name, TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(10)))
        }
        "tower_http_body_limit" => HttpLayer::from_fn(name, |inner| {
            // The limit hands the codec a `Limited` body: boxed again to the type it expects.
            box_http(RequestBodyLimitLayer::new(1024 * 1024).layer(inner.map_request(box_request)))
        }),
        // Deprecated in tower-http 0.6 as "too basic", and still what its docs and users reach for.
        #[allow(deprecated)]
        "tower_http_validate_bearer" => HttpLayer::new(name, ValidateRequestHeaderLayer::bearer(BEARER_TOKEN)),
        "tower_concurrency_limit" => HttpLayer::new(name, tower::limit::ConcurrencyLimitLayer::new(64)),
        "tower_rate_limit" => HttpLayer::from_fn(name, |inner| {
            let limit = tower::limit::RateLimitLayer::new(1_000_000_000, Duration::from_secs(1));
            box_http(PerClone::new(limit, inner))
        }),
        "tower_load_shed" => HttpLayer::new(name, tower::load_shed::LoadShedLayer::new()),
        "tower_buffer" => HttpLayer::new(name, tower::buffer::BufferLayer::new(1024)),
        _ => return None,
    })
}

/// `request` with the headers the ecosystem layers look at: an `Origin` the explicit CORS list
/// allows, the bearer token, `Accept-Encoding: gzip`. Every stack of the ecosystem suite, the
/// baseline included, is benched with it.
///
/// ```
/// let request = interceptor_bench::ecosystem::with_ecosystem_headers(interceptor_bench::bench::http_request());
/// assert_eq!(request.headers()["authorization"], "Bearer ibench");
/// ```
pub fn with_ecosystem_headers<B>(mut request: http::Request<B>) -> http::Request<B> {
    let headers = request.headers_mut();
    headers.insert(ORIGIN, HeaderValue::from_static(ALLOWED_ORIGIN));
    headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer ibench"));
    headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
    request
}

/// The size of the name in [`large_hello_request`].
pub const LARGE_NAME_BYTES: usize = 4096;

/// `SayHello` with a 4 KiB name (one letter repeated), so the answer is a ~4 KiB compressible
/// message, with [`with_ecosystem_headers`]: what `tower_http_compression` is benched with,
/// beside the baseline answering the same request.
///
/// ```
/// let request = interceptor_bench::ecosystem::large_hello_request();
/// assert!(http_body::Body::size_hint(request.body()).exact().unwrap() > 4096);
/// ```
pub fn large_hello_request() -> http::Request<Full<Bytes>> {
    let body = format!(r#"{{"name":"{}"}}"#, "a".repeat(LARGE_NAME_BYTES));
    let request = http::Request::post(format!("/{}", crate::greeter::SAY_HELLO))
        .header(http::header::HOST, "127.0.0.1")
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("a valid request");
    with_ecosystem_headers(request)
}

/// The stack of the `ecosystem` suite whose one HTTP-level layer does nothing
/// (`tower::layer::util::Identity`): what the boxing and body collection of one HTTP-level
/// layer cost, the floor under every ecosystem layer's figure.
pub const HTTP_LAYER_FLOOR: &str = "http_layer_floor";

/// A suite of the ecosystem benches: stacks measured beside the `baseline`, all as HTTP
/// services answering the same request.
///
/// - `ecosystem`: [`HTTP_LAYER_FLOOR`], then every [`ecosystem`](crate::stack::ecosystem)
///   stack, with [`with_ecosystem_headers`];
/// - `ecosystem_4k`: `tower_http_compression` with a 4 KiB answer ([`large_hello_request`]),
///   the codec's own gzip off so that the layer compresses it.
///
/// ```
/// let suites = interceptor_bench::ecosystem::suites();
/// assert_eq!(suites[0].name, "ecosystem");
/// assert_eq!(suites[0].stacks[0].name(), interceptor_bench::ecosystem::HTTP_LAYER_FLOOR);
/// assert_eq!(suites[1].stacks[0].name(), "tower_http_compression");
/// ```
#[derive(Clone)]
pub struct Suite {
    /// The suite (the criterion group is `<name>/in_process`, the paired file `<name>.json`).
    pub name: &'static str,
    /// The stacks beside the baseline.
    pub stacks: Vec<crate::stack::Stack>,
    /// Whether its request carries the 4 KiB name ([`large_hello_request`]).
    pub(crate) large: bool,
}

/// Each of the ecosystem benches' [`suites`] by name, with the layers it measures beside the
/// baseline (`ecosystem` measures [`HTTP_LAYER_FLOOR`] first, too): names only, which the
/// instruction bench's setup reads without building any layer.
///
/// ```
/// let (name, layers) = interceptor_bench::ecosystem::SUITE_LAYERS[1];
/// assert_eq!((name, layers), ("ecosystem_4k", &["tower_http_compression"][..]));
/// ```
pub const SUITE_LAYERS: [(&str, &[&str]); 2] = [("ecosystem", &NAMES), (LARGE_SUITE, &["tower_http_compression"])];

/// The suite whose request carries the 4 KiB name ([`large_hello_request`]).
pub(crate) const LARGE_SUITE: &str = "ecosystem_4k";

/// The ecosystem benches' suites.
pub fn suites() -> Vec<Suite> {
    let floor = || {
        let layer = HttpLayer::new(HTTP_LAYER_FLOOR, tower::layer::util::Identity::new());
        crate::stack::Stack::builder(HTTP_LAYER_FLOOR).http(layer).build()
    };
    let find = |name: &&str| crate::stack::find(name).expect("an ecosystem stack");
    let [(name, layers), (large_name, large_layers)] = SUITE_LAYERS;
    vec![
        Suite { name, stacks: std::iter::once(floor()).chain(layers.iter().map(find)).collect(), large: false },
        Suite { name: large_name, stacks: large_layers.iter().map(find).collect(), large: true },
    ]
}

impl Suite {
    /// `stack`'s [`Stack::http_service`](crate::stack::Stack::http_service) over the greeter,
    /// taking the benches' standard request (any body: `Full<Bytes>` in-process, hyper's
    /// `Incoming` in a server) and turning it into this suite's (its headers, and for
    /// `ecosystem_4k` the 4 KiB name in place of the body sent) inside the call, the same for
    /// the baseline as for every layer. A `tower_buffer` stack spawns its worker here: call it
    /// within a tokio runtime.
    pub fn service<B>(
        &self,
        stack: &crate::stack::Stack,
        interceptors: &crate::stack::Interceptors,
    ) -> impl Service<http::Request<B>, Response = http::Response<ResponseBody>, Error = Infallible, Future: Send>
    + Clone
    + Send
    + use<B>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let service = suite_http_service(self.large, stack, interceptors);
        let large = self.large.then(|| large_hello_request().into_body());
        service.map_request(move |request: http::Request<B>| {
            let mut request = box_request(with_ecosystem_headers(request));
            if let Some(body) = &large {
                *request.body_mut() = box_request(http::Request::new(body.clone())).into_body();
            }
            request
        })
    }

    /// A loopback server (127.0.0.1:0, its own thread and runtime) answering with
    /// [`Suite::service`] of `stack`: what the loopback benches of the suite call. For
    /// `ecosystem_4k` the 4 KiB name replaces the small body the client sends, on the server.
    ///
    /// ```
    /// let suite = &interceptor_bench::ecosystem::suites()[0];
    /// let bearer = interceptor_bench::stack::find("tower_http_validate_bearer").unwrap();
    /// let server = suite.server(&bearer, &Default::default()).unwrap();
    /// assert!(server.addr().ip().is_loopback());
    /// ```
    pub fn server(
        &self,
        stack: &crate::stack::Stack,
        interceptors: &crate::stack::Interceptors,
    ) -> std::io::Result<crate::server::BackgroundServer> {
        let (suite, stack, interceptors) = (self.clone(), stack.clone(), interceptors.clone());
        crate::server::BackgroundServer::start_with(move || suite.service(&stack, &interceptors))
    }

    /// [`Suite::server`] on `reference`'s thread and runtime
    /// ([`BackgroundServer::beside`](crate::server::BackgroundServer::beside)): the two servers
    /// of a paired loopback comparison share one thread, so where the operating system places
    /// threads favours neither.
    ///
    /// ```
    /// let suite = &interceptor_bench::ecosystem::suites()[0];
    /// let find = |name| interceptor_bench::stack::find(name).unwrap();
    /// let reference = suite.server(&find("baseline"), &Default::default()).unwrap();
    /// let cors = suite.server_beside(&reference, &find("tower_http_cors"), &Default::default()).unwrap();
    /// assert_ne!(reference.addr(), cors.addr());
    /// ```
    pub fn server_beside(
        &self,
        reference: &crate::server::BackgroundServer,
        stack: &crate::stack::Stack,
        interceptors: &crate::stack::Interceptors,
    ) -> std::io::Result<crate::server::BackgroundServer> {
        let (suite, stack, interceptors) = (self.clone(), stack.clone(), interceptors.clone());
        reference.beside_with(move || suite.service(&stack, &interceptors))
    }
}

/// `stack`'s HTTP service over the greeter in a suite with (`large`) or without the 4 KiB name,
/// for requests already in the suite's form. With it, the codec's own gzip is off
/// ([`ConnectService::compress_responses`](crate::connect::ConnectService::compress_responses)):
/// the baseline answers the 4 KiB message uncompressed and `tower_http_compression` does the
/// gzip it is measured for, instead of finding an answer the codec already compressed.
pub(crate) fn suite_http_service(
    large: bool,
    stack: &crate::stack::Stack,
    interceptors: &crate::stack::Interceptors,
) -> BoxHttpService {
    let codec = crate::connect::ConnectService::greeter(stack.service(interceptors, crate::greeter::Greeter::new()));
    stack.wrap_http(codec.compress_responses(!large))
}

/// Runs a service's calls, and the futures they return, under its own `tracing` subscriber.
#[derive(Clone)]
struct UnderSubscriber<S> {
    inner: S,
    dispatch: Dispatch,
}

impl<S: Service<R>, R> Service<R> for UnderSubscriber<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = tracing::instrument::WithDispatch<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let future = tracing::dispatcher::with_default(&self.dispatch, || self.inner.call(request));
        future.with_subscriber(self.dispatch.clone())
    }
}

/// A layer whose service cannot be cloned (tower's `RateLimit`), made cloneable by building a
/// fresh one per clone: each connection of a server gets its own, with its own state.
struct PerClone<L: Layer<S>, S> {
    layer: L,
    inner: S,
    service: L::Service,
}

impl<L: Layer<S>, S: Clone> PerClone<L, S> {
    fn new(layer: L, inner: S) -> Self {
        let service = layer.layer(inner.clone());
        PerClone { layer, inner, service }
    }
}

impl<L: Layer<S> + Clone, S: Clone> Clone for PerClone<L, S> {
    fn clone(&self) -> Self {
        PerClone::new(self.layer.clone(), self.inner.clone())
    }
}

impl<L: Layer<S>, S, R> Service<R> for PerClone<L, S>
where
    L::Service: Service<R>,
{
    type Response = <L::Service as Service<R>>::Response;
    type Error = <L::Service as Service<R>>::Error;
    type Future = <L::Service as Service<R>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.service.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        self.service.call(request)
    }
}
