//! A load run as the report reads it: the parts of an `ibench.load/v1` JSON file it draws.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::ReportError;
pub use crate::load::breakpoint::BreakpointReport;
pub use crate::load::metrics::{Point, Trend};
pub use crate::load::output::{
    Counter, Rate, SCHEMA, SeriesReport as Series, SpikeReport as Spike, ThresholdResult as Threshold,
};
pub use crate::load::resources::Resources;

/// A load run read back from its JSON (schema [`SCHEMA`]): what the report draws and tabulates.
///
/// Read from the file `ibench load --out json=FILE` wrote with [`LoadRun::read`], or from the
/// run in memory with [`LoadRun::from_report`] — both go through the same JSON, so the report
/// of a file and of the run that wrote it are the same.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LoadRun {
    /// The scenario's name.
    pub scenario: String,
    /// What it is for.
    pub description: String,
    /// `closed`, `open` or `breakpoint`.
    pub executor: String,
    /// The stages as run: `{ duration_ms, target }`.
    pub stages: Vec<Stage>,
    /// How long the run took (ms).
    pub duration_ms: f64,
    /// Why it stopped early, if it did.
    pub aborted_by: Option<String>,
    /// Headline metrics.
    pub metrics: Metrics,
    /// Per-listener request metrics.
    pub listeners: BTreeMap<String, RequestMetrics>,
    /// The spike's end and the recovery from it (spike scenarios).
    pub spike: Option<Spike>,
    /// The server's memory and CPU, when sampled.
    pub resources: Option<Resources>,
    /// Threshold verdicts.
    pub thresholds: Vec<Threshold>,
    /// Every threshold held and the run was not aborted.
    pub passed: bool,
    /// The time series.
    pub series: Series,
    /// A breakpoint run's search (absent in files of other runs, and of older versions).
    #[serde(default)]
    pub breakpoint: Option<BreakpointReport>,
}

/// One stage: a ramp to `target` VUs over `duration_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Stage {
    /// How long the ramp lasts (ms).
    pub duration_ms: f64,
    /// The VUs at its end.
    pub target: u32,
}

/// The headline metrics.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Metrics {
    /// All requests.
    #[serde(flatten)]
    pub requests: RequestMetrics,
    /// Iterations finished.
    pub iterations: Counter,
    /// Open model: iterations not started for want of a VU.
    pub dropped_iterations: Counter,
    /// The VU pool.
    pub vus_max: u32,
}

/// Request metrics of a set of requests.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RequestMetrics {
    /// Durations (ms).
    pub http_req_duration: Trend,
    /// Failed requests.
    pub http_req_failed: Rate,
    /// Requests.
    pub http_reqs: Counter,
}

