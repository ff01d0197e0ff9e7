//! Breaking-point search: where does a listener stop meeting its SLO?
//!
//! The open model at a constant rate for one step, then the rate times a factor for the next,
//! and so on, one listener at a time (so that one listener's load never slows another's), until
//! a stop condition fails. The conditions are the scenario's k6 thresholds, evaluated on each
//! step alone (by default `http_req_duration: p(99)<100` and `http_req_failed: rate<0.01`), plus
//! "at most [`Search::max_dropped`] of the step's iterations dropped". The answer is the
//! **highest sustained rate**: the last step that met every condition, with the whole
//! latency-vs-rate curve (p50/p95/p99, errors, drops at every step).
//!
//! Every search is bounded: by [`Search::max_rate`] (reaching it is reported as the ceiling,
//! not as a breaking point), by [`Search::max_steps`], and so by steps × step duration per
//! listener.
//!
//! When iterations are dropped although the VU pool never got half full (the server answered
//! fast enough, the generator did not start iterations on time) or while the sampled server
//! CPU stayed low, the step is reported as **generator-limited**: the load generator, not the
//! server, is what could not keep the schedule ([`generator_limited`]).
//!
//! ```
//! use interceptor_bench::load::breakpoint::Search;
//! use std::time::Duration;
//!
//! let search = Search { start_rate: 100.0, factor: 2.0, max_rate: 500.0, ..Search::default() };
//! assert_eq!(search.rates(), [100.0, 200.0, 400.0, 500.0]);
//! assert!(Search { factor: 1.0, ..search }.validate().is_err());
//! ```

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::executor::Model;
use super::metrics::{Series, Totals};
use super::output::{MinMax, OpenModel, Report, RunFacts};
use super::resources::{ResourcePoint, Resources};
use super::scenario::{ExecutorKind, Scenario, Stage};
use super::summary::format_ms;
use super::{LoadError, LoadOptions, Targets, default_interval, measure};

/// How the rate climbs, and how far it may go.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Search {
    /// The first step's rate, iterations per second.
    pub start_rate: f64,
    /// Each step's rate is the previous one's times this (> 1).
    pub factor: f64,
    /// How long each step lasts.
    #[serde(with = "super::threshold::duration_ms", rename = "step_ms")]
    pub step: Duration,
    /// The ceiling: the last step runs at this rate, and reaching it is not a breaking point.
    pub max_rate: f64,
    /// At most this many steps per listener.
    pub max_steps: u32,
    /// The VU pool: the most iterations in flight.
    pub max_vus: u32,
    /// The largest fraction of a step's iterations that may be dropped (0.01 = 1%).
    pub max_dropped: f64,
}

impl Default for Search {
    /// 1,000/s ×1.25 every 5 s, up to 200,000/s, at most 30 steps, 100 VUs, 1% dropped.
    fn default() -> Self {
        Search {
            start_rate: 1000.0,
            factor: 1.25,
            step: Duration::from_secs(5),
            max_rate: 200_000.0,
            max_steps: 30,
            max_vus: 100,
            max_dropped: 0.01,
        }
    }
}

/// The most steps a search may have: 1,000 steps of 1 s is already over a quarter of an hour.
pub const MAX_STEPS: u32 = 1000;

impl Search {
    /// The rates of the steps: `start_rate × factor^k`, capped at `max_rate` (then the last
    /// step), at most `max_steps` of them.
    pub fn rates(&self) -> Vec<f64> {
        let mut rates = Vec::new();
        let mut rate = self.start_rate;
        while rates.len() < self.max_steps.min(MAX_STEPS) as usize {
            rates.push(rate.min(self.max_rate));
            if rate >= self.max_rate {
                break;
            }
            rate *= self.factor;
        }
        rates
    }

