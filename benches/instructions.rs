//! Deterministic instruction counts of one in-process RPC per stack, under Callgrind (gungraun).
//!
//! Run: `cargo bench --features instructions --bench instructions` (needs valgrind and
//! `gungraun-runner` 0.20.0). Each bench builds its stack and request in setup, warms the service
//! with a few calls (first-call allocations, thread-locals, the OpenTelemetry provider), then
//! measures exactly one `poll_ready` + `call` + driving the future to completion with a no-op
//! waker. No tokio runtime runs inside the measured region.
//!
//! `one_http_call` does the same for one HTTP request through an HTTP-level stack
//! (`ecosystem/baseline`: the codec over the greeter; `ecosystem/<layer>`: one ecosystem layer
//! around it; `ecosystem_4k/…`: the same with a 4 KiB answer, which `tower_http_compression`
//! gzips), its response body read to its end, on a current-thread runtime the setup built
//! (`tower_buffer`'s worker runs on it inside the measured call).
//!
//! Bench ids are the stack names with `/` and `-` replaced by `_` (`chain/3` → `chain_3`), and
//! without `ecosystem/` under `one_http_call`; `src/instructions.rs` maps them back. `chain/9` is
//! the `full` stack and is not measured twice.

use std::hint::black_box;

use gungraun::prelude::*;
use interceptor_bench::connect::ResponseBody;
use interceptor_bench::instructions::{OneCall, OneHttpCall, prepare_one_call, prepare_one_http_call};
use interceptor_bench::rpc::RpcResult;

#[library_benchmark]
#[bench::floor(setup = prepare_one_call, args = ("floor"))]
#[bench::full(setup = prepare_one_call, args = ("full"))]
#[bench::baseline(setup = prepare_one_call, args = ("baseline"))]
#[bench::validation(setup = prepare_one_call, args = ("validation"))]
#[bench::logger(setup = prepare_one_call, args = ("logger"))]
#[bench::tracing(setup = prepare_one_call, args = ("tracing"))]
#[bench::error_handler(setup = prepare_one_call, args = ("error_handler"))]
#[bench::timeout(setup = prepare_one_call, args = ("timeout"))]
#[bench::bulkhead(setup = prepare_one_call, args = ("bulkhead"))]
#[bench::circuit_breaker(setup = prepare_one_call, args = ("circuit_breaker"))]
#[bench::retry(setup = prepare_one_call, args = ("retry"))]
#[bench::fallback(setup = prepare_one_call, args = ("fallback"))]
#[bench::serializer(setup = prepare_one_call, args = ("serializer"))]
#[bench::method_filter_match(setup = prepare_one_call, args = ("method_filter_match"))]
#[bench::method_filter_miss(setup = prepare_one_call, args = ("method_filter_miss"))]
#[bench::chain_1(setup = prepare_one_call, args = ("chain/1"))]
#[bench::chain_2(setup = prepare_one_call, args = ("chain/2"))]
#[bench::chain_3(setup = prepare_one_call, args = ("chain/3"))]
#[bench::chain_4(setup = prepare_one_call, args = ("chain/4"))]
#[bench::chain_5(setup = prepare_one_call, args = ("chain/5"))]
#[bench::chain_6(setup = prepare_one_call, args = ("chain/6"))]
#[bench::chain_7(setup = prepare_one_call, args = ("chain/7"))]
#[bench::chain_8(setup = prepare_one_call, args = ("chain/8"))]
fn one_call(call: OneCall) -> (OneCall, RpcResult) {
    let mut call = black_box(call);
    let result = call.run();
    (call, black_box(result))
}

#[library_benchmark]
#[bench::baseline(setup = prepare_one_http_call, args = ("ecosystem/baseline"))]
#[bench::tower_http_trace(setup = prepare_one_http_call, args = ("ecosystem/tower_http_trace"))]
#[bench::tower_http_trace_fmt(setup = prepare_one_http_call, args = ("ecosystem/tower_http_trace_fmt"))]
#[bench::tower_http_compression(setup = prepare_one_http_call, args = ("ecosystem/tower_http_compression"))]
#[bench::tower_http_cors(setup = prepare_one_http_call, args = ("ecosystem/tower_http_cors"))]
#[bench::tower_http_cors_origins(setup = prepare_one_http_call, args = ("ecosystem/tower_http_cors_origins"))]
#[bench::tower_http_request_id(setup = prepare_one_http_call, args = ("ecosystem/tower_http_request_id"))]
#[bench::tower_http_sensitive_headers(setup = prepare_one_http_call, args = ("ecosystem/tower_http_sensitive_headers"))]
#[bench::tower_http_catch_panic(setup = prepare_one_http_call, args = ("ecosystem/tower_http_catch_panic"))]
#[bench::tower_http_timeout(setup = prepare_one_http_call, args = ("ecosystem/tower_http_timeout"))]
#[bench::tower_http_body_limit(setup = prepare_one_http_call, args = ("ecosystem/tower_http_body_limit"))]
#[bench::tower_http_validate_bearer(setup = prepare_one_http_call, args = ("ecosystem/tower_http_validate_bearer"))]
#[bench::tower_concurrency_limit(setup = prepare_one_http_call, args = ("ecosystem/tower_concurrency_limit"))]
#[bench::tower_rate_limit(setup = prepare_one_http_call, args = ("ecosystem/tower_rate_limit"))]
#[bench::tower_load_shed(setup = prepare_one_http_call, args = ("ecosystem/tower_load_shed"))]
#[bench::tower_buffer(setup = prepare_one_http_call, args = ("ecosystem/tower_buffer"))]
#[bench::ecosystem_4k_baseline(setup = prepare_one_http_call, args = ("ecosystem_4k/baseline"))]
#[bench::ecosystem_4k_tower_http_compression(setup = prepare_one_http_call, args = ("ecosystem_4k/tower_http_compression"))]
fn one_http_call(call: OneHttpCall) -> (OneHttpCall, http::Response<ResponseBody>) {
    let mut call = black_box(call);
    let response = call.run();
    (call, black_box(response))
}

library_benchmark_group!(name = stacks, benchmarks = [one_call, one_http_call]);
main!(library_benchmark_groups = stacks);
