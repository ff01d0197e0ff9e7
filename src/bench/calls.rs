//! The calls every bench times, with no criterion in sight: the benchmark requests, the floor
//! and bare-hyper services, and [`TimedCalls`] — `n` in-process calls of a tower service
//! ([`ServiceCalls`]) or `n` loopback round trips ([`RoundTrips`]), timed in batches whose
//! requests are built before and whose answers are dropped after the timing.
//!
//! The criterion [`Harness`](super::Harness), the paired measurements ([`crate::paired`]) and
//! the build-against-build worker all time calls through these, so a nanosecond means the same
//! thing in each of them.
//!
//! ```
//! use interceptor_bench::bench::{ServiceCalls, TimedCalls};
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let mut calls = ServiceCalls::rpc(interceptor_bench::bench::floor());
//! calls.check().await.unwrap();
//! let elapsed = calls.time(100).await;
//! assert!(elapsed.as_nanos() > 0);
//! # });
//! ```

use std::convert::Infallible;
use std::fmt::Debug;
use std::future::{Ready, ready};
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::join_all;
use http::header::{CONTENT_TYPE, HOST, HeaderValue};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower::{Service, ServiceExt};

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

/// An HTTP service the benches can time: it answers `http::Request<Full<Bytes>>` (as
/// [`http_request`] builds) with a body the bench reads to its end, and its errors and its
/// body's errors print when a check fails. Every such tower service is one, with nothing to
/// implement: an axum `Router`, a tonic server's routes, the Connect codec over a stack.
///
/// ```
/// use interceptor_bench::bench::BenchedHttpService;
/// use interceptor_bench::connect::ConnectService;
/// use interceptor_bench::greeter::Greeter;
///
/// fn bench_me<S: BenchedHttpService>(_service: S) {}
/// bench_me(ConnectService::greeter(Greeter::new()));
/// ```
pub trait BenchedHttpService:
    Service<http::Request<Full<Bytes>>, Response = http::Response<<Self as BenchedHttpService>::Body>, Error: Debug>
{
    /// Its response body.
    type Body: Body<Error: Debug>;
}

