//! The regression gate: the last run against a saved baseline, with a verdict per bench, the
//! per-interceptor budget, and one pass/fail answer (`ibench compare`).
//!
//! # Signals
//!
//! - **paired** (the default, [`Comparison::paired`]): each pair's ratio stack ÷ reference
//!   (`logger` ÷ `baseline`, `chain/3` ÷ `chain/2`, `baseline` ÷ `bare_hyper` over loopback),
//!   measured interleaved in time by `cargo bench --bench paired`, now against the same ratio
//!   in the baseline. Both sides of a ratio shared the machine's state sample by sample, so a
//!   machine that is slower in one run than in the other moves neither ratio much; what moves
//!   one is a change in what the stack costs relative to its reference. It cannot see a change
//!   that slows every stack alike (the handler, the codec): `ibench ab` compares two builds
//!   for that.
//! - **absolute**: a criterion bench's median now against its median in the baseline.
//! - **relative**: a criterion bench's median divided by the median of its group's
//!   `baseline` bench *measured in the same run* (`in_process/full/unary` ÷
//!   `in_process/baseline/unary`), now against the same ratio in the baseline. A machine that
//!   is uniformly slower (a CI runner, a busy neighbour, another CPU) moves both medians and
//!   leaves the ratio alone, so only a change in what the interceptors cost relative to the
//!   bare handler shows. Each group's `baseline` bench is the reference: it is shown with its
//!   absolute change and not judged; a bench with no reference in its group falls back to
//!   the absolute signal.
//! - **both**: regressed when either signal says so.
//!
//! # Verdicts
//!
//! What a verdict means statistically: each side's interval holds its quantity *in its own run*
//! with 95% confidence (for a paired ratio, the order-statistic interval of the median
//! per-sample ratio); **regressed** means the two runs' intervals are apart by more than the
//! threshold, so the change exceeds the threshold unless one run's interval missed (at most 5%
//! each) *or* the machine itself treated the stack and its reference differently in the two
//! runs by more than the threshold. The second is what the threshold is for: on this project's
//! shared 2-core machine paired ratios moved by up to a few percent between A/A runs (see
//! `docs/gate.md`), so the default 10% leaves room for it. Each comparison also prints the
//! smallest change it could detect (`detectable`: the threshold plus both intervals'
//! half-widths): a regression smaller than that passes.
//!
//! A baseline saved from several runs (`ibench baseline save NAME --add-run`, 3 or more) knows
//! how far each pair's ratio moves between runs of unchanged code, and the paired signal then
//! uses it ([`Change::against_runs`], [`super::runs`]): **regressed** means the whole interval
//! of the pair's ratio now lies above the runs' median ratio by more than the pair's own
//! tolerance, the larger of the threshold (3% by default then) and 8 standard deviations of
//! its run-to-run scatter — a move unchanged code did not make in the campaigns of
//! `docs/gate.md`.
//!
//! A change is `now / then - 1` with the conservative interval `[now.lower / then.upper - 1,
//! now.upper / then.lower - 1]` from criterion's 95% intervals (and for a ratio, the ratio's
//! own conservative interval `[stack.lower / reference.upper, stack.upper / reference.lower]`).
//! It is **regressed** only when the whole interval of the change lies above the threshold
//! (`change.lower > threshold`): then the change exceeds the threshold *and* the two intervals
//! do not overlap (`now.lower > then.upper`), with room to spare. **Improved** is the mirror
//! case (`change.upper < -threshold`), anything else **unchanged**. Requiring the interval,
//! not just the point, beyond the threshold is what keeps an A/A rerun on a noisy machine
//! from failing: noise that shifts a median also widens its interval.
//!
//! ```
//! use interceptor_bench::baseline::compare::{Change, Interval, Threshold, Verdict};
//!
//! let threshold: Threshold = "10%".parse().unwrap();
//! let then = Interval { point: 100.0, lower: 98.0, upper: 102.0 };
//! let slower = Change::between(then, Interval { point: 130.0, lower: 126.0, upper: 133.0 }, threshold);
//! assert_eq!(slower.verdict, Verdict::Regressed);
//! // 30% slower but the intervals overlap: not enough evidence.
//! let noisy = Change::between(then, Interval { point: 130.0, lower: 90.0, upper: 170.0 }, threshold);
//! assert_eq!(noisy.verdict, Verdict::Unchanged);
//! ```

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;

