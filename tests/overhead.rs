//! The criterion results reader and the overhead table, on hand-made criterion output.

mod fixtures;

use std::fs;
use std::time::{Duration, SystemTime};

use fixtures::{Median, write_bench, write_run};
use interceptor_bench::overhead::{Format, Overhead, OverheadReport, Verdict};
use interceptor_bench::results::{Results, ResultsError};

#[test]
fn reads_ids_from_benchmark_json_and_medians_with_intervals() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path());
    let results = Results::read(dir.path(), Results::LAST_RUN).unwrap();
    assert_eq!(results.len(), 13);

    // criterion sanitizes `chain/2` to the directory `chain_2`; the id keeps the slash.
    let chain = results.get("in_process", "chain/2", "unary").unwrap();
    assert!(chain.dir.ends_with("in_process/chain_2/unary/new"));
    assert_eq!(chain.id.full_id(), "in_process/chain/2/unary");
    assert_eq!(chain.estimates.median.point, 300.0);
    assert_eq!(chain.estimates.median.confidence_interval.lower_bound, 296.0);
    assert_eq!(chain.estimates.median.confidence_interval.upper_bound, 305.0);
    assert_eq!(chain.elements_per_iteration, Some(1));

    let c16 = results.get_full_id("loopback/baseline/http1_c16").unwrap();
    assert_eq!(c16.elements_per_iteration, Some(16));
    assert!(results.get("served_by/in_process", "served_by", "unary").is_some());
    assert!(results.get("in_process", "chain/2", "http1_seq").is_none());
}

#[test]
fn reads_a_saved_baseline_by_name() {
    let dir = tempfile::tempdir().unwrap();
    write_bench(dir.path(), ("in_process", "baseline", "unary"), "new", Median(200.0, 199.0, 201.0));
    write_bench(dir.path(), ("in_process", "baseline", "unary"), "main", Median(180.0, 179.0, 181.0));
    let median = |name: &str| {
        let results = Results::read(dir.path(), name).unwrap();
        results.get("in_process", "baseline", "unary").unwrap().estimates.median.point
    };
    assert_eq!(median("new"), 200.0);
    assert_eq!(median("main"), 180.0);
    let missing = Results::read(dir.path(), "nope").unwrap_err();
    assert!(matches!(missing, ResultsError::NoResults { ref baseline, .. } if baseline == "nope"));
}

#[test]
fn no_results_says_to_run_cargo_bench() {
    let dir = tempfile::tempdir().unwrap();
    for root in [dir.path().to_owned(), dir.path().join("missing")] {
        let error = Results::read(&root, Results::LAST_RUN).unwrap_err();
        assert!(matches!(error, ResultsError::NoResults { .. }));
        assert!(error.to_string().contains("run `cargo bench` first"), "{error}");
    }
}

#[test]
fn a_malformed_or_missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let bench = write_bench(dir.path(), ("in_process", "baseline", "unary"), "new", Median(1.0, 1.0, 1.0));
    fs::write(bench.join("estimates.json"), r#"{"mean": 3}"#).unwrap();
    let error = Results::read(dir.path(), Results::LAST_RUN).unwrap_err();
    assert!(matches!(error, ResultsError::Parse { ref path, .. } if path == &bench.join("estimates.json")), "{error}");

    fs::remove_file(bench.join("estimates.json")).unwrap();
    let error = Results::read(dir.path(), Results::LAST_RUN).unwrap_err();
    assert!(matches!(error, ResultsError::Io { ref path, .. } if path == &bench.join("estimates.json")), "{error}");
}

#[test]
fn overheads_are_median_differences_with_interval_arithmetic() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path());
    let results = Results::read(dir.path(), Results::LAST_RUN).unwrap();
    let report = OverheadReport::new(&results, Duration::from_millis(2)).unwrap();
    assert!((report.confidence_level - 0.90).abs() < 1e-9);

    let names: Vec<&str> = report.suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["", "served_by"]);
    let catalog = &report.suites[0];
    assert_eq!(catalog.floor_ns, Some(60.0));
    assert_eq!(catalog.baseline_in_process_ns, Some(200.0));
    assert_eq!(catalog.baseline_loopback_ns, Some(40_000.0));
    assert_eq!(catalog.bare_hyper_ns, Some(35_000.0));

    // Catalog order (full first), and neither baseline, floor, anchor nor chain prefixes.
    let stacks: Vec<&str> = catalog.rows.iter().map(|r| r.stack.as_str()).collect();
    assert_eq!(stacks, ["full", "logger"]);
    let logger = &catalog.rows[1];
    assert_eq!(logger.in_process, Some(Overhead { median: 1_200.0, lower: 1_187.0, upper: 1_222.0 }));
    assert_eq!(logger.loopback, Some(Overhead { median: 1_500.0, lower: 600.0, upper: 2_500.0 }));
    assert_eq!((logger.interceptors, logger.budget_ns), (1, 2e6));
    assert_eq!(catalog.rows[0].interceptors, 9);
    assert_eq!(catalog.rows[0].budget_ns, 18e6);

    let steps: Vec<(&str, &str, f64)> =
        catalog.chain.iter().map(|s| (s.stack.as_str(), s.interceptor.as_str(), s.in_process.median)).collect();
    assert_eq!(steps, [("chain/1", "error_handler", 30.0), ("chain/2", "timeout", 70.0)]);

    let served_by = &report.suites[1];
    assert_eq!(served_by.rows.len(), 1);
    assert_eq!(served_by.rows[0].in_process.unwrap().median, 50.0);
    assert_eq!(served_by.rows[0].loopback, None);
    assert!(report.within_budget());
}

