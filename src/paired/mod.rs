//! Paired measurement: what a stack costs over its reference, measured side by side,
//! interleaved in time, so that whatever the machine does hits both sides alike.
//!
//! Two benches timed seconds apart do not share the machine's state: on a shared 2-core machine
//! one bench's median moves ±30% between runs, so "stack median − baseline median" inherits
//! that drift and criterion's per-bench intervals do not cover it. Here the two services of a
//! pair (the *reference*, e.g. `baseline`, and the *candidate*, e.g. `logger`) run alternately
//! within every sample — a batch of `k` calls of each, in the order A B B A (the next sample
//! B A A B), so that a drift linear over the sample cancels exactly — and each sample keeps
//! the two per-call times. The estimates come from the per-sample differences and ratios:
//! their median with a distribution-free order-statistic interval ([`stats`]).
//!
//! ```
//! use interceptor_bench::bench::{ServiceCalls, floor};
//! use interceptor_bench::paired::{PairSamples, Schedule, sample_pair};
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let (mut a, mut b) = (ServiceCalls::rpc(floor()), ServiceCalls::rpc(floor()));
//! let samples: PairSamples = sample_pair(&mut a, &mut b, &Schedule::quick()).await;
//! let estimate = samples.estimate(0.95).unwrap();
//! assert!(estimate.ratio.lower <= estimate.ratio.upper);
//! # });
//! ```
//!
//! # What an interval means
//!
//! The interval of a pair holds the median per-sample difference (or ratio) *of this run* with
//! the stated confidence: it covers the noise between the two sides while they share the
//! machine. It does not cover a different machine state in another run — the machine here ran
//! the same baseline at 209–410 ns per call in different runs — so compare runs by the
//! *ratio* candidate/reference, which a uniformly slower machine leaves alone, and leave room
//! for what differs between runs (the gate's threshold, see [`crate::baseline::compare`]).
//!
//! [`PairedBench`] runs pairs under `cargo bench` and writes one [`SuiteResults`] file per
//! suite to [`paired_dir`] (`target/criterion/ibench-paired`); `ibench overhead` and
//! `ibench compare` read them.

pub mod ab;
mod bench;
pub mod stats;
pub mod worker;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use bench::{PairedBench, run_rounds};
use stats::Estimate;

use crate::bench::{Depth, TimedCalls};

/// The schema of a paired results file.
pub const SCHEMA: &str = "ibench.paired/v1";

/// How a pair is sampled.
///
/// ```
/// use std::time::Duration;
/// use interceptor_bench::paired::Schedule;
/// let schedule = Schedule::default().time(Duration::from_millis(500));
/// assert_eq!(schedule.time, Duration::from_millis(500));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// How long to sample one pair (both sides together), after the warm-up.
    #[serde(with = "humantime_serde_duration")]
    pub time: Duration,
    /// How long both sides run alternately, unrecorded, before sampling.
    #[serde(with = "humantime_serde_duration")]
    pub warm_up: Duration,
    /// How long one side's batch of calls should take; sets the calls per batch.
    #[serde(with = "humantime_serde_duration")]
    pub batch_time: Duration,
    /// Sampling stops at this many samples, whatever the time.
    pub max_samples: usize,
}

impl Default for Schedule {
    /// 1.5 s per pair after 100 ms of warm-up, batches of about 100 µs, at most 4,000 samples.
    fn default() -> Self {
        Schedule {
            time: Duration::from_millis(1500),
            warm_up: Duration::from_millis(100),
            batch_time: Duration::from_micros(100),
            max_samples: 4_000,
        }
    }
}

impl Schedule {
    /// A few samples of each pair: what `cargo test --benches` runs, to prove every pair works.
    pub fn quick() -> Self {
        Schedule {
            time: Duration::from_millis(10),
            warm_up: Duration::from_millis(2),
            batch_time: Duration::from_micros(20),
            max_samples: 20,
        }
    }

    /// This schedule sampling each pair for `time`.
    pub fn time(mut self, time: Duration) -> Self {
        self.time = time;
        self
    }
}

/// The samples of one pair: per-call times of both sides, one entry per sample.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PairSamples {
    /// Calls per batch (each sample is two batches of each side).
    pub batch: u64,
    /// The reference's nanoseconds per call, per sample.
    pub reference_ns: Vec<f64>,
    /// The candidate's nanoseconds per call, per sample.
    pub candidate_ns: Vec<f64>,
}

/// What one pair measured: both sides' per-call medians, and the median per-sample
/// difference and ratio, each with its interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PairEstimate {
    /// Samples taken.
    pub samples: usize,
    /// The reference's median nanoseconds per call.
    pub reference_ns: Estimate,
    /// The candidate's median nanoseconds per call.
    pub candidate_ns: Estimate,
    /// Candidate minus reference, nanoseconds per call: the overhead.
    pub difference_ns: Estimate,
    /// Candidate ÷ reference.
    pub ratio: Estimate,
}