use std::collections::BTreeMap;

use super::runs::{PairScatter, Scatter};
use super::{Baseline, Commit, Machine};
use crate::bench::BASELINE;
use crate::overhead::{Format, OverheadReport, format_ns, write_table};
use crate::paired::{PairResult, SuiteResults};
use crate::results::{BenchId, Estimate, Results};

/// Which change the gate judges (also `ibench compare --signal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// Each pair's ratio stack ÷ reference, measured interleaved in time (the default).
    Paired,
    /// Each criterion bench relative to its group's `baseline` bench in the same run (not paired).
    Relative,
    /// Each bench's own median.
    Absolute,
    /// Regressed when either says so.
    Both,
}

impl Signal {
    fn as_str(self) -> &'static str {
        match self {
            Signal::Paired => "paired",
            Signal::Relative => "relative",
            Signal::Absolute => "absolute",
            Signal::Both => "both",
        }
    }
}

/// The smallest relative change that counts, as a fraction (`0.1` for 10%).
///
/// Parsed from a percentage (`10%`, `2.5%`) or a fraction below 1 (`0.1`); a bare number of
/// 1 or more (`10`) is refused as ambiguous, as are negative and non-numeric values.
///
/// ```
/// use interceptor_bench::baseline::compare::Threshold;
/// assert_eq!("10%".parse::<Threshold>().unwrap().fraction(), 0.1);
/// assert_eq!("0.25".parse::<Threshold>().unwrap().fraction(), 0.25);
/// for bad in ["10", "-5%", "ten", "%", "", "NaN%"] {
///     assert!(bad.parse::<Threshold>().is_err(), "{bad}");
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Threshold(f64);

impl Threshold {
    /// The threshold as a fraction.
    pub const fn fraction(self) -> f64 {
        self.0
    }
}

impl Default for Threshold {
    /// 10%.
    fn default() -> Self {
        Threshold(0.1)
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0 * 100.0)
    }
}

impl Serialize for Threshold {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.0)
    }
}

impl FromStr for Threshold {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let invalid =
            || format!("invalid threshold {text:?}: write a percentage such as 10% or a fraction such as 0.1");
        let text = text.trim();
        let (number, percent) = match text.strip_suffix('%') {
            Some(number) => (number.trim_end(), true),
            None => (text, false),
        };
        let value: f64 = number.parse().map_err(|_| invalid())?;
        if !value.is_finite() || value < 0.0 || (!percent && value >= 1.0) {
            return Err(invalid());
        }
        Ok(Threshold(if percent { value / 100.0 } else { value }))
    }
}

/// A positive quantity with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// The estimate.
    pub point: f64,
    /// The lower bound.
    pub lower: f64,
    /// The upper bound.
    pub upper: f64,
}

impl Interval {
    /// A criterion estimate's point and interval.
    ///
    /// ```
    /// use interceptor_bench::baseline::compare::Interval;
    /// use interceptor_bench::results::{ConfidenceInterval, Estimate};
    /// let median = Estimate {
    ///     point: 10.0,
    ///     confidence_interval: ConfidenceInterval { confidence_level: 0.95, lower_bound: 9.0, upper_bound: 12.0 },
    ///     standard_error: 0.5,
    /// };
    /// assert_eq!(Interval::of(&median), Interval { point: 10.0, lower: 9.0, upper: 12.0 });
    /// ```
    pub fn of(estimate: &Estimate) -> Interval {
        let ci = &estimate.confidence_interval;
        Interval { point: estimate.point, lower: ci.lower_bound, upper: ci.upper_bound }
    }

