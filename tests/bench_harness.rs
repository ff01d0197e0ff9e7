//! A real, short criterion run through the bench harness, read back by the results reader and
//! the overhead table: the benches and `ibench overhead` agree on names and files.

mod criterion_run;

use std::time::Duration;

use criterion_run::criterion_run;
use interceptor_bench::overhead::OverheadReport;
use interceptor_bench::results::Results;

#[test]
fn a_short_run_is_read_back_into_the_overhead_table() {
    let dir = tempfile::tempdir().unwrap();
    criterion_run(dir.path(), 0, false);

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