    /// Checks that the search is finite and climbs.
    pub fn validate(&self) -> Result<(), String> {
        let positive = |value: f64| value.is_finite() && value > 0.0;
        if !positive(self.start_rate) {
            return Err(format!("start_rate must be a positive number, not {}", self.start_rate));
        }
        if !(self.factor.is_finite() && self.factor > 1.0 && self.factor <= 100.0) {
            return Err(format!("factor must be above 1 (and at most 100), not {}", self.factor));
        }
        if self.step.is_zero() {
            return Err("step must last longer than 0s".into());
        }
        if !(positive(self.max_rate) && self.max_rate >= self.start_rate) {
            return Err(format!("max_rate ({}) must be at least start_rate ({})", self.max_rate, self.start_rate));
        }
        if !(1..=MAX_STEPS).contains(&self.max_steps) {
            return Err(format!("max_steps must be between 1 and {MAX_STEPS}, not {}", self.max_steps));
        }
        if self.max_vus == 0 {
            return Err("max_vus must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.max_dropped) {
            return Err(format!("max_dropped is a fraction between 0 and 1, not {}", self.max_dropped));
        }
        Ok(())
    }
}

/// How a listener's search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A step failed a stop condition: the server's breaking point.
    Broke,
    /// Every step up to the ceiling (`max_rate` or `max_steps`) met every condition.
    Ceiling,
    /// A step dropped iterations that the server had time for: the generator is the limit.
    GeneratorLimited,
    /// The run was cancelled (or a threshold aborted it) before the search ended.
    Cancelled,
}

/// One step of a search: the rate asked for and what it came to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// The rate asked for, iterations per second.
    pub rate: f64,
    /// Requests finished per second of the step.
    pub achieved_rate: f64,
    /// Requests made.
    pub requests: u64,
    /// Median latency (ms).
    pub p50: f64,
    /// 95th percentile (ms).
    pub p95: f64,
    /// 99th percentile (ms).
    pub p99: f64,
    /// Fraction of requests that failed.
    pub error_rate: f64,
    /// Iterations dropped (no VU free at their time).
    pub dropped: u64,
    /// `dropped / (iterations + dropped)`.
    pub dropped_fraction: f64,
    /// The most iterations in flight at once.
    pub peak_busy_vus: u32,
    /// The server's mean CPU over the step (% of one core), when sampled.
    pub server_cpu_percent: Option<f64>,
    /// Every stop condition held.
    pub ok: bool,
    /// The conditions that failed, with their values.
    pub failed: Vec<String>,
    /// It dropped iterations while the pool was never full or the server idle.
    pub generator_limited: bool,
}

/// One listener's search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListenerBreakpoint {
    /// The listener.
    pub listener: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The highest rate that met every condition; `null` when even the first step failed.
    pub sustained_rate: Option<f64>,
    /// The first rate that failed one; `null` at the ceiling.
    pub broke_at: Option<f64>,
    /// Every step, in order.
    pub steps: Vec<StepReport>,
}

/// A breakpoint run's answer, per listener (`"breakpoint"` in the JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakpointReport {
    /// The search as run.
    pub search: Search,
    /// The stop conditions, as k6 thresholds (the dropped-iterations limit is in `search`).
    pub conditions: Vec<String>,
    /// Each listener's search, in the order they ran.
    pub listeners: Vec<ListenerBreakpoint>,
}

/// A sampled server CPU under this (% of one core) while iterations were dropped means the
/// server was idle: the generator could not keep up.
pub const IDLE_SERVER_CPU_PERCENT: f64 = 30.0;