    /// `self / reference`, with the conservative interval `[lower / reference.upper, upper /
    /// reference.lower]`.
    ///
    /// ```
    /// use interceptor_bench::baseline::compare::Interval;
    /// let stack = Interval { point: 300.0, lower: 290.0, upper: 320.0 };
    /// let reference = Interval { point: 100.0, lower: 80.0, upper: 125.0 };
    /// assert_eq!(stack.ratio_to(reference), Interval { point: 3.0, lower: 2.32, upper: 4.0 });
    /// ```
    pub fn ratio_to(self, reference: Interval) -> Interval {
        Interval {
            point: self.point / reference.point,
            lower: self.lower / reference.upper,
            upper: self.upper / reference.lower,
        }
    }
}

/// A regression verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Slower by more than the threshold, over the whole interval of the change.
    Regressed,
    /// Faster by more than the threshold, over the whole interval of the change.
    Improved,
    /// Neither.
    Unchanged,
    /// The same-run reference of its group under the relative signal: shown, not judged.
    Reference,
}

impl Verdict {
    /// How reports print it: `REGRESSED`, `improved`, `unchanged`, `reference`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Regressed => "REGRESSED",
            Verdict::Improved => "improved",
            Verdict::Unchanged => "unchanged",
            Verdict::Reference => "reference",
        }
    }
}

/// One quantity then (in the baseline) and now, and its relative change.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Change {
    /// In the baseline.
    pub then: Interval,
    /// In the last run.
    pub now: Interval,
    /// `now / then - 1`, with its conservative interval.
    pub change: Interval,
    /// The verdict at the threshold it was built with.
    pub verdict: Verdict,
}

impl Change {
    /// The change from `then` to `now`, judged against `threshold` (see the module docs).
    pub fn between(then: Interval, now: Interval, threshold: Threshold) -> Change {
        let change = Interval {
            point: now.point / then.point - 1.0,
            lower: now.lower / then.upper - 1.0,
            upper: now.upper / then.lower - 1.0,
        };
        let verdict = if change.lower > threshold.0 {
            Verdict::Regressed
        } else if change.upper < -threshold.0 {
            Verdict::Improved
        } else {
            Verdict::Unchanged
        };
        Change { then, now, change, verdict }
    }
}

impl Change {
    /// The ratio `now` against a baseline's runs: `then` is their median ratio with the range
    /// of the runs as its interval, and the change is judged against the pair's own
    /// [`tolerance`](PairScatter::tolerance) — regressed when `now`'s whole interval lies
    /// more than the tolerance above the median, improved when it lies as far below
    /// (see [`super::runs`]).
    ///
    /// ```
    /// use interceptor_bench::baseline::compare::{Change, Interval, Verdict};
    /// use interceptor_bench::baseline::runs::PairScatter;
    ///
    /// let fallback =
    ///     PairScatter { runs: 5, centre: 1.125, lowest: 1.12, highest: 1.13, scatter: 0.004, tolerance: 0.033 };
    /// let spun = Interval { point: 1.24, lower: 1.235, upper: 1.245 };
    /// assert_eq!(Change::against_runs(fallback, spun).verdict, Verdict::Regressed);
    /// let same = Interval { point: 1.13, lower: 1.128, upper: 1.132 };
    /// assert_eq!(Change::against_runs(fallback, same).verdict, Verdict::Unchanged);
    /// ```
    pub fn against_runs(runs: PairScatter, now: Interval) -> Change {
        let then = Interval { point: runs.centre, lower: runs.lowest, upper: runs.highest };
        let relative = |ratio: f64| ratio / runs.centre - 1.0;
        let change = Interval { point: relative(now.point), lower: relative(now.lower), upper: relative(now.upper) };
        let verdict = if change.lower > runs.tolerance {
            Verdict::Regressed
        } else if now.upper * (1.0 + runs.tolerance) < runs.centre {
            Verdict::Improved
        } else {
            Verdict::Unchanged
        };
        Change { then, now, change, verdict }
    }
}

