//! The result of a run: a [`Report`] with the k6-style metrics, per-listener and after-spike
//! sub-metrics, interceptor overheads, spike recovery time, server resources, threshold
//! verdicts and the time series; serialised as the versioned JSON schema [`SCHEMA`].
//!
//! JSON schema `ibench.load/v1` (all times in milliseconds, rates as fractions):
//!
//! ```text
//! { "schema": "ibench.load/v1", "scenario", "description", "executor": "closed"|"open"|"breakpoint",
//!   "open_model": null | { "peak_rate", "max_vus" },
//!   "targets": { NAME: URL }, "stages": [{ "duration_ms", "target" }],
//!   "planned_duration_ms", "duration_ms", "aborted_by": null | "why it stopped early",
//!   "metrics": { "http_req_duration": TREND, "http_req_failed": RATE, "checks": RATE,
//!                "http_reqs": COUNTER, "iterations": COUNTER, "dropped_iterations": COUNTER,
//!                "interrupted_iterations", "vus": { "min", "max" }, "vus_max" },
//!   "checks": [{ "name", "passes", "fails" }],
//!   "listeners": { NAME: { "http_req_duration": TREND, "http_req_failed": RATE, "checks": RATE, "http_reqs": COUNTER } },
//!   "after_spike": null | (same as a listener),
//!   "overhead": null | { "baseline", "listeners": { NAME: { "interceptors", "med_ms", "p95_ms",
//!                        "per_interceptor_med_ms", "per_interceptor_p95_ms" } } },
//!   "spike": null | { "end_ms", "p95_limit_ms", "window_ms", "recovery_time_ms": null | number },
//!   "resources": null | { "source", "samples", "rss_peak_mb", "rss_mean_mb", "cpu_peak_percent",
//!                         "cpu_mean_percent", "rss_target_mb", "cpu_target_percent", "within_targets",
//!                         "points": [{ "t_ms", "rss_mb", "cpu_percent": null | number }] },
//!   "thresholds": [{ "metric", "condition", "value": null | number, "ok", "abort_on_fail" }],
//!   "passed": bool,
//!   "series": { "interval_ms", "points": [{ "t_ms", "requests", "errors", "iterations", "dropped",
//!               "p50", "p95", "p99", "vus" }] },
//!   "breakpoint": null | { "search": { "start_rate", "factor", "step_ms", "max_rate", "max_steps",
//!                  "max_vus", "max_dropped" }, "conditions": ["http_req_duration: p(99)<100", …],
//!                  "listeners": [{ "listener", "outcome": "broke"|"ceiling"|"generator_limited"|"cancelled",
//!                  "sustained_rate": null | number, "broke_at": null | number,
//!                  "steps": [{ "rate", "achieved_rate", "requests", "p50", "p95", "p99", "error_rate",
//!                  "dropped", "dropped_fraction", "peak_busy_vus", "server_cpu_percent": null | number,
//!                  "ok", "failed": [text], "generator_limited" }] }] },
//!   "remote_write": null | { "url", "testid", "batches_sent", "samples_sent", "batches_failed",
//!                    "retries", "snapshots_dropped", "batches_unsent", "last_error": null | text } }
//! TREND = { "count", "avg", "min", "med", "max", "p90", "p95", "p99" }
//! RATE = { "rate", "trues", "total" }    COUNTER = { "count", "rate" }  (rate per second)
//! ```
//!
//! `breakpoint` and `remote_write` were added to v1 (readers that ignore unknown fields keep
//! working); a breakpoint run's `stages` are its steps, each `target` the step's rate, and its
//! `thresholds` are empty: the stop conditions are judged per step, in `breakpoint`.
//!
//! ```
//! use interceptor_bench::load::output::{SCHEMA, write_json};
//!
//! let dir = std::env::temp_dir().join(format!("ibench-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let file = dir.join("out.json");
//! write_json(&file, &serde_json::json!({"schema": SCHEMA}), false).unwrap();
//! assert!(write_json(&file, &serde_json::json!({}), false).is_err()); // never overwrites silently
//! write_json(&file, &serde_json::json!({}), true).unwrap(); // unless told to
//! # std::fs::remove_dir_all(dir).unwrap();
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::breakpoint::BreakpointReport;
use super::metrics::{CHECKS, Cell, CheckCount, Series, Totals, Trend, percentile_ms};
use super::remote_write::RemoteWriteStats;
use super::resources::Resources;
use super::scenario::{ExecutorKind, Scenario, Stage};
use super::threshold::{Aggregation, Metric, MetricRef, Threshold};
use crate::stack;

