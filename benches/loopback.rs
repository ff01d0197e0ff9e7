//! Loopback benches: a real hyper server on 127.0.0.1:0 (its own thread and current-thread
//! runtime) per seed stack, driven by a hyper HTTP/1.1 client on the bench thread.
//!
//! Group `loopback`, for each seed stack and the `bare_hyper` anchor (hyper answering the same
//! JSON with no codec and no interceptors):
//! - `http1_seq`: sequential round trips on one keep-alive connection (latency);
//! - `http1_c16`: 16 round trips in flight on 16 keep-alive connections per iteration
//!   (throughput in calls).

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use interceptor_bench::bench::{BARE_HYPER, Depth, Harness, bare_hyper};
use interceptor_bench::server::BackgroundServer;
use interceptor_bench::stack::{Interceptors, seed_stacks};

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

criterion_group! {
    name = benches;
    config = support::criterion(Duration::from_millis(500), Duration::from_secs(2), 50);
    targets = loopback
}
criterion_main!(benches);