/// The threshold `ibench compare` uses unless told: 3% for a baseline of
/// [`MIN_RUNS`](super::runs::MIN_RUNS) runs or more, whose pairs are each judged against their
/// own run-to-run scatter as well; 10% for a baseline of one run, which knows no scatter.
///
/// ```
/// # use interceptor_bench::baseline::{Baseline, compare::default_threshold};
/// # fn show(baseline: &Baseline) {
/// println!("judged at {}", default_threshold(baseline)); // 3% with 3+ runs, else 10%
/// # }
/// ```
pub fn default_threshold(baseline: &Baseline) -> Threshold {
    if baseline.runs() >= super::runs::MIN_RUNS { Threshold(0.03) } else { Threshold::default() }
}

/// One bench then and now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchComparison {
    /// Criterion's full id.
    pub id: String,
    /// The median then and now.
    pub absolute: Change,
    /// The same-run reference (its group's `baseline` bench), when the group has one.
    pub reference: Option<String>,
    /// The median ÷ the reference's median, then and now.
    pub relative: Option<Change>,
    /// The verdict under the chosen signal.
    pub verdict: Verdict,
    /// For a paired comparison: the smallest change of the ratio it could have flagged, the
    /// threshold plus both runs' interval half-widths (a fraction).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detectable: Option<f64>,
    /// For a paired comparison with a baseline of several runs: the pair's ratio over those
    /// runs and the change it tolerates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs: Option<PairScatter>,
}

/// How to judge a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Options {
    /// The smallest change that counts.
    pub threshold: Threshold,
    /// Which change counts.
    pub signal: Signal,
    /// The per-interceptor overhead budget for the last run.
    #[serde(serialize_with = "serialize_nanos")]
    pub budget: Duration,
}

impl Default for Options {
    /// 10%, the paired signal, and the overhead table's default 2 ms budget.
    fn default() -> Self {
        Options { threshold: Threshold::default(), signal: Signal::Paired, budget: crate::overhead::DEFAULT_BUDGET }
    }
}

fn serialize_nanos<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_nanos() as f64)
}

/// What the baseline was measured on, for the report's header.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaselineSummary {
    /// Its name.
    pub name: String,
    /// Its file.
    pub path: PathBuf,
    /// When it was saved.
    pub date: String,
    /// Its commit.
    pub commit: Option<Commit>,
    /// Its machine.
    pub machine: Machine,
    /// Its rustc.
    pub rustc: Option<String>,
}

/// The last run against a baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The baseline.
    pub baseline: BaselineSummary,
    /// The results directory of the last run: criterion's, or the paired results'.
    pub criterion_dir: PathBuf,
    /// How it was judged (`budget` in nanoseconds).
    pub options: Options,
    /// True when the baseline was measured on another CPU model or core count than this machine.
    pub other_machine: bool,
    /// The benches in both, by id.
    pub benches: Vec<BenchComparison>,
    /// Benches in the baseline with no result now (not judged).
    pub only_in_baseline: Vec<String>,
    /// Benches with a result now and none in the baseline (not judged).
    pub only_now: Vec<String>,
    /// The per-interceptor overheads of the last run against the budget, when it holds a suite.
    pub overhead: Option<OverheadReport>,
    /// True when nothing regressed and nothing is over budget.
    pub passed: bool,
}

/// The baseline and the last run have no bench in common.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no bench of {} has results in {}: run the benches it was saved from (its bench_command), e.g. `cargo bench --bench in_process`",
    baseline.display(), criterion_dir.display()
)]
pub struct NothingInCommon {
    /// The baseline file.
    pub baseline: PathBuf,
    /// The criterion directory.
    pub criterion_dir: PathBuf,
}

