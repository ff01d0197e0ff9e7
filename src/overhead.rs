//! What each interceptor costs: the table `ibench overhead` prints, from the paired results
//! of `cargo bench --bench paired` ([`OverheadReport::from_paired`], the default) or from
//! criterion's per-bench medians ([`OverheadReport::new`]).
//!
//! For every suite (a set of stacks benchmarked beside a `baseline`, see [`crate::bench`]),
//! each stack's overhead is what it adds over the baseline, in-process and over loopback
//! (sequential round trips). The cumulative chain (`chain/1` … `chain/9`) gives each
//! interceptor's cost in its place in the full chain: `chain/N` over `chain/N-1`, with
//! `chain/0` the baseline.
//!
//! # Paired overheads (the default)
//!
//! Each overhead is the median of per-sample differences between the stack and its reference,
//! the two measured interleaved in time ([`crate::paired`]), with a 95% distribution-free
//! interval of that median: it covers the noise while both shared the machine, which is what
//! the difference depends on. Each row also carries the paired ratio stack ÷ reference, the
//! figure `ibench compare` tracks across runs.
//!
//! # Criterion overheads (`--source criterion`)
//!
//! The stack's median minus the baseline's median, two benches measured seconds apart: the
//! machine's drift between them is in the difference and not in the interval, so an interval
//! can exclude zero for a difference that is only drift. Criterion gives each median a
//! bootstrap confidence interval (95% by default). The overhead
//! interval is interval arithmetic on the two: `[stack.lower - baseline.upper, stack.upper -
//! baseline.lower]`. Whenever both intervals hold their true medians, the difference lies in
//! it, so it holds the true overhead with probability at least `1 - 2 × (1 - 0.95) = 90%`
//! (Bonferroni), whatever the dependence between the two benches. It is conservative: wider
//! than a bootstrap of the difference would be.
//!
//! # Verdicts
//!
//! A stack is over budget when its median overhead, at either depth, exceeds the budget
//! times its number of interceptors (the catalog's count; 1 for any other stack, such as a
//! comparator or your own layer). Each chain step is judged against one budget.
//!
//! ```
//! use std::time::Duration;
//! use interceptor_bench::overhead::{Format, OverheadReport};
//! use interceptor_bench::results::{Results, criterion_dir};
//!
//! if let Ok(results) = Results::read(&criterion_dir(None), Results::LAST_RUN) {
//!     let report = OverheadReport::new(&results, Duration::from_millis(2)).unwrap();
//!     print!("{}", report.render(Format::Markdown));
//!     assert_eq!(report.breaches().count() > 0, !report.within_budget());
//! }
//! ```

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::bench::{BARE_HYPER, BASELINE, Depth, FLOOR};
use crate::paired::stats::Estimate as PairedEstimate;
use crate::paired::{PairResult, SuiteResults};
use crate::results::{Estimate, Results};
use crate::stack::{self, Stack};

/// The default per-interceptor budget: the seed's 2 ms target.
pub const DEFAULT_BUDGET: Duration = Duration::from_millis(2);

/// One overhead: a difference of two medians, in nanoseconds, with its conservative interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Overhead {
    /// The stack's median minus the baseline's median.
    pub median: f64,
    /// The lower end of the interval.
    pub lower: f64,
    /// The upper end of the interval.
    pub upper: f64,
}

impl Overhead {
    /// The overhead of `stack` over `baseline`, both medians.
    ///
    /// ```
    /// use interceptor_bench::overhead::Overhead;
    /// use interceptor_bench::results::{ConfidenceInterval, Estimate};
    ///
    /// let median = |point, lower_bound, upper_bound| Estimate {
    ///     point,
    ///     confidence_interval: ConfidenceInterval { confidence_level: 0.95, lower_bound, upper_bound },
    ///     standard_error: 1.0,
    /// };
    /// let overhead = Overhead::between(&median(150.0, 145.0, 160.0), &median(100.0, 98.0, 103.0));
    /// assert_eq!(overhead, Overhead { median: 50.0, lower: 42.0, upper: 62.0 });
    /// ```
    pub fn between(stack: &Estimate, baseline: &Estimate) -> Overhead {
        let (s, b) = (&stack.confidence_interval, &baseline.confidence_interval);
        Overhead {
            median: stack.point - baseline.point,
            lower: s.lower_bound - b.upper_bound,
            upper: s.upper_bound - b.lower_bound,
        }
    }
}

