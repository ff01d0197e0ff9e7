//! Saved baselines: criterion's results exported to a JSON file that travels with the
//! repository (`baselines/<name>.json`), imported back into criterion's directory, and
//! compared with the last run by a gate that exits non-zero ([`compare`]).
//!
//! A baseline file records where and how it was measured ([`Provenance`]: the machine, rustc,
//! the commit, the date, the commands) and, per bench id, criterion's mean and median with
//! their confidence intervals, the per-interceptor overhead table, and criterion's own files
//! (`benchmark.json`, `estimates.json`, `sample.json` with the raw samples, `tukey.json`) so
//! that [`Baseline::restore`] gives `cargo bench -- --baseline <name>` everything it loads.
//!
//! ```no_run
//! use std::path::Path;
//! use interceptor_bench::baseline::{Baseline, Provenance};
//! use interceptor_bench::results::{Results, criterion_dir};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // After `cargo bench`: save the last run as baselines/main.json (never overwriting).
//! let results = Results::read(&criterion_dir(None), Results::LAST_RUN)?;
//! let provenance = Provenance::collect("ibench baseline save main", Some("cargo bench --bench in_process"));
//! let baseline = Baseline::from_results("main", &results, provenance)?;
//! let path = baseline.save(Path::new("baselines"), false)?;
//!
//! // On a fresh clone: give criterion its baseline back.
//! let loaded = Baseline::load(&path)?;
//! loaded.restore(&criterion_dir(None), "main", false)?;
//! # Ok(())
//! # }
//! ```
//!
//! # File format
//!
//! A JSON object with a top-level `"schema"` (this crate writes [`SCHEMA`]) and `"kind"`
//! (`"timing"` here; other kinds, such as instruction counts, share the `baselines/`
//! directory and are refused by name). See `baselines/README.md`.

pub mod compare;
pub mod runs;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::atomic_file::{self, WriteError};
use crate::overhead::{DEFAULT_BUDGET, OverheadReport};
use crate::paired::SuiteResults;
use crate::results::{BenchId, Estimates, Results};
use runs::PairedRun;

/// The schema version this crate writes and reads.
pub const SCHEMA: u32 = 1;
/// The kind of baseline this module handles: criterion wall-clock timings.
pub const KIND: &str = "timing";
/// Where baselines are kept, relative to the crate's root.
pub const DEFAULT_DIR: &str = "baselines";
/// The files of a criterion baseline directory, all of which a baseline file carries.
const CRITERION_FILES: [&str; 4] = ["benchmark.json", "estimates.json", "sample.json", "tukey.json"];
/// Names criterion uses for its own directories beside the baselines of a bench.
const CRITERION_RESERVED: [&str; 4] = [Results::LAST_RUN, "change", "report", "profile"];