/// The JSON schema's name and version.
pub const SCHEMA: &str = "ibench.load/v1";

/// A rate metric: the fraction of true samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    /// `trues / total`, 0 without samples.
    pub rate: f64,
    /// True samples.
    pub trues: u64,
    /// All samples.
    pub total: u64,
}

impl Rate {
    fn of(trues: u64, total: u64) -> Self {
        Rate { rate: if total == 0 { 0.0 } else { trues as f64 / total as f64 }, trues, total }
    }
}

/// A counter with its rate per second of run time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Counter {
    /// Events.
    pub count: u64,
    /// Events per second.
    pub rate: f64,
}

/// The request metrics of a set of requests (all, one listener, after the spike).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestMetrics {
    /// Durations, from the intended start in the open model.
    pub http_req_duration: Trend,
    /// Requests without a 200 answer.
    pub http_req_failed: Rate,
    /// Checks that held.
    pub checks: Rate,
    /// Requests.
    pub http_reqs: Counter,
}

impl RequestMetrics {
    fn of(cell: &Cell, seconds: f64) -> Self {
        let passes = cell.checks.iter().map(|c| c.passes).sum();
        let total = cell.checks.iter().map(|c| c.passes + c.fails).sum();
        RequestMetrics {
            http_req_duration: cell.trend(),
            http_req_failed: Rate::of(cell.failed, cell.requests),
            checks: Rate::of(passes, total),
            http_reqs: Counter { count: cell.requests, rate: per_second(cell.requests, seconds) },
        }
    }
}

fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 { count as f64 / seconds } else { 0.0 }
}

/// The run's headline metrics, as k6 names them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// All requests.
    #[serde(flatten)]
    pub requests: RequestMetrics,
    /// Iterations finished.
    pub iterations: Counter,
    /// Open model: iterations not started because every VU was busy.
    pub dropped_iterations: Counter,
    /// Iterations cut off by the end of the run's grace period.
    pub interrupted_iterations: u64,
    /// The fewest and most VUs seen (busy VUs in the open model).
    pub vus: MinMax,
    /// The VU pool's size.
    pub vus_max: u32,
}

/// A smallest and largest value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MinMax {
    /// Smallest.
    pub min: u32,
    /// Largest.
    pub max: u32,
}

/// One check's counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    /// What it checks.
    pub name: &'static str,
    /// Its counts.
    #[serde(flatten)]
    pub count: CheckCount,
}

/// A listener's overhead over the baseline listener.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ListenerOverhead {
    /// Interceptors in the listener's stack (from the catalog; 1 for a name it does not know).
    pub interceptors: usize,
    /// Median minus the baseline's (ms).
    pub med_ms: f64,
    /// p95 minus the baseline's (ms).
    pub p95_ms: f64,
    /// `med_ms / interceptors`.
    pub per_interceptor_med_ms: f64,
    /// `p95_ms / interceptors`.
    pub per_interceptor_p95_ms: f64,
}

/// Overheads of every listener over the baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overhead {
    /// The listener without interceptors.
    pub baseline: String,
    /// Each other listener's overhead.
    pub listeners: BTreeMap<String, ListenerOverhead>,
}

/// The spike and the recovery from it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpikeReport {
    /// When the spike ended (ms from the start).
    pub end_ms: f64,
    /// Recovered means the rolling p95 is under this (ms) and stays there.
    pub p95_limit_ms: f64,
    /// The rolling window (ms).
    pub window_ms: f64,
    /// From the spike's end until recovered (ms, to the series' interval); `null` if never.
    pub recovery_time_ms: Option<f64>,
}

/// One threshold's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// The metric, with its tag filter.
    pub metric: String,
    /// The condition, e.g. `p(95)<100`.
    pub condition: String,
    /// The aggregated value; `null` when there was no data (which fails the threshold).
    pub value: Option<f64>,
    /// Whether it held.
    pub ok: bool,
    /// Whether it could stop the run early.
    pub abort_on_fail: bool,
}

/// The time series as written to JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesReport {
    /// Each point's length (ms).
    pub interval_ms: f64,
    /// The points.
    pub points: Vec<super::metrics::Point>,
}