impl Overhead {
    /// A paired difference, as an overhead.
    pub fn of_paired(difference: &PairedEstimate) -> Overhead {
        Overhead { median: difference.point, lower: difference.lower, upper: difference.upper }
    }
}

/// Where an overhead report's figures come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Paired measurements, the stack and its reference interleaved in time (`cargo bench --bench paired`).
    Paired,
    /// Criterion's per-bench medians, each bench measured on its own (`cargo bench --bench in_process`, `loopback`).
    Criterion,
}

/// Whether an overhead fits its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The median overhead is within the budget.
    Ok,
    /// The median overhead exceeds the budget.
    OverBudget,
}

impl Verdict {
    fn judge(budget_ns: f64, overheads: &[Option<Overhead>]) -> Verdict {
        if overheads.iter().flatten().any(|o| o.median > budget_ns) { Verdict::OverBudget } else { Verdict::Ok }
    }

    fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::OverBudget => "OVER BUDGET",
        }
    }
}

/// One stack's overheads over its suite's baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The stack.
    pub stack: String,
    /// How many interceptors the budget counts for it.
    pub interceptors: usize,
    /// In-process overhead, where measured.
    pub in_process: Option<Overhead>,
    /// Loopback overhead (sequential round trips), where measured.
    pub loopback: Option<Overhead>,
    /// The budget: the per-interceptor budget times `interceptors`, in nanoseconds.
    pub budget_ns: f64,
    /// The verdict.
    pub verdict: Verdict,
    /// True when this stack's results were written more than [`STALE_AFTER`] apart from its
    /// baseline's at either depth: they come from different runs (a filtered `cargo bench`, a
    /// renamed bench), so the difference mixes two machine states. Never for paired results.
    pub stale: bool,
    /// The paired ratio stack ÷ baseline in-process, for paired results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_process_ratio: Option<PairedEstimate>,
    /// The paired ratio stack ÷ baseline over loopback, for paired results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loopback_ratio: Option<PairedEstimate>,
}

impl Row {
    /// The row of `stack` with its overheads, judged against its budget (`budget_ns` per
    /// interceptor); not stale, no ratios.
    fn judged(stack: &str, budget_ns: f64, in_process: Option<Overhead>, loopback: Option<Overhead>) -> Row {
        let (interceptors, budget_ns) = budget_of(stack, budget_ns);
        Row {
            stack: stack.to_owned(),
            interceptors,
            in_process,
            loopback,
            budget_ns,
            verdict: Verdict::judge(budget_ns, &[in_process, loopback]),
            stale: false,
            in_process_ratio: None,
            loopback_ratio: None,
        }
    }
}

/// How far apart a stack's and its baseline's results may be written before the row is
/// marked stale: a full `cargo bench` takes well under this.
pub const STALE_AFTER: Duration = Duration::from_secs(15 * 60);

/// One step of the cumulative chain: what adding `interceptor` inside the previous prefix cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChainStep {
    /// The prefix, e.g. `chain/3`.
    pub stack: String,
    /// The interceptor the step adds.
    pub interceptor: String,
    /// `chain/N` minus `chain/N-1` (`baseline` for the first step), in-process.
    pub in_process: Overhead,
    /// The verdict against one budget.
    pub verdict: Verdict,
    /// The paired ratio `chain/N` ÷ `chain/N-1`, for paired results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<PairedEstimate>,
}

impl ChainStep {
    /// The step to `prefix` (`chain/N`) costing `cost`, judged against one budget.
    fn judged(prefix: &Stack, cost: Overhead, budget_ns: f64, ratio: Option<PairedEstimate>) -> ChainStep {
        ChainStep {
            stack: prefix.name().to_owned(),
            interceptor: prefix.interceptor_names().last().copied().unwrap_or_default().to_owned(),
            in_process: cost,
            verdict: Verdict::judge(budget_ns, &[Some(cost)]),
            ratio,
        }
    }
}