impl Comparison {
    /// Compares the paired results `now` (read from `dir`) with the paired results of
    /// `baseline`, read from `path`: each pair's ratio, then against now (see the module docs).
    pub fn paired(
        baseline: &Baseline,
        path: &Path,
        now: &[SuiteResults],
        dir: &Path,
        options: Options,
    ) -> Result<Comparison, NothingInCommon> {
        let pairs = |suites: &[SuiteResults]| -> BTreeMap<String, (String, PairResult)> {
            suites
                .iter()
                .flat_map(|suite| {
                    suite.pairs.iter().map(move |pair| (pair.id(&suite.suite), (suite.suite.clone(), pair.clone())))
                })
                .collect()
        };
        let (then, now_pairs) = (pairs(&baseline.paired), pairs(now));
        let scatter = Scatter::of(&baseline.run_ratios());
        let mut benches = Vec::new();
        let mut only_in_baseline = Vec::new();
        for (id, (suite, saved)) in &then {
            let Some((_, current)) = now_pairs.get(id).filter(|(_, p)| p.reference == saved.reference) else {
                only_in_baseline.push(id.clone());
                continue;
            };
            let interval =
                |e: &crate::paired::stats::Estimate| Interval { point: e.point, lower: e.lower, upper: e.upper };
            let (then_e, now_e) = (&saved.estimate, &current.estimate);
            let absolute =
                Change::between(interval(&then_e.candidate_ns), interval(&now_e.candidate_ns), options.threshold);
            let runs = scatter.pair(id, options.threshold.fraction());
            let relative = match runs {
                Some(runs) => Change::against_runs(runs, interval(&now_e.ratio)),
                None => Change::between(interval(&then_e.ratio), interval(&now_e.ratio), options.threshold),
            };
            // The smallest change this comparison could flag.
            let detectable = now_e.ratio.relative_half_width()
                + match runs {
                    Some(runs) => runs.tolerance,
                    None => options.threshold.fraction() + then_e.ratio.relative_half_width(),
                };
            // The anchors (`baseline` over the floor, over bare hyper) are shown, not judged: their
            // reference is the harness or hyper alone, whose ratio to anything swings with the
            // machine's state, and no interceptor is in them.
            let anchor = saved.candidate == BASELINE;
            benches.push(BenchComparison {
                id: id.clone(),
                absolute,
                reference: Some(saved.reference_id(suite)),
                relative: Some(relative),
                verdict: if anchor { Verdict::Reference } else { relative.verdict },
                detectable: Some(detectable),
                runs,
            });
        }
        if benches.is_empty() {
            return Err(NothingInCommon { baseline: path.to_owned(), criterion_dir: dir.to_owned() });
        }
        let only_now = now_pairs.keys().filter(|id| !then.contains_key(*id)).cloned().collect();
        let overhead = OverheadReport::from_paired(now, dir, options.budget).ok();
        Ok(Comparison::assemble(baseline, path, dir, options, benches, only_in_baseline, only_now, overhead))
    }

