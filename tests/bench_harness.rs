//! A real, short criterion run through the bench harness, read back by the results reader and
//! the overhead table: the benches and `ibench overhead` agree on names and files.

use std::time::Duration;

use criterion::Criterion;
use interceptor_bench::bench::{BASELINE, Depth, FLOOR, Harness, floor};
use interceptor_bench::greeter::Greeter;
use interceptor_bench::overhead::OverheadReport;
use interceptor_bench::results::Results;
use interceptor_bench::server::BackgroundServer;
use interceptor_bench::stack::{Interceptors, find};

#[test]
fn a_short_run_is_read_back_into_the_overhead_table() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Criterion::default()
        .output_directory(dir.path())
        .warm_up_time(Duration::from_millis(20))
        .measurement_time(Duration::from_millis(100))
        .sample_size(10)
        .nresamples(1_000)
        .without_plots();
    let harness = Harness::new();
    let interceptors = Interceptors::default();
    let stacks = [find(BASELINE).unwrap(), find("timeout").unwrap(), find("full").unwrap()];

    let mut group = c.benchmark_group(Depth::InProcess.group(""));
    harness.rpc(&mut group, FLOOR, floor());
    for stack in &stacks {
        harness.rpc(&mut group, stack.name(), stack.service(&interceptors, Greeter::new()));
    }
    group.finish();
    let mut group = c.benchmark_group(Depth::Loopback.group(""));
    for stack in [&stacks[0], &stacks[2]] {
        let server = BackgroundServer::start(stack, &interceptors).unwrap();
        harness.loopback(&mut group, stack.name(), server.addr());
    }
    group.finish();

    let results = Results::read(dir.path(), Results::LAST_RUN).unwrap();
    let ids: Vec<String> = results.iter().map(|bench| bench.id.full_id()).collect();
    assert_eq!(
        ids,
        [
            "in_process/baseline/unary",
            "in_process/floor/unary",
            "in_process/full/unary",
            "in_process/timeout/unary",
            "loopback/baseline/http1_c16",
            "loopback/baseline/http1_seq",
            "loopback/full/http1_c16",
            "loopback/full/http1_seq",
        ]
    );
    assert_eq!(results.get("loopback", "full", "http1_c16").unwrap().elements_per_iteration, Some(16));
    for bench in results.iter() {
        let median = bench.estimates.median;
        assert!(median.point > 0.0, "{bench:?}");
        let interval = median.confidence_interval;
        assert!(interval.lower_bound <= median.point && median.point <= interval.upper_bound, "{bench:?}");
    }

    let report = OverheadReport::new(&results, Duration::from_secs(1)).unwrap();
    let catalog = &report.suites[0];
    assert!(catalog.floor_ns.is_some() && catalog.baseline_loopback_ns.is_some());
    let rows: Vec<(&str, bool, bool)> =
        catalog.rows.iter().map(|r| (r.stack.as_str(), r.in_process.is_some(), r.loopback.is_some())).collect();
    assert_eq!(rows, [("full", true, true), ("timeout", true, false)]);
}