impl<S, B> BenchedHttpService for S
where
    S: Service<http::Request<Full<Bytes>>, Response = http::Response<B>, Error: Debug>,
    B: Body<Error: Debug>,
{
    type Body = B;
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

/// Something whose calls a bench times: `n` calls per [`time`](TimedCalls::time), built and
/// dropped outside the timing, in batches of at most 64.
pub trait TimedCalls {
    /// Times `n` calls and returns how long they took, requests and answers excluded.
    fn time(&mut self, n: u64) -> impl Future<Output = Duration>;
}

/// `n` in-process calls of a tower service: readiness, the call and settling the answer (for
/// an HTTP response, draining its body) are timed; building the request and dropping the
/// answer are not. One service serves every call, so state such as a circuit breaker's counts
/// carries over between calls as it does in a server.
pub struct ServiceCalls<S, M, F, P> {
    service: S,
    make_request: M,
    settle: F,
    succeeded: P,
}

/// An HTTP call's answer once its body is drained: the status and the body (or its error).
pub type Drained<B> = (http::StatusCode, Result<Bytes, <B as Body>::Error>);

impl<S> ServiceCalls<S, (), (), ()> {
    /// Calls of an RPC-level `service` with [`rpc_request`].
    pub fn rpc(
        service: S,
    ) -> ServiceCalls<S, impl Fn() -> RpcRequest, impl AsyncFn(RpcResponse) -> RpcResponse, impl Fn(&RpcResponse) -> bool>
    where
        S: Service<RpcRequest, Response = RpcResponse>,
    {
        let request = rpc_request();
        ServiceCalls {
            service,
            make_request: move || request.clone(),
            settle: async |response: RpcResponse| response,
            succeeded: |_: &RpcResponse| true,
        }
    }

    /// Calls of an HTTP-level `service` with [`http_request`], each response body drained
    /// inside the timing (layers such as tower-http's trace do part of their work as the body
    /// is read). A call succeeds when it answers 2xx and its body reads to the end.
    // The closures' types cannot be named; the return type says what they take and give.
    #[allow(clippy::type_complexity)]
    pub fn http<B>(
        service: S,
    ) -> ServiceCalls<
        S,
        impl Fn() -> http::Request<Full<Bytes>>,
        impl AsyncFn(http::Response<B>) -> Drained<B>,
        impl Fn(&Drained<B>) -> bool,
    >
    where
        S: Service<http::Request<Full<Bytes>>, Response = http::Response<B>>,
        B: Body,
    {
        Self::http_with(service, http_request)
    }

    /// [`ServiceCalls::http`] with the requests `make_request` builds.
    #[allow(clippy::type_complexity)]
    pub fn http_with<B, M>(
        service: S,
        make_request: M,
    ) -> ServiceCalls<S, M, impl AsyncFn(http::Response<B>) -> Drained<B>, impl Fn(&Drained<B>) -> bool>
    where
        S: Service<http::Request<Full<Bytes>>, Response = http::Response<B>>,
        B: Body,
        M: Fn() -> http::Request<Full<Bytes>>,
    {
        ServiceCalls {
            service,
            make_request,
            settle: async |response: http::Response<B>| {
                let status = response.status();
                (status, response.into_body().collect().await.map(|body| body.to_bytes()))
            },
            succeeded: |(status, body): &Drained<B>| status.is_success() && body.is_ok(),
        }
    }
}

impl<S, Req, M, F, O, P> ServiceCalls<S, M, F, P>
where
    S: Service<Req>,
    S::Error: Debug,
    M: Fn() -> Req,
    F: AsyncFn(S::Response) -> O,
    O: Debug,
    P: Fn(&O) -> bool,
{
    /// Makes one call and checks that it succeeds: a bench of a stack that rejects the call
    /// would measure the rejection, not the stack.
    ///
    /// # Errors
    /// The failed call's error or unsuccessful answer, for the message.
    pub async fn check(&mut self) -> Result<(), String> {
        let answer = match self.service.ready().await {
            Ok(ready) => match ready.call((self.make_request)()).await {
                Ok(response) => Ok((self.settle)(response).await),
                Err(error) => Err(error),
            },
            Err(error) => Err(error),
        };
        match answer {
            Ok(answer) if (self.succeeded)(&answer) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    }
}

impl<S, Req, M, F, O, P> TimedCalls for ServiceCalls<S, M, F, P>
where
    S: Service<Req>,
    M: Fn() -> Req,
    F: AsyncFn(S::Response) -> O,
{
    async fn time(&mut self, n: u64) -> Duration {
        time_calls(&mut self.service, n, &self.make_request, &self.settle).await
    }
}

/// `n` loopback round trips of [`http_request`] on HTTP/1.1 keep-alive connections: one
/// connection gives sequential round trips (latency), several give one round trip on each at
/// once per call (throughput). Response bodies are always drained inside the timing.
pub struct RoundTrips {
    connections: Vec<SendRequest<Full<Bytes>>>,
}

impl RoundTrips {
    /// Opens `connections` keep-alive connections to `addr`, driven by tasks on the current
    /// runtime.
    ///
    /// # Errors
    /// When a connection cannot be opened.
    pub async fn connect(addr: SocketAddr, connections: usize) -> Result<RoundTrips, BoxError> {
        let opened = join_all((0..connections.max(1)).map(|_| connect(addr))).await;
        Ok(RoundTrips { connections: opened.into_iter().collect::<Result<_, _>>()? })
    }

    /// How many round trips one call makes: one per connection.
    pub fn width(&self) -> usize {
        self.connections.len()
    }

    /// Makes one round trip and checks that it answers 2xx.
    ///
    /// # Errors
    /// The status and body of an unsuccessful answer, or the failed round trip.
    pub async fn check(&mut self) -> Result<(), String> {
        let connection = &mut self.connections[0];
        connection.ready().await.map_err(|e| e.to_string())?;
        let response = connection.send_request(http_request()).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        if status.is_success() { Ok(()) } else { Err(format!("{status} {body:?}")) }
    }
}

impl TimedCalls for RoundTrips {
    async fn time(&mut self, n: u64) -> Duration {
        time_round_trips(&mut self.connections, n).await
    }
}

/// The error of opening a loopback connection.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

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
async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, BoxError> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}