    /// Compares the criterion results `now` with `baseline`, read from `path` (the absolute,
    /// relative or both signals; the paired signal is judged as relative here).
    pub fn new(
        baseline: &Baseline,
        path: &Path,
        now: &Results,
        options: Options,
    ) -> Result<Comparison, NothingInCommon> {
        let then_median = |id: &str| baseline.benches.get(id).map(|bench| Interval::of(&bench.estimates.median));
        let now_median = |id: &str| now.get_full_id(id).map(|bench| Interval::of(&bench.estimates.median));
        let mut benches = Vec::new();
        let mut only_in_baseline = Vec::new();
        for (id, saved) in &baseline.benches {
            let Some(now_interval) = now_median(id) else {
                only_in_baseline.push(id.clone());
                continue;
            };
            let absolute = Change::between(Interval::of(&saved.estimates.median), now_interval, options.threshold);
            let is_reference = saved.id.function.as_deref() == Some(BASELINE);
            let reference = (!is_reference).then(|| reference_of(&saved.id));
            let relative = reference.as_deref().and_then(|reference| {
                let then = then_median(id)?.ratio_to(then_median(reference)?);
                let now = now_interval.ratio_to(now_median(reference)?);
                Some(Change::between(then, now, options.threshold))
            });
            let verdict = match (options.signal, relative) {
                (Signal::Absolute, _) => absolute.verdict,
                (Signal::Relative | Signal::Paired, Some(relative)) => relative.verdict,
                (Signal::Relative | Signal::Paired, None) if is_reference => Verdict::Reference,
                (Signal::Relative | Signal::Paired, None) => absolute.verdict,
                (Signal::Both, relative) => worst(absolute.verdict, relative.map(|r| r.verdict)),
            };
            benches.push(BenchComparison {
                id: id.clone(),
                absolute,
                reference,
                relative,
                verdict,
                detectable: None,
                runs: None,
            });
        }
        if benches.is_empty() {
            return Err(NothingInCommon { baseline: path.to_owned(), criterion_dir: now.dir().to_owned() });
        }
        let only_now = now.iter().map(|b| b.id.full_id()).filter(|id| !baseline.benches.contains_key(id)).collect();
        let overhead = OverheadReport::new(now, options.budget).ok();
        Ok(Comparison::assemble(baseline, path, now.dir(), options, benches, only_in_baseline, only_now, overhead))
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        baseline: &Baseline,
        path: &Path,
        dir: &Path,
        options: Options,
        benches: Vec<BenchComparison>,
        only_in_baseline: Vec<String>,
        only_now: Vec<String>,
        overhead: Option<OverheadReport>,
    ) -> Comparison {
        let here = Machine::current();
        let provenance = &baseline.provenance;
        let mut comparison = Comparison {
            baseline: BaselineSummary {
                name: baseline.name.clone(),
                path: path.to_owned(),
                date: provenance.date.clone(),
                commit: provenance.commit.clone(),
                machine: provenance.machine.clone(),
                rustc: provenance.rustc.clone(),
            },
            criterion_dir: dir.to_owned(),
            options,
            other_machine: here.cpu != provenance.machine.cpu || here.cores != provenance.machine.cores,
            benches,
            only_in_baseline,
            only_now,
            overhead,
            passed: false,
        };
        comparison.passed = comparison.regressions().next().is_none() && comparison.over_budget().next().is_none();
        comparison
    }

    /// The benches that regressed.
    pub fn regressions(&self) -> impl Iterator<Item = &BenchComparison> {
        self.benches.iter().filter(|bench| bench.verdict == Verdict::Regressed)
    }

    /// A criterion filter (`cargo bench -- '<filter>'`) that reruns exactly the regressed
    /// benches, to confirm them on a noisy machine before failing; `None` when none regressed.
    /// A rerun overwrites only their results, so `ibench compare` can run again at once.
    ///
    /// ```
    /// # use interceptor_bench::baseline::compare::Comparison;
    /// # fn show(comparison: &Comparison) {
    /// if let Some(filter) = comparison.rerun_filter() {
    ///     eprintln!("confirm with: cargo bench -- '{filter}'"); // e.g. ^(in_process/full/unary)$
    /// }
    /// # }
    /// ```
    pub fn rerun_filter(&self) -> Option<String> {
        let ids: Vec<String> = self.regressions().map(|bench| regex::escape(&bench.id)).collect();
        (!ids.is_empty()).then(|| format!("^({})$", ids.join("|")))
    }

    /// Every stack and chain step over budget in the last run, as `(suite, stack)`.
    pub fn over_budget(&self) -> impl Iterator<Item = (&str, &str)> {
        self.overhead.iter().flat_map(OverheadReport::breaches)
    }

