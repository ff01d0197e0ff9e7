//! The regression gate end to end: `ibench baseline save|restore` and `ibench compare` with
//! their exit codes, on hand-made results — paired results (what the gate judges by default)
//! and criterion results (the older signals) — so that no verdict here depends on how fast
//! this machine happens to be. The statistics behind the paired figures are tested on seeded
//! synthetic samples in the library (`paired::tests`); one short real criterion run remains,
//! for restore, whose assertions do not depend on its timings.

mod fixtures;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use criterion::Criterion;
use fixtures::{Median, write_bench};
use interceptor_bench::bench::{BASELINE, Depth, Harness};
use interceptor_bench::greeter::Greeter;
use interceptor_bench::paired::stats::Estimate;
use interceptor_bench::paired::{PairEstimate, PairResult, SCHEMA, Schedule, SuiteResults};
use interceptor_bench::stack::{Interceptors, Stack};
use tempfile::TempDir;

/// The bench id of the hand-made stack that the slow runs slow down.
const SPIN_BENCH: &str = "in_process/spin/unary";

/// A run's results, as `cargo bench` leaves them: in-process `floor`, `baseline`, `spin`
/// (ratio `spin_ratio` over the baseline) and `logger`, paired and as criterion medians;
/// `machine` scales every absolute time (a slower or faster machine), leaving ratios alone
/// but for `wobble`, which moves every paired ratio by that fraction (an A/A rerun's drift).
fn run(spin_ratio: f64, machine: f64, wobble: f64) -> TempDir {
    run_wobbling(spin_ratio, machine, |_| wobble)
}

/// [`run`] with each pair's ratio moved by `wobble(candidate)`.
fn run_wobbling(spin_ratio: f64, machine: f64, wobble: impl Fn(&str) -> f64) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let baseline_ns = 250.0 * machine;
    let estimate = |candidate: &str, reference_ns: f64, ratio: f64| {
        let ratio = ratio * (1.0 + wobble(candidate));
        let around = |x: f64, spread: f64| Estimate { point: x, lower: x * (1.0 - spread), upper: x * (1.0 + spread) };
        PairEstimate {
            samples: 1_000,
            reference_ns: around(reference_ns, 0.01),
            candidate_ns: around(reference_ns * ratio, 0.01),
            difference_ns: around(reference_ns * (ratio - 1.0), 0.02),
            ratio: around(ratio, 0.002),
        }
    };
    let pair = |reference: &str, reference_ns, candidate: &str, ratio| PairResult {
        depth: Depth::InProcess,
        variant: "unary".into(),
        reference: reference.into(),
        candidate: candidate.into(),
        batch: 64,
        estimate: estimate(candidate, reference_ns, ratio),
        measured: "2026-12-01T00:00:00Z".into(),
    };
    let suite = SuiteResults {
        schema: SCHEMA.into(),
        suite: String::new(),
        confidence: 0.95,
        schedule: Schedule::default(),
        pairs: vec![
            pair("floor", 80.0 * machine, BASELINE, baseline_ns / (80.0 * machine)),
            pair(BASELINE, baseline_ns, "spin", spin_ratio),
            pair(BASELINE, baseline_ns, "logger", 4.0),
        ],
    };
    suite.write_merged(&dir.path().join("ibench-paired")).unwrap();
    let median = |ns: f64| Median(ns, ns * 0.98, ns * 1.02);
    for (stack, ns) in [("floor", 80.0 * machine), (BASELINE, baseline_ns), ("spin", baseline_ns * spin_ratio)] {
        write_bench(dir.path(), ("in_process", stack, "unary"), "new", median(ns));
    }
    write_bench(dir.path(), ("in_process", "logger", "unary"), "new", median(baseline_ns * 4.0));
    dir
}

/// An unchanged run: the spin stack at ×1.2 of the baseline.
fn unchanged() -> TempDir {
    run(1.2, 1.0, 0.0)
}

