//! Prometheus metrics for the server: RPC count and latency by stack, procedure and Connect
//! code, requests in flight, connections, and the process's resident memory and CPU time.
//!
//! [`RecordMetrics`] wraps the HTTP service (the Connect codec over a stack), outside the
//! interceptors, so that it also counts what the codec rejects. Per call it costs one path
//! comparison per served procedure, two atomic adds for the in-flight gauge, one counter add
//! and one histogram observation; each series is created once, on its first use. Error
//! answers have their Connect code from the codec, in the response's extensions.
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use interceptor_bench::connect::ConnectService;
//! use interceptor_bench::greeter::{self, Greeter};
//! use interceptor_bench::server::metrics::Metrics;
//! use tower::{Layer, ServiceExt};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let metrics = Metrics::new();
//! let service = metrics.layer("baseline", greeter::METHODS).layer(ConnectService::greeter(Greeter::new()));
//! let request = http::Request::post("/greeter.v1.GreeterService/SayHello")
//!     .header("content-type", "application/json")
//!     .body(Full::new(Bytes::from_static(br#"{"name":"Ada"}"#)))
//!     .unwrap();
//! assert_eq!(service.oneshot(request).await.unwrap().status(), 200);
//! let text = metrics.encode();
//! assert!(text.contains(
//!     r#"ibench_rpc_requests_total{stack="baseline",procedure="greeter.v1.GreeterService/SayHello",code="ok"} 1"#
//! ));
//! # });
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use pin_project_lite::pin_project;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, prometheus_text};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use tower::{Layer, Service};

use crate::rpc::{Code, MethodSchema};

/// The `Content-Type` of [`Metrics::encode`]'s output: Prometheus text format 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// The procedure label of requests to a path that is no served procedure.
pub const UNKNOWN_PROCEDURE: &str = "unknown";

/// The code label of successful calls.
pub const OK_CODE: &str = "ok";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcLabels {
    stack: String,
    procedure: String,
    code: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StackLabel {
    stack: String,
}

type HistogramFamily = Family<RpcLabels, Histogram, fn() -> Histogram>;

/// Latency buckets in seconds: 25 µs doubling up to about 3.3 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_025, 2.0, 18))
}

/// The server's metrics: one registry shared by every listener, so that any listener's
/// `/metrics` shows all of them. Cheap to clone.
///
/// | metric | type | labels |
/// |---|---|---|
/// | `ibench_rpc_requests_total` | counter | `stack`, `procedure`, `code` |
/// | `ibench_rpc_request_duration_seconds` | histogram | `stack`, `procedure`, `code` |
/// | `ibench_rpc_in_flight_requests` | gauge | `stack` |
/// | `ibench_connections_open` | gauge | |
/// | `ibench_connections_rejected_total` | counter | |
/// | `process_resident_memory_bytes` | gauge | |
/// | `process_cpu_seconds_total` | counter | |
///
/// `code` is `ok` or a Connect code (`invalid_argument`, …); `procedure` is
/// `package.Service/Method`, or `unknown` for any other path.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<MetricsInner>,
}

struct MetricsInner {
    registry: Registry,
    requests: Family<RpcLabels, Counter>,
    durations: HistogramFamily,
    in_flight: Family<StackLabel, Gauge>,
    connections: ConnectionMetrics,
}