    /// The report in `format`, ending with a newline: the bench table, then the overhead
    /// table of the last run against the budget.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => serde_json::to_string_pretty(self).expect("a comparison serializes") + "\n",
            Format::Table => self.render_text(false),
            Format::Markdown => self.render_text(true),
        }
    }

    fn render_text(&self, markdown: bool) -> String {
        let mut out = String::new();
        let heading = if markdown { "### " } else { "" };
        let b = &self.baseline;
        let commit = b.commit.as_ref().map_or("unknown commit".to_owned(), |c| {
            format!("{}{}", &c.hash[..c.hash.len().min(12)], if c.dirty { " (dirty)" } else { "" })
        });
        let _ = writeln!(out, "{heading}Compared with baseline {:?} ({})", b.name, b.path.display());
        let _ = writeln!(
            out,
            "\nSaved {} at {commit} on {} ({} cores, {}), {}. Last run: {}.",
            b.date,
            b.machine.cpu.as_deref().unwrap_or("an unknown CPU"),
            b.machine.cores,
            b.machine.os,
            b.rustc.as_deref().unwrap_or("unknown rustc"),
            self.criterion_dir.display()
        );
        if self.other_machine {
            let _ = writeln!(
                out,
                "\nThe baseline comes from another machine: absolute times are not comparable, relative ones are."
            );
        }
        let o = &self.options;
        let signal = match o.signal {
            Signal::Paired => "paired = the stack's time / its reference's, the two interleaved in time",
            _ => "relative = median / its group's `baseline` median, same run, not paired",
        };
        let runs = self.benches.iter().find_map(|bench| bench.runs).map_or(1, |runs| runs.runs);
        let judged = if runs > 1 {
            format!(
                "each pair's ratio now against its median over the baseline's {runs} runs [their range]; regressed = \
                 the whole interval of the change above the pair's tolerance, the larger of +{} and {} × its \
                 run-to-run scatter",
                o.threshold,
                super::runs::SCATTER_MULTIPLE
            )
        } else {
            format!(
                "regressed = the whole interval of the change above +{}; changes: now/then - 1 [conservative interval \
                 from both runs' 95% intervals]",
                o.threshold
            )
        };
        let _ = writeln!(
            out,
            "\nSignal: {} ({signal}). {judged}; detectable = the smallest change this comparison could flag.\n",
            o.signal.as_str(),
        );
        let mut header =
            vec!["bench", "baseline", "now", "change", "vs reference then → now", "relative change", "verdict"];
        let paired = o.signal == Signal::Paired;
        if paired {
            header.insert(6, "detectable");
        }
        let rows: Vec<Vec<String>> = self
            .benches
            .iter()
            .map(|bench| {
                let (ratios, relative) = match &bench.relative {
                    Some(r) => (format!("×{:.3} → ×{:.3}", r.then.point, r.now.point), format_change(r.change)),
                    None => ("-".to_owned(), "-".to_owned()),
                };
                let mut cells = vec![
                    bench.id.clone(),
                    format_ns(bench.absolute.then.point),
                    format_ns(bench.absolute.now.point),
                    format_change(bench.absolute.change),
                    ratios,
                    relative,
                    bench.verdict.as_str().to_owned(),
                ];
                if paired {
                    cells.insert(6, bench.detectable.map_or("-".to_owned(), |d| format!("{:.1}%", d * 100.0)));
                }
                cells
            })
            .collect();
        write_table(&mut out, &header, &rows, markdown);
        for (what, ids) in
            [("In the baseline, no result now", &self.only_in_baseline), ("Not in the baseline", &self.only_now)]
        {
            if !ids.is_empty() {
                let _ = writeln!(out, "\n{what} (not judged): {}", ids.join(", "));
            }
        }
        match &self.overhead {
            Some(report) => {
                let _ = write!(out, "\n{}", report.render(if markdown { Format::Markdown } else { Format::Table }));
            }
            None => {
                let _ =
                    writeln!(out, "\nNo suite with a `baseline` bench in the last run: no overhead budget to check.");
            }
        }
        let _ = writeln!(out, "\n{heading}{}", self.summary());
        out
    }

    /// One line: `PASS`, or `FAIL` with the regressed benches and the stacks over budget.
    ///
    /// ```
    /// # use interceptor_bench::baseline::compare::Comparison;
    /// # fn show(comparison: &Comparison) {
    /// eprintln!("{}", comparison.summary()); // e.g. "FAIL: regressed: in_process/full/unary"
    /// # }
    /// ```
    pub fn summary(&self) -> String {
        if self.passed {
            return "PASS: no regression, every stack within budget".to_owned();
        }
        let regressed: Vec<&str> = self.regressions().map(|b| b.id.as_str()).collect();
        let over: Vec<String> = self
            .over_budget()
            .map(|(suite, stack)| if suite.is_empty() { stack.to_owned() } else { format!("{suite}: {stack}") })
            .collect();
        let mut parts = Vec::new();
        if !regressed.is_empty() {
            parts.push(format!("regressed: {}", regressed.join(", ")));
        }
        if !over.is_empty() {
            parts.push(format!("over budget: {}", over.join(", ")));
        }
        format!("FAIL: {}", parts.join("; "))
    }
}