/// One suite's table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suite {
    /// The suite's name; empty for the catalog.
    pub name: String,
    /// The floor bench's median (the harness's own cost), in nanoseconds.
    pub floor_ns: Option<f64>,
    /// The baseline's in-process median, in nanoseconds.
    pub baseline_in_process_ns: Option<f64>,
    /// The baseline's loopback median round trip, in nanoseconds.
    pub baseline_loopback_ns: Option<f64>,
    /// The bare-hyper anchor's median round trip, in nanoseconds.
    pub bare_hyper_ns: Option<f64>,
    /// Each stack's overheads.
    pub rows: Vec<Row>,
    /// The cumulative chain's steps, in order.
    pub chain: Vec<ChainStep>,
}

/// The overhead table of every suite found in a set of results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OverheadReport {
    /// Where the figures come from.
    pub source: Source,
    /// The directory the results came from: criterion's, or the paired results'.
    pub criterion_dir: PathBuf,
    /// The criterion baseline name the results came from (`new` for the last run; `paired`
    /// for paired results).
    pub criterion_baseline: String,
    /// The per-interceptor budget, in nanoseconds.
    pub budget_ns: f64,
    /// The confidence level the overhead intervals hold at least (see the module docs).
    pub confidence_level: f64,
    /// The suites, the catalog's first.
    pub suites: Vec<Suite>,
}

/// The results hold no suite with a baseline: nothing to compare against.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no `baseline` bench in any in_process or loopback group of {dir}: run `cargo bench` (or your own bench_layer bench) first"
)]
pub struct NoBaseline {
    /// The criterion directory read.
    pub dir: String,
}

/// An output format of [`OverheadReport::render`] (also `ibench overhead --format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// The report as JSON, times in nanoseconds.
    Json,
    /// GitHub-flavoured markdown tables, for CI comments.
    Markdown,
}

impl OverheadReport {
    /// Builds the table of every suite in `results`, judged against `budget` per interceptor.
    pub fn new(results: &Results, budget: Duration) -> Result<OverheadReport, NoBaseline> {
        let budget_ns = budget.as_nanos() as f64;
        let mut suite_names: Vec<&str> =
            results.iter().filter_map(|bench| Depth::parse_group(&bench.id.group).map(|(suite, _)| suite)).collect();
        suite_names.sort_unstable();
        suite_names.dedup();
        let suites: Vec<Suite> =
            suite_names.into_iter().filter_map(|name| Suite::from_results(results, name, budget_ns)).collect();
        if suites.is_empty() {
            return Err(NoBaseline { dir: results.dir().display().to_string() });
        }
        let level = results
            .iter()
            .map(|bench| bench.estimates.median.confidence_interval.confidence_level)
            .fold(f64::NAN, f64::min);
        Ok(OverheadReport {
            source: Source::Criterion,
            criterion_dir: results.dir().to_owned(),
            criterion_baseline: results.baseline().to_owned(),
            budget_ns,
            confidence_level: (1.0 - 2.0 * (1.0 - level)).max(0.0),
            suites,
        })
    }

    /// Builds the table of every suite in paired results read from `dir`, judged against
    /// `budget` per interceptor.
    pub fn from_paired(
        suites: &[SuiteResults],
        dir: &std::path::Path,
        budget: Duration,
    ) -> Result<OverheadReport, NoBaseline> {
        let budget_ns = budget.as_nanos() as f64;
        let rows: Vec<Suite> = suites.iter().filter_map(|suite| Suite::from_paired(suite, budget_ns)).collect();
        if rows.is_empty() {
            return Err(NoBaseline { dir: dir.display().to_string() });
        }
        Ok(OverheadReport {
            source: Source::Paired,
            criterion_dir: dir.to_owned(),
            criterion_baseline: "paired".to_owned(),
            budget_ns,
            confidence_level: suites.iter().map(|suite| suite.confidence).fold(f64::NAN, f64::min),
            suites: rows,
        })
    }

    /// Every stack and chain step over budget, as `(suite, stack)`.
    pub fn breaches(&self) -> impl Iterator<Item = (&str, &str)> {
        self.suites.iter().flat_map(|suite| {
            let rows = suite.rows.iter().filter(|r| r.verdict == Verdict::OverBudget).map(|r| r.stack.as_str());
            let steps = suite.chain.iter().filter(|s| s.verdict == Verdict::OverBudget).map(|s| s.stack.as_str());
            rows.chain(steps).map(|stack| (suite.name.as_str(), stack))
        })
    }

    /// True when nothing is over budget.
    pub fn within_budget(&self) -> bool {
        self.breaches().next().is_none()
    }

