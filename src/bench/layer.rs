//! Bench your own layer (RPC-level or HTTP-level) beside the baseline, in-process and over
//! loopback; or bench your own HTTP service with your own request.

use bytes::Bytes;
use criterion::Criterion;
use http_body_util::Full;
use tower::{Layer, Service, ServiceExt};

use super::{BASELINE, BenchedHttpService, Depth, Harness};
use crate::connect::ResponseBody;
use crate::ecosystem::{BoxHttpService, BoxableHttpService, BytesBody, HttpLayer, box_request};
use crate::greeter::Greeter;
use crate::paired::PairedBench;
use crate::rpc::{RpcError, RpcRequest, RpcResponse};
use crate::server::BackgroundServer;
use crate::stack::{BoxRpcService, Interceptors, Stack};

/// Benches your `layer` over the greeter beside the `baseline` stack: in-process in the
/// criterion group `<name>/in_process`, and over loopback HTTP in `<name>/loopback`, each
/// server on its own thread; then the two paired, interleaved in time, in-process and over
/// loopback ([`crate::paired`]). `ibench overhead` then prints what the layer adds, under the
/// suite `name`, and `ibench compare` judges it.
///
/// The layer wraps the crate's boxed RPC service, as every built-in interceptor does; build
/// it as [`Stack::builder`]`(..).layer(..)` would. For a layer over `http::Request`s, see
/// [`bench_http_layer`].
///
/// ```no_run
/// use criterion::Criterion;
/// use interceptor_bench::bench::bench_layer;
///
/// let mut c = Criterion::default();
/// bench_layer(&mut c, "concurrency_limit", tower::limit::ConcurrencyLimitLayer::new(64));
/// ```
///
/// # Panics
/// When `name` is empty or `baseline`, when a loopback server cannot start, or when the
/// stack with your layer fails the benchmark call.
pub fn bench_layer<L>(c: &mut Criterion, name: &str, layer: L)
where
    L: Layer<BoxRpcService> + Send + Sync + 'static,
    L::Service: Service<RpcRequest, Response = RpcResponse, Error = RpcError> + Clone + Send + Sync + 'static,
    <L::Service as Service<RpcRequest>>::Future: Send + 'static,
{
    check_name(name);
    let stack = Stack::builder(name).layer(name, layer).build();
    bench_beside_baseline(
        c,
        name,
        &stack,
        |harness, group, stack, interceptors| {
            harness.rpc(group, stack.name(), stack.service(interceptors, Greeter::new()));
        },
        |paired, [baseline, stack], interceptors| {
            let service = |stack: &Stack| stack.service(interceptors, Greeter::new());
            paired.rpc(BASELINE, service(baseline), stack.name(), service(stack));
        },
    );
}

/// Benches your HTTP-level `layer` (any `tower::Layer` over HTTP services: tower-http's,
/// tower's, axum or tonic middleware) around the Connect codec over the greeter, beside the
/// `baseline`: in-process as one HTTP request through both (body decoded, response encoded and
/// drained) in `<name>/in_process`, and over loopback HTTP in `<name>/loopback`; then both
/// paired, like [`bench_layer`]. `ibench overhead` then prints what the layer adds under the
/// suite `name`.
///
/// The layer wraps a [`BoxHttpService`]; its response body is read to its end inside the
/// measurement (see [`crate::ecosystem`]).
///
/// ```no_run
/// use criterion::Criterion;
/// use interceptor_bench::bench::bench_http_layer;
///
/// let mut c = Criterion::default();
/// bench_http_layer(&mut c, "cors", tower_http::cors::CorsLayer::permissive());
/// bench_http_layer(&mut c, "concurrency_limit", tower::limit::ConcurrencyLimitLayer::new(64));
/// ```
///
/// # Panics
/// When `name` is empty or `baseline`, when a loopback server cannot start, or when the
/// stack with your layer fails the benchmark call.
pub fn bench_http_layer<L, B>(c: &mut Criterion, name: &str, layer: L)
where
    L: Layer<BoxHttpService, Service: BoxableHttpService<B>> + Send + Sync + 'static,
    B: BytesBody,
{
    check_name(name);
    let stack = Stack::builder(name).http(HttpLayer::new(name, layer)).build();
    bench_beside_baseline(
        c,
        name,
        &stack,
        |harness, group, stack, interceptors| {
            harness.http(group, stack.name(), stack_http_service(harness, stack, interceptors));
        },
        |paired, [baseline, stack], interceptors| {
            let _runtime = paired.runtime().enter();
            let service = |stack: &Stack| {
                stack.http_service(interceptors, Greeter::new()).map_request(box_request::<Full<Bytes>>)
            };
            paired.http(BASELINE, service(baseline), stack.name(), service(stack));
        },
    );
}

