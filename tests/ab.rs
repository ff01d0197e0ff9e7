//! `ibench ab` end to end on two prebuilt binaries (this build, twice): every round starts a
//! fresh pair of worker processes, and each job reports one ratio per round. Timings decide
//! no assertion here: the same binary against itself may land either side of the threshold.
//! `--base REV` builds both sides itself: here with a stand-in for cargo that logs how it was
//! called and puts this build where cargo would.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

#[test]
fn each_round_starts_fresh_workers_and_reports_its_ratio() {
    let ibench = env!("CARGO_BIN_EXE_ibench");
    let output = Command::new(ibench)
        .args(["ab", "--base-bin", ibench, "--candidate-bin", ibench])
        .args(["--filter", "^in_process/(floor|baseline)/", "--time", "120ms", "--rounds", "3", "--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(matches!(output.status.code(), Some(0 | 1)), "{stderr}");
    for round in 1..=3 {
        assert!(stderr.contains(&format!("round {round} of 3 done (2 jobs)")), "{stderr}");
    }
    assert!(stderr.contains("with 3 rounds a change's interval is their whole range, which holds the median with 75% confidence, not 95%"), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["options"]["rounds"], 3);
    let jobs = report["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2, "{report}");
    for job in jobs {
        let rounds = job["rounds"].as_array().unwrap();
        assert_eq!(rounds.len(), 3, "{job}");
        let change = job["change"]["point"].as_f64().unwrap();
        let mut sorted: Vec<f64> = rounds.iter().map(|r| r.as_f64().unwrap()).collect();
        sorted.sort_by(f64::total_cmp);
        assert_eq!(change, sorted[1], "the change is the median round: {job}");
        assert_eq!(job["change"]["lower"].as_f64().unwrap(), sorted[0], "three rounds: the whole range");
    }
}

#[test]
fn rounds_out_of_range_are_refused() {
    let ibench = env!("CARGO_BIN_EXE_ibench");
    for rounds in ["0", "101", "many"] {
        let output = Command::new(ibench)
            .args(["ab", "--base-bin", ibench, "--candidate-bin", ibench, "--rounds", rounds])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "--rounds {rounds}");
    }
}

#[test]
fn base_rev_cleans_then_builds_the_revision_and_the_work_tree_aligned_into_a_relative_work_dir() {
    let ibench = env!("CARGO_BIN_EXE_ibench");
    let repo = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let status = Command::new("git").arg("-C").arg(repo.path()).args(args).status().unwrap();
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    std::fs::write(repo.path().join("Cargo.toml"), "[package]\nname = \"stand-in\"\n").unwrap();
    git(&["add", "Cargo.toml"]);
    git(&["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base"]);
    let log = repo.path().join("cargo.log");
    let cargo = repo.path().join("cargo");
    std::fs::write(
        &cargo,
        format!(
            "#!/bin/sh\necho \"$(pwd)|$CARGO_TARGET_DIR|$RUSTFLAGS|$*\" >> '{}'\n\
             case \"$1\" in\n\
             pkgid) echo 'path+file:///stand-in#stand-in@0.1.0' ;;\n\
             build) mkdir -p \"$CARGO_TARGET_DIR/release\" && cp '{ibench}' \"$CARGO_TARGET_DIR/release/ibench\" ;;\n\
             esac\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();

    let output = Command::new(ibench)
        .current_dir(repo.path())
        .env("CARGO", &cargo)
        .env_remove("RUSTFLAGS")
        .args(["ab", "--base", "HEAD", "--work-dir", "ab-work"])
        .args(["--filter", "^in_process/floor/", "--time", "60ms", "--rounds", "1", "--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(matches!(output.status.code(), Some(0 | 1)), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["jobs"].as_array().unwrap().len(), 1, "{report}");

    let root = repo.path().canonicalize().unwrap();
    let calls: Vec<Vec<String>> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|line| line.split('|').map(str::to_owned).collect())
        .collect();
    let work = root.join("ab-work");
    let steps = ["pkgid --locked", "clean --release --package stand-in", "build --release --locked --bin ibench"];
    assert_eq!(calls.len(), 2 * steps.len(), "the same three steps per side: {calls:?}");
    for (side, source) in calls.chunks(steps.len()).zip([work.join("src"), root.clone()]) {
        for (call, step) in side.iter().zip(steps) {
            assert!(Path::new(&call[0]).canonicalize().unwrap().starts_with(&source), "run in {}: {call:?}", call[0]);
            assert_eq!(Path::new(&call[1]), work.join("target"), "one absolute, shared target directory: {call:?}");
            assert_eq!(call[2], "-C llvm-args=-align-all-functions=6", "{call:?}");
            assert_eq!(call[3], step, "the root package is cleaned before each build, so each binary is its side's");
        }
    }
    let bins: Vec<_> = std::fs::read_dir(work.join("bin")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(bins.len(), 2, "{bins:?}");
}