impl StepReport {
    /// A step's verdict from its own report: the thresholds (stop conditions) and the drops.
    fn judge(rate: f64, listener: &str, report: &Report, search: &Search) -> StepReport {
        let metrics = report.listeners.get(listener).unwrap_or(&report.metrics.requests);
        let trend = metrics.http_req_duration;
        let dropped = report.metrics.dropped_iterations.count;
        let scheduled = report.metrics.iterations.count + dropped;
        let dropped_fraction = if scheduled == 0 { 0.0 } else { dropped as f64 / scheduled as f64 };
        let mut failed: Vec<String> = report
            .thresholds
            .iter()
            .filter(|t| !t.ok)
            .map(|t| {
                let value = t.value.map_or("no data".to_owned(), |v| format!("{v:.4}"));
                format!("{}: {} (was {value})", t.metric, t.condition)
            })
            .collect();
        if let Some(reason) = &report.aborted_by {
            failed.push(reason.clone());
        }
        let too_many_dropped = dropped_fraction > search.max_dropped;
        if too_many_dropped {
            failed.push(format!(
                "dropped iterations {:.2}% > {}%",
                dropped_fraction * 100.0,
                search.max_dropped * 100.0
            ));
        }
        let peak_busy_vus = report.metrics.vus.max;
        let server_cpu_percent = report.resources.as_ref().map(|r| r.cpu_mean_percent);
        StepReport {
            rate,
            achieved_rate: metrics.http_reqs.rate,
            requests: metrics.http_reqs.count,
            p50: trend.med,
            p95: trend.p95,
            p99: trend.p99,
            error_rate: metrics.http_req_failed.rate,
            dropped,
            dropped_fraction,
            peak_busy_vus,
            server_cpu_percent,
            ok: failed.is_empty(),
            failed,
            generator_limited: too_many_dropped
                && generator_limited(peak_busy_vus, report.metrics.vus_max, server_cpu_percent),
        }
    }
}

/// Whether iterations dropped with at most `peak_busy` of `pool` VUs ever in flight, and the
/// server at `server_cpu` (% of one core, when sampled), were the generator's doing: the pool
/// never got half full (the server answered fast enough for the VUs there were: they were not
/// started on time), or the server was idle.
///
/// ```
/// use interceptor_bench::load::breakpoint::generator_limited;
/// assert!(generator_limited(12, 100, None));
/// assert!(!generator_limited(100, 100, None)); // every VU waited on the server
/// assert!(generator_limited(100, 100, Some(5.0))); // ... which did nothing
/// ```
pub fn generator_limited(peak_busy: u32, pool: u32, server_cpu: Option<f64>) -> bool {
    u64::from(peak_busy) * 2 <= u64::from(pool) || server_cpu.is_some_and(|cpu| cpu < IDLE_SERVER_CPU_PERCENT)
}

impl ListenerBreakpoint {
    /// The outcome of `steps`, the last one ending the search unless the ceiling was reached.
    fn of(listener: &str, steps: Vec<StepReport>, cancelled: bool) -> ListenerBreakpoint {
        let sustained_rate = steps.iter().take_while(|step| step.ok).last().map(|step| step.rate);
        let first_failure = steps.iter().find(|step| !step.ok);
        let outcome = match first_failure {
            _ if cancelled => Outcome::Cancelled,
            None => Outcome::Ceiling,
            Some(step) if step.generator_limited => Outcome::GeneratorLimited,
            Some(_) => Outcome::Broke,
        };
        ListenerBreakpoint {
            listener: listener.to_owned(),
            outcome,
            sustained_rate,
            broke_at: first_failure.map(|step| step.rate),
            steps,
        }
    }

    fn verdict(&self) -> String {
        let rate = |rate: f64| format!("{rate:.0}/s");
        let sustained = self.sustained_rate.map_or("nothing (the first step failed)".to_owned(), rate);
        let reasons = self.steps.iter().find(|step| !step.ok).map(|step| step.failed.join("; ")).unwrap_or_default();
        match self.outcome {
            Outcome::Broke => {
                format!("sustained {sustained}; broke at {}: {reasons}", rate(self.broke_at.unwrap_or_default()))
            }
            Outcome::Ceiling => format!("sustained {sustained}: the ceiling, no breaking point below it"),
            Outcome::GeneratorLimited => format!(
                "sustained {sustained}; at {} the GENERATOR was the limit, not the server (iterations dropped while few VUs were in flight or the server idle: {reasons})",
                rate(self.broke_at.unwrap_or_default())
            ),
            Outcome::Cancelled => format!("sustained {sustained} before the run was cancelled"),
        }
    }
}