/// The [`Stack::http_service`] of `stack` over the greeter as the in-process benches call it
/// with [`Harness::http`]: built on the harness's runtime (a `tower_buffer` layer spawns its
/// worker there), taking `Full<Bytes>` requests.
///
/// ```no_run
/// use criterion::Criterion;
/// use interceptor_bench::bench::{Harness, stack_http_service};
/// use interceptor_bench::stack::{Interceptors, find};
///
/// let (mut c, harness) = (Criterion::default(), Harness::new());
/// let stack = find("tower_http_trace").unwrap();
/// let mut group = c.benchmark_group("ecosystem/in_process");
/// harness.http(&mut group, stack.name(), stack_http_service(&harness, &stack, &Interceptors::default()));
/// ```
pub fn stack_http_service(
    harness: &Harness,
    stack: &Stack,
    interceptors: &Interceptors,
) -> impl Service<http::Request<Full<Bytes>>, Response = http::Response<ResponseBody>, Error = std::convert::Infallible>
+ use<> {
    let _runtime = harness.runtime().enter();
    stack.http_service(interceptors, Greeter::new()).map_request(box_request::<Full<Bytes>>)
}

/// Benches your own HTTP `service` (an axum `Router`, a tonic server's routes, any
/// `Service<http::Request<Full<Bytes>>>`) in-process with your own `request`, as one bench of a
/// suite: `name` is `suite/stack`, its results go to the criterion group `<suite>/in_process`
/// as `stack/unary`. Bench your service with none of your layers as `suite/baseline`, then
/// with each layer added (or all of them but one); `ibench overhead` prints each beside the
/// baseline under the suite.
///
/// Each call sends a copy of `request` (method, URI, version, headers and body; extensions are
/// not copied) and reads the response body to its end.
///
/// ```no_run
/// use bytes::Bytes;
/// use criterion::Criterion;
/// use http_body_util::Full;
/// use interceptor_bench::bench::bench_service;
/// use tower::ServiceBuilder;
///
/// let echo = tower::service_fn(|request: http::Request<Full<Bytes>>| async move {
///     Ok::<_, std::convert::Infallible>(http::Response::new(request.into_body()))
/// });
/// let request = || http::Request::post("/echo").body(Full::new(Bytes::from_static(b"hi"))).unwrap();
///
/// let mut c = Criterion::default();
/// bench_service(&mut c, "echo/baseline", echo.clone(), request());
/// let traced = ServiceBuilder::new().layer(tower_http::trace::TraceLayer::new_for_http()).service(echo);
/// bench_service(&mut c, "echo/trace", traced, request());
/// ```
///
/// # Panics
/// When `name` is not `suite/stack`, or when the first call fails or does not answer 2xx.
pub fn bench_service<S>(c: &mut Criterion, name: &str, service: S, request: http::Request<Full<Bytes>>)
where
    S: BenchedHttpService,
{
    let Some((suite, stack)) = name.rsplit_once('/').filter(|(suite, stack)| !suite.is_empty() && !stack.is_empty())
    else {
        panic!("name the bench suite/stack (e.g. \"my_api/baseline\"), not {name:?}");
    };
    let harness = Harness::new();
    let mut group = c.benchmark_group(Depth::InProcess.group(suite));
    harness.http_with(&mut group, stack, service, repeat(request));
    group.finish();
}

/// The variant of [`bench_service_layers`] with all of your layers.
pub const ALL: &str = "all";