/// The connection counters the accept loop keeps: open connections, and connections closed
/// at once because the connection cap was reached.
#[derive(Clone, Debug, Default)]
pub struct ConnectionMetrics {
    /// Connections being served.
    pub open: Gauge,
    /// Connections closed on accept because the cap was reached.
    pub rejected: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// An empty registry with the RPC, connection and process metrics registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RpcLabels, Counter>::default();
        let durations = HistogramFamily::new_with_constructor(latency_histogram);
        let in_flight = Family::<StackLabel, Gauge>::default();
        let connections = ConnectionMetrics::default();
        registry.register(
            "ibench_rpc_requests",
            "RPCs answered, by stack, procedure and Connect code",
            requests.clone(),
        );
        registry.register_with_unit(
            "ibench_rpc_request_duration",
            "Time from request headers to response, by stack, procedure and Connect code",
            Unit::Seconds,
            durations.clone(),
        );
        registry.register("ibench_rpc_in_flight_requests", "RPCs being answered, by stack", in_flight.clone());
        registry.register("ibench_connections_open", "Connections being served", connections.open.clone());
        registry.register(
            "ibench_connections_rejected",
            "Connections closed on accept because the connection cap was reached",
            connections.rejected.clone(),
        );
        registry.register_collector(Box::new(ProcessCollector));
        Metrics { inner: Arc::new(MetricsInner { registry, requests, durations, in_flight, connections }) }
    }

    /// The Prometheus text exposition of every metric (see [`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut text = String::with_capacity(4096);
        prometheus_text::encode(&mut text, &self.inner.registry).expect("writing to a String cannot fail");
        text
    }

    /// The connection counters, for the accept loop.
    pub fn connections(&self) -> &ConnectionMetrics {
        &self.inner.connections
    }

    /// A layer recording the calls of the listener serving `stack`, whose procedures are
    /// `methods` (as given to [`crate::connect::Routes::new`]).
    pub fn layer(&self, stack: &str, methods: &[MethodSchema]) -> RecordMetricsLayer {
        let procedures = methods
            .iter()
            .map(|method| ProcedureSeries::new(format!("/{}", method.procedure), method.procedure))
            .chain([ProcedureSeries::new(String::new(), UNKNOWN_PROCEDURE)])
            .collect();
        let in_flight = self.inner.in_flight.get_or_create_owned(&StackLabel { stack: stack.to_owned() });
        let series = ListenerSeries { metrics: self.clone(), stack: stack.to_owned(), procedures, in_flight };
        RecordMetricsLayer { series: Arc::new(series) }
    }
}

/// The counter and histogram of one (stack, procedure, code).
struct Series {
    requests: Counter,
    duration: Histogram,
}

/// The series of one procedure, one slot per code, created on first use.
struct ProcedureSeries {
    path: String,
    procedure: String,
    by_code: [OnceLock<Series>; 1 + Code::ALL.len()],
}

impl ProcedureSeries {
    fn new(path: String, procedure: &str) -> Self {
        ProcedureSeries { path, procedure: procedure.to_owned(), by_code: std::array::from_fn(|_| OnceLock::new()) }
    }
}

struct ListenerSeries {
    metrics: Metrics,
    stack: String,
    /// The served procedures, then the `unknown` catch-all last.
    procedures: Vec<ProcedureSeries>,
    in_flight: Gauge,
}

impl ListenerSeries {
    fn procedure_index(&self, path: &str) -> usize {
        let served = self.procedures.len() - 1;
        self.procedures[..served].iter().position(|p| p.path == path).unwrap_or(served)
    }

    fn record(&self, procedure: usize, code: Option<Code>, seconds: f64) {
        let procedure = &self.procedures[procedure];
        let slot = code.map_or(0, |code| 1 + Code::ALL.iter().position(|&c| c == code).expect("every code is in ALL"));
        let series = procedure.by_code[slot].get_or_init(|| {
            let labels = RpcLabels {
                stack: self.stack.clone(),
                procedure: procedure.procedure.clone(),
                code: code.map_or(OK_CODE, Code::as_str),
            };
            let metrics = &self.metrics.inner;
            Series {
                requests: metrics.requests.get_or_create_owned(&labels),
                duration: metrics.durations.get_or_create_owned(&labels),
            }
        });
        series.requests.inc();
        series.duration.observe(seconds);
    }
}

/// Wraps an HTTP service in [`RecordMetrics`]; made by [`Metrics::layer`].
#[derive(Clone)]
pub struct RecordMetricsLayer {
    series: Arc<ListenerSeries>,
}

impl<S> Layer<S> for RecordMetricsLayer {
    type Service = RecordMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RecordMetrics { inner, series: self.series.clone() }
    }
}

/// Records every call of the wrapped HTTP service: count and latency by procedure and
/// Connect code, and the number in flight.
#[derive(Clone)]
pub struct RecordMetrics<S> {
    inner: S,
    series: Arc<ListenerSeries>,
}

impl<S> RecordMetrics<S> {
    define_inner_service_accessors!();
}

impl<S, B, RB> Service<http::Request<B>> for RecordMetrics<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>, Error = Infallible>,
{
    type Response = http::Response<RB>;
    type Error = Infallible;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let procedure = self.series.procedure_index(request.uri().path());
        self.series.in_flight.inc();
        let in_flight = InFlight { series: self.series.clone() };
        ResponseFuture { inner: self.inner.call(request), in_flight, procedure, start: Instant::now() }
    }
}