/// A saved baseline: provenance and every bench's estimates.
///
/// ```
/// use interceptor_bench::baseline::{Baseline, BaselineError, Provenance};
/// use interceptor_bench::results::Results;
/// # use serde_json::json;
/// # let criterion = tempfile::tempdir().unwrap();
/// # let new = criterion.path().join("in_process/baseline/unary/new");
/// # std::fs::create_dir_all(&new).unwrap();
/// # let median = json!({"point_estimate": 200.0, "standard_error": 1.0,
/// #     "confidence_interval": {"confidence_level": 0.95, "lower_bound": 198.0, "upper_bound": 203.0}});
/// # let files = [
/// #     ("benchmark.json", json!({"group_id": "in_process", "function_id": "baseline", "value_str": "unary",
/// #         "throughput": {"Elements": 1}, "directory_name": "in_process/baseline/unary"})),
/// #     ("estimates.json", json!({"mean": median, "median": median})),
/// #     ("sample.json", json!({"sampling_mode": "Linear", "iters": [1.0, 2.0], "times": [200.0, 400.0]})),
/// #     ("tukey.json", json!([150.0, 175.0, 225.0, 250.0])),
/// # ];
/// # for (file, value) in files { std::fs::write(new.join(file), value.to_string()).unwrap(); }
/// // `criterion` holds a `cargo bench` run.
/// let results = Results::read(criterion.path(), Results::LAST_RUN).unwrap();
/// let baseline = Baseline::from_results("main", &results, Provenance::collect("example", None)).unwrap();
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = baseline.save(dir.path(), false).unwrap();
/// assert!(matches!(baseline.save(dir.path(), false), Err(BaselineError::Exists { .. })));
/// assert_eq!(Baseline::load(&path).unwrap(), baseline);
///
/// let fresh = tempfile::tempdir().unwrap();
/// assert_eq!(baseline.restore(fresh.path(), "main", false).unwrap(), 1);
/// assert!(fresh.path().join("in_process/baseline/unary/main/sample.json").exists());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// The schema version, [`SCHEMA`].
    pub schema: u32,
    /// The kind of baseline, [`KIND`].
    pub kind: String,
    /// The name, also the file's stem.
    pub name: String,
    /// Where and how it was measured.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// Each bench, by criterion's full id.
    pub benches: BTreeMap<String, SavedBench>,
    /// The per-interceptor overhead table of these results at the default budget, as
    /// `ibench overhead --format json` prints it (from the paired results when there are
    /// some); `null` when the results hold no suite.
    pub overhead: Option<Value>,
    /// The paired results of the run (`cargo bench --bench paired`), one entry per suite: what
    /// `ibench compare` judges by default. Empty in baselines saved before paired measurement.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paired: Vec<SuiteResults>,
    /// Each saved run's paired ratios, the first run (`paired`) included: with
    /// [`runs::MIN_RUNS`] or more, `ibench compare` judges each pair against its own
    /// run-to-run scatter ([`runs`]). Empty in baselines saved before it; read as one run then.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paired_runs: Vec<PairedRun>,
}

/// Where and how a baseline was measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The machine.
    pub machine: Machine,
    /// `rustc -V` when the baseline was saved, if rustc could be run.
    pub rustc: Option<String>,
    /// The git commit of the working directory, if it is a git checkout.
    pub commit: Option<Commit>,
    /// When the baseline was saved, RFC 3339 UTC.
    pub date: String,
    /// The command that saved the baseline.
    pub command: String,
    /// The command that produced the results, as told to `ibench baseline save --bench-command`.
    pub bench_command: Option<String>,
}

/// The machine a baseline was measured on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    /// The CPU model (`model name` in `/proc/cpuinfo`), if known.
    pub cpu: Option<String>,
    /// The cores available to the process.
    pub cores: usize,
    /// The operating system, architecture and kernel release.
    pub os: String,
}

/// A git commit and whether the working tree had uncommitted changes to tracked files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    /// `git rev-parse HEAD`.
    pub hash: String,
    /// True when `git status` showed changes to tracked files.
    pub dirty: bool,
}

/// One bench in a baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedBench {
    /// Its id.
    pub id: BenchId,
    /// The elements one iteration processes, when set.
    pub elements_per_iteration: Option<u64>,
    /// Criterion's mean and median, nanoseconds per iteration, with confidence intervals.
    pub estimates: Estimates,
    /// Criterion's own files, verbatim, for [`Baseline::restore`].
    pub criterion: CriterionFiles,
}

/// The files criterion keeps per bench and baseline, verbatim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriterionFiles {
    /// `benchmark.json`: the id and the bench's directory name.
    pub benchmark: Value,
    /// `estimates.json`: every statistic with its interval.
    pub estimates: Value,
    /// `sample.json`: the raw samples (iterations and times), which `--baseline` compares against.
    pub sample: Value,
    /// `tukey.json`: the outlier fences.
    pub tukey: Value,
}

