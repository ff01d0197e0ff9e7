//! A load run as the report reads it: the parts of an `ibench.load/v1` JSON file it draws.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::ReportError;
use crate::load::output::SCHEMA;

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
    /// `closed` or `open`.
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

/// A latency distribution (ms).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[allow(missing_docs)]
pub struct Trend {
    pub count: u64,
    pub avg: f64,
    pub min: f64,
    pub med: f64,
    pub max: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
}

/// A fraction of true samples.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Rate {
    /// `trues / total`.
    pub rate: f64,
    /// True samples.
    pub trues: u64,
    /// All samples.
    pub total: u64,
}

/// A count and its rate per second.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Counter {
    /// Events.
    pub count: u64,
    /// Events per second.
    pub rate: f64,
}

/// The spike and the recovery from it.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Spike {
    /// When the spike ended (ms from the start).
    pub end_ms: f64,
    /// Recovered: the rolling p95 is under this (ms) and stays there.
    pub p95_limit_ms: f64,
    /// The rolling window (ms).
    pub window_ms: f64,
    /// From the spike's end until recovered (ms); `None` if it never did.
    pub recovery_time_ms: Option<f64>,
}

/// The server's resources over the run.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[allow(missing_docs)]
pub struct Resources {
    /// `pid N` or the metrics URL.
    pub source: String,
    pub samples: usize,
    pub rss_peak_mb: f64,
    pub rss_mean_mb: f64,
    pub cpu_peak_percent: f64,
    pub cpu_mean_percent: f64,
    pub rss_target_mb: f64,
    pub cpu_target_percent: f64,
    pub within_targets: bool,
}

/// One threshold's verdict.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Threshold {
    /// The metric with its tag filter.
    pub metric: String,
    /// The condition, e.g. `p(95)<100`.
    pub condition: String,
    /// The aggregated value; `None` without data.
    pub value: Option<f64>,
    /// Whether it held.
    pub ok: bool,
}

/// The time series.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Series {
    /// Each point's length (ms).
    pub interval_ms: f64,
    /// The points, from the start.
    pub points: Vec<Point>,
}

/// One interval of the run.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Point {
    /// The interval's start (ms from the start of the run).
    pub t_ms: f64,
    /// Requests finished in it.
    pub requests: u64,
    /// Of which failed.
    pub errors: u64,
    /// Median duration (ms); `None` without requests.
    pub p50: Option<f64>,
    /// 95th percentile (ms).
    pub p95: Option<f64>,
    /// 99th percentile (ms).
    pub p99: Option<f64>,
    /// VUs active (closed model) or busy (open model) at its end.
    pub vus: u32,
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