    /// The report in `format`, ending with a newline.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => serde_json::to_string_pretty(self).expect("a report serializes") + "\n",
            Format::Table => self.render_text(false),
            Format::Markdown => self.render_text(true),
        }
    }

    fn render_text(&self, markdown: bool) -> String {
        let mut out = String::new();
        let heading = if markdown { "### " } else { "" };
        let paired = self.source == Source::Paired;
        if paired {
            let _ = writeln!(out, "{heading}Interceptor overhead (paired results in {})", self.criterion_dir.display());
            let _ = writeln!(
                out,
                "\nOverhead = median per-sample difference stack - baseline, the two interleaved in time; [interval] \
                 holds it with {:.0}% confidence in this run (it does not cover another run's machine state: compare \
                 runs by the ×ratio). Budget {} per interceptor.",
                self.confidence_level * 100.0,
                format_ns(self.budget_ns)
            );
        } else {
            let _ = writeln!(
                out,
                "{heading}Interceptor overhead (criterion results in {}, baseline {:?})",
                self.criterion_dir.display(),
                self.criterion_baseline
            );
            let _ = writeln!(
                out,
                "\nOverhead = stack median - baseline median, two benches measured apart (not paired: the machine's drift \
                 between them is in the difference, not in the interval); [interval] holds it with >= {:.0}% confidence \
                 only without drift. Budget {} per interceptor.",
                self.confidence_level * 100.0,
                format_ns(self.budget_ns)
            );
        }
        for suite in &self.suites {
            let title = if suite.name.is_empty() { "catalog" } else { suite.name.as_str() };
            let _ = writeln!(out, "\n{heading}{title}\n");
            let anchors = suite.anchors();
            if !anchors.is_empty() {
                let _ = writeln!(out, "{anchors}\n");
            }
            let header = columns(
                paired,
                [
                    ("stack", ALWAYS),
                    ("interceptors", ALWAYS),
                    ("in-process overhead", ALWAYS),
                    ("in-process ×", PAIRED),
                    ("loopback overhead", ALWAYS),
                    ("loopback ×", PAIRED),
                    ("budget", ALWAYS),
                    ("verdict", ALWAYS),
                ],
            );
            let row_cells = |row: &Row| {
                columns(
                    paired,
                    [
                        (if row.stale { format!("{} (stale)", row.stack) } else { row.stack.clone() }, ALWAYS),
                        (row.interceptors.to_string(), ALWAYS),
                        (format_overhead(row.in_process), ALWAYS),
                        (format_ratio(row.in_process_ratio), PAIRED),
                        (format_overhead(row.loopback), ALWAYS),
                        (format_ratio(row.loopback_ratio), PAIRED),
                        (format_ns(row.budget_ns), ALWAYS),
                        (row.verdict.as_str().to_owned(), ALWAYS),
                    ],
                )
            };
            write_table(&mut out, &header, &suite.rows.iter().map(row_cells).collect::<Vec<_>>(), markdown);
            if suite.rows.iter().any(|row| row.stale) {
                let _ = writeln!(
                    out,
                    "\n(stale): written more than {} min apart from the baseline, in another run; rerun the whole bench to compare them.",
                    STALE_AFTER.as_secs() / 60
                );
            }
            if !suite.chain.is_empty() {
                let _ = writeln!(
                    out,
                    "\nCumulative chain, in-process: each step = chain/N - chain/N-1 (chain/0 = baseline)\n"
                );
                let header = columns(
                    paired,
                    [
                        ("step", ALWAYS),
                        ("adds", ALWAYS),
                        ("in-process cost", ALWAYS),
                        ("×", PAIRED),
                        ("verdict", ALWAYS),
                    ],
                );
                let step_cells = |step: &ChainStep| {
                    columns(
                        paired,
                        [
                            (step.stack.clone(), ALWAYS),
                            (step.interceptor.clone(), ALWAYS),
                            (format_overhead(Some(step.in_process)), ALWAYS),
                            (format_ratio(step.ratio), PAIRED),
                            (step.verdict.as_str().to_owned(), ALWAYS),
                        ],
                    )
                };
                write_table(&mut out, &header, &suite.chain.iter().map(step_cells).collect::<Vec<_>>(), markdown);
            }
        }
        out
    }
}

