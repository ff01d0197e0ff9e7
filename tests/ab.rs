//! `ibench ab` end to end on two prebuilt binaries (this build, twice): every round starts a
//! fresh pair of worker processes, and each job reports one ratio per round. Timings decide
//! no assertion here: the same binary against itself may land either side of the threshold.

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
