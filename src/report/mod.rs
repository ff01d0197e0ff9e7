//! A self-contained HTML report — inline SVG charts, inline CSS, no script, nothing fetched —
//! of a load run, of the bench results and of a comparison with a saved baseline: what
//! `ibench report` and `ibench load --report` write.
//!
//! Each chart is drawn with plotters' SVG backend and followed by a table of the numbers it
//! shows, for readers who cannot see it.
//!
//! ```
//! use interceptor_bench::report::{Change, Comparison, ComparisonRow, HtmlReport};
//!
//! let comparison = Comparison {
//!     baseline: "main".into(),
//!     rows: vec![ComparisonRow {
//!         id: "in_process/full/unary".into(),
//!         baseline_ns: 4_000.0,
//!         now_ns: 4_400.0,
//!         change_percent: 10.0,
//!         interval_percent: (8.0, 12.0),
//!         verdict: Change::Regressed,
//!     }],
//! };
//! let html = HtmlReport::new("Nightly").comparison(comparison).render().unwrap();
//! assert!(html.contains("in_process/full/unary") && html.contains("+10.0%"));
//! assert!(!html.contains("<script"));
//!
//! let dir = tempfile::tempdir().unwrap();
//! let file = dir.path().join("report.html");
//! std::fs::write(&file, "mine").unwrap();
//! assert!(HtmlReport::new("Nightly").write(&file, false).is_err()); // never overwrites silently
//! ```

mod breakpoint;
mod charts;
mod html;
mod load_run;
mod sections;

use std::path::{Path, PathBuf};

pub use load_run::{
    Counter, LoadRun, Metrics, Point, Rate, RequestMetrics, Resources, Series, Spike, Stage, Threshold, Trend,
};

use crate::atomic_file::{WriteError, write_atomically};
use crate::overhead::{NoBaseline, OverheadReport};
use crate::results::{Results, ResultsError};

/// What can go wrong building or writing a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// An input file could not be read.
    #[error("cannot read {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// An input file is not what the report reads.
    #[error("{}: {why}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// Criterion's results could not be read.
    #[error(transparent)]
    Results(#[from] ResultsError),
    /// The results have no baseline bench to measure overheads against.
    #[error(transparent)]
    NoBaseline(#[from] NoBaseline),
    /// The report has no section.
    #[error("nothing to report: give a load run, bench results or a comparison")]
    Empty,
    /// A chart could not be drawn.
    #[error("cannot draw a chart: {0}")]
    Chart(String),
    /// The report could not be written (or exists, without `force`).
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// The bench results a report shows: the overhead table and, for each bench, links to
/// criterion's report page and flamegraph where they exist.
#[derive(Debug, Clone)]
pub struct Benches {
    overhead: OverheadReport,
    pages: Vec<BenchPages>,
}

/// A bench's median and its pages on disk, as links relative to the report.
#[derive(Debug, Clone, PartialEq)]
struct BenchPages {
    id: String,
    median_ns: f64,
    report: Option<String>,
    flamegraph: Option<String>,
    layers_flamegraph: Option<String>,
    attribution: Option<crate::attribution::Attribution>,
}

impl Benches {
    /// The overhead table of `results` against `budget` per interceptor, with links to
    /// criterion's pages written relative to `report_dir`, the directory the report goes to.
    ///
    /// ```
    /// use std::time::Duration;
    /// use interceptor_bench::report::{Benches, HtmlReport};
    /// use interceptor_bench::results::{Results, criterion_dir};
    ///
    /// if let Ok(results) = Results::read(&criterion_dir(None), Results::LAST_RUN) {
    ///     let benches = Benches::new(&results, Duration::from_millis(2), ".".as_ref()).unwrap();
    ///     assert_eq!(benches.overhead().budget_ns, 2e6);
    ///     let html = HtmlReport::new("Benches").benches(benches).render().unwrap();
    ///     assert!(html.contains("Interceptor overhead"));
    /// }
    /// ```
    pub fn new(results: &Results, budget: std::time::Duration, report_dir: &Path) -> Result<Benches, ReportError> {
        Ok(Benches::from_report(OverheadReport::new(results, budget)?, Some(results), report_dir))
    }

    /// An overhead table already built (from paired results, say), with links to the pages of
    /// criterion's `results` when given.
    pub fn from_report(overhead: OverheadReport, results: Option<&Results>, report_dir: &Path) -> Benches {
        let pages = results
            .into_iter()
            .flat_map(Results::iter)
            .map(|bench| {
                // `<criterion dir>/<group>/<function>/<value>/<baseline>`: the pages sit beside the baseline.
                let home = bench.dir.parent().unwrap_or(&bench.dir);
                let page = |relative: &str| {
                    let path = home.join(relative);
                    path.is_file().then(|| relative_to(&path, report_dir))
                };
                BenchPages {
                    id: bench.id.full_id(),
                    median_ns: bench.estimates.median.point,
                    report: page("report/index.html"),
                    flamegraph: page("profile/flamegraph.svg"),
                    layers_flamegraph: page("profile/flamegraph-layers.svg"),
                    attribution: crate::attribution::Attribution::read(&home.join("profile/attribution.json")).ok(),
                }
            })
            .collect();
        Benches { overhead, pages }
    }

    /// The overhead table the report draws (see [`Benches::new`]).
    pub fn overhead(&self) -> &OverheadReport {
        &self.overhead
    }
}

/// `path` relative to `dir` when both resolve and share a root, else `path` absolute.
fn relative_to(path: &Path, dir: &Path) -> String {
    let (Ok(path), Ok(dir)) = (path.canonicalize(), dir.canonicalize()) else {
        return path.display().to_string();
    };
    let common = path.components().zip(dir.components()).take_while(|(a, b)| a == b).count();
    if common <= 1 {
        return path.display().to_string();
    }
    let ups = dir.components().count() - common;
    let relative: PathBuf = std::iter::repeat_n(std::path::Component::ParentDir.as_os_str(), ups)
        .chain(path.components().skip(common).map(|c| c.as_os_str()))
        .collect();
    relative.display().to_string()
}

/// A verdict on a bench's change against a saved baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Faster, beyond the noise.
    Improved,
    /// Within the noise.
    Unchanged,
    /// Slower, beyond the noise.
    Regressed,
}

impl Change {
    /// The verdict in words.
    ///
    /// ```
    /// assert_eq!(interceptor_bench::report::Change::Regressed.as_str(), "regressed");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Change::Improved => "improved",
            Change::Unchanged => "unchanged",
            Change::Regressed => "regressed",
        }
    }
}