impl BreakpointReport {
    /// The summary's section: each listener's answer side by side, then its curve.
    pub fn summary(&self) -> String {
        let search = &self.search;
        let mut out = format!(
            "\n   BREAKING POINT (open model, {:.0}/s ×{} every {}, up to {:.0}/s, ≤ {} steps, {} VUs; stop when one of {} or dropped ≤ {}% fails)\n",
            search.start_rate,
            search.factor,
            format_ms(search.step.as_secs_f64() * 1e3),
            search.max_rate,
            search.max_steps,
            search.max_vus,
            self.conditions.join(", "),
            search.max_dropped * 100.0
        );
        for listener in &self.listeners {
            let _ = writeln!(out, "     {:.<40}: {}", listener.listener, listener.verdict());
        }
        for listener in &self.listeners {
            let _ = writeln!(
                out,
                "\n     {{listener:{}}}  {:>9} {:>10} {:>9} {:>9} {:>9} {:>7} {:>8} {:>5}",
                listener.listener, "rate/s", "achieved", "p50", "p95", "p99", "errors", "dropped", "busy"
            );
            for step in &listener.steps {
                let mark = if step.ok { '✓' } else { '✗' };
                let _ = writeln!(
                    out,
                    "       {mark} {:>9.0} {:>10.0} {:>9} {:>9} {:>9} {:>6.2}% {:>7.2}% {:>5}{}",
                    step.rate,
                    step.achieved_rate,
                    format_ms(step.p50),
                    format_ms(step.p95),
                    format_ms(step.p99),
                    step.error_rate * 100.0,
                    step.dropped_fraction * 100.0,
                    step.peak_busy_vus,
                    if step.generator_limited { "  generator-limited" } else { "" }
                );
            }
        }
        out
    }

    /// How many listeners the search answered for, and why the others were not.
    pub fn verdict(&self) -> String {
        let count = |outcome| self.listeners.iter().filter(|l| l.outcome == outcome).count();
        let below_start = self.listeners.iter().filter(|l| l.sustained_rate.is_none()).count();
        let mut text = format!(
            "{} of {} listeners answered ({} broke, {} reached the ceiling)",
            self.listeners.iter().filter(|l| matches!(l.outcome, Outcome::Broke | Outcome::Ceiling)).count(),
            self.listeners.len(),
            count(Outcome::Broke),
            count(Outcome::Ceiling)
        );
        for (what, n) in [
            ("the generator was the limit", count(Outcome::GeneratorLimited)),
            ("cancelled", count(Outcome::Cancelled)),
            ("failed the first step", below_start),
        ] {
            if n > 0 {
                text += &format!("; {what}: {n}");
            }
        }
        text
    }

    /// Every listener's search found its answer (a breaking point or the ceiling), without
    /// the generator in the way, and sustained at least the first step.
    pub fn answered(&self) -> bool {
        self.listeners.iter().all(|listener| {
            matches!(listener.outcome, Outcome::Broke | Outcome::Ceiling) && listener.sustained_rate.is_some()
        })
    }
}

/// Sums up resources sampled over consecutive steps.
fn merge_resources(parts: Vec<(Duration, Resources)>) -> Option<Resources> {
    let first = parts.first()?.1.clone();
    let mut points: Vec<ResourcePoint> = Vec::new();
    let (mut samples, mut rss_sum, mut cpu_weighted, mut seconds) = (0, 0.0, 0.0, 0.0);
    let (mut rss_peak, mut cpu_peak) = (0f64, 0f64);
    for (offset, part) in &parts {
        let offset_ms = offset.as_millis() as u64;
        points.extend(part.points.iter().map(|p| ResourcePoint { t_ms: p.t_ms + offset_ms, ..*p }));
        samples += part.samples;
        rss_sum += part.rss_mean_mb * part.samples as f64;
        let span = part.points.last().map_or(0.0, |p| p.t_ms as f64 / 1e3).max(1e-3);
        cpu_weighted += part.cpu_mean_percent * span;
        seconds += span;
        rss_peak = rss_peak.max(part.rss_peak_mb);
        cpu_peak = cpu_peak.max(part.cpu_peak_percent);
    }
    let rss_mean_mb = if samples == 0 { 0.0 } else { rss_sum / samples as f64 };
    let cpu_mean_percent = cpu_weighted / seconds;
    Some(Resources {
        samples,
        rss_peak_mb: rss_peak,
        rss_mean_mb,
        cpu_peak_percent: cpu_peak,
        cpu_mean_percent,
        within_targets: rss_peak < first.rss_target_mb && cpu_mean_percent < first.cpu_target_percent,
        points,
        ..first
    })
}