/// Open-model settings of the run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OpenModel {
    /// The highest arrival rate, iterations per second.
    pub peak_rate: f64,
    /// The VU pool.
    pub max_vus: u32,
}

/// What a run came to. Build one with [`super::run`].
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// The scenario's name.
    pub scenario: String,
    /// What it is for.
    pub description: String,
    /// The model the load followed.
    pub executor: ExecutorKind,
    /// Its open-model settings.
    pub open_model: Option<OpenModel>,
    /// Listener name → URL.
    pub targets: BTreeMap<String, String>,
    /// The stages as run (scaled).
    pub stages: Vec<Stage>,
    /// The sum of the stages (ms).
    pub planned_duration_ms: f64,
    /// How long the run took (ms).
    pub duration_ms: f64,
    /// Why the run stopped early: an abort-on-fail threshold failed, or it was cancelled.
    pub aborted_by: Option<String>,
    /// Headline metrics.
    pub metrics: Metrics,
    /// The checks.
    pub checks: Vec<CheckReport>,
    /// Per-listener request metrics.
    pub listeners: BTreeMap<String, RequestMetrics>,
    /// Request metrics of the stages after the spike.
    pub after_spike: Option<RequestMetrics>,
    /// Interceptor overheads over the baseline listener.
    pub overhead: Option<Overhead>,
    /// Spike end and recovery.
    pub spike: Option<SpikeReport>,
    /// Server resources, with `--server-pid` or `--server-metrics`.
    pub resources: Option<Resources>,
    /// Threshold verdicts.
    pub thresholds: Vec<ThresholdResult>,
    /// All thresholds held and the run was not aborted.
    pub passed: bool,
    /// The time series.
    pub series: SeriesReport,
    /// Breakpoint runs: each listener's highest sustained rate and its curve.
    pub breakpoint: Option<BreakpointReport>,
    /// With `--out prometheus-rw=URL`: what was sent.
    pub remote_write: Option<RemoteWriteStats>,
    #[serde(skip)]
    tally: Tally,
}

/// The running totals thresholds read: the request cells (all, per listener, after the spike)
/// and the run's counts so far. A [`Report`] keeps its final one; a run's abort check takes one
/// each tick ([`Tally::fails`]) without building a report.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tally {
    all: Cell,
    listeners: BTreeMap<String, Cell>,
    after_spike: Option<Cell>,
    overhead_baseline: Option<String>,
    seconds: f64,
    iterations: u64,
    dropped: u64,
}

impl Tally {
    /// `totals` of `scenario`, `elapsed` into it, with `dropped` iterations.
    pub fn of(scenario: &Scenario, totals: &Totals, elapsed: Duration, dropped: u64) -> Tally {
        let listeners = scenario
            .listeners
            .iter()
            .enumerate()
            .map(|(index, name)| (name.clone(), totals.merged(|_, listener| listener == index)))
            .collect();
        Tally {
            all: totals.merged(|_, _| true),
            listeners,
            after_spike: scenario.spike.map(|spike| totals.merged(|stage, _| stage > spike.end_stage)),
            overhead_baseline: scenario.overhead_baseline.clone(),
            seconds: elapsed.as_secs_f64(),
            iterations: totals.iterations,
            dropped,
        }
    }

    /// Whether `threshold` fails on these totals. No value (no data yet, or a metric only the
    /// finished run has: the spike's recovery, the server's resources) does not fail it here.
    pub fn fails(&self, threshold: &Threshold) -> bool {
        self.value(&threshold.metric, threshold.condition.aggregation)
            .is_some_and(|value| !threshold.condition.holds(value))
    }

    fn cell(&self, metric: &MetricRef) -> Option<&Cell> {
        match &metric.tag {
            None => Some(&self.all),
            Some((tag, value)) if tag == "listener" => self.listeners.get(value),
            Some((tag, value)) if tag == "phase" && value == "after_spike" => self.after_spike.as_ref(),
            Some(_) => None,
        }
    }

