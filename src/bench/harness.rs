//! The criterion harness: in-process calls and loopback round trips ([`super::calls`]), each
//! bench a `BenchmarkId::new(stack, variant)` timed with `iter_custom`.

use std::cell::Cell;
use std::fmt::Debug;
use std::net::SocketAddr;

use bytes::Bytes;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Throughput};
use http_body_util::Full;
use tokio::runtime::Runtime;
use tower::Service;

use super::calls::{BenchedHttpService, RoundTrips, ServiceCalls, TimedCalls};
use super::{CONCURRENCY, HTTP1_C16, HTTP1_SEQ, UNARY};
use crate::rpc::{RpcRequest, RpcResponse};

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
        Harness { runtime: super::current_thread_runtime() }
    }

    /// The runtime the benches run on (for setting up services that need one).
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Benches `service` in-process as `stack/unary`: one [`rpc_request`](super::rpc_request)
    /// per iteration.
    ///
    /// # Panics
    /// When the first call fails: a bench of a stack that rejects the call would measure the
    /// rejection, not the stack.
    pub fn rpc<S>(&self, group: &mut BenchmarkGroup<'_, WallTime>, stack: &str, service: S)
    where
        S: Service<RpcRequest, Response = RpcResponse>,
        S::Error: Debug,
    {
        let mut calls = ServiceCalls::rpc(service);
        self.check(stack, calls.check());
        self.bench_calls(group, BenchmarkId::new(stack, UNARY), 1, calls);
    }

    /// Benches an HTTP-level `service` in-process as `stack/unary`: one
    /// [`http_request`](super::http_request) per iteration, the response body drained inside
    /// the timing (layers such as tower-http's trace do part of their work as the body is read).
    ///
    /// # Panics
    /// When the first call fails or does not answer 200.
    pub fn http<S>(&self, group: &mut BenchmarkGroup<'_, WallTime>, stack: &str, service: S)
    where
        S: BenchedHttpService,
    {
        self.http_with(group, stack, service, super::http_request);
    }

    /// [`Harness::http`] with your own request: `make_request` builds each call's request
    /// (ahead of the timed batch).
    ///
    /// # Panics
    /// When the first call fails or does not answer 2xx.
    pub fn http_with<S>(
        &self,
        group: &mut BenchmarkGroup<'_, WallTime>,
        stack: &str,
        service: S,
        make_request: impl Fn() -> http::Request<Full<Bytes>>,
    ) where
        S: BenchedHttpService,
    {
        let mut calls = ServiceCalls::http_with(service, make_request);
        self.check(stack, calls.check());
        self.bench_calls(group, BenchmarkId::new(stack, UNARY), 1, calls);
    }

    /// Benches the HTTP server at `addr` over loopback as `stack/http1_seq` (sequential round
    /// trips on one keep-alive connection) and `stack/http1_c16` (16 round trips in flight on
    /// 16 connections per iteration, throughput in calls). Response bodies are always drained.
    ///
    /// # Panics
    /// When the server cannot be reached, a round trip fails, or the first call does not
    /// answer 200.
    pub fn loopback(&self, group: &mut BenchmarkGroup<'_, WallTime>, stack: &str, addr: SocketAddr) {
        let (sequential, concurrent) = self
            .runtime
            .block_on(async { (RoundTrips::connect(addr, 1).await, RoundTrips::connect(addr, CONCURRENCY).await) });
        let connect_failed = |e| panic!("cannot connect to {stack:?} at {addr}: {e}");
        let (mut sequential, concurrent) =
            (sequential.unwrap_or_else(connect_failed), concurrent.unwrap_or_else(connect_failed));
        self.check(stack, sequential.check());
        self.bench_calls(group, BenchmarkId::new(stack, HTTP1_SEQ), 1, sequential);
        self.bench_calls(group, BenchmarkId::new(stack, HTTP1_C16), CONCURRENCY as u64, concurrent);
    }

    fn check(&self, stack: &str, first_call: impl Future<Output = Result<(), String>>) {
        if let Err(answer) = self.runtime.block_on(first_call) {
            panic!("stack {stack:?} failed the benchmark call, so there is nothing to measure: {answer}");
        }
    }

    /// Benches `calls` as `id`, `calls_per_iteration` calls per iteration; one `calls` serves
    /// every sample (each sample's future takes it and puts it back).
    fn bench_calls(
        &self,
        group: &mut BenchmarkGroup<'_, WallTime>,
        id: BenchmarkId,
        calls_per_iteration: u64,
        calls: impl TimedCalls,
    ) {
        group.throughput(Throughput::Elements(calls_per_iteration));
        let slot = Cell::new(Some(calls));
        group.bench_function(id, |b| {
            b.to_async(&self.runtime).iter_custom(|iters| {
                let slot = &slot;
                async move {
                    let mut calls = slot.take().expect("samples run one at a time");
                    let elapsed = calls.time(iters).await;
                    slot.set(Some(calls));
                    elapsed
                }
            });
        });
    }
}