/// Runs the breakpoint search of `scenario` ([`Scenario::breakpoint`], or the default
/// [`Search`]) on each of its listeners in turn, and reports it: the usual metrics over every
/// step, and [`Report::breakpoint`].
pub(crate) async fn run(scenario: &Scenario, targets: &Targets, options: &LoadOptions) -> Result<Report, LoadError> {
    let search = scenario.breakpoint.unwrap_or_default();
    search.validate().map_err(|reason| LoadError::Option(format!("breakpoint: {reason}")))?;
    let mut conditions = scenario.thresholds.clone();
    conditions.extend(options.thresholds.iter().cloned());
    let rates = search.rates();
    let listeners = scenario.listeners.len();
    let interval =
        options.interval.unwrap_or_else(|| default_interval(search.step * (rates.len() * listeners.max(1)) as u32));
    let mut ran = Scenario { stages: Vec::new(), thresholds: Vec::new(), ..scenario.clone() };
    let mut cells = Vec::new();
    let mut series = Series::new(interval);
    let (mut iterations, mut dropped, mut interrupted) = (0, 0, 0);
    let mut elapsed = Duration::ZERO;
    let mut vus = MinMax { min: u32::MAX, max: 0 };
    let mut resources = Vec::new();
    let mut used_targets = BTreeMap::new();
    let mut answers = Vec::new();
    let mut aborted_by = None;
    for (index, listener) in scenario.listeners.iter().enumerate() {
        let mut steps = Vec::new();
        for (number, &rate) in rates.iter().enumerate() {
            let step_scenario = Scenario {
                executor: ExecutorKind::Open,
                listeners: vec![listener.clone()],
                start_vus: 1,
                stages: vec![Stage { duration: search.step, target: 1 }],
                rate_per_vu: rate,
                shuffle: false,
                sleep: None,
                spike: None,
                overhead_baseline: None,
                breakpoint: None,
                thresholds: conditions.clone(),
                ..scenario.clone()
            };
            let step_options = LoadOptions {
                interval: Some(interval),
                thresholds: Vec::new(),
                phase: Some(format!("{listener} step {:02} {rate:.0}/s", number + 1)),
                progress: options.progress,
                ..options.clone()
            };
            let model = Model::Open { rate_per_vu: rate, max_vus: search.max_vus.max(1) };
            let report = Report::build(measure(&step_scenario, targets, &step_options, model).await?);
            let step = StepReport::judge(rate, listener, &report, &search);
            if options.progress {
                let verdict = if step.ok { "✓".to_owned() } else { format!("✗ {}", step.failed.join("; ")) };
                eprintln!(
                    "  {listener} step {}: {rate:.0}/s → {:.0}/s, p99 {} {verdict}",
                    number + 1,
                    step.achieved_rate,
                    format_ms(step.p99)
                );
            }
            used_targets.extend(report.targets.clone());
            let mut row = vec![super::metrics::Cell::new(); listeners];
            if let Some(cell) = report.listener_cell(listener) {
                row[index] = cell.clone();
            }
            cells.push(row);
            ran.stages.push(Stage { duration: search.step, target: rate.round() as u32 });
            iterations += report.metrics.iterations.count;
            dropped += report.metrics.dropped_iterations.count;
            interrupted += report.metrics.interrupted_iterations;
            vus = MinMax { min: vus.min.min(report.metrics.vus.min), max: vus.max.max(report.metrics.vus.max) };
            let offset_ms = series.points.len() as f64 * interval.as_secs_f64() * 1e3;
            series
                .points
                .extend(report.series.points.iter().map(|p| super::metrics::Point { t_ms: p.t_ms + offset_ms, ..*p }));
            if let Some(sampled) = report.resources.clone() {
                resources.push((elapsed, sampled));
            }
            elapsed += Duration::from_secs_f64(report.duration_ms / 1e3);
            let cancelled = options.cancel.is_cancelled();
            if cancelled {
                aborted_by = report.aborted_by.clone();
            }
            let ok = step.ok;
            steps.push(step);
            if !ok || cancelled {
                break;
            }
        }
        answers.push(ListenerBreakpoint::of(listener, steps, aborted_by.is_some()));
        if aborted_by.is_some() {
            break;
        }
    }
    let peak_rate = ran.stages.iter().map(|stage| f64::from(stage.target)).fold(0.0, f64::max);
    let mut report = Report::build(RunFacts {
        scenario: &ran,
        executor: ExecutorKind::Breakpoint,
        open_model: Some(OpenModel { peak_rate, max_vus: search.max_vus }),
        targets: used_targets,
        totals: Totals { cells, iterations },
        series,
        elapsed,
        dropped,
        interrupted,
        vus: if vus.min == u32::MAX { MinMax::default() } else { vus },
        vus_max: search.max_vus,
        aborted_by,
        resources: merge_resources(resources),
        extra_thresholds: &[],
    });
    let answer = BreakpointReport {
        search,
        conditions: conditions.iter().map(ToString::to_string).collect(),
        listeners: answers,
    };
    report.passed &= answer.answered();
    report.breakpoint = Some(answer);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(rate: f64, ok: bool, generator_limited: bool) -> StepReport {
        StepReport {
            rate,
            achieved_rate: rate,
            requests: 100,
            p50: 1.0,
            p95: 2.0,
            p99: 3.0,
            error_rate: 0.0,
            dropped: 0,
            dropped_fraction: 0.0,
            peak_busy_vus: 10,
            server_cpu_percent: None,
            ok,
            failed: if ok { Vec::new() } else { vec!["dropped iterations 5.00% > 1%".into()] },
            generator_limited,
        }
    }

    #[test]
    fn rates_climb_geometrically_and_stop_at_the_ceiling_or_the_step_limit() {
        let search = Search { start_rate: 1000.0, factor: 1.25, max_rate: 2000.0, ..Search::default() };
        assert_eq!(search.rates(), [1000.0, 1250.0, 1562.5, 1953.125, 2000.0]);
        assert_eq!(Search { max_steps: 2, ..search }.rates(), [1000.0, 1250.0]);
        assert_eq!(Search { max_rate: 1000.0, ..search }.rates(), [1000.0]);
        for bad in [
            Search { start_rate: 0.0, ..search },
            Search { factor: f64::INFINITY, ..search },
            Search { max_rate: 999.0, ..search },
            Search { max_steps: 0, ..search },
            Search { max_steps: MAX_STEPS + 1, ..search },
            Search { step: Duration::ZERO, ..search },
            Search { max_vus: 0, ..search },
            Search { max_dropped: 1.5, ..search },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_outcome_names_who_is_the_limit() {
        let broke = ListenerBreakpoint::of("full", vec![step(100.0, true, false), step(200.0, false, false)], false);
        assert_eq!((broke.outcome, broke.sustained_rate, broke.broke_at), (Outcome::Broke, Some(100.0), Some(200.0)));
        assert!(broke.verdict().contains("broke at 200/s"), "{}", broke.verdict());
        let generator = ListenerBreakpoint::of("full", vec![step(100.0, true, false), step(200.0, false, true)], false);
        assert_eq!(generator.outcome, Outcome::GeneratorLimited);
        assert!(generator.verdict().contains("GENERATOR was the limit"), "{}", generator.verdict());
        let ceiling = ListenerBreakpoint::of("full", vec![step(100.0, true, false), step(200.0, true, false)], false);
        assert_eq!((ceiling.outcome, ceiling.sustained_rate, ceiling.broke_at), (Outcome::Ceiling, Some(200.0), None));
        let below = ListenerBreakpoint::of("full", vec![step(100.0, false, false)], false);
        assert_eq!((below.outcome, below.sustained_rate), (Outcome::Broke, None));
        let report = |listeners| BreakpointReport { search: Search::default(), conditions: Vec::new(), listeners };
        assert!(report(vec![broke.clone(), ceiling]).answered());
        assert!(!report(vec![broke.clone(), generator]).answered());
        assert!(!report(vec![broke, below]).answered());
    }
}