/// What can go wrong with a baseline.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The name is unusable as a file and criterion baseline name.
    #[error(
        "invalid baseline name {0:?}: use letters, digits, '.', '_' and '-', not starting with '.' (no path, no .json)"
    )]
    InvalidName(String),
    /// The name is one criterion uses for its own directories.
    #[error("{0:?} is criterion's own directory name; restore under another name")]
    ReservedName(String),
    /// No baseline file.
    #[error(
        "no baseline {}: save one with `cargo bench` then `ibench baseline save {name}`, or point --dir at the directory holding it",
        path.display()
    )]
    Missing {
        /// The file looked for.
        path: PathBuf,
        /// The baseline's name.
        name: String,
    },
    /// The file exists and `force` was not given.
    #[error("{} already exists; pass --force to replace it", path.display())]
    Exists {
        /// The file or directory.
        path: PathBuf,
    },
    /// The file is not a baseline this crate can read.
    #[error("{} is not a usable baseline: {reason}; re-create it with `ibench baseline save --force`", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file holds another kind of baseline.
    #[error("{} holds a {kind:?} baseline; this command reads {KIND:?} baselines", path.display())]
    WrongKind {
        /// The file.
        path: PathBuf,
        /// The kind it holds.
        kind: String,
    },
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A criterion results file is missing or malformed.
    #[error("{} is not a criterion results file: {reason}", path.display())]
    Criterion {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Checks that `name` can name a baseline file and a criterion baseline: not empty, only
/// ASCII letters, digits, `.`, `_` and `-`, not starting with `.`, not ending in `.json`.
///
/// ```
/// use interceptor_bench::baseline::validate_name;
/// assert!(validate_name("main-2026.11").is_ok());
/// for bad in ["", "../x", "a/b", ".hidden", "x.json", "a b"] {
///     assert!(validate_name(bad).is_err(), "{bad}");
/// }
/// ```
pub fn validate_name(name: &str) -> Result<(), BaselineError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.starts_with('.') || name.ends_with(".json") || !name.chars().all(allowed) {
        return Err(BaselineError::InvalidName(name.to_owned()));
    }
    Ok(())
}

/// The file of baseline `name` in `dir`: `<dir>/<name>.json`.
///
/// ```
/// use std::path::Path;
/// use interceptor_bench::baseline::path_of;
/// assert_eq!(path_of(Path::new("baselines"), "main"), Path::new("baselines/main.json"));
/// ```
pub fn path_of(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.json"))
}

impl Provenance {
    /// Records this machine, `rustc -V`, the git commit of the working directory and the date,
    /// with the command that saves the baseline and, if known, the one that produced the results.
    ///
    /// ```
    /// let provenance = interceptor_bench::baseline::Provenance::collect("ibench baseline save x", None);
    /// assert!(provenance.machine.cores >= 1);
    /// assert!(provenance.date.ends_with('Z'));
    /// ```
    pub fn collect(command: &str, bench_command: Option<&str>) -> Provenance {
        Provenance {
            machine: Machine::current(),
            rustc: std::env::var_os("RUSTC").map_or_else(|| run("rustc", &["-V"]), |rustc| run(rustc, &["-V"])),
            commit: run("git", &["rev-parse", "HEAD"]).map(|hash| Commit {
                hash,
                dirty: run("git", &["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty()),
            }),
            date: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            command: command.to_owned(),
            bench_command: bench_command.map(str::to_owned),
        }
    }
}

impl Machine {
    /// This machine.
    ///
    /// ```
    /// let machine = interceptor_bench::baseline::Machine::current();
    /// assert!(machine.os.starts_with(std::env::consts::OS));
    /// ```
    pub fn current() -> Machine {
        let cpu = fs::read_to_string("/proc/cpuinfo").ok().and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name")?.trim_start().strip_prefix(':').map(str::trim))
                .map(str::to_owned)
        });
        let kernel =
            fs::read_to_string("/proc/sys/kernel/osrelease").map(|r| format!(" {}", r.trim())).unwrap_or_default();
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            os: format!("{} {}{kernel}", std::env::consts::OS, std::env::consts::ARCH),
        }
    }
}

