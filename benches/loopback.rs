//! Loopback benches: a real hyper server on 127.0.0.1:0 (its own thread and current-thread
//! runtime) per seed stack, driven by a hyper HTTP/1.1 client on the bench thread.
//!
//! Group `loopback`, for each seed stack and the `bare_hyper` anchor (hyper answering the same
//! JSON with no codec and no interceptors):
//! - `http1_seq`: sequential round trips on one keep-alive connection (latency);
//! - `http1_c16`: 16 round trips in flight on 16 keep-alive connections per iteration
//!   (throughput in calls).
//!
//! Groups `ecosystem/loopback` and `ecosystem_4k/loopback`, the same two variants: the
//! ecosystem suites (`interceptor_bench::ecosystem::suites`), the `baseline` and each tower-http
//! or tower layer alone around the codec, each on its own server that gives every request the
//! suite's headers (and, for `ecosystem_4k`, the 4 KiB name in place of the small body sent).
//!
//! Group `protocols/loopback`: sequential `SayHello` round trips on one kept-alive connection,
//! made by `ibench load`'s own client, to the `baseline` stack in each protocol
//! (`connect-json` and `connect-proto` over HTTP/1.1, `grpc` over h2c) beside `bare_hyper`
//! (Connect JSON, no codec): what each protocol costs per round trip.

use std::cell::Cell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use interceptor_bench::bench::{BARE_HYPER, BASELINE, Depth, Harness, bare_hyper};
use interceptor_bench::connect::Protocol;
use interceptor_bench::ecosystem::suites;
use interceptor_bench::load::Target;
use interceptor_bench::load::client::Caller;
use interceptor_bench::server::BackgroundServer;
use interceptor_bench::stack::{Interceptors, find, seed_stacks};

#[path = "support/mod.rs"]
mod support;

fn loopback(c: &mut Criterion) {
    let harness = Harness::new();
    let interceptors = Interceptors::default();
    let mut group = c.benchmark_group(Depth::Loopback.group(""));
    let anchor = BackgroundServer::start_service(bare_hyper()).expect("a loopback server");
    harness.loopback(&mut group, BARE_HYPER, anchor.addr());
    drop(anchor);
    for stack in seed_stacks() {
        let server = BackgroundServer::start(&stack, &interceptors).expect("a loopback server");
        harness.loopback(&mut group, stack.name(), server.addr());
    }
    group.finish();
}

/// The ecosystem suites over loopback: the baseline and each layer alone around the codec, each
/// on its own server answering the suite's request (`Suite::server`), beside bare hyper.
fn ecosystem_layers(c: &mut Criterion) {
    let harness = Harness::new();
    let interceptors = Interceptors::default();
    let baseline = find(BASELINE).expect("a catalog stack");
    for suite in suites() {
        let mut group = c.benchmark_group(Depth::Loopback.group(suite.name));
        for stack in std::iter::once(&baseline).chain(&suite.stacks) {
            let server = suite.server(stack, &interceptors).expect("a loopback server");
            harness.loopback(&mut group, stack.name(), server.addr());
        }
        group.finish();
    }
}

/// Sequential round trips by the load client in each protocol, beside bare hyper.
fn protocols(c: &mut Criterion) {
    const TIMEOUT: Duration = Duration::from_secs(5);
    let harness = Harness::new();
    let anchor = BackgroundServer::start_service(bare_hyper()).expect("a loopback server");
    let server = BackgroundServer::start(&find(BASELINE).expect("a catalog stack"), &Interceptors::default())
        .expect("a loopback server");
    let cases = [(BARE_HYPER, anchor.addr(), Protocol::ConnectJson)]
        .into_iter()
        .chain(Protocol::ALL.map(|protocol| (protocol.name(), server.addr(), protocol)));
    let mut group = c.benchmark_group(Depth::Loopback.group("protocols"));
    group.throughput(Throughput::Elements(1));
    for (name, addr, protocol) in cases {
        let target = Target::parse(&format!("http://{addr}")).expect("a loopback URL").with_protocol(protocol);
        let mut caller = Caller::new(target, "Ada");
        let first = harness.runtime().block_on(caller.say_hello(TIMEOUT));
        assert!(first.message_ok, "{name} failed the benchmark call: {first:?}");
        // One caller (one connection) serves every sample: each sample takes it and puts it back.
        let slot = Cell::new(Some(caller));
        group.bench_function(BenchmarkId::new(name, "seq"), |b| {
            b.to_async(harness.runtime()).iter_custom(|iters| {
                let slot = &slot;
                async move {
                    let mut caller = slot.take().expect("samples run one at a time");
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(caller.say_hello(TIMEOUT).await);
                    }
                    let elapsed = start.elapsed();
                    slot.set(Some(caller));
                    elapsed
                }
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = support::criterion(Duration::from_millis(500), Duration::from_secs(2), 50);
    targets = loopback, ecosystem_layers, protocols
}
criterion_main!(benches);
