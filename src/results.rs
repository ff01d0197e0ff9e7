//! Reads criterion's results: every bench's id and its mean and median estimates with their
//! confidence intervals, from `<criterion dir>/<bench>/<baseline>/{benchmark,estimates}.json`.
//!
//! Criterion writes the last run of each bench under the baseline name `new`, and a copy
//! under `<name>` for `--save-baseline <name>`. Ids come from `benchmark.json`, so stacks
//! such as `chain/3`, whose directory name criterion sanitizes to `chain_3`, keep their names.
//! All times are in nanoseconds per iteration.
//!
//! ```
//! use interceptor_bench::results::{Results, ResultsError, criterion_dir};
//!
//! let dir = criterion_dir(None); // $CRITERION_HOME, else $CARGO_TARGET_DIR/criterion, else target/criterion
//! match Results::read(&dir, Results::LAST_RUN) {
//!     Ok(results) => {
//!         if let Some(baseline) = results.get("in_process", "baseline", "unary") {
//!             println!("baseline median {:.0} ns", baseline.estimates.median.point);
//!         }
//!     }
//!     Err(ResultsError::NoResults { dir, .. }) => println!("nothing in {}: run cargo bench first", dir.display()),
//!     Err(other) => println!("{other}"),
//! }
//! ```

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// Where criterion writes its results: `explicit` if given, else `$CRITERION_HOME`, else
/// `$CARGO_TARGET_DIR/criterion`, else `target/criterion` (relative to the working directory,
/// so run from the crate's root) — criterion's own order of preference.
///
/// ```
/// use std::path::Path;
/// use interceptor_bench::results::criterion_dir;
/// assert_eq!(criterion_dir(Some(Path::new("/tmp/c"))), Path::new("/tmp/c"));
/// ```
pub fn criterion_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(dir) = explicit {
        return dir.to_owned();
    }
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(target) => PathBuf::from(target).join("criterion"),
        None => PathBuf::from("target").join("criterion"),
    }
}

/// One bench's id: criterion's group, function and parameter (`BenchmarkId::new(function, value)`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BenchId {
    /// The benchmark group, e.g. `in_process`.
    pub group: String,
    /// The function, here the stack, e.g. `chain/3`; `None` for a bare group-level bench.
    pub function: Option<String>,
    /// The parameter, here the variant, e.g. `unary`.
    pub value: Option<String>,
}

impl BenchId {
    /// Criterion's full id: the parts present, joined by `/`.
    ///
    /// ```
    /// use interceptor_bench::results::BenchId;
    /// let id = BenchId { group: "in_process".into(), function: Some("chain/3".into()), value: Some("unary".into()) };
    /// assert_eq!(id.full_id(), "in_process/chain/3/unary");
    /// ```
    pub fn full_id(&self) -> String {
        [Some(&self.group), self.function.as_ref(), self.value.as_ref()]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// A confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ConfidenceInterval {
    /// The confidence level, e.g. `0.95`.
    pub confidence_level: f64,
    /// The lower bound.
    pub lower_bound: f64,
    /// The upper bound.
    pub upper_bound: f64,
}

/// One statistic of a bench, in nanoseconds per iteration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The estimate.
    #[serde(rename = "point_estimate")]
    pub point: f64,
    /// Its bootstrap confidence interval.
    pub confidence_interval: ConfidenceInterval,
    /// Its standard error.
    pub standard_error: f64,
}

/// The statistics this crate reads from `estimates.json`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimates {
    /// The mean time per iteration.
    pub mean: Estimate,
    /// The median time per iteration: what the overhead table compares, as it shrugs off the
    /// outliers a shared machine produces.
    pub median: Estimate,
}

/// One bench's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bench {
    /// Its id.
    pub id: BenchId,
    /// The elements one iteration processes (16 for the concurrent loopback variant), when set.
    pub elements_per_iteration: Option<u64>,
    /// Its estimates.
    pub estimates: Estimates,
    /// The directory holding `benchmark.json` and `estimates.json`.
    pub dir: PathBuf,
    /// When `estimates.json` was written, where the file system says.
    #[serde(skip)]
    pub modified: Option<SystemTime>,
}