/// One bench compared with a saved baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonRow {
    /// The bench, e.g. `in_process/full/unary`.
    pub id: String,
    /// Its median in the baseline (ns).
    pub baseline_ns: f64,
    /// Its median now (ns).
    pub now_ns: f64,
    /// `(now - baseline) / baseline`, in percent.
    pub change_percent: f64,
    /// The change's confidence interval, in percent.
    pub interval_percent: (f64, f64),
    /// The verdict.
    pub verdict: Change,
}

/// Every bench compared with a saved baseline (see the module example).
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The baseline's name.
    pub baseline: String,
    /// One row per bench.
    pub rows: Vec<ComparisonRow>,
}

impl From<&crate::baseline::compare::Comparison> for Comparison {
    /// The gate's comparison as report rows: each bench's absolute medians, and the change and
    /// verdict under the signal the gate judged (relative to its group's baseline bench by
    /// default). A group's reference bench shows its absolute change, marked unchanged.
    ///
    /// ```no_run
    /// use interceptor_bench::baseline::{Baseline, compare};
    /// use interceptor_bench::report::{Comparison, HtmlReport};
    /// use interceptor_bench::results::{Results, criterion_dir};
    ///
    /// let path = std::path::Path::new("baselines/reference.json");
    /// let baseline = Baseline::load(path).unwrap();
    /// let results = Results::read(&criterion_dir(None), Results::LAST_RUN).unwrap();
    /// let gate = compare::Comparison::new(&baseline, path, &results, compare::Options::default()).unwrap();
    /// HtmlReport::new("vs reference").comparison(Comparison::from(&gate)).write("cmp.html".as_ref(), false).unwrap();
    /// ```
    fn from(gate: &crate::baseline::compare::Comparison) -> Self {
        use crate::baseline::compare::{Signal, Verdict};
        let rows = gate
            .benches
            .iter()
            .map(|bench| {
                let judged = match gate.options.signal {
                    Signal::Absolute => bench.absolute,
                    Signal::Paired | Signal::Relative | Signal::Both => bench.relative.unwrap_or(bench.absolute),
                };
                let verdict = match bench.verdict {
                    Verdict::Regressed => Change::Regressed,
                    Verdict::Improved => Change::Improved,
                    Verdict::Unchanged | Verdict::Reference => Change::Unchanged,
                };
                ComparisonRow {
                    id: bench.id.clone(),
                    baseline_ns: bench.absolute.then.point,
                    now_ns: bench.absolute.now.point,
                    change_percent: judged.change.point * 100.0,
                    interval_percent: (judged.change.lower * 100.0, judged.change.upper * 100.0),
                    verdict,
                }
            })
            .collect();
        Comparison { baseline: gate.baseline.name.clone(), rows }
    }
}