/// Benches your own service layer by layer: `build(subset)` makes your service with the named
/// `layers` in `subset` (in the order of `layers`), and each layer is measured by adding it
/// alone to the bare service and by removing it from the whole one, with your `request`.
///
/// In the criterion group `<suite>/in_process` it benches [`BASELINE`] (`build(&[])`), [`ALL`]
/// (`build(layers)`), `<layer>` (that layer alone) and `without_<layer>` (all but that one),
/// as [`bench_service`] does. Then it pairs them, interleaved in time ([`crate::paired`]):
/// `all` and each `<layer>` against `baseline` (what a layer costs alone), and `all` against
/// each `without_<layer>`, recorded as `<layer>_in_stack` (what the layer costs in your stack).
/// `ibench overhead` shows every pair with its interval under the suite, the last as
/// `<layer>_in_stack (over without_<layer>)`.
///
/// ```no_run
/// use bytes::Bytes;
/// use criterion::Criterion;
/// use http_body_util::Full;
/// use interceptor_bench::bench::bench_service_layers;
/// use tower::ServiceBuilder;
/// use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
///
/// type Request = http::Request<Full<Bytes>>;
/// let echo = tower::service_fn(|request: Request| async move {
///     Ok::<_, std::convert::Infallible>(http::Response::new(request.into_body()))
/// });
/// // Your service with some of its layers (one type for every subset: `option_layer`).
/// let build = |layers: &[&str]| {
///     let limit = layers.contains(&"limit").then(|| tower::limit::ConcurrencyLimitLayer::new(64));
///     let sensitive = layers
///         .contains(&"sensitive")
///         .then(|| SetSensitiveRequestHeadersLayer::new([http::header::AUTHORIZATION]));
///     ServiceBuilder::new().option_layer(limit).option_layer(sensitive).service(echo.clone())
/// };
/// let request = http::Request::post("/echo").body(Full::new(Bytes::from_static(b"hi"))).unwrap();
///
/// let mut c = Criterion::default();
/// bench_service_layers(&mut c, "echo", &["limit", "sensitive"], build, request);
/// ```
///
/// # Panics
/// When `suite` is empty or has a `/`, when `layers` is empty or names `baseline` or `all`
/// (or a layer twice), or when a variant fails its first call or does not answer 2xx.
pub fn bench_service_layers<S>(
    c: &mut Criterion,
    suite: &str,
    layers: &[&str],
    build: impl Fn(&[&str]) -> S,
    request: http::Request<Full<Bytes>>,
) where
    S: BenchedHttpService,
{
    assert!(!suite.is_empty() && !suite.contains('/'), "name the suite without a '/', not {suite:?}");
    let unique = layers.iter().enumerate().all(|(i, layer)| !layers[..i].contains(layer));
    assert!(
        !layers.is_empty() && unique && !layers.iter().any(|layer| [BASELINE, ALL].contains(layer)),
        "list each of your layers once, none named {BASELINE:?} or {ALL:?}: {layers:?}"
    );
    let without = |layer: &str| -> Vec<&str> { layers.iter().copied().filter(|other| *other != layer).collect() };
    let make_request = &repeat(request);

    let harness = Harness::new();
    let mut group = c.benchmark_group(Depth::InProcess.group(suite));
    harness.http_with(&mut group, BASELINE, build(&[]), make_request);
    harness.http_with(&mut group, ALL, build(layers), make_request);
    for &layer in layers {
        harness.http_with(&mut group, layer, build(&[layer]), make_request);
        harness.http_with(&mut group, &format!("without_{layer}"), build(&without(layer)), make_request);
    }
    group.finish();

    let mut paired = PairedBench::new(suite);
    for _ in 0..paired.rounds() {
        paired.http_with(BASELINE, build(&[]), ALL, build(layers), make_request);
        for &layer in layers {
            paired.http_with(BASELINE, build(&[]), layer, build(&[layer]), make_request);
            let (reference, candidate) = (format!("without_{layer}"), format!("{layer}_in_stack"));
            paired.http_with(&reference, build(&without(layer)), &candidate, build(layers), make_request);
        }
    }
    if let Err(e) = paired.finish() {
        panic!("cannot write the paired results of {suite:?}: {e}");
    }
}

/// Builds copies of `request`: method, URI, version, headers and body.
fn repeat(request: http::Request<Full<Bytes>>) -> impl Fn() -> http::Request<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    move || {
        let mut copy = http::Request::new(body.clone());
        *copy.method_mut() = parts.method.clone();
        *copy.uri_mut() = parts.uri.clone();
        *copy.version_mut() = parts.version;
        *copy.headers_mut() = parts.headers.clone();
        copy
    }
}

fn check_name(name: &str) {
    assert!(!name.is_empty() && name != BASELINE, "name your layer something other than {name:?}");
}

/// Benches the `baseline` stack and `stack` in-process (with `in_process`) in the group
/// `<suite>/in_process`, then over loopback in `<suite>/loopback`; then measures them paired
/// (in-process with `pair`, and over loopback) into the suite's paired results.
fn bench_beside_baseline(
    c: &mut Criterion,
    suite: &str,
    stack: &Stack,
    in_process: impl Fn(
        &Harness,
        &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        &Stack,
        &Interceptors,
    ),
    pair: impl Fn(&mut PairedBench, [&Stack; 2], &Interceptors),
) {
    let stacks = [Stack::of(BASELINE, &[]), stack.clone()];
    let interceptors = Interceptors::default();
    let harness = Harness::new();

    let mut group = c.benchmark_group(Depth::InProcess.group(suite));
    for stack in &stacks {
        in_process(&harness, &mut group, stack, &interceptors);
    }
    group.finish();

    // Both servers on one thread (see `BackgroundServer::beside`).
    let reference = BackgroundServer::start(&stacks[0], &interceptors).expect("a loopback server for baseline");
    let candidate = reference
        .beside(&stacks[1], &interceptors)
        .unwrap_or_else(|e| panic!("cannot start a loopback server for {:?}: {e}", stacks[1].name()));
    let servers = [reference, candidate];
    let mut group = c.benchmark_group(Depth::Loopback.group(suite));
    for (stack, server) in stacks.iter().zip(&servers) {
        harness.loopback(&mut group, stack.name(), server.addr());
    }
    group.finish();

    let mut paired = PairedBench::new(suite);
    for _ in 0..paired.rounds() {
        pair(&mut paired, stacks.each_ref(), &interceptors);
        paired.loopback(BASELINE, servers[0].addr(), stack.name(), servers[1].addr());
    }
    if let Err(e) = paired.finish() {
        panic!("cannot write the paired results of {suite:?}: {e}");
    }
}