    /// The request and iteration metrics, as [`Report::value`] gives them.
    fn value(&self, metric: &MetricRef, aggregation: Aggregation) -> Option<f64> {
        let trend = |cell: &Cell| -> Option<f64> {
            let h = &cell.duration;
            match aggregation {
                Aggregation::Count => Some(h.len() as f64),
                _ if h.is_empty() => None,
                Aggregation::Avg => Some(h.mean() / 1e3),
                Aggregation::Min => Some(h.min() as f64 / 1e3),
                Aggregation::Med => percentile_ms(h, 50.0),
                Aggregation::Max => Some(h.max() as f64 / 1e3),
                Aggregation::Percentile(p) => percentile_ms(h, p),
                _ => None,
            }
        };
        let counter = |count: u64| match aggregation {
            Aggregation::Count => Some(count as f64),
            Aggregation::Rate => Some(per_second(count, self.seconds)),
            _ => None,
        };
        match metric.metric()? {
            Metric::HttpReqDuration => trend(self.cell(metric)?),
            Metric::HttpReqFailed => self.cell(metric)?.failed_rate(),
            Metric::Checks => self.cell(metric)?.checks_rate(),
            Metric::HttpReqs => counter(self.cell(metric)?.requests),
            Metric::Iterations => counter(self.iterations),
            Metric::DroppedIterations => counter(self.dropped),
            Metric::InterceptorOverhead => {
                let (_, listener) = metric.tag.as_ref()?;
                let baseline = self.overhead_baseline.as_ref().filter(|baseline| *baseline != listener)?;
                let own = trend(self.listeners.get(listener)?)?;
                let base = trend(self.listeners.get(baseline)?)?;
                Some((own - base) / interceptors_in(listener) as f64)
            }
            _ => None,
        }
    }
}

/// Interceptors in the listener's stack, from the catalog (1 for a name it does not know).
fn interceptors_in(listener: &str) -> usize {
    stack::find(listener).map_or(1, |stack| stack.len().max(1))
}

/// Everything the executor measured, for [`Report::build`].
pub(crate) struct RunFacts<'a> {
    pub scenario: &'a Scenario,
    pub executor: ExecutorKind,
    pub open_model: Option<OpenModel>,
    pub targets: BTreeMap<String, String>,
    pub totals: Totals,
    pub series: Series,
    pub elapsed: Duration,
    pub dropped: u64,
    pub interrupted: u64,
    pub vus: MinMax,
    pub vus_max: u32,
    pub aborted_by: Option<String>,
    pub resources: Option<Resources>,
    pub extra_thresholds: &'a [Threshold],
}

impl Report {
    pub(crate) fn build(facts: RunFacts<'_>) -> Report {
        let scenario = facts.scenario;
        let seconds = facts.elapsed.as_secs_f64();
        let totals = &facts.totals;
        let tally = Tally::of(scenario, totals, facts.elapsed, facts.dropped);
        let spike = scenario.spike.zip(scenario.spike_end()).map(|(spike, end)| SpikeReport {
            end_ms: end.as_secs_f64() * 1e3,
            p95_limit_ms: spike.p95_ms,
            window_ms: spike.window.as_secs_f64() * 1e3,
            recovery_time_ms: facts
                .series
                .recovery_time(end, spike.window, spike.p95_ms)
                .map(|duration| duration.as_secs_f64() * 1e3),
        });
        let overhead = scenario.overhead_baseline.as_ref().and_then(|baseline| overhead(baseline, &tally.listeners));
        let checks = CHECKS.iter().zip(tally.all.checks).map(|(&name, count)| CheckReport { name, count }).collect();
        let mut report = Report {
            schema: SCHEMA,
            scenario: scenario.name.clone(),
            description: scenario.description.clone(),
            executor: facts.executor,
            open_model: facts.open_model,
            targets: facts.targets,
            stages: scenario.stages.clone(),
            planned_duration_ms: scenario.total_duration().as_secs_f64() * 1e3,
            duration_ms: seconds * 1e3,
            aborted_by: facts.aborted_by,
            metrics: Metrics {
                requests: RequestMetrics::of(&tally.all, seconds),
                iterations: Counter { count: totals.iterations, rate: per_second(totals.iterations, seconds) },
                dropped_iterations: Counter { count: facts.dropped, rate: per_second(facts.dropped, seconds) },
                interrupted_iterations: facts.interrupted,
                vus: facts.vus,
                vus_max: facts.vus_max,
            },
            checks,
            listeners: tally
                .listeners
                .iter()
                .map(|(name, cell)| (name.clone(), RequestMetrics::of(cell, seconds)))
                .collect(),
            after_spike: tally.after_spike.as_ref().map(|cell| RequestMetrics::of(cell, seconds)),
            overhead,
            spike,
            resources: facts.resources,
            thresholds: Vec::new(),
            passed: false,
            series: SeriesReport {
                interval_ms: facts.series.interval.as_secs_f64() * 1e3,
                points: facts.series.points.clone(),
            },
            breakpoint: None,
            remote_write: None,
            tally,
        };
        let thresholds: Vec<&Threshold> = scenario.thresholds.iter().chain(facts.extra_thresholds).collect();
        report.thresholds = thresholds.iter().map(|threshold| report.verdict(threshold)).collect();
        report.passed = report.aborted_by.is_none() && report.thresholds.iter().all(|t| t.ok);
        report
    }

