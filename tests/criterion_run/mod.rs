//! A short, real criterion run through the bench harness, for the tests that read criterion's
//! output back: floor, baseline, timeout, full and the first `chain_steps` steps of the
//! cumulative chain in-process; baseline and full over loopback.

use std::path::Path;
use std::time::Duration;

use criterion::Criterion;
use interceptor_bench::bench::{BASELINE, Depth, FLOOR, Harness, floor};
use interceptor_bench::greeter::Greeter;
use interceptor_bench::server::BackgroundServer;
use interceptor_bench::stack::{Interceptors, cumulative_chain, find};

/// Writes the run's results into `dir`; with `pages`, criterion's own HTML pages and plots too.
pub fn criterion_run(dir: &Path, chain_steps: usize, pages: bool) {
    let mut c = Criterion::default()
        .output_directory(dir)
        .warm_up_time(Duration::from_millis(20))
        .measurement_time(Duration::from_millis(100))
        .sample_size(10)
        .nresamples(1_000);
    if !pages {
        c = c.without_plots();
    }
    let harness = Harness::new();
    let interceptors = Interceptors::default();
    let stacks = [find(BASELINE).unwrap(), find("timeout").unwrap(), find("full").unwrap()];
    let mut group = c.benchmark_group(Depth::InProcess.group(""));
    harness.rpc(&mut group, FLOOR, floor());
    for stack in stacks.iter().chain(&cumulative_chain()[..chain_steps]) {
        harness.rpc(&mut group, stack.name(), stack.service(&interceptors, Greeter::new()));
    }
    group.finish();
    let mut group = c.benchmark_group(Depth::Loopback.group(""));
    for stack in [&stacks[0], &stacks[2]] {
        let server = BackgroundServer::start(stack, &interceptors).unwrap();
        harness.loopback(&mut group, stack.name(), server.addr());
    }
    group.finish();
}
