//! The instruction gate: the bench covers every stack, and `ibench instructions compare` exits
//! 0 / 1 (naming the stack) / 2 on good, regressed and unusable input. Counts come from the
//! committed baseline written out as gungraun summaries, so these tests need no valgrind; CI
//! runs the real bench (twice, checking identical counts) in `.ci/run`.

use std::path::{Path, PathBuf};
use std::process::Output;

use interceptor_bench::instructions::{
    Baseline, bench_function, bench_id, bench_stacks, counted_stacks, http_bench_stacks, prepare_one_call,
    prepare_one_http_call, summary_folder,
};
use serde_json::{Value, json};

const REFERENCE: &str = "baselines/instructions-reference.json";

fn reference() -> Value {
    serde_json::from_str(&std::fs::read_to_string(REFERENCE).unwrap()).unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ibench-instructions-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `counts` as gungraun 0.20 `summary.json` files, the layout the bench leaves.
fn write_results(dir: &Path, counts: &Value) {
    for stack in counts.as_array().unwrap() {
        let bench = dir.join(summary_folder(stack["name"].as_str().unwrap()));
        std::fs::create_dir_all(&bench).unwrap();
        let metrics = json!({
            "Ir": {"values": {"new": stack["instructions"]}},
            "EstimatedCycles": {"values": {"new": stack["estimated_cycles"]}},
        });
        let summary = json!({"profiles": [{"tool": "Callgrind", "data": {"total": {"metrics": metrics}}}]});
        std::fs::write(bench.join("summary.json"), summary.to_string()).unwrap();
    }
}

fn ibench(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_ibench")).arg("instructions").args(args).output().unwrap()
}

fn compare(baseline: &Path, results: &Path) -> Output {
    ibench(&["compare", "--baseline", baseline.to_str().unwrap(), "--results", results.to_str().unwrap()])
}

#[test]
fn the_bench_measures_every_stack_and_the_baseline_has_them_all() {
    let bench = std::fs::read_to_string("benches/instructions.rs").unwrap();
    let baseline = Baseline::read(Path::new(REFERENCE)).unwrap();
    for stack in counted_stacks() {
        let setup = format!("prepare_{}", bench_function(&stack));
        let line = format!("#[bench::{}(setup = {setup}, args = ({stack:?}))]", bench_id(&stack));
        assert!(bench.contains(&line), "benches/instructions.rs lacks {line}");
        assert!(baseline.stacks.iter().any(|s| s.name == stack), "{REFERENCE} lacks {stack}");
    }
    assert!(counted_stacks().contains(&"ecosystem/tower_buffer".to_owned()), "the ecosystem layers are counted");
}

#[test]
fn every_bench_stack_answers_its_one_call_without_waiting() {
    for stack in bench_stacks() {
        let mut call = prepare_one_call(&stack);
        assert!(call.run().is_ok(), "{stack}");
    }
}

#[test]
fn every_http_bench_stack_answers_its_one_call() {
    for stack in http_bench_stacks() {
        let mut call = prepare_one_http_call(&stack);
        assert_eq!(call.run().status(), 200, "{stack}");
    }
}

#[test]
fn the_4k_compression_count_is_of_the_layer_gzipping_a_4k_answer() {
    let encoding = |stack| prepare_one_http_call(stack).run().headers().get("content-encoding").cloned();
    assert_eq!(encoding("ecosystem_4k/baseline"), None, "the codec compressed the baseline's answer");
    assert_eq!(encoding("ecosystem_4k/tower_http_compression").unwrap(), "gzip");
    let size = |stack| http_body::Body::size_hint(prepare_one_http_call(stack).run().body()).exact();
    assert!(size("ecosystem_4k/baseline").unwrap() > 4096, "the answer is the 4 KiB greeting");
    assert_eq!(encoding("ecosystem/tower_http_compression"), None, "a 25-byte answer is not compressed");
}

#[test]
fn a_stack_missing_from_the_baseline_passes_but_is_named_not_gated() {
    let dir = temp_dir("ungated");
    write_results(&dir, &reference()["stacks"]);
    let mut baseline = reference();
    baseline["stacks"].as_array_mut().unwrap().retain(|stack| stack["name"] != "ecosystem/tower_buffer");
    let path = dir.join("without-buffer.json");
    std::fs::write(&path, baseline.to_string()).unwrap();
    let output = compare(&path, &dir);
    assert_eq!(output.status.code(), Some(0), "a new stack cannot regress");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("NOT GATED: ecosystem/tower_buffer has no count in the baseline"), "{stdout}");
    let unchanged = String::from_utf8_lossy(&compare(Path::new(REFERENCE), &dir).stdout).into_owned();
    assert!(!unchanged.contains("NOT GATED"), "the reference gates every counted stack: {unchanged}");
}