    /// The verdict on `threshold` for this report.
    pub fn verdict(&self, threshold: &Threshold) -> ThresholdResult {
        let value = self.value(&threshold.metric, threshold.condition.aggregation);
        ThresholdResult {
            metric: threshold.metric.to_string(),
            condition: threshold.condition.to_string(),
            value,
            ok: value.is_some_and(|value| threshold.condition.holds(value)),
            abort_on_fail: threshold.abort_on_fail,
        }
    }

    /// The requests to `listener`, histogram and all.
    pub(crate) fn listener_cell(&self, listener: &str) -> Option<&Cell> {
        self.tally.listeners.get(listener)
    }

    /// `metric` aggregated by `aggregation` (ms for times, fractions for rates, per second for
    /// counter rates); `None` when there is no data or the combination makes no sense.
    pub fn value(&self, metric: &MetricRef, aggregation: Aggregation) -> Option<f64> {
        match metric.metric()? {
            Metric::SpikeRecoveryTime => self.spike?.recovery_time_ms,
            Metric::ServerRssMb => self.resources.as_ref().and_then(|r| match aggregation {
                Aggregation::Max => Some(r.rss_peak_mb),
                Aggregation::Avg => Some(r.rss_mean_mb),
                _ => None,
            }),
            Metric::ServerCpuPercent => self.resources.as_ref().and_then(|r| match aggregation {
                Aggregation::Max => Some(r.cpu_peak_percent),
                Aggregation::Avg => Some(r.cpu_mean_percent),
                _ => None,
            }),
            _ => self.tally.value(metric, aggregation),
        }
    }

    /// The run's exit code: 0 when every threshold held, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        u8::from(!self.passed)
    }
}

fn overhead(baseline: &str, listeners: &BTreeMap<String, Cell>) -> Option<Overhead> {
    let base = listeners.get(baseline)?;
    let base_med = percentile_ms(&base.duration, 50.0)?;
    let base_p95 = percentile_ms(&base.duration, 95.0)?;
    let listeners = listeners
        .iter()
        .filter(|(name, _)| name.as_str() != baseline)
        .filter_map(|(name, cell)| {
            let interceptors = interceptors_in(name);
            let med_ms = percentile_ms(&cell.duration, 50.0)? - base_med;
            let p95_ms = percentile_ms(&cell.duration, 95.0)? - base_p95;
            let per = interceptors as f64;
            let overhead = ListenerOverhead {
                interceptors,
                med_ms,
                p95_ms,
                per_interceptor_med_ms: med_ms / per,
                per_interceptor_p95_ms: p95_ms / per,
            };
            Some((name.clone(), overhead))
        })
        .collect();
    Some(Overhead { baseline: baseline.to_owned(), listeners })
}

/// Why `--out json=FILE` (or a report) was not written: the crate's one writer's error.
pub use crate::atomic_file::{WriteError as OutputError, write_atomically};

/// Checks, before a run, that `path` can be written: its directory exists and, unless `force`,
/// the file does not.
pub fn check_writable(path: &Path, force: bool) -> Result<(), OutputError> {
    if !force && path.exists() {
        return Err(OutputError::Exists(path.to_owned()));
    }
    let directory = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !directory.is_dir() {
        let error = std::io::Error::new(std::io::ErrorKind::NotFound, "its directory does not exist");
        return Err(OutputError::io(path, error));
    }
    Ok(())
}

