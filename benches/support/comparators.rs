//! The comparators: well-known layers beside ours, each built over the baseline as one HTTP
//! service through the Connect codec — tower-http's trace, request-id and timeout around the
//! codec; tower-resilience's bulkhead and circuit breaker inside it (with the error mapping to
//! a Connect error any user of them needs); our own timeout, bulkhead, circuit breaker, logger
//! and OpenTelemetry interceptors inside the same codec. The criterion benches and the paired
//! benches visit the same list.

use std::time::Duration;

use http::StatusCode;
use interceptor_bench::bench::{BASELINE, BenchedHttpService};
use interceptor_bench::connect::ConnectService;
use interceptor_bench::greeter::Greeter;
use interceptor_bench::rpc::{Code, RpcError};
use interceptor_bench::stack::{BoxRpcService, Interceptors, find};
use tower::{Layer, ServiceExt};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tower_resilience::bulkhead::BulkheadServiceError;
use tower_resilience::circuitbreaker::CircuitBreakerError;

/// Where the comparators go: a criterion group, or paired measurements against the baseline.
pub trait Visit {
    /// One comparator, an HTTP service named `name`.
    fn http<S>(&mut self, name: &str, service: S)
    where
        S: BenchedHttpService;
}

/// The baseline stack over the codec: what every comparator is measured against.
pub fn baseline() -> ConnectService<BoxRpcService> {
    over_codec(BASELINE)
}

fn over_codec(name: &str) -> ConnectService<BoxRpcService> {
    let stack = find(name).expect("a catalog stack");
    ConnectService::greeter(stack.service(&Interceptors::default(), Greeter::new()))
}

/// Visits every comparator (not the baseline itself), ours first.
pub fn visit(visitor: &mut impl Visit) {
    for ours in ["timeout", "bulkhead", "circuit_breaker", "logger", "tracing"] {
        visitor.http(ours, over_codec(ours));
    }
    let baseline = baseline();
    visitor.http("tower_http_trace", TraceLayer::new_for_http().layer(baseline.clone()));
    {
        // The same layer with a subscriber formatting its events to a sink, as our logger does.
        let subscriber =
            tracing_subscriber::fmt().with_max_level(tracing::Level::DEBUG).with_writer(std::io::sink).finish();
        let _default = tracing::subscriber::set_default(subscriber);
        visitor.http("tower_http_trace_fmt", TraceLayer::new_for_http().layer(baseline.clone()));
    }
    let request_id = SetRequestIdLayer::x_request_id(MakeRequestUuid)
        .layer(PropagateRequestIdLayer::x_request_id().layer(baseline.clone()));
    visitor.http("tower_http_request_id", request_id);
    let timeout = TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(10));
    visitor.http("tower_http_timeout", timeout.layer(baseline));

    let rpc_baseline = find(BASELINE).expect("a catalog stack").service(&Interceptors::default(), Greeter::new());
    let bulkhead = tower_resilience::bulkhead::BulkheadLayer::builder()
        .max_concurrent_calls(10)
        .build()
        .expect("a valid bulkhead")
        .layer(rpc_baseline.clone())
        .map_err(|error| match error {
            BulkheadServiceError::Inner(error) => error,
            BulkheadServiceError::Bulkhead(error) => RpcError::new(Code::ResourceExhausted, error.to_string()),
        });
    visitor.http("tower_resilience_bulkhead", ConnectService::greeter(bulkhead));
    let circuit_breaker = tower_resilience::circuitbreaker::CircuitBreakerLayer::builder()
        .build()
        .expect("a valid circuit breaker")
        .layer(rpc_baseline)
        .map_err(|error| match error {
            CircuitBreakerError::Inner(error) => error,
            CircuitBreakerError::OpenCircuit => RpcError::new(Code::Unavailable, "circuit open"),
        });
    visitor.http("tower_resilience_circuit_breaker", ConnectService::greeter(circuit_breaker));
}