/// What can go wrong reading results.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// No bench has results under that baseline name in the directory (or no directory).
    #[error("no criterion results (baseline {baseline:?}) in {}: run `cargo bench` first", dir.display())]
    NoResults {
        /// The criterion directory searched.
        dir: PathBuf,
        /// The baseline name searched for.
        baseline: String,
    },
    /// A results file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A results file is not what criterion writes.
    #[error("{} is not a criterion results file: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
}

/// The benches found under one baseline name, by full id.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Results {
    dir: PathBuf,
    baseline: String,
    benches: BTreeMap<String, Bench>,
}

/// The part of criterion's `benchmark.json` this crate reads.
#[derive(Deserialize)]
struct BenchmarkJson {
    group_id: String,
    function_id: Option<String>,
    value_str: Option<String>,
    /// Criterion's `Throughput` enum as serde writes it, e.g. `{"Elements": 16}`.
    throughput: Option<serde_json::Value>,
}

impl Results {
    /// The baseline name criterion writes the last run under.
    pub const LAST_RUN: &'static str = "new";

    /// Reads every bench in `dir` that has results under `baseline` ([`Results::LAST_RUN`] for
    /// the last run, or a name given to `--save-baseline`).
    ///
    /// Fails with [`ResultsError::NoResults`] when there are none, and with the file's path
    /// when a bench's files are unreadable or malformed.
    pub fn read(dir: &Path, baseline: &str) -> Result<Results, ResultsError> {
        let mut benches = BTreeMap::new();
        let found = walkdir::WalkDir::new(dir).sort_by_file_name().into_iter().filter_map(Result::ok).filter(|entry| {
            entry.file_name() == OsStr::new("benchmark.json")
                && entry.path().parent().and_then(Path::file_name) == Some(OsStr::new(baseline))
        });
        for entry in found {
            let bench = read_bench(entry.path().parent().expect("a file has a parent"))?;
            benches.insert(bench.id.full_id(), bench);
        }
        if benches.is_empty() {
            return Err(ResultsError::NoResults { dir: dir.to_owned(), baseline: baseline.to_owned() });
        }
        Ok(Results { dir: dir.to_owned(), baseline: baseline.to_owned(), benches })
    }

    /// The criterion directory read.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The baseline name read.
    pub fn baseline(&self) -> &str {
        &self.baseline
    }

    /// The bench `group/function/value`, if it has results.
    pub fn get(&self, group: &str, function: &str, value: &str) -> Option<&Bench> {
        self.benches.get(&format!("{group}/{function}/{value}"))
    }

    /// The bench with criterion's full id `id`, if it has results.
    pub fn get_full_id(&self, id: &str) -> Option<&Bench> {
        self.benches.get(id)
    }

    /// Every bench, ordered by full id.
    pub fn iter(&self) -> impl Iterator<Item = &Bench> {
        self.benches.values()
    }

    /// How many benches have results.
    pub fn len(&self) -> usize {
        self.benches.len()
    }

    /// Never true for results that [`Results::read`] returned.
    pub fn is_empty(&self) -> bool {
        self.benches.is_empty()
    }
}

fn read_bench(dir: &Path) -> Result<Bench, ResultsError> {
    let id: BenchmarkJson = read_json(&dir.join("benchmark.json"))?;
    let estimates_path = dir.join("estimates.json");
    let estimates: Estimates = read_json(&estimates_path)?;
    let elements_per_iteration = id.throughput.as_ref().and_then(|throughput| {
        throughput.get("Elements").or_else(|| throughput.get("ElementsAndBytes")?.get("elements"))?.as_u64()
    });
    Ok(Bench {
        id: BenchId { group: id.group_id, function: id.function_id, value: id.value_str },
        elements_per_iteration,
        estimates,
        dir: dir.to_owned(),
        modified: fs::metadata(&estimates_path).and_then(|m| m.modified()).ok(),
    })
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ResultsError> {
    let text = fs::read(path).map_err(|source| ResultsError::Io { path: path.to_owned(), source })?;
    serde_json::from_slice(&text).map_err(|source| ResultsError::Parse { path: path.to_owned(), source })
}
