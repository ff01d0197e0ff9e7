//! Fault injection through the resilience interceptors, in-process with tokio's paused time:
//! the greeter wrapped in a `FaultLayer`, the interceptors built from the catalog's layers.

use std::time::Duration;

use interceptor_bench::fault::{FaultConfig, FaultHandle, FaultLayer};
use interceptor_bench::greeter::{Greeter, SAY_HELLO};
use interceptor_bench::interceptors::bulkhead::BulkheadLayer;
use interceptor_bench::interceptors::circuit_breaker::CircuitBreakerLayer;
use interceptor_bench::interceptors::retry::RetryLayer;
use interceptor_bench::interceptors::timeout::TimeoutLayer;
use interceptor_bench::rpc::{Code, RpcRequest};
use interceptor_bench::stack::{BoxRpcService, Interceptor, Interceptors, Stack, find};
use tokio::time::Instant;
use tower::{Layer, ServiceExt};

fn request() -> RpcRequest {
    RpcRequest::new(SAY_HELLO, serde_json::json!({"name": "Ada"}))
}

/// `stack` over a faulty greeter, and the handle that changes the faults and counts handler calls.
fn faulty(stack: &Stack, interceptors: &Interceptors, faults: FaultConfig) -> (BoxRpcService, FaultHandle) {
    let layer = FaultLayer::new(faults.seed(2026));
    (stack.service(interceptors, layer.layer(Greeter::new())), layer.handle().clone())
}

async fn codes(service: &BoxRpcService, calls: usize) -> Vec<Option<Code>> {
    let mut codes = Vec::with_capacity(calls);
    for _ in 0..calls {
        codes.push(service.clone().oneshot(request()).await.err().map(|error| error.code));
    }
    codes
}

#[tokio::test(start_paused = true)]
async fn the_circuit_breaker_opens_at_the_threshold_and_closes_after_faults_stop() {
    let stack = Stack::of("breaker", &[Interceptor::ErrorHandler, Interceptor::CircuitBreaker]);
    let interceptors = Interceptors {
        circuit_breaker: CircuitBreakerLayer::new().failure_threshold(5).open_for(Duration::from_secs(10)),
        ..Interceptors::default()
    };
    let (service, faults) = faulty(&stack, &interceptors, FaultConfig::none().error(1.0, Code::Internal));

    let answers = codes(&service, 50).await;
    assert_eq!(answers[..5], [Some(Code::Internal); 5], "the first 5 failures reach the client");
    assert!(answers[5..].iter().all(|code| *code == Some(Code::Unavailable)), "then it fails fast: {answers:?}");
    assert_eq!(faults.calls(), 5, "an open circuit never calls the handler");

    faults.set(FaultConfig::none());
    tokio::time::advance(Duration::from_secs(9)).await;
    assert_eq!(codes(&service, 1).await, [Some(Code::Unavailable)], "still open before open_for");
    assert_eq!(faults.calls(), 5);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(codes(&service, 20).await.iter().all(Option::is_none), "the trial call closes it");
    assert_eq!(faults.calls(), 25);
}

#[tokio::test(start_paused = true)]
async fn business_errors_never_open_the_circuit() {
    let stack = Stack::of("breaker", &[Interceptor::CircuitBreaker]);
    let interceptors =
        Interceptors { circuit_breaker: CircuitBreakerLayer::new().failure_threshold(5), ..Interceptors::default() };
    let (service, faults) = faulty(&stack, &interceptors, FaultConfig::none().error(1.0, Code::InvalidArgument));
    assert!(codes(&service, 50).await.iter().all(|code| *code == Some(Code::InvalidArgument)));
    assert_eq!(faults.calls(), 50);
}

#[tokio::test(start_paused = true)]
async fn retries_stay_within_max_retries_and_the_deadline() {
    const REQUESTS: u64 = 500;
    const MAX_RETRIES: u32 = 3;
    let stack = Stack::of("retry", &[Interceptor::Timeout, Interceptor::Retry]);
    let interceptors = Interceptors {
        timeout: TimeoutLayer::new(Duration::from_secs(2)),
        retry: RetryLayer::new().max_retries(MAX_RETRIES).initial_backoff(Duration::from_millis(100)),
        ..Interceptors::default()
    };
    let (service, faults) = faulty(&stack, &interceptors, FaultConfig::none().error(0.5, Code::Unavailable));

    let mut failed = 0;
    for _ in 0..REQUESTS {
        let start = Instant::now();
        if let Err(error) = service.clone().oneshot(request()).await {
            assert!(matches!(error.code, Code::Unavailable | Code::DeadlineExceeded), "{error:?}");
            failed += 1;
        }
        assert!(start.elapsed() <= Duration::from_secs(2), "a call outlived its deadline: {:?}", start.elapsed());
    }
    let calls = faults.calls();
    eprintln!("retry: {REQUESTS} requests, {calls} handler calls, {failed} failed after retries");
    assert!(calls <= REQUESTS * (1 + u64::from(MAX_RETRIES)), "{calls} handler calls for {REQUESTS} requests");
    assert!(calls > REQUESTS * 3 / 2, "retries happened: {calls} handler calls");
    // 0.5⁴ of requests fail all four attempts: ~31 of 500.
    assert!((10..=60).contains(&failed), "{failed} of {REQUESTS} failed after retries");
}