impl LoadRun {
    /// Reads the JSON `ibench load --out json=FILE` wrote; the error names the file.
    ///
    /// ```
    /// use interceptor_bench::report::LoadRun;
    ///
    /// let error = LoadRun::read("no-such-run.json".as_ref()).unwrap_err();
    /// assert!(error.to_string().contains("no-such-run.json"));
    /// ```
    pub fn read(path: &Path) -> Result<LoadRun, ReportError> {
        let text = std::fs::read(path).map_err(|error| ReportError::Read { path: path.to_owned(), error })?;
        let value: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|error| ReportError::Invalid { path: path.to_owned(), why: error.to_string() })?;
        LoadRun::from_value(value).map_err(|why| ReportError::Invalid { path: path.to_owned(), why })
    }

    /// The report of a run in memory, as `ibench load --report` draws it.
    ///
    /// ```no_run
    /// # async fn run(scenario: interceptor_bench::load::Scenario, targets: interceptor_bench::load::Targets) {
    /// use interceptor_bench::load::{self, LoadOptions};
    /// use interceptor_bench::report::LoadRun;
    ///
    /// let report = load::run(&scenario, &targets, &LoadOptions::new()).await.unwrap();
    /// let run = LoadRun::from_report(&report).unwrap();
    /// assert_eq!(run.metrics.requests.http_reqs.count, report.metrics.requests.http_reqs.count);
    /// # }
    /// ```
    pub fn from_report(report: &crate::load::Report) -> Result<LoadRun, String> {
        LoadRun::from_value(serde_json::to_value(report).map_err(|error| error.to_string())?)
    }

    fn from_value(value: serde_json::Value) -> Result<LoadRun, String> {
        match value.get("schema").and_then(serde_json::Value::as_str) {
            Some(SCHEMA) => {
                serde_json::from_value(value).map_err(|error| format!("not a valid {SCHEMA} file: {error}"))
            }
            Some(other) => Err(format!("schema {other:?}, not {SCHEMA:?}")),
            None => Err(format!("no \"schema\": not an {SCHEMA} file (ibench load --out json=FILE)")),
        }
    }

    /// The spike window: from the start of the ramp to the spike's peak VUs until the spike
    /// ends (ms), for spike scenarios; spike-test's 30s→100, 10s→1000, 30s→1000 ending at 70 s
    /// gives 30 s–70 s.
    pub(crate) fn spike_window(&self) -> Option<(f64, f64)> {
        let spike = self.spike?;
        let mut start = 0.0;
        let mut stages = Vec::new();
        for stage in &self.stages {
            if start >= spike.end_ms {
                break;
            }
            stages.push((start, stage.target));
            start += stage.duration_ms;
        }
        let peak = stages.iter().map(|&(_, target)| target).max()?;
        let first = stages.iter().find(|&&(_, target)| target == peak)?.0;
        Some((first, spike.end_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stages: &[(f64, u32)], spike_end_ms: Option<f64>) -> LoadRun {
        let stages: Vec<serde_json::Value> = stages
            .iter()
            .map(|(duration_ms, target)| serde_json::json!({"duration_ms": duration_ms, "target": target}))
            .collect();
        let trend =
            serde_json::json!({"count": 0, "avg": 0, "min": 0, "med": 0, "max": 0, "p90": 0, "p95": 0, "p99": 0});
        let requests = serde_json::json!({
            "http_req_duration": trend, "http_req_failed": {"rate": 0, "trues": 0, "total": 0},
            "http_reqs": {"count": 0, "rate": 0},
        });
        let mut metrics = requests.clone();
        metrics["iterations"] = serde_json::json!({"count": 0, "rate": 0});
        metrics["dropped_iterations"] = serde_json::json!({"count": 0, "rate": 0});
        metrics["vus_max"] = 1.into();
        let spike = spike_end_ms
            .map(|end_ms| serde_json::json!({"end_ms": end_ms, "p95_limit_ms": 150, "window_ms": 5000, "recovery_time_ms": null}));
        LoadRun::from_value(serde_json::json!({
            "schema": SCHEMA, "scenario": "s", "description": "d", "executor": "closed", "stages": stages,
            "duration_ms": 1, "aborted_by": null, "metrics": metrics, "listeners": {"full": requests},
            "spike": spike, "resources": null, "thresholds": [], "passed": true,
            "series": {"interval_ms": 1000, "points": []},
        }))
        .unwrap()
    }

    #[test]
    fn the_spike_window_runs_from_the_ramp_to_the_peak_until_the_spike_ends() {
        let seed = [(30_000.0, 100), (10_000.0, 1000), (30_000.0, 1000), (10_000.0, 100), (30_000.0, 100)];
        assert_eq!(run(&seed, Some(70_000.0)).spike_window(), Some((30_000.0, 70_000.0)));
        // A spike that is a single stage.
        assert_eq!(
            run(&[(1_000.0, 10), (500.0, 50), (1_000.0, 10)], Some(1_500.0)).spike_window(),
            Some((1_000.0, 1_500.0))
        );
        assert_eq!(run(&seed, None).spike_window(), None);
    }
}