/// The trimmed standard output of a successful `program args`, if any.
fn run(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

impl Baseline {
    /// A baseline named `name` of every bench in `results`, with criterion's files read from
    /// each bench's directory.
    pub fn from_results(name: &str, results: &Results, provenance: Provenance) -> Result<Baseline, BaselineError> {
        validate_name(name)?;
        let benches = results
            .iter()
            .map(|bench| {
                let [benchmark, estimates, sample, tukey] =
                    CRITERION_FILES.map(|file| read_value(&bench.dir.join(file)));
                let saved = SavedBench {
                    id: bench.id.clone(),
                    elements_per_iteration: bench.elements_per_iteration,
                    estimates: bench.estimates,
                    criterion: CriterionFiles {
                        benchmark: benchmark?,
                        estimates: estimates?,
                        sample: sample?,
                        tukey: tukey?,
                    },
                };
                Ok((bench.id.full_id(), saved))
            })
            .collect::<Result<_, BaselineError>>()?;
        let overhead = OverheadReport::new(results, DEFAULT_BUDGET)
            .ok()
            .map(|report| serde_json::to_value(report).expect("a report serializes"));
        Ok(Baseline {
            schema: SCHEMA,
            kind: KIND.to_owned(),
            name: name.to_owned(),
            provenance,
            benches,
            overhead,
            paired: Vec::new(),
            paired_runs: Vec::new(),
        })
    }

    /// A baseline named `name` of paired results alone (no criterion benches).
    pub fn from_paired(
        name: &str,
        paired: Vec<SuiteResults>,
        dir: &Path,
        provenance: Provenance,
    ) -> Result<Baseline, BaselineError> {
        validate_name(name)?;
        let baseline = Baseline {
            schema: SCHEMA,
            kind: KIND.to_owned(),
            name: name.to_owned(),
            provenance,
            benches: BTreeMap::new(),
            overhead: None,
            paired: Vec::new(),
            paired_runs: Vec::new(),
        };
        Ok(baseline.with_paired(paired, dir))
    }

    /// This baseline with `paired` results read from `dir`, whose overhead table replaces
    /// criterion's.
    pub fn with_paired(mut self, paired: Vec<SuiteResults>, dir: &Path) -> Baseline {
        if let Ok(report) = OverheadReport::from_paired(&paired, dir, DEFAULT_BUDGET) {
            self.overhead = Some(serde_json::to_value(report).expect("a report serializes"));
        }
        self.paired_runs = vec![PairedRun::of(&paired)];
        self.paired = paired;
        self
    }

    /// This baseline with one more run's paired results: its ratios join
    /// [`paired_runs`](Baseline::paired_runs); `paired` (the first run's intervals, and the
    /// overhead table) stays.
    ///
    /// ```
    /// # use interceptor_bench::baseline::Baseline;
    /// # fn more(baseline: Baseline, run: Vec<interceptor_bench::paired::SuiteResults>) {
    /// let baseline = baseline.with_run(&run);
    /// assert!(baseline.runs() >= 2);
    /// # }
    /// ```
    pub fn with_run(mut self, paired: &[SuiteResults]) -> Baseline {
        if self.paired_runs.is_empty() && !self.paired.is_empty() {
            self.paired_runs.push(PairedRun::of(&self.paired));
        }
        if self.paired.is_empty() {
            self.paired = paired.to_vec();
        }
        self.paired_runs.push(PairedRun::of(paired));
        self
    }

    /// How many runs' paired results it holds (a baseline saved before several runs could be
    /// kept holds one).
    pub fn runs(&self) -> usize {
        self.paired_runs.len().max(usize::from(!self.paired.is_empty()))
    }

    /// Every run's paired ratios: [`paired_runs`](Baseline::paired_runs), or for a baseline
    /// saved before it, the one run of `paired`.
    pub fn run_ratios(&self) -> Vec<PairedRun> {
        if self.paired_runs.is_empty() && !self.paired.is_empty() {
            vec![PairedRun::of(&self.paired)]
        } else {
            self.paired_runs.clone()
        }
    }

    /// Writes the baseline to `<dir>/<name>.json` (creating `dir`) and returns the path.
    ///
    /// The write is atomic: a temporary file in `dir` is written, flushed to disk and renamed
    /// over the target, so a crash leaves either the old file or the new one, never half a file.
    /// Without `force` an existing file is never replaced ([`BaselineError::Exists`]), even
    /// when it appears while saving.
    pub fn save(&self, dir: &Path, force: bool) -> Result<PathBuf, BaselineError> {
        validate_name(&self.name)?;
        let path = path_of(dir, &self.name);
        if !force && path.exists() {
            return Err(BaselineError::Exists { path });
        }
        let json = serde_json::to_string_pretty(self).expect("a baseline serializes") + "\n";
        write_atomically(&path, json.as_bytes(), force)?;
        Ok(path)
    }

    /// Reads the baseline at `path`, checking its schema and kind.
    ///
    /// ```
    /// use interceptor_bench::baseline::{Baseline, BaselineError};
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("main.json");
    /// assert!(matches!(Baseline::load(&path), Err(BaselineError::Missing { .. })));
    /// std::fs::write(&path, r#"{"schema": 1, "kind": "instructions"}"#).unwrap();
    /// assert!(matches!(Baseline::load(&path), Err(BaselineError::WrongKind { .. })));
    /// std::fs::write(&path, "{").unwrap();
    /// assert!(matches!(Baseline::load(&path), Err(BaselineError::Corrupt { .. })));
    /// ```
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let corrupt = |reason: String| BaselineError::Corrupt { path: path.to_owned(), reason };
        let text = match fs::read(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                return Err(BaselineError::Missing { path: path.to_owned(), name });
            }
            Err(source) => return Err(BaselineError::Io { path: path.to_owned(), source }),
        };
        let value: Value = serde_json::from_slice(&text).map_err(|e| corrupt(format!("not JSON ({e})")))?;
        match value.get("kind").and_then(Value::as_str) {
            Some(KIND) => {}
            Some(kind) => return Err(BaselineError::WrongKind { path: path.to_owned(), kind: kind.to_owned() }),
            None => return Err(corrupt("no \"kind\"".to_owned())),
        }
        match value.get("schema").and_then(Value::as_u64) {
            Some(schema) if schema == u64::from(SCHEMA) => {}
            Some(schema) => return Err(corrupt(format!("schema {schema}; this ibench reads schema {SCHEMA}"))),
            None => return Err(corrupt("no \"schema\" version".to_owned())),
        }
        let baseline: Baseline = serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))?;
        if baseline.benches.is_empty() && baseline.paired.is_empty() {
            return Err(corrupt("no benches and no paired results".to_owned()));
        }
        baseline.check_numbers().map_err(corrupt)?;
        Ok(baseline)
    }

    /// Every time a comparison divides by or subtracts: positive and finite, named by its field.
    fn check_numbers(&self) -> Result<(), String> {
        for (id, bench) in &self.benches {
            for (which, estimate) in [("mean", &bench.estimates.mean), ("median", &bench.estimates.median)] {
                let interval = &estimate.confidence_interval;
                let fields = [
                    ("point_estimate", estimate.point),
                    ("confidence_interval.lower_bound", interval.lower_bound),
                    ("confidence_interval.upper_bound", interval.upper_bound),
                ];
                if let Some((field, value)) = fields.into_iter().find(|(_, value)| !(value.is_finite() && *value > 0.0))
                {
                    return Err(format!(
                        "benches.\"{id}\".estimates.{which}.{field} is {value}, not a positive time in ns"
                    ));
                }
            }
            if bench.elements_per_iteration == Some(0) {
                return Err(format!("benches.\"{id}\".elements_per_iteration is 0"));
            }
        }
        Ok(())
    }

    /// Writes every bench's criterion files into `<criterion_dir>/<bench dir>/<as_name>/`, so
    /// that `cargo bench -- --baseline <as_name>` compares against this baseline with
    /// criterion's own statistics. Without `force`, refuses when any bench already has a
    /// criterion baseline of that name. Returns how many benches were written.
    pub fn restore(&self, criterion_dir: &Path, as_name: &str, force: bool) -> Result<usize, BaselineError> {
        validate_name(as_name)?;
        if CRITERION_RESERVED.contains(&as_name) {
            return Err(BaselineError::ReservedName(as_name.to_owned()));
        }
        let targets = self
            .benches
            .values()
            .map(|bench| Ok((bench, bench_dir(criterion_dir, bench)?.join(as_name))))
            .collect::<Result<Vec<_>, BaselineError>>()?;
        if let Some((_, dir)) = targets.iter().find(|(_, dir)| !force && dir.exists()) {
            return Err(BaselineError::Exists { path: dir.clone() });
        }
        for (bench, dir) in &targets {
            fs::create_dir_all(dir).map_err(io_error(dir))?;
            let files = &bench.criterion;
            for (file, value) in
                CRITERION_FILES.iter().zip([&files.benchmark, &files.estimates, &files.sample, &files.tukey])
            {
                let json = serde_json::to_vec(value).expect("a JSON value serializes");
                write_atomically(&dir.join(file), &json, true)?;
            }
        }
        Ok(targets.len())
    }
}

