//! In-process benches: one unary call through each stacked tower service, no HTTP.
//!
//! - group `in_process`: `floor` (an empty service: the harness's own cost), every catalog
//!   stack, and the full chain built up one interceptor at a time (`chain/1` … `chain/9`);
//!   `ibench overhead` turns them into each interceptor's cost.
//! - group `comparators/in_process`: well-known layers beside ours (`support/comparators.rs`),
//!   all measured as one HTTP request through the Connect codec (body decoded, stack, response
//!   encoded and drained), so that an HTTP-level layer (tower-http's, around the codec) and an
//!   RPC-level one (ours and tower-resilience's, inside it) are measured over the same work
//!   against the same baseline.
//!
//! - groups `ecosystem/in_process` and `ecosystem_4k/in_process`: the ecosystem suites
//!   (`interceptor_bench::ecosystem::suites`), each tower-http or tower layer alone around the
//!   codec over the baseline, as HTTP services answering the same request.
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
use http_body_util::BodyExt;
use interceptor_bench::bench::{BASELINE, BenchedHttpService, Depth, FLOOR, Harness, UNARY, floor};
use interceptor_bench::connect::{ConnectService, Protocol};
use interceptor_bench::ecosystem::suites;
use interceptor_bench::greeter::Greeter;
use interceptor_bench::stack::{Interceptors, catalog, cumulative_chain, find};
use tower::ServiceExt;

#[path = "support/comparators.rs"]
mod comparators;
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

/// The comparators of `support/comparators.rs` beside the baseline over the same codec.
fn comparators(c: &mut Criterion) {
    struct Group<'h, 'g, 'c> {
        harness: &'h Harness,
        group: &'g mut criterion::BenchmarkGroup<'c, criterion::measurement::WallTime>,
    }
    impl comparators::Visit for Group<'_, '_, '_> {
        fn http<S>(&mut self, name: &str, service: S)
        where
            S: BenchedHttpService,
        {
            self.harness.http(self.group, name, service);
        }
    }
    let harness = Harness::new();
    let mut group = c.benchmark_group(Depth::InProcess.group("comparators"));
    harness.http(&mut group, BASELINE, comparators::baseline());
    comparators::visit(&mut Group { harness: &harness, group: &mut group });
    group.finish();
}

/// The ecosystem suites: each layer alone around the codec over the baseline, as HTTP services.
fn ecosystem_layers(c: &mut Criterion) {
    let harness = Harness::new();
    let interceptors = Interceptors::default();
    let baseline = find(BASELINE).expect("a catalog stack");
    for suite in suites() {
        let mut group = c.benchmark_group(Depth::InProcess.group(suite.name));
        for stack in std::iter::once(&baseline).chain(&suite.stacks) {
            let _runtime = harness.runtime().enter();
            harness.http(&mut group, stack.name(), suite.service(stack, &interceptors));
        }
        group.finish();
    }
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
    targets = stacks, comparators, ecosystem_layers, protocols
}
criterion_main!(benches);