/// The id of the `baseline` bench with the same group and variant.
fn reference_of(id: &BenchId) -> String {
    BenchId { group: id.group.clone(), function: Some(BASELINE.to_owned()), value: id.value.clone() }.full_id()
}

/// Regressed if either is, else improved if either is, else unchanged.
fn worst(absolute: Verdict, relative: Option<Verdict>) -> Verdict {
    let verdicts = [Some(absolute), relative];
    [Verdict::Regressed, Verdict::Improved]
        .into_iter()
        .find(|v| verdicts.contains(&Some(*v)))
        .unwrap_or(Verdict::Unchanged)
}

fn format_change(change: Interval) -> String {
    let percent = |fraction: f64| format!("{:+.1}%", fraction * 100.0);
    format!("{} [{}, {}]", percent(change.point), percent(change.lower), percent(change.upper))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(point: f64, lower: f64, upper: f64) -> Interval {
        Interval { point, lower, upper }
    }

    #[test]
    fn regressed_needs_the_threshold_and_separate_intervals() {
        let threshold = Threshold(0.1);
        let then = interval(100.0, 95.0, 105.0);
        let judge = |now| Change::between(then, now, threshold).verdict;
        assert_eq!(judge(interval(120.0, 116.0, 130.0)), Verdict::Regressed);
        assert_eq!(judge(interval(120.0, 104.0, 130.0)), Verdict::Unchanged, "overlapping");
        assert_eq!(judge(interval(120.0, 110.0, 130.0)), Verdict::Unchanged, "apart, but maybe under the threshold");
        assert_eq!(judge(interval(108.0, 106.0, 110.0)), Verdict::Unchanged, "under the threshold");
        assert_eq!(judge(interval(80.0, 78.0, 82.0)), Verdict::Improved);
        assert_eq!(judge(interval(80.0, 70.0, 96.0)), Verdict::Unchanged, "overlapping");
    }

    #[test]
    fn change_intervals_are_conservative() {
        let change = Change::between(interval(100.0, 80.0, 125.0), interval(150.0, 125.0, 200.0), Threshold(0.1));
        assert_eq!(change.change, interval(0.5, 0.0, 1.5));
    }

    #[test]
    fn both_takes_the_worst() {
        assert_eq!(worst(Verdict::Unchanged, Some(Verdict::Regressed)), Verdict::Regressed);
        assert_eq!(worst(Verdict::Improved, Some(Verdict::Regressed)), Verdict::Regressed);
        assert_eq!(worst(Verdict::Improved, None), Verdict::Improved);
        assert_eq!(worst(Verdict::Unchanged, Some(Verdict::Unchanged)), Verdict::Unchanged);
    }

    #[test]
    fn thresholds_parse_percentages_and_fractions_only() {
        assert_eq!("2.5 %".parse::<Threshold>(), Ok(Threshold(0.025)));
        assert_eq!("0".parse::<Threshold>(), Ok(Threshold(0.0)));
        assert_eq!("150%".parse::<Threshold>(), Ok(Threshold(1.5)));
        assert!("1".parse::<Threshold>().is_err());
        assert!("inf%".parse::<Threshold>().is_err());
        assert_eq!(Threshold(0.1).to_string(), "10%");
    }
}