impl PairSamples {
    /// Adds another round's samples of the same pair (the batch is the larger of the two).
    ///
    /// ```
    /// use interceptor_bench::paired::PairSamples;
    /// let mut pooled = PairSamples::default();
    /// pooled.absorb(PairSamples { batch: 64, reference_ns: vec![100.0], candidate_ns: vec![120.0] });
    /// pooled.absorb(PairSamples { batch: 32, reference_ns: vec![90.0], candidate_ns: vec![110.0] });
    /// assert_eq!((pooled.batch, pooled.reference_ns.len()), (64, 2));
    /// ```
    pub fn absorb(&mut self, round: PairSamples) {
        self.batch = self.batch.max(round.batch);
        self.reference_ns.extend(round.reference_ns);
        self.candidate_ns.extend(round.candidate_ns);
    }

    /// The estimates at `confidence`; `None` without samples.
    pub fn estimate(&self, confidence: f64) -> Option<PairEstimate> {
        let paired = || self.reference_ns.iter().zip(&self.candidate_ns);
        let differences: Vec<f64> = paired().map(|(a, b)| b - a).collect();
        let ratios: Vec<f64> = paired().map(|(a, b)| b / a).collect();
        Some(PairEstimate {
            samples: differences.len(),
            reference_ns: Estimate::median(&self.reference_ns, confidence)?,
            candidate_ns: Estimate::median(&self.candidate_ns, confidence)?,
            difference_ns: Estimate::median(&differences, confidence)?,
            ratio: Estimate::median(&ratios, confidence)?,
        })
    }
}

/// Samples `reference` and `candidate` interleaved: after a warm-up that also sets the batch
/// size, every sample times a batch of each side twice, in the order reference, candidate,
/// candidate, reference (the next sample the mirror order), until the schedule's time or its
/// sample cap is reached.
pub async fn sample_pair<A: TimedCalls, B: TimedCalls>(
    reference: &mut A,
    candidate: &mut B,
    schedule: &Schedule,
) -> PairSamples {
    let batch = calibrate(reference, candidate, schedule).await;
    let mut samples = PairSamples { batch, reference_ns: Vec::new(), candidate_ns: Vec::new() };
    let per_call = |elapsed: Duration| elapsed.as_nanos() as f64 / (2 * batch) as f64;
    let started = Instant::now();
    while samples.reference_ns.len() < schedule.max_samples.max(1)
        && (samples.reference_ns.is_empty() || started.elapsed() < schedule.time)
    {
        let (a, b) = if samples.reference_ns.len() % 2 == 0 {
            let a1 = reference.time(batch).await;
            let b1 = candidate.time(batch).await;
            let b2 = candidate.time(batch).await;
            (a1 + reference.time(batch).await, b1 + b2)
        } else {
            let b1 = candidate.time(batch).await;
            let a1 = reference.time(batch).await;
            let a2 = reference.time(batch).await;
            (a1 + a2, b1 + candidate.time(batch).await)
        };
        samples.reference_ns.push(per_call(a));
        samples.candidate_ns.push(per_call(b));
    }
    samples
}

/// Warms both sides up alternately and returns the calls per batch that make an average
/// batch last about `schedule.batch_time` (at least 1, at most 4,096).
async fn calibrate<A: TimedCalls, B: TimedCalls>(reference: &mut A, candidate: &mut B, schedule: &Schedule) -> u64 {
    const MAX_BATCH: u64 = 4_096;
    let started = Instant::now();
    let mut n = 1;
    let (mut calls, mut spent) = (0u64, Duration::ZERO);
    loop {
        spent += reference.time(n).await + candidate.time(n).await;
        calls += 2 * n;
        let warmed = started.elapsed() >= schedule.warm_up;
        let measured = spent >= schedule.batch_time * 4;
        if (warmed && measured) || n >= MAX_BATCH {
            break;
        }
        if !measured {
            n = (n * 2).min(MAX_BATCH);
        }
    }
    let per_call = spent.as_nanos() as f64 / calls as f64;
    ((schedule.batch_time.as_nanos() as f64 / per_call.max(1.0)).round() as u64).clamp(1, MAX_BATCH)
}

/// One pair's result, as a results file stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairResult {
    /// How deep the calls went.
    pub depth: Depth,
    /// The variant: `unary` in-process, `http1_seq` over loopback.
    pub variant: String,
    /// The reference side, e.g. `baseline` or `chain/2`.
    pub reference: String,
    /// The candidate side, e.g. `logger` or `chain/3`.
    pub candidate: String,
    /// Calls per batch.
    pub batch: u64,
    /// The estimates.
    #[serde(flatten)]
    pub estimate: PairEstimate,
    /// When the pair was measured (RFC 3339).
    pub measured: String,
}

impl PairResult {
    /// The candidate's criterion-style id in `suite`, e.g. `in_process/logger/unary` or
    /// `my_layer/loopback/my_layer/http1_seq`.
    pub fn id(&self, suite: &str) -> String {
        format!("{}/{}/{}", self.depth.group(suite), self.candidate, self.variant)
    }