/// Decrements the in-flight gauge when the call ends, answered or dropped.
struct InFlight {
    series: Arc<ListenerSeries>,
}

impl std::fmt::Debug for InFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InFlight").finish_non_exhaustive()
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.series.in_flight.dec();
    }
}

pin_project! {
    /// The response future of [`RecordMetrics`].
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        in_flight: InFlight,
        procedure: usize,
        start: Instant,
    }
}

impl<F, RB> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<RB>, Infallible>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(response) = ready!(this.inner.poll(cx));
        let code = connect_code(&response);
        this.in_flight.series.record(*this.procedure, code, this.start.elapsed().as_secs_f64());
        Poll::Ready(Ok(response))
    }
}

/// The Connect code of an answer: the code the codec put in the response's extensions (gRPC
/// errors are HTTP 200), else `None` for success and `unknown` for another error status.
fn connect_code<RB>(response: &http::Response<RB>) -> Option<Code> {
    match response.extensions().get::<Code>() {
        Some(code) => Some(*code),
        None if response.status().is_success() => None,
        None => Some(Code::Unknown),
    }
}

/// Reads the process's resident memory and CPU time from `/proc/self` at each scrape.
#[derive(Debug)]
struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        if let Some(bytes) = resident_memory_bytes() {
            let gauge = ConstGauge::new(bytes);
            let metric = encoder.encode_descriptor(
                "process_resident_memory",
                "Resident memory size in bytes",
                Some(&Unit::Bytes),
                gauge.metric_type(),
            )?;
            gauge.encode(metric)?;
        }
        if let Some(seconds) = cpu_seconds() {
            let counter = ConstCounter::new(seconds);
            let metric = encoder.encode_descriptor(
                "process_cpu",
                "Total user and system CPU time spent in seconds",
                Some(&Unit::Seconds),
                counter.metric_type(),
            )?;
            counter.encode(metric)?;
        }
        Ok(())
    }
}

/// Resident pages (`/proc/self/statm`, second field) times the page size.
pub fn resident_memory_bytes() -> Option<i64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: i64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * i64::try_from(rustix::param::page_size()).ok()?)
}

/// User plus system time (`/proc/self/stat`, fields 14 and 15) in seconds.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / rustix::param::clock_ticks_per_second() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::ConnectService;
    use crate::greeter::{self, Greeter};
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use tower::ServiceExt;

    fn call(body: &'static str) -> http::Request<Full<Bytes>> {
        http::Request::post("/greeter.v1.GreeterService/SayHello")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap()
    }

    #[tokio::test]
    async fn counts_answers_by_procedure_and_connect_code() {
        let metrics = Metrics::new();
        let service = metrics.layer("baseline", greeter::METHODS).layer(ConnectService::greeter(Greeter::new()));
        service.clone().oneshot(call(r#"{"name":"Ada"}"#)).await.unwrap();
        let rejected = service.clone().oneshot(call("{not json")).await.unwrap();
        assert_eq!(rejected.status(), 400);
        let body = rejected.into_body().collect().await.unwrap().to_bytes();
        assert!(body.starts_with(br#"{"code":"invalid_argument""#), "the body survives: {body:?}");
        let unknown = http::Request::post("/nope").body(Full::<Bytes>::default()).unwrap();
        service.oneshot(unknown).await.unwrap();

        let text = metrics.encode();
        let hello = r#"stack="baseline",procedure="greeter.v1.GreeterService/SayHello""#;
        assert!(text.contains(&format!(r#"ibench_rpc_requests_total{{{hello},code="ok"}} 1"#)), "{text}");
        assert!(text.contains(&format!(r#"ibench_rpc_requests_total{{{hello},code="invalid_argument"}} 1"#)));
        assert!(
            text.contains(r#"ibench_rpc_requests_total{stack="baseline",procedure="unknown",code="unimplemented"} 1"#)
        );
        assert!(text.contains(&format!(r#"ibench_rpc_request_duration_seconds_count{{{hello},code="ok"}} 1"#)));
        assert!(text.contains(r#"ibench_rpc_in_flight_requests{stack="baseline"} 0"#));
        assert!(text.contains("process_resident_memory_bytes "));
        assert!(text.contains("process_cpu_seconds_total "));
    }

    #[test]
    fn reads_process_figures() {
        assert!(resident_memory_bytes().unwrap() > 0);
        assert!(cpu_seconds().unwrap() >= 0.0);
    }
}