/// Writes `value` as pretty JSON to `path` atomically, through [`write_atomically`].
pub fn write_json(path: &Path, value: &impl Serialize, force: bool) -> Result<(), OutputError> {
    let mut text = serde_json::to_vec_pretty(value).map_err(|error| OutputError::io(path, error.into()))?;
    text.push(b'\n');
    write_atomically(path, &text, force)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::client::Outcome;
    use crate::load::metrics::Totals;

    const OK: Outcome = Outcome { status: Some(200), message_ok: true, transport_error: false };

    fn cell(latency_ms: u64, requests: usize, failed: usize) -> Cell {
        let mut cell = Cell::new();
        for index in 0..requests {
            let outcome = if index < failed {
                Outcome { status: Some(503), message_ok: false, transport_error: false }
            } else {
                OK
            };
            cell.record(Duration::from_millis(latency_ms), outcome);
        }
        cell
    }

    fn report() -> Report {
        let (scenario, totals) = overhead_run();
        Report::build(RunFacts {
            scenario: &scenario,
            executor: ExecutorKind::Closed,
            open_model: None,
            targets: BTreeMap::new(),
            totals,
            series: Series::new(Duration::from_secs(1)),
            elapsed: Duration::from_secs(2),
            dropped: 0,
            interrupted: 0,
            vus: MinMax { min: 1, max: 10 },
            vus_max: 10,
            aborted_by: None,
            resources: None,
            extra_thresholds: &[],
        })
    }

    fn overhead_run() -> (Scenario, Totals) {
        let mut scenario = Scenario::builtin("interceptor-overhead").unwrap();
        scenario.listeners = vec!["baseline".into(), "full".into(), "validation".into()];
        scenario.thresholds = vec![
            "interceptor_overhead{listener:full}: med<2".parse().unwrap(),
            "interceptor_overhead{listener:validation}: p(95)<2".parse().unwrap(),
            "http_req_failed{listener:validation}: rate<0.01".parse().unwrap(),
            "http_reqs: rate>=150".parse().unwrap(),
        ];
        // baseline 1 ms; full 10 ms over 9 interceptors = 1 ms each; validation 4 ms = 3 ms over.
        let totals = Totals { cells: vec![vec![cell(1, 100, 0), cell(10, 100, 0), cell(4, 100, 10)]], iterations: 100 };
        (scenario, totals)
    }

    #[test]
    fn the_running_tally_fails_the_thresholds_the_report_fails() {
        let report = report();
        let (scenario, totals) = overhead_run();
        let tally = Tally::of(&scenario, &totals, Duration::from_secs(2), 0);
        let fails: Vec<bool> = scenario.thresholds.iter().map(|threshold| tally.fails(threshold)).collect();
        assert_eq!(fails, [false, true, true, false]);
        assert_eq!(fails, report.thresholds.iter().map(|t| !t.ok).collect::<Vec<_>>());
        // Half the run's time: twice the request rate.
        let early = Tally::of(&scenario, &totals, Duration::from_secs(1), 0);
        let rate: Threshold = "http_reqs: rate<200".parse().unwrap();
        assert!(!tally.fails(&rate) && early.fails(&rate));
        // What only the finished run has cannot abort it.
        let recovery: Threshold = "spike_recovery_time: value<1".parse().unwrap();
        assert!(!tally.fails(&recovery));
    }

    #[test]
    fn overhead_is_the_difference_over_baseline_per_interceptor() {
        let report = report();
        let overhead = report.overhead.as_ref().unwrap();
        let full = overhead.listeners["full"];
        assert_eq!(full.interceptors, 9);
        assert!((full.med_ms - 9.0).abs() < 0.02, "{full:?}");
        assert!((full.per_interceptor_med_ms - 1.0).abs() < 0.01, "{full:?}");
        let validation = overhead.listeners["validation"];
        assert!((validation.per_interceptor_p95_ms - 3.0).abs() < 0.01, "{validation:?}");
        assert!(!overhead.listeners.contains_key("baseline"));
    }

    #[test]
    fn thresholds_read_the_right_values() {
        let report = report();
        let verdicts: Vec<(Option<f64>, bool)> = report.thresholds.iter().map(|t| (t.value, t.ok)).collect();
        assert!(verdicts[0].1, "full: 1 ms per interceptor < 2");
        assert!(!verdicts[1].1, "validation: 3 ms > 2");
        assert_eq!(verdicts[2], (Some(0.1), false));
        assert_eq!(verdicts[3], (Some(150.0), true));
        assert!(!report.passed);
        assert_eq!(report.exit_code(), 1);
        assert_eq!(report.metrics.requests.http_req_failed, Rate { rate: 10.0 / 300.0, trues: 10, total: 300 });
        // No data fails a threshold rather than passing it.
        let recovery: Threshold = "spike_recovery_time: value<1".parse().unwrap();
        assert_eq!(report.verdict(&recovery).value, None);
        assert!(!report.verdict(&recovery).ok);
    }
}