    /// The reference's id in `suite`, built like [`PairResult::id`].
    pub fn reference_id(&self, suite: &str) -> String {
        format!("{}/{}/{}", self.depth.group(suite), self.reference, self.variant)
    }
}

/// One suite's paired results: what `cargo bench` wrote to `<paired dir>/<suite>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteResults {
    /// [`SCHEMA`].
    pub schema: String,
    /// The suite; empty for the catalog.
    pub suite: String,
    /// The confidence level of every interval.
    pub confidence: f64,
    /// How each pair was sampled.
    pub schedule: Schedule,
    /// The pairs, in the order they ran.
    pub pairs: Vec<PairResult>,
}

/// A paired results file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum PairedError {
    /// No results at all.
    #[error("no paired results in {}: run `cargo bench --bench paired` (or your own bench_layer bench) first", dir.display())]
    NoResults {
        /// The directory read.
        dir: PathBuf,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A file is not a paired results file of this schema.
    #[error("{}: not an {SCHEMA} file: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Where paired results go: the folder `ibench-paired` of criterion's results directory
/// `criterion_dir` (see [`crate::results::criterion_dir`]), so that everything one
/// `cargo bench` measured lives in one place and `--criterion-dir` points at both.
///
/// ```
/// use std::path::Path;
/// let dir = interceptor_bench::paired::paired_dir(Path::new("target/criterion"));
/// assert_eq!(dir, Path::new("target/criterion/ibench-paired"));
/// ```
pub fn paired_dir(criterion_dir: &Path) -> PathBuf {
    criterion_dir.join("ibench-paired")
}

impl SuiteResults {
    /// The file of `suite` in `dir`: `catalog.json` for the catalog, else the suite with `/`
    /// as `_`.
    pub fn path(dir: &Path, suite: &str) -> PathBuf {
        let stem = if suite.is_empty() { "catalog".to_owned() } else { suite.replace(['/', '\\'], "_") };
        dir.join(format!("{stem}.json"))
    }

    /// Reads one file.
    pub fn read(path: &Path) -> Result<SuiteResults, PairedError> {
        let text = fs::read_to_string(path).map_err(|source| PairedError::Io { path: path.to_owned(), source })?;
        let invalid = |reason: String| PairedError::Invalid { path: path.to_owned(), reason };
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        if value.get("schema").and_then(|s| s.as_str()) != Some(SCHEMA) {
            return Err(invalid(format!("its schema is {}", value.get("schema").unwrap_or(&serde_json::Value::Null))));
        }
        serde_json::from_value(value).map_err(|e| invalid(e.to_string()))
    }

    /// Every suite's results in `dir`, the catalog first.
    pub fn read_dir(dir: &Path) -> Result<Vec<SuiteResults>, PairedError> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(PairedError::NoResults { dir: dir.to_owned() });
            }
            Err(source) => return Err(PairedError::Io { path: dir.to_owned(), source }),
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        let mut suites = paths.iter().map(|path| SuiteResults::read(path)).collect::<Result<Vec<_>, _>>()?;
        if suites.is_empty() {
            return Err(PairedError::NoResults { dir: dir.to_owned() });
        }
        suites.sort_by(|a, b| (!a.suite.is_empty(), &a.suite).cmp(&(!b.suite.is_empty(), &b.suite)));
        Ok(suites)
    }

    /// Writes the file of this suite into `dir`, atomically (a temporary file renamed over
    /// it), merged with what is there: a pair measured again replaces its old result, other
    /// pairs stay, so a filtered `cargo bench` refreshes just its pairs.
    pub fn write_merged(&self, dir: &Path) -> Result<PathBuf, PairedError> {
        let path = SuiteResults::path(dir, &self.suite);
        fn io_error(path: &Path) -> impl FnOnce(io::Error) -> PairedError + '_ {
            move |source| PairedError::Io { path: path.to_owned(), source }
        }
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        let mut merged = match SuiteResults::read(&path) {
            Ok(old) if old.suite == self.suite => old,
            _ => SuiteResults { pairs: Vec::new(), ..self.clone() },
        };
        merged.confidence = self.confidence;
        merged.schedule = self.schedule;
        for pair in &self.pairs {
            let same = |old: &PairResult| {
                (old.depth, &old.variant, &old.reference, &old.candidate)
                    == (pair.depth, &pair.variant, &pair.reference, &pair.candidate)
            };
            match merged.pairs.iter_mut().find(|old| same(old)) {
                Some(old) => *old = pair.clone(),
                None => merged.pairs.push(pair.clone()),
            }
        }
        let json = serde_json::to_vec_pretty(&merged).expect("paired results serialize");
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io_error(dir))?;
        io::Write::write_all(&mut file, &json).map_err(io_error(&path))?;
        file.persist(&path).map_err(|e| PairedError::Io { path: path.clone(), source: e.error })?;
        Ok(path)
    }
}

/// Durations as humantime strings (`"1s 500ms"`) in the results file.
mod humantime_serde_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(*duration).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
