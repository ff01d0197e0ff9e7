//! The measuring loops: in-process calls and loopback round trips, timed the same way for
//! every stack.

use std::cell::Cell;
use std::convert::Infallible;
use std::fmt::Debug;
use std::future::{Ready, ready};
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Throughput};
use futures_util::future::join_all;
use http::header::{CONTENT_TYPE, HOST, HeaderValue};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tower::{Service, ServiceExt};

use super::{CONCURRENCY, HTTP1_C16, HTTP1_SEQ, UNARY};
use crate::greeter::SAY_HELLO;
use crate::rpc::{RpcError, RpcRequest, RpcResponse};

/// Requests are built ahead of each timed batch of at most this many calls, and answers are
/// dropped after it, so that neither is timed.
const BATCH: u64 = 64;

const HELLO_REQUEST: &[u8] = br#"{"name":"Ada"}"#;
const HELLO_RESPONSE: &[u8] = br#"{"message":"Hello, Ada!"}"#;

/// The call every bench makes: `SayHello` with `{"name": "Ada"}`.
///
/// ```
/// let request = interceptor_bench::bench::rpc_request();
/// assert_eq!(request.procedure.method(), "SayHello");
/// ```
pub fn rpc_request() -> RpcRequest {
    RpcRequest::new(SAY_HELLO, serde_json::json!({"name": "Ada"}))
}

/// The same call as a Connect unary HTTP request: `POST /greeter.v1.GreeterService/SayHello`
/// with `{"name":"Ada"}`.
///
/// ```
/// let request = interceptor_bench::bench::http_request();
/// assert_eq!(request.uri(), "/greeter.v1.GreeterService/SayHello");
/// ```
pub fn http_request() -> http::Request<Full<Bytes>> {
    http::Request::post(format!("/{SAY_HELLO}"))
        .header(HOST, "127.0.0.1")
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from_static(HELLO_REQUEST)))
        .expect("a valid request")
}

/// The [`FLOOR`](super::FLOOR) service: answers every call at once by handing the request's
/// headers and message back, so its bench measures the harness alone (batching, readiness,
/// the call, the await, storing the answer) with no allocation or free inside the timing.
///
/// ```
/// use tower::ServiceExt;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let answer = interceptor_bench::bench::floor().oneshot(interceptor_bench::bench::rpc_request()).await;
/// assert_eq!(answer.unwrap().message["name"], "Ada");
/// # });
/// ```
pub fn floor()
-> impl Service<RpcRequest, Response = RpcResponse, Error = RpcError, Future = Ready<Result<RpcResponse, RpcError>>> + Clone
{
    tower::service_fn(|request: RpcRequest| {
        ready(Ok(RpcResponse { headers: request.headers, message: request.message }))
    })
}

/// The [`BARE_HYPER`](super::BARE_HYPER) anchor: an HTTP service that drains the request body
/// and answers the greeter's JSON, with no codec and no interceptors. Served by
/// [`BackgroundServer::start_service`](crate::server::BackgroundServer::start_service), it
/// shows what hyper and the loopback round trip cost on their own.
///
/// ```
/// use interceptor_bench::server::BackgroundServer;
/// let server = BackgroundServer::start_service(interceptor_bench::bench::bare_hyper()).unwrap();
/// assert!(server.addr().ip().is_loopback());
/// ```
pub fn bare_hyper()
-> impl Service<http::Request<Incoming>, Response = http::Response<Full<Bytes>>, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ 'static {
    tower::service_fn(|request: http::Request<Incoming>| async move {
        // Like the codec, read the whole body before answering.
        let _ = request.into_body().collect().await;
        let mut response = http::Response::new(Full::new(Bytes::from_static(HELLO_RESPONSE)));
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok::<_, Infallible>(response)
    })
}