/// One real criterion run of the `baseline` stack and a `spin` stack (the baseline plus an
/// identity layer), each bench sampling for `measurement`, into a new criterion directory (or
/// into `into.0`, comparing with its criterion baseline `into.1`, as `cargo bench --
/// --baseline <name>` does).
fn measure(measurement: Duration, into: Option<(&Path, &str)>) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Criterion::default()
        .output_directory(into.map_or(dir.path(), |(path, _)| path))
        .warm_up_time(Duration::from_millis(50))
        .measurement_time(measurement)
        .sample_size(10)
        .nresamples(1_000)
        .without_plots();
    if let Some((_, baseline)) = into {
        c = c.retain_baseline(baseline.to_owned(), true);
    }
    let harness = Harness::new();
    let interceptors = Interceptors::default();
    let stacks =
        [Stack::of(BASELINE, &[]), Stack::builder("spin").layer("spin", tower::layer::util::Identity::new()).build()];
    let mut group = c.benchmark_group(Depth::InProcess.group(""));
    for stack in stacks {
        harness.rpc(&mut group, stack.name(), stack.service(&interceptors, Greeter::new()));
    }
    group.finish();
    dir
}

/// `ibench <args>` with no criterion location in the environment.
fn ibench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ibench"))
        .args(args)
        .env_remove("CRITERION_HOME")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap()
}

