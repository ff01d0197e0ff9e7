//! In-process benches: one unary call through each stacked tower service, no HTTP.
//!
//! - group `in_process`: `floor` (an empty service: the harness's own cost), every catalog
//!   stack, and the full chain built up one interceptor at a time (`chain/1` … `chain/9`);
//!   `ibench overhead` turns them into each interceptor's cost.
//! - group `comparators/in_process`: well-known layers beside ours, all measured as one HTTP
//!   request through the Connect codec (body decoded, stack, response encoded and drained), so
//!   that an HTTP-level layer (tower-http's, around the codec) and an RPC-level one (ours and
//!   tower-resilience's, inside it) are measured over the same work against the same baseline.
//!
//! - group `protocols/in_process`: the same `SayHello` through the codec over the `baseline`
//!   stack in each protocol (`connect-json`, `connect-proto`, `grpc`): decode, the call,
//!   encode and drain. Minus `in_process/baseline` it is the codec's own cost per call.
//!
//! `cargo bench --bench in_process -- --profile-time 5` writes a flamegraph per bench to
//! `target/criterion/<group>/<stack>/unary/profile/flamegraph.svg` (criterion's directory names:
//! `/` inside a group or stack name becomes `_`, e.g. `comparators_in_process`, `chain_3`).

use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use http::StatusCode;
use http_body_util::BodyExt;
use interceptor_bench::bench::UNARY;
use interceptor_bench::bench::{BASELINE, Depth, FLOOR, Harness, floor};
use interceptor_bench::connect::{ConnectService, Protocol};
use interceptor_bench::greeter::Greeter;
use interceptor_bench::rpc::{Code, RpcError};
use interceptor_bench::stack::{Interceptors, catalog, cumulative_chain, find};
use tower::{Layer, ServiceExt};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tower_resilience::bulkhead::BulkheadServiceError;
use tower_resilience::circuitbreaker::CircuitBreakerError;

#[path = "support/mod.rs"]
mod support;

/// The catalog, then the cumulative chain, beside the floor.
fn stacks(c: &mut Criterion) {
    let harness = Harness::new();
    let interceptors = Interceptors::default();
    let mut group = c.benchmark_group(Depth::InProcess.group(""));
    harness.rpc(&mut group, FLOOR, floor());
    for stack in catalog().iter().chain(&cumulative_chain()) {
        harness.rpc(&mut group, stack.name(), stack.service(&interceptors, Greeter::new()));
    }
    group.finish();
}

/// tower-http's trace, request-id and timeout layers around the codec over the baseline
/// stack; tower-resilience's bulkhead and circuit breaker inside it (with the error mapping to
/// a Connect error any user of them needs); beside our own timeout, bulkhead, circuit breaker,
/// logger and OpenTelemetry interceptors inside the same codec.
fn comparators(c: &mut Criterion) {
    let harness = Harness::new();
    let interceptors = Interceptors::default();
    let over_codec = |name: &str| {
        let stack = find(name).expect("a catalog stack");
        ConnectService::greeter(stack.service(&interceptors, Greeter::new()))
    };
    let mut group = c.benchmark_group(Depth::InProcess.group("comparators"));
    for ours in [BASELINE, "timeout", "bulkhead", "circuit_breaker", "logger", "tracing"] {
        harness.http(&mut group, ours, over_codec(ours));
    }
    let baseline = over_codec(BASELINE);
    harness.http(&mut group, "tower_http_trace", TraceLayer::new_for_http().layer(baseline.clone()));
    {
        // The same layer with a subscriber formatting its events to a sink, as our logger does.
        let subscriber =
            tracing_subscriber::fmt().with_max_level(tracing::Level::DEBUG).with_writer(std::io::sink).finish();
        let _default = tracing::subscriber::set_default(subscriber);
        harness.http(&mut group, "tower_http_trace_fmt", TraceLayer::new_for_http().layer(baseline.clone()));
    }
    let request_id = SetRequestIdLayer::x_request_id(MakeRequestUuid)
        .layer(PropagateRequestIdLayer::x_request_id().layer(baseline.clone()));
    harness.http(&mut group, "tower_http_request_id", request_id);
    let timeout = TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(10));
    harness.http(&mut group, "tower_http_timeout", timeout.layer(baseline));

    let baseline = find(BASELINE).expect("a catalog stack").service(&interceptors, Greeter::new());
    let bulkhead = tower_resilience::bulkhead::BulkheadLayer::builder()
        .max_concurrent_calls(10)
        .build()
        .expect("a valid bulkhead")
        .layer(baseline.clone())
        .map_err(|error| match error {
            BulkheadServiceError::Inner(error) => error,
            BulkheadServiceError::Bulkhead(error) => RpcError::new(Code::ResourceExhausted, error.to_string()),
        });
    harness.http(&mut group, "tower_resilience_bulkhead", ConnectService::greeter(bulkhead));
    let circuit_breaker = tower_resilience::circuitbreaker::CircuitBreakerLayer::builder()
        .build()
        .expect("a valid circuit breaker")
        .layer(baseline)
        .map_err(|error| match error {
            CircuitBreakerError::Inner(error) => error,
            CircuitBreakerError::OpenCircuit => RpcError::new(Code::Unavailable, "circuit open"),
        });
    harness.http(&mut group, "tower_resilience_circuit_breaker", ConnectService::greeter(circuit_breaker));
    group.finish();
}

/// One call through the codec over the baseline stack in each protocol, the response drained.
fn protocols(c: &mut Criterion) {
    let harness = Harness::new();
    let baseline = find(BASELINE).expect("a catalog stack").service(&Interceptors::default(), Greeter::new());
    let codec = ConnectService::greeter(baseline);
    let mut group = c.benchmark_group(Depth::InProcess.group("protocols"));
    group.throughput(Throughput::Elements(1));
    for protocol in Protocol::ALL {
        let call = async |request| {
            let response = codec.clone().oneshot(request).await.expect("the codec is infallible");
            assert!(response.status().is_success(), "{protocol} failed the benchmark call");
            response.into_body().collect().await.expect("the body is infallible").to_bytes()
        };
        let id = BenchmarkId::new(protocol.name(), UNARY);
        group.bench_function(id, |b| {
            b.to_async(harness.runtime()).iter_batched(|| support::say_hello(protocol), call, BatchSize::SmallInput)
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = support::criterion(Duration::from_millis(500), Duration::from_millis(1500), 60);
    targets = stacks, comparators, protocols
}
criterion_main!(benches);