#[test]
fn verdicts_follow_the_budget_per_interceptor() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path());
    let results = Results::read(dir.path(), Results::LAST_RUN).unwrap();
    // 1.3 µs: the logger (1.2 µs in-process, 1.5 µs over loopback) breaks it; the full chain
    // (4.0 µs in-process, 5.0 µs over loopback) fits its nine budgets; chain steps all fit.
    let report = OverheadReport::new(&results, Duration::from_nanos(1_300)).unwrap();
    let verdict = |stack: &str| report.suites[0].rows.iter().find(|r| r.stack == stack).unwrap().verdict;
    assert_eq!(verdict("logger"), Verdict::OverBudget);
    assert_eq!(verdict("full"), Verdict::Ok);
    assert_eq!(report.breaches().collect::<Vec<_>>(), [("", "logger")]);

    let report = OverheadReport::new(&results, Duration::from_nanos(40)).unwrap();
    let breaches: Vec<_> = report.breaches().collect();
    assert!(breaches.contains(&("", "chain/2")) && !breaches.contains(&("", "chain/1")), "{breaches:?}");
    assert!(breaches.contains(&("served_by", "served_by")));
}

#[test]
fn rows_from_another_run_are_marked_stale() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path());
    let logger = dir.path().join("in_process/logger/unary/new/estimates.json");
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    fs::File::options().write(true).open(&logger).unwrap().set_modified(an_hour_ago).unwrap();
    let results = Results::read(dir.path(), Results::LAST_RUN).unwrap();
    let report = OverheadReport::new(&results, Duration::from_millis(2)).unwrap();
    let stale: Vec<(&str, bool)> = report.suites[0].rows.iter().map(|r| (r.stack.as_str(), r.stale)).collect();
    assert_eq!(stale, [("full", false), ("logger", true)]);
    let table = report.render(Format::Table);
    assert!(table.contains("logger (stale)") && table.contains("in another run"), "{table}");
}

#[test]
fn results_without_a_baseline_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_bench(dir.path(), ("in_process", "logger", "unary"), "new", Median(1.0, 1.0, 1.0));
    write_bench(dir.path(), ("other_group", "baseline", "unary"), "new", Median(1.0, 1.0, 1.0));
    let results = Results::read(dir.path(), Results::LAST_RUN).unwrap();
    let error = OverheadReport::new(&results, Duration::from_millis(2)).unwrap_err();
    assert!(error.to_string().contains("no `baseline` bench"), "{error}");
}

#[test]
fn renders_table_markdown_and_json() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path());
    let results = Results::read(dir.path(), Results::LAST_RUN).unwrap();
    let report = OverheadReport::new(&results, Duration::from_millis(2)).unwrap();

    let table = report.render(Format::Table);
    let logger = table.lines().find(|l| l.starts_with("logger")).unwrap();
    assert!(logger.contains("+1.20 µs [+1.19 µs, +1.22 µs]") && logger.ends_with("ok"), "{logger}");
    assert!(table.contains("floor 60 ns · baseline in-process 200 ns"), "{table}");
    assert!(table.contains("chain/2  timeout"), "{table}");

    let markdown = report.render(Format::Markdown);
    assert!(markdown.contains("| stack | interceptors | in-process overhead |"), "{markdown}");
    assert!(
        markdown
            .contains("| full | 9 | +4.00 µs [+3.95 µs, +4.10 µs] | +5.00 µs [+3.60 µs, +7.00 µs] | 18.00 ms | ok |")
    );
    assert!(markdown.contains("### served_by"));

    let json: serde_json::Value = serde_json::from_str(&report.render(Format::Json)).unwrap();
    assert_eq!(json["budget_ns"], 2e6);
    assert_eq!(json["suites"][0]["rows"][1]["stack"], "logger");
    assert_eq!(json["suites"][0]["rows"][1]["in_process"]["median"], 1200.0);
    assert_eq!(json["suites"][0]["chain"][1]["verdict"], "ok");
}