fn path(dir: &Path) -> &str {
    dir.to_str().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Saves the run in `criterion` as baseline `name` in `dir`; panics unless it exits 0.
fn save(dir: &Path, name: &str, criterion: &Path) -> PathBuf {
    let output = ibench(&["baseline", "save", name, "--dir", path(dir), "--criterion-dir", path(criterion)]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    dir.join(format!("{name}.json"))
}

/// `ibench compare --baseline name --dir dir --criterion-dir criterion <more>`.
fn compare(dir: &Path, name: &str, criterion: &Path, more: &[&str]) -> Output {
    let args = ["compare", "--baseline", name, "--dir", path(dir), "--criterion-dir", path(criterion)];
    ibench(&[&args[..], more].concat())
}

#[test]
fn an_a_a_rerun_on_a_slower_machine_passes() {
    let (then, again) = (unchanged(), run(1.2, 1.6, 0.03));
    let baselines = tempfile::tempdir().unwrap();
    save(baselines.path(), "a", then.path());

    // Every absolute time is 60% higher and every ratio 3% higher: the paired gate passes.
    let output = compare(baselines.path(), "a", again.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}\n{}", text(&output.stdout), text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("PASS") && stdout.contains("Signal: paired"), "{stdout}");

    let output = compare(baselines.path(), "a", again.path(), &["--format", "json"]);
    assert_eq!(output.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let benches = json["benches"].as_array().unwrap();
    let spin = benches.iter().find(|b| b["id"] == SPIN_BENCH).unwrap();
    assert_eq!(spin["verdict"], "unchanged");
    assert_eq!(spin["reference"], "in_process/baseline/unary");
    assert!((spin["absolute"]["change"]["point"].as_f64().unwrap() - 0.648).abs() < 0.01, "{spin}");
    let detectable = spin["detectable"].as_f64().unwrap();
    assert!(detectable > 0.1 && detectable < 0.11, "the threshold plus both half-widths: {detectable}");
    assert_eq!(json["options"]["signal"], "paired");
    assert_eq!(json["options"]["threshold"], 0.1);

    // The absolute signal reads criterion's medians and takes the slower machine for a regression.
    let output = compare(baselines.path(), "a", again.path(), &["--signal", "absolute"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains(SPIN_BENCH), "{}", text(&output.stderr));
}

#[test]
fn a_baseline_of_several_runs_judges_each_pair_against_its_own_scatter() {
    // Five runs: the spin stack's ratio steady (±0.3%), the logger's scattering by ±4%.
    let wobbles = [(0.0, 0.0), (0.003, 0.04), (-0.003, -0.04), (0.002, 0.02), (-0.002, -0.02)];
    let baselines = tempfile::tempdir().unwrap();
    for (i, (steady, scattered)) in wobbles.into_iter().enumerate() {
        let run = run_wobbling(1.2, 1.0, |stack| if stack == "logger" { scattered } else { steady });
        let args = ["baseline", "save", "multi", "--add-run", "--dir", path(baselines.path())];
        let output = ibench(&[&args[..], &["--criterion-dir", path(run.path())]].concat());
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        assert!(text(&output.stdout).contains(&format!("{} run", i + 1)) || i == 0, "{}", text(&output.stdout));
        if i == 0 {
            std::fs::copy(baselines.path().join("multi.json"), baselines.path().join("single.json")).unwrap();
            let single = std::fs::read_to_string(baselines.path().join("single.json")).unwrap();
            std::fs::write(baselines.path().join("single.json"), single.replace("\"multi\"", "\"single\"")).unwrap();
        }
    }
    let judged = |name: &str, now: &Path| {
        let output = compare(baselines.path(), name, now, &["--format", "json"]);
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let regressed: Vec<String> = json["benches"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["verdict"] == "regressed")
            .map(|b| b["id"].as_str().unwrap().to_owned())
            .collect();
        (output.status.code(), regressed, json)
    };
    // The logger 12% up, within its own scatter; a one-run baseline at 10% calls it a regression.
    let logger_up = run_wobbling(1.2, 1.3, |stack| if stack == "logger" { 0.12 } else { 0.0 });
    let (code, regressed, json) = judged("multi", logger_up.path());
    assert_eq!((code, regressed), (Some(0), vec![]), "{json}");
    assert_eq!(json["options"]["threshold"], 0.03, "3% by default with five runs");
    let logger = json["benches"].as_array().unwrap().iter().find(|b| b["id"] == "in_process/logger/unary").unwrap();
    assert_eq!(logger["runs"]["runs"], 5);
    assert!(logger["runs"]["tolerance"].as_f64().unwrap() > 0.12, "{logger}");
    assert_eq!(judged("single", logger_up.path()).1, vec!["in_process/logger/unary"]);
    // The spin stack 8% up: beyond its tight scatter and the 3% floor; under the one-run 10%.
    let spin_up = run(1.2 * 1.08, 1.0, 0.0);
    assert_eq!(judged("multi", spin_up.path()).1, vec![SPIN_BENCH]);
    assert_eq!(judged("single", spin_up.path()).1, Vec::<String>::new());
}

#[test]
fn a_slower_stack_fails_and_is_named_under_every_signal() {
    let (then, slow) = (unchanged(), run(1.5, 1.0, 0.0));
    let baselines = tempfile::tempdir().unwrap();
    save(baselines.path(), "a", then.path());
    for signal in ["paired", "relative", "absolute", "both"] {
        let output = compare(baselines.path(), "a", slow.path(), &["--signal", signal]);
        assert_eq!(output.status.code(), Some(1), "{signal}: {}", text(&output.stdout));
        let stderr = text(&output.stderr);
        assert!(stderr.contains(&format!("FAIL: regressed: {SPIN_BENCH}\n")), "{signal}: {stderr}");
        let row = text(&output.stdout).lines().find(|l| l.starts_with(SPIN_BENCH)).unwrap().to_owned();
        assert!(row.ends_with("REGRESSED"), "{signal}: {row}");
    }
    // 25% slower is beyond a 10% threshold but not beyond 30%.
    let output = compare(baselines.path(), "a", slow.path(), &["--threshold", "30%"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
}

#[test]
fn a_baseline_without_paired_results_falls_back_to_the_relative_signal_with_a_warning() {
    let (then, slow) = (unchanged(), run(1.5, 1.0, 0.0));
    let baselines = tempfile::tempdir().unwrap();
    let file = save(baselines.path(), "old", then.path());
    let mut saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(saved["paired"].as_array().is_some_and(|p| !p.is_empty()), "saved with its paired results");
    saved.as_object_mut().unwrap().remove("paired");
    std::fs::write(&file, saved.to_string()).unwrap();

    let output = compare(baselines.path(), "old", slow.path(), &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("warning") && stderr.contains("--signal relative"), "{stderr}");
    assert!(text(&output.stdout).contains("Signal: relative"));
    let output = compare(baselines.path(), "old", slow.path(), &["--signal", "paired"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("no paired results"), "{}", text(&output.stderr));
}

#[test]
fn the_html_report_of_a_comparison_shows_the_verdict_the_gate_exits_with() {
    let (then, slow) = (unchanged(), run(1.5, 1.0, 0.0));
    let baselines = tempfile::tempdir().unwrap();
    save(baselines.path(), "a", then.path());
    let html = baselines.path().join("compare.html");
    let output = compare(baselines.path(), "a", slow.path(), &["--report", path(&html)]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let page = std::fs::read_to_string(&html).unwrap();
    let section = &page[page.find("Compared with baseline a").expect("the comparison section is there")..];
    let spin_row =
        section.split("<tr>").skip(1).find(|row| row.contains(SPIN_BENCH)).expect("a row for the spin bench");
    assert!(spin_row.contains(r#"<span class="regressed">regressed</span>"#), "{spin_row}");
    assert!(!page.contains("<script"), "self-contained");

    // An existing report is never replaced without --force, and the gate does not run.
    let before = std::fs::read(&html).unwrap();
    let output = compare(baselines.path(), "a", then.path(), &["--report", path(&html)]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("--force"));
    assert_eq!(std::fs::read(&html).unwrap(), before);
    let output = compare(baselines.path(), "a", then.path(), &["--report", path(&html), "--force"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_ne!(std::fs::read(&html).unwrap(), before);
}

#[test]
fn a_budget_breach_fails_without_any_regression() {
    let then = unchanged();
    let baselines = tempfile::tempdir().unwrap();
    save(baselines.path(), "a", then.path());
    // The run against itself: every change is exactly zero; the logger adds 750 ns.
    let output = compare(baselines.path(), "a", then.path(), &["--budget", "500ns"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    assert_eq!(text(&output.stderr).trim(), "ibench compare: FAIL: over budget: logger");
    assert!(text(&output.stdout).contains("OVER BUDGET"));

    let output = compare(baselines.path(), "a", then.path(), &["--budget", "1ms", "--format", "markdown"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains(&format!("| {SPIN_BENCH} |")), "{}", text(&output.stdout));
}

#[test]
fn a_missing_corrupt_or_foreign_baseline_exits_2_naming_the_file() {
    let run = unchanged();
    let baselines = tempfile::tempdir().unwrap();
    let missing = baselines.path().join("nope.json");
    let output = compare(baselines.path(), "nope", run.path(), &[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains(path(&missing)) && stderr.contains("ibench baseline save nope"), "{stderr}");
    assert!(output.stdout.is_empty());

    let corrupt = [
        ("truncated", r#"{"schema": 1, "kind": "timing", "benches": {"#, "not JSON"),
        ("instructions", r#"{"schema": 1, "kind": "instructions", "benches": {}}"#, "\"instructions\" baseline"),
        ("future", r#"{"schema": 99, "kind": "timing"}"#, "schema 99"),
        ("fields", r#"{"schema": 1, "kind": "timing", "benches": 3}"#, "not a usable baseline"),
        ("paired", r#"{"schema": 1, "kind": "timing", "benches": {}, "paired": [{"schema": 5}]}"#, "not a usable"),
    ];
    let mut negative: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("baselines/reference.json").unwrap()).unwrap();
    let first = negative["benches"].as_object_mut().unwrap().values_mut().next().unwrap();
    first["estimates"]["median"]["point_estimate"] = serde_json::json!(-1.0);
    let negative = negative.to_string();
    let corrupt = corrupt.into_iter().chain([("negative", negative.as_str(), "median.point_estimate is -1")]);
    for (name, content, why) in corrupt {
        let file = baselines.path().join(format!("{name}.json"));
        std::fs::write(&file, content).unwrap();
        let output = compare(baselines.path(), name, run.path(), &[]);
        assert_eq!(output.status.code(), Some(2), "{name}");
        let stderr = text(&output.stderr);
        assert!(stderr.contains(path(&file)) && stderr.contains(why), "{name}: {stderr}");
    }
}

#[test]
fn no_results_or_nothing_in_common_exits_2() {
    let run = unchanged();
    let baselines = tempfile::tempdir().unwrap();
    save(baselines.path(), "a", run.path());
    let empty = tempfile::tempdir().unwrap();
    let output = compare(baselines.path(), "a", empty.path(), &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("run `cargo bench --bench paired`"), "{}", text(&output.stderr));
    let output = compare(baselines.path(), "a", empty.path(), &["--signal", "relative"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("run `cargo bench` first"), "{}", text(&output.stderr));

    let output =
        ibench(&["baseline", "save", "x", "--dir", path(baselines.path()), "--criterion-dir", path(empty.path())]);
    assert_eq!(output.status.code(), Some(2));
    assert!(!baselines.path().join("x.json").exists());

    for bad in [&["--threshold", "10"][..], &["--threshold", "ten%"], &["--budget", "fast"], &["--signal", "gut"]] {
        let output = compare(baselines.path(), "a", run.path(), bad);
        assert_eq!(output.status.code(), Some(2), "{bad:?}");
    }
}

#[test]
fn save_never_overwrites_without_force() {
    let (run, slow) = (unchanged(), run(1.5, 1.0, 0.0));
    let baselines = tempfile::tempdir().unwrap();
    let file = save(baselines.path(), "main", run.path());
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!((saved["schema"].clone(), saved["kind"].clone()), (1.into(), "timing".into()));
    assert!(saved["machine"]["cores"].as_u64().unwrap() >= 1);
    assert!(saved["command"].as_str().unwrap().contains("baseline save main"));
    let spin = &saved["benches"][SPIN_BENCH];
    assert!(spin["estimates"]["median"]["confidence_interval"]["upper_bound"].as_f64().unwrap() > 0.0);
    assert!(!spin["criterion"]["sample"]["times"].as_array().unwrap().is_empty());
    assert_eq!(saved["paired"][0]["pairs"][1]["candidate"], "spin");
    assert_eq!(saved["overhead"]["source"], "paired", "the overhead table is the paired one");
    assert!(saved["overhead"]["suites"][0]["rows"].as_array().unwrap().iter().any(|row| row["stack"] == "spin"));

    let before = std::fs::read(&file).unwrap();
    let args = ["baseline", "save", "main", "--dir", path(baselines.path()), "--criterion-dir", path(slow.path())];
    let output = ibench(&args);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("--force"), "{}", text(&output.stderr));
    assert_eq!(std::fs::read(&file).unwrap(), before, "the file is untouched");

    let output = ibench(&[&args[..], &["--force"]].concat());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_ne!(std::fs::read(&file).unwrap(), before);
    assert_eq!(std::fs::read_dir(baselines.path()).unwrap().count(), 1, "no temporary file left behind");

    for bad in ["", "../escape", "a/b", ".hidden"] {
        let output = ibench(&["baseline", "save", bad, "--dir", path(baselines.path())]);
        assert_eq!(output.status.code(), Some(2), "{bad:?}");
        assert!(text(&output.stderr).contains("invalid baseline name"), "{}", text(&output.stderr));
    }
}

#[test]
fn restore_gives_criterion_a_baseline_it_compares_against() {
    let real = measure(Duration::from_millis(200), None);
    let baselines = tempfile::tempdir().unwrap();
    save(baselines.path(), "ref", real.path());
    let fresh = tempfile::tempdir().unwrap();
    let restore =
        ["baseline", "restore", "ref", "--dir", path(baselines.path()), "--criterion-dir", path(fresh.path())];
    let output = ibench(&restore);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    for file in ["benchmark.json", "estimates.json", "sample.json", "tukey.json"] {
        let restored = fresh.path().join("in_process/spin/unary/ref").join(file);
        let original = real.path().join("in_process/spin/unary/new").join(file);
        let json = |p: &Path| serde_json::from_slice::<serde_json::Value>(&std::fs::read(p).unwrap()).unwrap();
        assert_eq!(json(&restored), json(&original), "{file}");
    }

    // Criterion's own `--baseline ref` (strict) loads it and writes its comparison.
    measure(Duration::from_millis(200), Some((fresh.path(), "ref")));
    for bench in ["baseline", "spin"] {
        let change = fresh.path().join("in_process").join(bench).join("unary/change/estimates.json");
        assert!(change.exists(), "criterion compared {bench} with the restored baseline");
    }

    let output = ibench(&restore);
    assert_eq!(output.status.code(), Some(2), "an existing criterion baseline is not replaced without --force");
    assert!(text(&output.stderr).contains("--force"));
    assert_eq!(ibench(&[&restore[..], &["--force"]].concat()).status.code(), Some(0));
}