/// Runs benches on one current-thread tokio runtime, the cheapest honest way to drive a tower
/// service: criterion's `to_async` enters the runtime once per sample, not once per call.
///
/// Every bench is `BenchmarkId::new(stack, variant)` in the group it is given, and times only
/// readiness, the call and awaiting the answer: requests are built before each timed batch
/// and answers dropped after it. One service (one connection) serves a whole bench, so state
/// such as a circuit breaker's counts carries over between calls as it does in a server.
///
/// ```no_run
/// use criterion::Criterion;
/// use interceptor_bench::bench::{BASELINE, Harness};
/// use interceptor_bench::greeter::Greeter;
/// use interceptor_bench::server::BackgroundServer;
/// use interceptor_bench::stack::{Interceptors, find};
///
/// let mut c = Criterion::default();
/// let harness = Harness::new();
/// let baseline = find(BASELINE).unwrap();
///
/// let mut group = c.benchmark_group("in_process");
/// harness.rpc(&mut group, BASELINE, baseline.service(&Interceptors::default(), Greeter::new()));
/// group.finish();
///
/// let server = BackgroundServer::start(&baseline, &Interceptors::default()).unwrap();
/// let mut group = c.benchmark_group("loopback");
/// harness.loopback(&mut group, BASELINE, server.addr());
/// group.finish();
/// ```
pub struct Harness {
    runtime: Runtime,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    /// A harness with its own current-thread runtime (timers and IO enabled).
    ///
    /// # Panics
    /// When the operating system refuses the runtime's timer or IO driver.
    pub fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("the operating system refused a tokio runtime");
        Harness { runtime }
    }

    /// The runtime the benches run on (for setting up services that need one).
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Benches `service` in-process as `stack/unary`: one [`rpc_request`] per iteration.
    ///
    /// # Panics
    /// When the first call fails: a bench of a stack that rejects the call would measure the
    /// rejection, not the stack.
    pub fn rpc<S>(&self, group: &mut BenchmarkGroup<'_, WallTime>, stack: &str, service: S)
    where
        S: Service<RpcRequest, Response = RpcResponse>,
        S::Error: Debug,
    {
        let request = rpc_request();
        self.in_process(group, stack, service, || request.clone(), async |response: RpcResponse| response, |_| true);
    }

    /// Benches an HTTP-level `service` in-process as `stack/unary`: one [`http_request`] per
    /// iteration, the response body drained inside the timing (layers such as tower-http's
    /// trace do part of their work as the body is read).
    ///
    /// # Panics
    /// When the first call fails or does not answer 200.
    pub fn http<S, B>(&self, group: &mut BenchmarkGroup<'_, WallTime>, stack: &str, service: S)
    where
        S: Service<http::Request<Full<Bytes>>, Response = http::Response<B>>,
        S::Error: Debug,
        B: Body,
        B::Error: Debug,
    {
        self.http_with(group, stack, service, http_request);
    }

    /// [`Harness::http`] with your own request: `make_request` builds each call's request
    /// (ahead of the timed batch).
    ///
    /// # Panics
    /// When the first call fails or does not answer 2xx.
    pub fn http_with<S, B>(
        &self,
        group: &mut BenchmarkGroup<'_, WallTime>,
        stack: &str,
        service: S,
        make_request: impl Fn() -> http::Request<Full<Bytes>>,
    ) where
        S: Service<http::Request<Full<Bytes>>, Response = http::Response<B>>,
        S::Error: Debug,
        B: Body,
        B::Error: Debug,
    {
        let drain = async |response: http::Response<B>| {
            let status = response.status();
            (status, response.into_body().collect().await.map(|body| body.to_bytes()))
        };
        let answered_ok =
            |(status, body): &(http::StatusCode, Result<Bytes, B::Error>)| status.is_success() && body.is_ok();
        self.in_process(group, stack, service, make_request, drain, answered_ok);
    }

    fn in_process<S, Req, O>(
        &self,
        group: &mut BenchmarkGroup<'_, WallTime>,
        stack: &str,
        mut service: S,
        make_request: impl Fn() -> Req,
        settle: impl AsyncFn(S::Response) -> O,
        succeeded: impl Fn(&O) -> bool,
    ) where
        S: Service<Req>,
        S::Error: Debug,
        O: Debug,
    {
        let first = self.runtime.block_on(async {
            let response = service.ready().await?.call(make_request()).await?;
            Ok::<_, S::Error>(settle(response).await)
        });
        match first {
            Ok(answer) if succeeded(&answer) => {}
            other => panic!("stack {stack:?} failed the benchmark call, so there is nothing to measure: {other:?}"),
        }
        // One service serves every sample: each sample's future takes it and puts it back.
        let slot = Cell::new(Some(service));
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::new(stack, UNARY), |b| {
            b.to_async(&self.runtime).iter_custom(|iters| {
                let (slot, make_request, settle) = (&slot, &make_request, &settle);
                async move {
                    let mut service = slot.take().expect("samples run one at a time");
                    let elapsed = time_calls(&mut service, iters, make_request, settle).await;
                    slot.set(Some(service));
                    elapsed
                }
            });
        });
    }

    /// Benches the HTTP server at `addr` over loopback as `stack/http1_seq` (sequential round
    /// trips on one keep-alive connection) and `stack/http1_c16` (16 round trips in flight on
    /// 16 connections per iteration, throughput in calls). Response bodies are always drained.
    ///
    /// # Panics
    /// When the server cannot be reached, a round trip fails, or the first call does not
    /// answer 200.
    pub fn loopback(&self, group: &mut BenchmarkGroup<'_, WallTime>, stack: &str, addr: SocketAddr) {
        let (sequential, concurrent) = self.runtime.block_on(async {
            let sequential = connect(addr).await;
            let concurrent = join_all((0..CONCURRENCY).map(|_| connect(addr))).await;
            (sequential, concurrent)
        });
        let mut sequential = sequential.unwrap_or_else(|e| panic!("cannot connect to {stack:?} at {addr}: {e}"));
        let concurrent: Vec<_> = concurrent
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));

        let (status, body) = self.runtime.block_on(async {
            sequential.ready().await.expect("connection open");
            let response = sequential.send_request(http_request()).await.expect("round trip");
            (response.status(), response.into_body().collect().await.expect("body").to_bytes())
        });
        assert!(status.is_success(), "stack {stack:?} at {addr} failed the benchmark call: {status} {body:?}");

        self.bench_round_trips(group, BenchmarkId::new(stack, HTTP1_SEQ), vec![sequential]);
        self.bench_round_trips(group, BenchmarkId::new(stack, HTTP1_C16), concurrent);
    }

    fn bench_round_trips(
        &self,
        group: &mut BenchmarkGroup<'_, WallTime>,
        id: BenchmarkId,
        connections: Vec<SendRequest<Full<Bytes>>>,
    ) {
        group.throughput(Throughput::Elements(connections.len() as u64));
        // The same connections serve every sample: each sample's future takes them and puts them back.
        let slot = Cell::new(connections);
        group.bench_function(id, |b| {
            b.to_async(&self.runtime).iter_custom(|iters| {
                let slot = &slot;
                async move {
                    let mut connections = slot.take();
                    let elapsed = time_round_trips(&mut connections, iters).await;
                    slot.set(connections);
                    elapsed
                }
            });
        });
    }
}