/// The bench's directory under `criterion_dir`, from criterion's `directory_name`, which must
/// stay inside it.
fn bench_dir(criterion_dir: &Path, bench: &SavedBench) -> Result<PathBuf, BaselineError> {
    let name = bench.criterion.benchmark.get("directory_name").and_then(Value::as_str).unwrap_or_default();
    let relative = Path::new(name);
    if name.is_empty() || !relative.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(BaselineError::Corrupt {
            path: PathBuf::from(bench.id.full_id()),
            reason: format!("bench directory name {name:?} is not a relative path inside criterion's directory"),
        });
    }
    Ok(criterion_dir.join(relative))
}

fn read_value(path: &Path) -> Result<Value, BaselineError> {
    let criterion = |reason: String| BaselineError::Criterion { path: path.to_owned(), reason };
    let text = fs::read(path).map_err(|e| criterion(e.to_string()))?;
    serde_json::from_slice(&text).map_err(|e| criterion(e.to_string()))
}

/// Writes `bytes` to `path` with the crate's one writer ([`atomic_file`]), creating the
/// directory first; replaces an existing file only when `replace`.
fn write_atomically(path: &Path, bytes: &[u8], replace: bool) -> Result<(), BaselineError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    atomic_file::write_atomically(path, bytes, replace).map_err(|error| match error {
        WriteError::Exists(path) => BaselineError::Exists { path },
        WriteError::Io { path, source } => BaselineError::Io { path, source },
    })
}

/// Wraps an I/O error with the path it concerns.
fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> BaselineError + '_ {
    move |source| BaselineError::Io { path: path.to_owned(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_paths_or_reserved_meaning_are_refused() {
        for good in ["reference", "main_2", "v1.2-rc"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "a\\b", "x.json", "é", "a\0b"] {
            assert!(matches!(validate_name(bad), Err(BaselineError::InvalidName(_))), "{bad:?}");
        }
    }

    #[test]
    fn atomic_writes_never_clobber_without_replace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("x.json");
        write_atomically(&path, b"one", false).unwrap();
        assert!(matches!(write_atomically(&path, b"two", false), Err(BaselineError::Exists { .. })));
        assert_eq!(fs::read(&path).unwrap(), b"one");
        write_atomically(&path, b"two", true).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let leftovers = fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
        }
    }
}