impl Suite {
    fn from_results(results: &Results, name: &str, budget_ns: f64) -> Option<Suite> {
        let in_process_group = Depth::InProcess.group(name);
        let loopback_group = Depth::Loopback.group(name);
        let median = |group: &str, depth: Depth, stack: &str| {
            results.get(group, stack, depth.overhead_variant()).map(|bench| bench.estimates.median)
        };
        let baseline_in_process = median(&in_process_group, Depth::InProcess, BASELINE);
        let baseline_loopback = median(&loopback_group, Depth::Loopback, BASELINE);
        if baseline_in_process.is_none() && baseline_loopback.is_none() {
            return None;
        }
        let overhead = |group: &str, depth: Depth, base: Option<Estimate>, stack: &str| {
            Some(Overhead::between(&median(group, depth, stack)?, &base?))
        };
        let written_apart = |group: &str, depth: Depth, stack: &str| {
            let written = |stack| results.get(group, stack, depth.overhead_variant())?.modified;
            let (Some(this), Some(base)) = (written(stack), written(BASELINE)) else { return false };
            this.duration_since(base).unwrap_or_else(|earlier| earlier.duration()) > STALE_AFTER
        };

        let mut stacks: Vec<&str> = results
            .iter()
            .filter(|bench| {
                let variant = bench.id.value.as_deref();
                (bench.id.group == in_process_group && variant == Some(Depth::InProcess.overhead_variant()))
                    || (bench.id.group == loopback_group && variant == Some(Depth::Loopback.overhead_variant()))
            })
            .filter_map(|bench| bench.id.function.as_deref())
            .filter(|stack| ![BASELINE, FLOOR, BARE_HYPER].contains(stack) && chain_length(stack).is_none())
            .collect();
        in_catalog_order(&mut stacks);

        let rows = stacks
            .into_iter()
            .map(|stack| {
                let in_process = overhead(&in_process_group, Depth::InProcess, baseline_in_process, stack);
                let loopback = overhead(&loopback_group, Depth::Loopback, baseline_loopback, stack);
                Row {
                    stale: written_apart(&in_process_group, Depth::InProcess, stack)
                        || written_apart(&loopback_group, Depth::Loopback, stack),
                    ..Row::judged(stack, budget_ns, in_process, loopback)
                }
            })
            .collect();

        let mut chain = Vec::new();
        let mut previous = baseline_in_process;
        for prefix in stack::cumulative_chain() {
            let current = median(&in_process_group, Depth::InProcess, prefix.name());
            let (Some(now), Some(before)) = (current, previous) else { break };
            chain.push(ChainStep::judged(&prefix, Overhead::between(&now, &before), budget_ns, None));
            previous = current;
        }

        Some(Suite {
            name: name.to_owned(),
            floor_ns: median(&in_process_group, Depth::InProcess, FLOOR).map(|m| m.point),
            baseline_in_process_ns: baseline_in_process.map(|m| m.point),
            baseline_loopback_ns: baseline_loopback.map(|m| m.point),
            bare_hyper_ns: median(&loopback_group, Depth::Loopback, BARE_HYPER).map(|m| m.point),
            rows,
            chain,
        })
    }

