//! `ibench overhead` end to end: formats, exit codes, where it looks for results.

mod fixtures;

use std::path::Path;
use std::process::{Command, Output};

use fixtures::{Median, write_bench, write_run};

/// Runs `ibench overhead <args>` with `CRITERION_HOME` set to `home`.
fn overhead(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ibench"))
        .arg("overhead")
        .args(args)
        .env("CRITERION_HOME", home)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn no_results_exit_2_and_say_run_cargo_bench_first() {
    let home = tempfile::tempdir().unwrap();
    let output = overhead(home.path(), &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("run `cargo bench` first"), "{}", text(&output.stderr));
    assert!(output.stdout.is_empty());
}

#[test]
fn within_budget_prints_the_table_and_exits_0() {
    let home = tempfile::tempdir().unwrap();
    write_run(home.path());
    let output = overhead(home.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let logger = stdout.lines().find(|l| l.starts_with("logger")).unwrap();
    assert!(logger.contains("+1.20 µs") && logger.contains("+1.50 µs") && logger.ends_with("ok"), "{logger}");
    assert!(stdout.contains("Budget 2.00 ms per interceptor"), "{stdout}");
}

#[test]
fn over_budget_exits_1_and_names_the_stacks() {
    let home = tempfile::tempdir().unwrap();
    write_run(home.path());
    let output = overhead(home.path(), &["--budget", "1300ns"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stdout).contains("OVER BUDGET"));
    assert!(text(&output.stderr).contains("over budget: logger"), "{}", text(&output.stderr));
}

#[test]
fn json_and_markdown_formats() {
    let home = tempfile::tempdir().unwrap();
    write_run(home.path());
    let output = overhead(home.path(), &["--format", "json", "--budget", "500us"]);
    assert_eq!(output.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["budget_ns"], 500_000.0);
    assert_eq!(json["suites"][1]["name"], "served_by");

    let output = overhead(home.path(), &["--format", "markdown"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(text(&output.stdout).contains("| logger | 1 | +1.20 µs"), "{}", text(&output.stdout));
}

#[test]
fn criterion_dir_and_baseline_flags_choose_the_results() {
    let home = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    write_run(other.path());
    let output = overhead(home.path(), &["--criterion-dir", other.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));

    write_bench(home.path(), ("in_process", "baseline", "unary"), "main", Median(100.0, 99.0, 101.0));
    write_bench(home.path(), ("in_process", "timeout", "unary"), "main", Median(150.0, 149.0, 151.0));
    let output = overhead(home.path(), &["--baseline", "main", "--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["criterion_baseline"], "main");
    assert_eq!(json["suites"][0]["rows"][0]["in_process"]["median"], 50.0);
}

#[test]
fn bad_flags_exit_2() {
    let home = tempfile::tempdir().unwrap();
    write_run(home.path());
    for args in [&["--budget", "fast"][..], &["--format", "yaml"]] {
        let output = overhead(home.path(), args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
}