/// The directory a report written to `output` lives in: its links to criterion's pages and
/// flamegraphs are relative to it.
///
/// ```
/// use std::path::Path;
/// use interceptor_bench::report::directory_of;
/// assert_eq!(directory_of(Path::new("out/report.html")), Path::new("out"));
/// assert_eq!(directory_of(Path::new("report.html")), Path::new("."));
/// ```
pub fn directory_of(output: &Path) -> &Path {
    output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// The report: whichever of a load run, bench results and a comparison it is given, in that
/// order (see the module example).
#[derive(Debug, Clone)]
pub struct HtmlReport {
    title: String,
    load: Option<LoadRun>,
    benches: Option<Benches>,
    comparison: Option<Comparison>,
}

impl HtmlReport {
    /// An empty report titled `title`.
    ///
    /// ```
    /// use interceptor_bench::report::{HtmlReport, ReportError};
    /// assert!(matches!(HtmlReport::new("nothing").render(), Err(ReportError::Empty)));
    /// ```
    pub fn new(title: impl Into<String>) -> Self {
        HtmlReport { title: title.into(), load: None, benches: None, comparison: None }
    }

    /// Adds the load run's section.
    ///
    /// ```no_run
    /// use interceptor_bench::report::{HtmlReport, LoadRun};
    /// let run = LoadRun::read("run.json".as_ref()).unwrap();
    /// HtmlReport::new("Load").load_run(run).write("run.html".as_ref(), false).unwrap();
    /// ```
    pub fn load_run(mut self, run: LoadRun) -> Self {
        self.load = Some(run);
        self
    }

    /// Adds the bench results' section (see [`Benches::new`]).
    pub fn benches(mut self, benches: Benches) -> Self {
        self.benches = Some(benches);
        self
    }

    /// Adds the comparison's section (see the module example).
    pub fn comparison(mut self, comparison: Comparison) -> Self {
        self.comparison = Some(comparison);
        self
    }

    /// The report as one HTML page; [`ReportError::Empty`] without a section.
    pub fn render(&self) -> Result<String, ReportError> {
        let mut body = String::new();
        if let Some(run) = &self.load {
            body += &sections::load_run(run)?;
        }
        if let Some(benches) = &self.benches {
            body += &sections::benches(benches)?;
        }
        if let Some(comparison) = &self.comparison {
            body += &sections::comparison(comparison)?;
        }
        if body.is_empty() {
            return Err(ReportError::Empty);
        }
        Ok(html::page(&self.title, &body))
    }

    /// Renders the report and writes it to `path` atomically; an existing file is replaced
    /// only with `force` (see the module example).
    pub fn write(&self, path: &Path, force: bool) -> Result<(), ReportError> {
        if !force && path.exists() {
            return Err(WriteError::Exists(path.to_owned()).into());
        }
        Ok(write_atomically(path, self.render()?.as_bytes(), force)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_relative_to_the_report() {
        let dir = tempfile::tempdir().unwrap();
        let page = dir.path().join("criterion/in_process/full/unary/report/index.html");
        std::fs::create_dir_all(page.parent().unwrap()).unwrap();
        std::fs::write(&page, "").unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        assert_eq!(relative_to(&page, &out), "../criterion/in_process/full/unary/report/index.html");
        assert_eq!(relative_to(&page, dir.path()), "criterion/in_process/full/unary/report/index.html");
        assert_eq!(relative_to(&out.join("missing"), &out), out.join("missing").display().to_string());
    }
}
