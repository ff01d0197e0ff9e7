//! The regression gate end to end, on real criterion output measured here: `ibench baseline
//! save|restore` and `ibench compare` with their exit codes.
//!
//! Three short criterion runs are measured once, one after the other, and shared by every
//! test: the stack `spin` (the baseline stack plus a test-only layer that spins for a set
//! time before each call) beside the `baseline` stack, with the layer spinning 0 µs (run A),
//! 0 µs again (run A', an A/A rerun of unchanged code) and 5 µs (run SLOW).
//!
//! Each bench samples for [`MEASUREMENT`]: on this shared machine other processes slow a
//! whole second at a time, and a bench whose samples all fall inside such a burst has a
//! shifted median with a tight interval, which no statistic can tell from a real change.
//! Sampling for longer than the bursts last is what the gate relies on (see README).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use criterion::Criterion;
use interceptor_bench::bench::{BASELINE, Depth, Harness};
use interceptor_bench::greeter::Greeter;
use interceptor_bench::stack::{Interceptors, Stack};
use tempfile::TempDir;
use tower::util::MapRequestLayer;

/// How long each bench of the three runs samples.
const MEASUREMENT: Duration = Duration::from_secs(2);

/// The bench id of the stack with the spinning layer.
const SPIN_BENCH: &str = "in_process/spin/unary";

/// The criterion directories of the three runs.
struct Runs {
    a: TempDir,
    a_again: TempDir,
    slow: TempDir,
}

/// Measures the three runs the first time a test asks (other tests wait), never in parallel.
fn runs() -> &'static Runs {
    static RUNS: OnceLock<Runs> = OnceLock::new();
    RUNS.get_or_init(|| Runs {
        a: measure(Duration::ZERO, MEASUREMENT, None),
        a_again: measure(Duration::ZERO, MEASUREMENT, None),
        slow: measure(Duration::from_micros(5), MEASUREMENT, None),
    })
}

/// The `baseline` stack and the `spin` stack, whose layer busy-waits `spin` before each call.
fn stacks(spin: Duration) -> [Stack; 2] {
    let spinning = MapRequestLayer::new(move |request| {
        let start = Instant::now();
        while start.elapsed() < spin {
            std::hint::spin_loop();
        }
        request
    });
    [Stack::of(BASELINE, &[]), Stack::builder("spin").layer("spin", spinning).build()]
}