/// Times `iters` calls of `service`, in batches whose requests are built before and whose
/// answers are dropped after the timing.
async fn time_calls<S, Req, O>(
    service: &mut S,
    iters: u64,
    make_request: &impl Fn() -> Req,
    settle: &impl AsyncFn(S::Response) -> O,
) -> Duration
where
    S: Service<Req>,
{
    let mut elapsed = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let batch = left.min(BATCH);
        let requests: Vec<Req> = (0..batch).map(|_| make_request()).collect();
        let mut answers = Vec::with_capacity(requests.len());
        let start = Instant::now();
        for request in requests {
            let answer = match service.ready().await {
                Ok(ready) => match ready.call(request).await {
                    Ok(response) => Ok(settle(response).await),
                    Err(error) => Err(error),
                },
                Err(error) => Err(error),
            };
            answers.push(answer);
        }
        elapsed += start.elapsed();
        black_box(&answers);
        drop(answers);
        left -= batch;
    }
    elapsed
}

/// Times `iters` iterations of one round trip on every connection at once (on a single
/// connection: sequential round trips), in batches whose requests are built before and whose
/// answers are dropped after the timing.
async fn time_round_trips(connections: &mut [SendRequest<Full<Bytes>>], iters: u64) -> Duration {
    let mut elapsed = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let batch = left.min(BATCH.div_ceil(connections.len() as u64));
        let requests: Vec<_> = (0..batch as usize * connections.len()).map(|_| http_request()).collect();
        let mut answers = Vec::with_capacity(requests.len());
        let mut requests = requests.into_iter();
        let start = Instant::now();
        for _ in 0..batch {
            if let [connection] = connections {
                let request = requests.next().expect("one request per iteration");
                answers.push(black_box(round_trip(connection, request).await));
            } else {
                let round = connections.iter_mut().zip(requests.by_ref()).map(|(c, r)| round_trip(c, r));
                answers.extend(black_box(join_all(round).await));
            }
        }
        elapsed += start.elapsed();
        drop(answers);
        left -= batch;
    }
    elapsed
}

/// One request on `connection`, its response body drained.
///
/// # Panics
/// When the connection fails: the measurement would be meaningless from there on.
async fn round_trip(connection: &mut SendRequest<Full<Bytes>>, request: http::Request<Full<Bytes>>) -> Bytes {
    connection.ready().await.expect("the loopback connection closed");
    let response = connection.send_request(request).await.expect("the loopback round trip failed");
    response.into_body().collect().await.expect("the loopback response body failed").to_bytes()
}

/// An HTTP/1.1 keep-alive connection to `addr`, driven by a task on the current runtime.
async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, Box<dyn std::error::Error + Send + Sync>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}