    fn from_paired(results: &SuiteResults, budget_ns: f64) -> Option<Suite> {
        let pair = |depth: Depth, reference: &str, candidate: &str| {
            results.pairs.iter().find(|p| p.depth == depth && p.reference == reference && p.candidate == candidate)
        };
        let over_baseline =
            |depth: Depth| results.pairs.iter().filter(move |p| p.depth == depth && p.reference == BASELINE);
        let baseline_ns = |depth: Depth, anchor: &str| {
            pair(depth, anchor, BASELINE)
                .map(|p| p.estimate.candidate_ns.point)
                .or_else(|| over_baseline(depth).next().map(|p| p.estimate.reference_ns.point))
        };
        let (baseline_in_process_ns, baseline_loopback_ns) =
            (baseline_ns(Depth::InProcess, FLOOR), baseline_ns(Depth::Loopback, BARE_HYPER));
        if baseline_in_process_ns.is_none() && baseline_loopback_ns.is_none() {
            return None;
        }
        let mut stacks: Vec<&str> = [Depth::InProcess, Depth::Loopback]
            .into_iter()
            .flat_map(over_baseline)
            .map(|p| p.candidate.as_str())
            .filter(|stack| chain_length(stack).is_none())
            .collect();
        in_catalog_order(&mut stacks);
        // Pairs over another reference than the baseline (and no chain step): a layer added to
        // the rest of a stack (`bench_service_layers`' `<layer>_in_stack` over
        // `without_<layer>`), shown as `candidate (over reference)`.
        let mut others: Vec<(&str, &str)> = results
            .pairs
            .iter()
            .filter(|p| ![BASELINE, FLOOR, BARE_HYPER].contains(&p.reference.as_str()))
            .filter(|p| chain_length(&p.candidate).is_none())
            .map(|p| (p.reference.as_str(), p.candidate.as_str()))
            .collect();
        others.sort_by_key(|&(reference, candidate)| (candidate, reference));
        others.dedup();
        let row = |reference: &str, stack: &str, label: String| {
            let at = |depth| pair(depth, reference, stack);
            let overhead = |depth| at(depth).map(|p: &PairResult| Overhead::of_paired(&p.estimate.difference_ns));
            Row {
                stack: label,
                in_process_ratio: at(Depth::InProcess).map(|p| p.estimate.ratio),
                loopback_ratio: at(Depth::Loopback).map(|p| p.estimate.ratio),
                ..Row::judged(stack, budget_ns, overhead(Depth::InProcess), overhead(Depth::Loopback))
            }
        };
        let rows = stacks
            .into_iter()
            .map(|stack| row(BASELINE, stack, stack.to_owned()))
            .chain(
                others
                    .into_iter()
                    .map(|(reference, stack)| row(reference, stack, format!("{stack} (over {reference})"))),
            )
            .collect();
        let mut chain = Vec::new();
        let mut previous = BASELINE.to_owned();
        for prefix in stack::cumulative_chain() {
            let Some(step) = pair(Depth::InProcess, &previous, prefix.name()) else { break };
            let cost = Overhead::of_paired(&step.estimate.difference_ns);
            chain.push(ChainStep::judged(&prefix, cost, budget_ns, Some(step.estimate.ratio)));
            previous = prefix.name().to_owned();
        }
        Some(Suite {
            name: results.suite.clone(),
            floor_ns: pair(Depth::InProcess, FLOOR, BASELINE).map(|p| p.estimate.reference_ns.point),
            baseline_in_process_ns,
            baseline_loopback_ns,
            bare_hyper_ns: pair(Depth::Loopback, BARE_HYPER, BASELINE).map(|p| p.estimate.reference_ns.point),
            rows,
            chain,
        })
    }

    /// The suite's reference medians, as one line.
    fn anchors(&self) -> String {
        [
            ("floor", self.floor_ns),
            ("baseline in-process", self.baseline_in_process_ns),
            ("baseline loopback", self.baseline_loopback_ns),
            ("bare hyper loopback", self.bare_hyper_ns),
        ]
        .into_iter()
        .filter_map(|(what, median)| Some(format!("{what} {}", format_ns(median?))))
        .collect::<Vec<_>>()
        .join(" · ")
    }
}

/// Sorts `stacks` as the catalog lists them (others after, by name) and drops repeats.
fn in_catalog_order(stacks: &mut Vec<&str>) {
    let catalog = stack::catalog();
    let catalog_position = |stack: &str| catalog.iter().position(|s| s.name() == stack).unwrap_or(usize::MAX);
    stacks.sort_by_key(|stack| (catalog_position(stack), *stack));
    stacks.dedup();
}

/// How many interceptors the budget counts for `stack` (the catalog's count, 1 for any other
/// stack) and its budget, `budget_ns` per interceptor.
fn budget_of(stack: &str, budget_ns: f64) -> (usize, f64) {
    let interceptors = stack::find(stack).map_or(1, |s| s.len().max(1));
    (interceptors, budget_ns * interceptors as f64)
}

/// `N` for a cumulative chain prefix `chain/N`.
fn chain_length(stack: &str) -> Option<usize> {
    stack.strip_prefix("chain/")?.parse().ok()
}