/// One criterion run of [`stacks`], each bench sampling for `measurement`, into a new
/// criterion directory (or into `into.0`, comparing with its criterion baseline `into.1`, as
/// `cargo bench -- --baseline <name>` does), as `cargo bench` would write it.
fn measure(spin: Duration, measurement: Duration, into: Option<(&Path, &str)>) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Criterion::default()
        .output_directory(into.map_or(dir.path(), |(path, _)| path))
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(measurement)
        .sample_size(30)
        .nresamples(10_000)
        .without_plots();
    if let Some((_, baseline)) = into {
        c = c.retain_baseline(baseline.to_owned(), true);
    }
    let harness = Harness::new();
    let interceptors = Interceptors::default();
    let mut group = c.benchmark_group(Depth::InProcess.group(""));
    for stack in stacks(spin) {
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
fn an_a_a_rerun_of_unchanged_code_passes() {
    let runs = runs();
    let baselines = tempfile::tempdir().unwrap();
    save(baselines.path(), "a", runs.a.path());

    let output = compare(baselines.path(), "a", runs.a_again.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}\n{}", text(&output.stdout), text(&output.stderr));
    assert!(text(&output.stdout).contains("PASS"), "{}", text(&output.stdout));

    let output = compare(baselines.path(), "a", runs.a_again.path(), &["--format", "json"]);
    assert_eq!(output.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let benches = json["benches"].as_array().unwrap();
    let verdict = |id: &str| benches.iter().find(|b| b["id"] == id).unwrap()["verdict"].clone();
    assert_eq!(verdict("in_process/baseline/unary"), "reference");
    assert_ne!(verdict(SPIN_BENCH), "regressed");
    assert_eq!(json["options"]["signal"], "relative");
    assert_eq!(json["options"]["threshold"], 0.1);
}

#[test]
fn a_slow_layer_fails_and_is_named() {
    let runs = runs();
    let baselines = tempfile::tempdir().unwrap();
    save(baselines.path(), "a", runs.a.path());

    for signal in ["relative", "absolute", "both"] {
        let output = compare(baselines.path(), "a", runs.slow.path(), &["--signal", signal]);
        assert_eq!(output.status.code(), Some(1), "{signal}: {}", text(&output.stdout));
        let stderr = text(&output.stderr);
        assert!(stderr.contains(&format!("regressed: {SPIN_BENCH}")), "{signal}: {stderr}");
        let row = text(&output.stdout).lines().find(|l| l.starts_with(SPIN_BENCH)).unwrap().to_owned();
        assert!(row.ends_with("REGRESSED"), "{signal}: {row}");
    }
}

#[test]
fn the_html_report_of_a_comparison_shows_the_verdict_the_gate_exits_with() {
    let runs = runs();
    let baselines = tempfile::tempdir().unwrap();
    save(baselines.path(), "a", runs.a.path());
    let html = baselines.path().join("compare.html");
    let output = compare(baselines.path(), "a", runs.slow.path(), &["--report", path(&html)]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let page = std::fs::read_to_string(&html).unwrap();
    let section = &page[page.find("Compared with baseline a").expect("the comparison section is there")..];
    let spin_row =
        section.split("<tr>").skip(1).find(|row| row.contains(SPIN_BENCH)).expect("a row for the spin bench");
    assert!(spin_row.contains(r#"<span class="regressed">regressed</span>"#), "{spin_row}");
    assert!(!page.contains("<script"), "self-contained");

    // An existing report is never replaced without --force, and the gate does not run.
    let before = std::fs::read(&html).unwrap();
    let output = compare(baselines.path(), "a", runs.a.path(), &["--report", path(&html)]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("--force"));
    assert_eq!(std::fs::read(&html).unwrap(), before);
    let output = compare(baselines.path(), "a", runs.a.path(), &["--report", path(&html), "--force"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_ne!(std::fs::read(&html).unwrap(), before);
}

#[test]
fn a_budget_breach_fails_without_any_regression() {
    let runs = runs();
    let baselines = tempfile::tempdir().unwrap();
    // The slow run against itself: every change is exactly zero.
    save(baselines.path(), "slow", runs.slow.path());

    let output = compare(baselines.path(), "slow", runs.slow.path(), &["--budget", "1µs"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    assert_eq!(text(&output.stderr).trim(), "ibench compare: FAIL: over budget: spin");
    assert!(text(&output.stdout).contains("OVER BUDGET"));

    let output = compare(baselines.path(), "slow", runs.slow.path(), &["--budget", "1ms", "--format", "markdown"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains(&format!("| {SPIN_BENCH} |")), "{}", text(&output.stdout));
}

#[test]
fn a_missing_corrupt_or_foreign_baseline_exits_2_naming_the_file() {
    let runs = runs();
    let baselines = tempfile::tempdir().unwrap();
    let missing = baselines.path().join("nope.json");
    let output = compare(baselines.path(), "nope", runs.a.path(), &[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains(path(&missing)) && stderr.contains("ibench baseline save nope"), "{stderr}");
    assert!(output.stdout.is_empty());

    let corrupt = [
        ("truncated", r#"{"schema": 1, "kind": "timing", "benches": {"#, "not JSON"),
        ("instructions", r#"{"schema": 1, "kind": "instructions", "benches": {}}"#, "\"instructions\" baseline"),
        ("future", r#"{"schema": 99, "kind": "timing"}"#, "schema 99"),
        ("fields", r#"{"schema": 1, "kind": "timing", "benches": 3}"#, "not a usable baseline"),
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
        let output = compare(baselines.path(), name, runs.a.path(), &[]);
        assert_eq!(output.status.code(), Some(2), "{name}");
        let stderr = text(&output.stderr);
        assert!(stderr.contains(path(&file)) && stderr.contains(why), "{name}: {stderr}");
    }
}

#[test]
fn no_results_or_nothing_in_common_exits_2() {
    let runs = runs();
    let baselines = tempfile::tempdir().unwrap();
    save(baselines.path(), "a", runs.a.path());
    let empty = tempfile::tempdir().unwrap();
    let output = compare(baselines.path(), "a", empty.path(), &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("run `cargo bench` first"), "{}", text(&output.stderr));

    let output =
        ibench(&["baseline", "save", "x", "--dir", path(baselines.path()), "--criterion-dir", path(empty.path())]);
    assert_eq!(output.status.code(), Some(2));
    assert!(!baselines.path().join("x.json").exists());

    for bad in [&["--threshold", "10"][..], &["--threshold", "ten%"], &["--budget", "fast"], &["--signal", "gut"]] {
        let output = compare(baselines.path(), "a", runs.a.path(), bad);
        assert_eq!(output.status.code(), Some(2), "{bad:?}");
    }
}

#[test]
fn save_never_overwrites_without_force() {
    let runs = runs();
    let baselines = tempfile::tempdir().unwrap();
    let file = save(baselines.path(), "main", runs.a.path());
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!((saved["schema"].clone(), saved["kind"].clone()), (1.into(), "timing".into()));
    assert!(saved["machine"]["cores"].as_u64().unwrap() >= 1);
    assert!(saved["command"].as_str().unwrap().contains("baseline save main"));
    let spin = &saved["benches"][SPIN_BENCH];
    assert!(spin["estimates"]["median"]["confidence_interval"]["upper_bound"].as_f64().unwrap() > 0.0);
    assert!(!spin["criterion"]["sample"]["times"].as_array().unwrap().is_empty());
    assert!(saved["overhead"]["suites"][0]["rows"][0]["stack"] == "spin");

    let before = std::fs::read(&file).unwrap();
    let args = ["baseline", "save", "main", "--dir", path(baselines.path()), "--criterion-dir", path(runs.slow.path())];
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
    let runs = runs();
    let baselines = tempfile::tempdir().unwrap();
    save(baselines.path(), "ref", runs.a.path());
    let fresh = tempfile::tempdir().unwrap();
    let restore =
        ["baseline", "restore", "ref", "--dir", path(baselines.path()), "--criterion-dir", path(fresh.path())];
    let output = ibench(&restore);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    for file in ["benchmark.json", "estimates.json", "sample.json", "tukey.json"] {
        let restored = fresh.path().join("in_process/spin/unary/ref").join(file);
        let original = runs.a.path().join("in_process/spin/unary/new").join(file);
        let json = |p: &Path| serde_json::from_slice::<serde_json::Value>(&std::fs::read(p).unwrap()).unwrap();
        assert_eq!(json(&restored), json(&original), "{file}");
    }

    // Criterion's own `--baseline ref` (strict) loads it and writes its comparison.
    measure(Duration::ZERO, Duration::from_millis(300), Some((fresh.path(), "ref")));
    for bench in ["baseline", "spin"] {
        let change = fresh.path().join("in_process").join(bench).join("unary/change/estimates.json");
        assert!(change.exists(), "criterion compared {bench} with the restored baseline");
    }

    let output = ibench(&restore);
    assert_eq!(output.status.code(), Some(2), "an existing criterion baseline is not replaced without --force");
    assert!(text(&output.stderr).contains("--force"));
    assert_eq!(ibench(&[&restore[..], &["--force"]].concat()).status.code(), Some(0));
}