#[test]
fn unchanged_counts_pass() {
    let dir = temp_dir("pass");
    write_results(&dir, &reference()["stacks"]);
    let output = compare(Path::new(REFERENCE), &dir);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("ok: no stack grew"));
}

#[test]
fn an_injected_ten_percent_regression_fails_naming_the_stack() {
    let dir = temp_dir("regressed");
    write_results(&dir, &reference()["stacks"]);
    // The baseline says `logger` did 10% less work than it does now: the gate must fail on it alone.
    let mut baseline = reference();
    for stack in baseline["stacks"].as_array_mut().unwrap() {
        if stack["name"] == "logger" {
            stack["instructions"] = json!(stack["instructions"].as_u64().unwrap() * 9 / 10);
        }
    }
    let path = dir.join("scaled.json");
    std::fs::write(&path, baseline.to_string()).unwrap();

    let output = compare(&path, &dir);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("REGRESSED: logger grew by more than 2%"), "{stdout}");

    let json = ibench(&[
        "compare",
        "--baseline",
        path.to_str().unwrap(),
        "--results",
        dir.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let verdict: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(verdict["regressed"], json!(["logger"]));
    // A threshold above the injected growth lets it through.
    let loose = ibench(&[
        "compare",
        "--baseline",
        path.to_str().unwrap(),
        "--results",
        dir.to_str().unwrap(),
        "--threshold",
        "12%",
    ]);
    assert_eq!(loose.status.code(), Some(0));

    // `ibench compare --instructions` is the same gate.
    let args = ["compare", "--instructions", "--baseline", path.to_str().unwrap(), "--results", dir.to_str().unwrap()];
    let unified = std::process::Command::new(env!("CARGO_BIN_EXE_ibench")).args(args).output().unwrap();
    assert_eq!(unified.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unified.stdout).contains("REGRESSED: logger grew by more than 2%"));
}

#[test]
fn corrupt_missing_or_foreign_baselines_and_missing_results_exit_2_naming_the_file() {
    let dir = temp_dir("unusable");
    write_results(&dir, &reference()["stacks"]);
    let corrupt = dir.join("corrupt.json");
    std::fs::write(&corrupt, "{ not json").unwrap();
    let timing = dir.join("timing.json");
    std::fs::write(&timing, json!({"schema": 1, "kind": "timing", "stacks": []}).to_string()).unwrap();
    let zero = dir.join("zero.json");
    let mut counts = reference();
    counts["stacks"][1]["instructions"] = json!(0);
    std::fs::write(&zero, counts.to_string()).unwrap();
    let output = compare(&zero, &dir);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("instructions is 0"));
    for baseline in [corrupt, timing, dir.join("missing.json")] {
        let output = compare(&baseline, &dir);
        assert_eq!(output.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&output.stderr).contains(baseline.to_str().unwrap()));
    }
    let output = compare(Path::new(REFERENCE), &dir.join("no-results"));
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cargo bench --features instructions"));
}

#[test]
fn save_writes_a_baseline_and_never_overwrites_without_force() {
    let dir = temp_dir("save");
    write_results(&dir, &reference()["stacks"]);
    let path = dir.join("saved.json");
    let save = |force: bool| {
        let mut args = vec!["save", path.to_str().unwrap(), "--results", dir.to_str().unwrap()];
        if force {
            args.push("--force");
        }
        ibench(&args)
    };
    assert_eq!(save(false).status.code(), Some(0));
    let saved = Baseline::read(&path).unwrap();
    assert_eq!(saved.kind, "instructions");
    assert_eq!(saved.stacks, Baseline::read(Path::new(REFERENCE)).unwrap().stacks);
    let again = save(false);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert_eq!(save(true).status.code(), Some(0));
}