#[tokio::test(start_paused = true)]
async fn retries_give_up_at_the_deadline_when_every_call_fails() {
    let stack = Stack::of("retry", &[Interceptor::Timeout, Interceptor::Retry]);
    let interceptors = Interceptors {
        timeout: TimeoutLayer::new(Duration::from_millis(500)),
        retry: RetryLayer::new().max_retries(10).initial_backoff(Duration::from_millis(200)),
        ..Interceptors::default()
    };
    let (service, faults) = faulty(&stack, &interceptors, FaultConfig::none().error(1.0, Code::Unavailable));
    for _ in 0..20 {
        let start = Instant::now();
        let error = service.clone().oneshot(request()).await.unwrap_err();
        assert!(matches!(error.code, Code::Unavailable | Code::DeadlineExceeded), "{error:?}");
        assert!(start.elapsed() <= Duration::from_millis(500), "{:?}", start.elapsed());
    }
    eprintln!("retry at the deadline: 20 requests, {} handler calls", faults.calls());
    // Backoffs of 100–200, 200–400, 400–800 ms: at most 3 attempts fit in 500 ms.
    assert!(faults.calls() <= 20 * 3, "{} handler calls", faults.calls());
}

#[tokio::test(start_paused = true)]
async fn the_bulkhead_rejects_with_resource_exhausted_instead_of_queueing() {
    const CALLS: usize = 100;
    let stack = Stack::of("bulkhead", &[Interceptor::Bulkhead]);
    let interceptors =
        Interceptors { bulkhead: BulkheadLayer::new().max_concurrent(4).max_queued(4), ..Interceptors::default() };
    let faults = FaultConfig::none().latency(1.0, Duration::from_millis(100));
    let (service, handle) = faulty(&stack, &interceptors, faults);

    let start = Instant::now();
    let calls: Vec<_> = (0..CALLS).map(|_| tokio::spawn(service.clone().oneshot(request()))).collect();
    let mut ok = 0;
    let mut rejected = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => ok += 1,
            Err(error) => {
                assert_eq!(error.code, Code::ResourceExhausted);
                rejected += 1;
            }
        }
    }
    assert_eq!((ok, rejected), (8, CALLS - 8), "4 in flight + 4 queued are served, the rest rejected");
    assert_eq!(handle.calls(), 8);
    assert_eq!(start.elapsed(), Duration::from_millis(200), "two waves of 100 ms, nothing waits longer");
}

#[tokio::test(start_paused = true)]
async fn a_panic_becomes_internal_and_the_service_keeps_serving() {
    let (service, faults) = faulty(&find("full").unwrap(), &Interceptors::default(), FaultConfig::none().panic(0.3));
    let answers = codes(&service, 200).await;
    let internal = answers.iter().filter(|code| **code == Some(Code::Internal)).count();
    assert_eq!(answers.iter().filter(|code| code.is_none()).count() + internal, 200, "{answers:?}");
    eprintln!("panic: {internal} of 200 calls answered internal");
    assert!((30..=90).contains(&internal), "{internal} of 200 panicked at rate 0.3");

    faults.set(FaultConfig::none());
    assert!(codes(&service, 20).await.iter().all(Option::is_none));
}

#[tokio::test(start_paused = true)]
async fn the_timeout_answers_deadline_exceeded_at_its_limit() {
    let stack = Stack::of("timeout", &[Interceptor::ErrorHandler, Interceptor::Timeout]);
    let interceptors = Interceptors { timeout: TimeoutLayer::new(Duration::from_secs(1)), ..Interceptors::default() };
    let faults = FaultConfig::none().latency(1.0, Duration::from_secs(60));
    let (service, handle) = faulty(&stack, &interceptors, faults);

    let start = Instant::now();
    assert_eq!(service.clone().oneshot(request()).await.unwrap_err().code, Code::DeadlineExceeded);
    assert_eq!(start.elapsed(), Duration::from_secs(1));

    // A client deadline shorter than the limit wins.
    let start = Instant::now();
    let request = request().with_deadline(start + Duration::from_millis(250));
    assert_eq!(service.clone().oneshot(request).await.unwrap_err().code, Code::DeadlineExceeded);
    assert_eq!(start.elapsed(), Duration::from_millis(250));

    handle.set(FaultConfig::none().latency(1.0, Duration::from_millis(999)));
    assert!(service.oneshot(self::request()).await.is_ok(), "just under the limit still answers");
}

mod support;

/// `ibench serve --fault`: the faults reach the wire with their Connect codes and the metrics.
#[test]
fn serve_injects_faults_per_listener() {
    let (_serve, listeners) = support::start_stacks(
        &["full", "baseline", "validation"],
        &["--discard-logs", "--fault", "full=panic=1", "--fault", "baseline=error=1:unavailable"],
    );
    let http = support::Http::new();
    let (full, baseline, validation) = (listeners[0].1, listeners[1].1, listeners[2].1);
    for _ in 0..3 {
        let panicked = http.say_hello(full, r#"{"name":"Ada"}"#);
        assert_eq!((panicked.status, panicked.json()["code"].as_str()), (500, Some("internal")));
        let failed = http.say_hello(baseline, r#"{"name":"Ada"}"#);
        assert_eq!((failed.status, failed.json()["code"].as_str()), (503, Some("unavailable")));
        assert_eq!(http.say_hello(validation, r#"{"name":"Ada"}"#).status, 200, "no --fault, no faults");
    }
    let metrics = http.get(full, "/metrics").body;
    let line = |stack: &str, code: &str| {
        format!(
            r#"ibench_rpc_requests_total{{stack="{stack}",procedure="greeter.v1.GreeterService/SayHello",code="{code}"}} 3"#
        )
    };
    for expected in [line("full", "internal"), line("baseline", "unavailable"), line("validation", "ok")] {
        assert!(metrics.lines().any(|l| l == expected), "{expected} in\n{metrics}");
    }
}