/// A duration in nanoseconds, in the unit that reads best.
///
/// ```
/// use interceptor_bench::overhead::format_ns;
/// assert_eq!(format_ns(1_234.0), "1.23 µs");
/// ```
pub fn format_ns(ns: f64) -> String {
    let magnitude = ns.abs();
    if magnitude < 1e3 {
        format!("{ns:.0} ns")
    } else if magnitude < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if magnitude < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

fn format_signed_ns(ns: f64) -> String {
    if ns >= 0.0 { format!("+{}", format_ns(ns)) } else { format_ns(ns) }
}

fn format_overhead(overhead: Option<Overhead>) -> String {
    match overhead {
        Some(o) => {
            format!("{} [{}, {}]", format_signed_ns(o.median), format_signed_ns(o.lower), format_signed_ns(o.upper))
        }
        None => "-".to_owned(),
    }
}

fn format_ratio(ratio: Option<PairedEstimate>) -> String {
    ratio.map_or_else(|| "-".to_owned(), |r| format!("×{:.3} [{:.3}, {:.3}]", r.point, r.lower, r.upper))
}

/// A column every overhead table has.
const ALWAYS: bool = false;
/// A column only tables of paired results have (the ratios).
const PAIRED: bool = true;

/// The headings or cells of a table's columns, each marked [`ALWAYS`] or [`PAIRED`]: all of
/// them for paired results, the [`ALWAYS`] ones otherwise.
fn columns<T, const N: usize>(paired: bool, all: [(T, bool); N]) -> Vec<T> {
    all.into_iter().filter(|&(_, paired_only)| paired || !paired_only).map(|(column, _)| column).collect()
}

pub(crate) fn write_table(out: &mut String, header: &[&str], rows: &[Vec<String>], markdown: bool) {
    if markdown {
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
        for row in rows {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        return;
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|row| row[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(cell, width)| format!("{cell:width$}")).collect();
        padded.join("  ").trim_end().to_owned()
    };
    let _ = writeln!(out, "{}", line(header.to_vec()));
    for row in rows {
        let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_their_unit() {
        assert_eq!(format_ns(42.4), "42 ns");
        assert_eq!(format_ns(1_234.0), "1.23 µs");
        assert_eq!(format_ns(2_000_000.0), "2.00 ms");
        assert_eq!(format_ns(3.5e9), "3.50 s");
        assert_eq!(format_signed_ns(-1_500.0), "-1.50 µs");
        assert_eq!(format_signed_ns(0.0), "+0 ns");
    }

    #[test]
    fn paired_rows_over_another_reference_than_the_baseline_are_shown_with_it() {
        use crate::paired::stats::Estimate;
        use crate::paired::{PairEstimate, PairResult, SCHEMA, Schedule, SuiteResults};
        let pair = |reference: &str, candidate: &str, difference: f64| PairResult {
            depth: Depth::InProcess,
            variant: "unary".into(),
            reference: reference.into(),
            candidate: candidate.into(),
            batch: 64,
            estimate: PairEstimate {
                samples: 10,
                reference_ns: Estimate { point: 1000.0, lower: 990.0, upper: 1010.0 },
                candidate_ns: Estimate { point: 1000.0 + difference, lower: 990.0, upper: 1010.0 + difference },
                difference_ns: Estimate { point: difference, lower: difference - 5.0, upper: difference + 5.0 },
                ratio: Estimate { point: 1.0 + difference / 1000.0, lower: 1.0, upper: 2.0 },
            },
            measured: "2026-12-02T00:00:00Z".into(),
        };
        let results = SuiteResults {
            schema: SCHEMA.into(),
            suite: "my_api".into(),
            confidence: 0.95,
            schedule: Schedule::default(),
            pairs: vec![
                pair(BASELINE, "trace", 300.0),
                pair("without_trace", "trace_in_stack", 420.0),
                pair("chain/1", "chain/2", 50.0),
            ],
        };
        let suite = Suite::from_paired(&results, 2e6).expect("a suite with a baseline");
        let rows: Vec<(&str, f64)> =
            suite.rows.iter().map(|row| (row.stack.as_str(), row.in_process.unwrap().median)).collect();
        assert_eq!(rows, [("trace", 300.0), ("trace_in_stack (over without_trace)", 420.0)]);
    }

    #[test]
    fn chain_prefixes_are_recognised() {
        assert_eq!(chain_length("chain/3"), Some(3));
        assert_eq!(chain_length("chain/x"), None);
        assert_eq!(chain_length("full"), None);
    }
}
