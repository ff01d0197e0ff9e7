//! Build against build in one run (`ibench ab`): did this change make it worse, with no
//! stored timing baseline at all?
//!
//! Two builds of `ibench` — a base revision and the working tree — each run as a
//! [`worker`](super::worker) process. For every job both builds know (each catalog stack
//! in-process, the seed stacks over loopback), the driver alternates the two processes' calls
//! exactly as [`sample_pair`](super::sample_pair) alternates two services: a batch on the base,
//! two on the candidate, one on the base, and the mirror order next. Only one process runs at
//! a time (the other waits on its pipe), each times its own batch, and whatever the machine
//! does between batches hits both builds alike. The change of a job is the median per-sample
//! ratio candidate ÷ base, minus one, with its order-statistic interval; unlike a same-run
//! ratio to `baseline`, it also sees a change that slows the codec or the handler, which every
//! stack shares.
//!
//! ```no_run
//! use interceptor_bench::paired::ab::{AbOptions, Builds, compare_builds};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let builds = Builds::from_revision(std::path::Path::new("."), "HEAD~1", std::path::Path::new("target/ibench-ab"))?;
//! let report = compare_builds(&builds, &AbOptions::default())?;
//! print!("{}", report.render(interceptor_bench::overhead::Format::Table));
//! assert_eq!(report.passed(), report.regressions().next().is_none());
//! # Ok(())
//! # }
//! ```

use std::fmt::Write as _;
use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use regex::Regex;
use serde::Serialize;

use super::stats::{Estimate, whole_range_coverage};
use super::worker::HELLO;
use super::{PairSamples, Schedule, sample_pair};
use crate::baseline::compare::{Threshold, Verdict};
use crate::bench::{TimedCalls, current_thread_runtime};
use crate::overhead::{Format, format_ns, write_table};

/// Why builds could not be compared.
#[derive(Debug, thiserror::Error)]
pub enum AbError {
    /// A command (git, cargo) failed.
    #[error("{what}: {why}")]
    Command {
        /// What was being done.
        what: String,
        /// Its error or output.
        why: String,
    },
    /// A worker did not speak the protocol.
    #[error(
        "{} is no ibench ab worker ({why}); builds from before `ibench ab` existed cannot be compared this way",
        binary.display()
    )]
    NotAWorker {
        /// The binary.
        binary: PathBuf,
        /// What it said.
        why: String,
    },
    /// A worker failed while timing.
    #[error("{side} build, {job}: {why}")]
    Worker {
        /// `base` or `candidate`.
        side: &'static str,
        /// The job.
        job: String,
        /// What went wrong.
        why: String,
    },
    /// The two builds have no job in common (or the filter left none).
    #[error("the two builds have no job in common{}", filter.as_ref().map_or(String::new(), |f| format!(" matching {f:?}")))]
    NothingInCommon {
        /// The filter given.
        filter: Option<String>,
    },
}

/// The two `ibench` binaries to compare, and what they were built from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Builds {
    /// The base build's binary.
    pub base: PathBuf,
    /// What the base was built from (a commit, or the binary's path).
    pub base_label: String,
    /// The candidate build's binary.
    pub candidate: PathBuf,
    /// What the candidate was built from.
    pub candidate_label: String,
}

impl Builds {
    /// Two prebuilt binaries.
    pub fn from_binaries(base: PathBuf, candidate: PathBuf) -> Builds {
        Builds {
            base_label: base.display().to_string(),
            candidate_label: candidate.display().to_string(),
            base,
            candidate,
        }
    }

    /// Builds `ibench` (release) at `revision` of the git repository at `repo` and from its
    /// working tree, both under `work` (`<work>/src/<commit>` holds the revision's files,
    /// `<work>/target` the shared build cache, `<work>/bin` the two binaries). Cargo's own
    /// progress goes to standard error.
    pub fn from_revision(repo: &Path, revision: &str, work: &Path) -> Result<Builds, AbError> {
        // Absolute, because cargo runs in each source directory and would read a relative
        // CARGO_TARGET_DIR from there.
        let work = &std::path::absolute(work).map_err(|e| AbError::Command {
            what: format!("cannot resolve the work directory {}", work.display()),
            why: e.to_string(),
        })?;
        let commit = git(repo, &["rev-parse", "--verify", &format!("{revision}^{{commit}}")])
            .map_err(|why| AbError::Command { what: format!("cannot resolve revision {revision:?}"), why })?;
        let root = git(repo, &["rev-parse", "--show-toplevel"])
            .map_err(|why| AbError::Command { what: format!("{} is not a git checkout", repo.display()), why })?;
        let source = work.join("src").join(&commit);
        if !source.join("Cargo.toml").exists() {
            export_revision(Path::new(&root), &commit, &source)?;
        }
        let bin = work.join("bin");
        let base = build(&source, work, &bin.join(format!("ibench-{}", &commit[..12])))?;
        let candidate = build(Path::new(&root), work, &bin.join("ibench-worktree"))?;
        let short = &commit[..12];
        Ok(Builds {
            base,
            base_label: format!("{revision} ({short})"),
            candidate,
            candidate_label: "working tree".into(),
        })
    }
}

fn git(repo: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new("git").arg("-C").arg(repo).args(args).output().map_err(|e| format!("git: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

/// The files of `commit` into `dest` (`git archive | tar -x`), written to a temporary
/// directory first so that a failed export leaves nothing half done.
fn export_revision(root: &Path, commit: &str, dest: &Path) -> Result<(), AbError> {
    let failed = |why: String| AbError::Command { what: format!("cannot export {commit} to {}", dest.display()), why };
    let parent = dest.parent().expect("a source directory has a parent");
    fs::create_dir_all(parent).map_err(|e| failed(e.to_string()))?;
    let staging = tempfile::tempdir_in(parent).map_err(|e| failed(e.to_string()))?;
    let mut archive = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["archive", "--format=tar", commit])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| failed(format!("git: {e}")))?;
    let unpacked = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(staging.path())
        .stdin(archive.stdout.take().expect("piped"))
        .status()
        .map_err(|e| failed(format!("tar: {e}")))?;
    let archived = archive.wait().map_err(|e| failed(e.to_string()))?;
    if !archived.success() || !unpacked.success() {
        return Err(failed(format!("git archive {archived}, tar {unpacked}")));
    }
    fs::rename(staging.keep(), dest).map_err(|e| failed(e.to_string()))
}

/// What both builds are compiled with, beside the user's own `RUSTFLAGS`: every function aligned
/// to 64 bytes, so that a change in one function does not shift where the others' code falls
/// against cache lines and the decoder's windows. Without it, a commit that only made
/// `fallback` slower also made `serializer` 4–5% slower in 5 of 5 `ibench ab` runs here; with
/// it, in none (docs/gate.md).
pub const ALIGNED_LAYOUT: &str = "-C llvm-args=-align-all-functions=6";

/// The user's `RUSTFLAGS`, if any, and [`ALIGNED_LAYOUT`].
fn with_aligned_layout(user: Option<String>) -> String {
    match user {
        Some(flags) if !flags.trim().is_empty() => format!("{flags} {ALIGNED_LAYOUT}"),
        _ => ALIGNED_LAYOUT.to_owned(),
    }
}

/// `cargo build --release --locked --bin ibench` in `source` with the shared target
/// directory under `work`, after cleaning the root package's artifacts there; the binary is
/// copied to `dest`, as the next build overwrites it.
///
/// The clean is what makes the binary `source`'s. To cargo both sides are one package with
/// one fingerprint, and freshness is judged by file times: the exported revision's files
/// carry its commit time, the working tree's may predate the other side's last build. Without
/// the clean cargo called the package fresh and handed back the other side's binary, byte for
/// byte, so that every comparison was the same build twice. Dependencies stay cached.
fn build(source: &Path, work: &Path, dest: &Path) -> Result<PathBuf, AbError> {
    let failed = |why: String| AbError::Command { what: format!("cannot build {}", source.display()), why };
    let target = work.join("target");
    let rustflags = with_aligned_layout(std::env::var("RUSTFLAGS").ok());
    let cargo = |args: &[&str]| {
        let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        command.args(args).current_dir(source).env("CARGO_TARGET_DIR", &target).env("RUSTFLAGS", &rustflags);
        command
    };
    eprintln!("ibench ab: building {}", source.display());
    let pkgid = cargo(&["pkgid", "--locked"]).output().map_err(|e| failed(format!("cargo: {e}")))?;
    if !pkgid.status.success() {
        return Err(failed(format!("cargo pkgid: {}", String::from_utf8_lossy(&pkgid.stderr).trim())));
    }
    let pkgid = String::from_utf8_lossy(&pkgid.stdout).trim().to_owned();
    let package = package_name(&pkgid).ok_or_else(|| failed(format!("cargo pkgid printed {pkgid:?}")))?;
    for (step, args) in [
        ("clean", ["clean", "--release", "--package", package].as_slice()),
        ("build", &["build", "--release", "--locked", "--bin", "ibench"]),
    ] {
        let status = cargo(args).stdout(Stdio::null()).status().map_err(|e| failed(format!("cargo: {e}")))?;
        if !status.success() {
            return Err(failed(format!("cargo {step} exited {status}")));
        }
    }
    fs::create_dir_all(dest.parent().expect("a binary has a directory")).map_err(|e| failed(e.to_string()))?;
    fs::copy(target.join("release").join("ibench"), dest).map_err(|e| failed(e.to_string()))?;
    Ok(dest.to_owned())
}

/// The package name in a `cargo pkgid` spec: `path+file:///src/x#name@1.0`, or
/// `path+file:///src/name#1.0` when the name is the directory's.
fn package_name(pkgid: &str) -> Option<&str> {
    let (url, fragment) = pkgid.rsplit_once('#')?;
    let name = match fragment.split_once('@') {
        Some((name, _version)) => name,
        None => url.rsplit('/').next()?,
    };
    (!name.is_empty()).then_some(name)
}

/// A running worker process.
struct Worker {
    side: &'static str,
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    jobs: Vec<String>,
}

impl Worker {
    fn spawn(side: &'static str, binary: &Path) -> Result<Worker, AbError> {
        let not_a_worker = |why: String| AbError::NotAWorker { binary: binary.to_owned(), why };
        let mut child = Command::new(binary)
            .arg("ab-worker")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| not_a_worker(e.to_string()))?;
        let input = child.stdin.take().expect("piped");
        let output = BufReader::new(child.stdout.take().expect("piped"));
        let mut worker = Worker { side, child, input, output, jobs: Vec::new() };
        let hello = worker.read_line().map_err(|e| not_a_worker(e.to_string()))?;
        if hello != HELLO {
            return Err(not_a_worker(format!("it answered {hello:?}")));
        }
        loop {
            let line = worker.read_line().map_err(|e| not_a_worker(e.to_string()))?;
            match line.strip_prefix("job ") {
                Some(job) => worker.jobs.push(job.to_owned()),
                None if line == "ready" => return Ok(worker),
                None => return Err(not_a_worker(format!("unexpected line {line:?}"))),
            }
        }
    }

    fn read_line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.output.read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the worker exited"));
        }
        Ok(line.trim_end().to_owned())
    }

    fn time(&mut self, job: &str, n: u64) -> Result<Duration, AbError> {
        let side = self.side;
        let failed = |why: String| AbError::Worker { side, job: job.to_owned(), why };
        writeln!(self.input, "time {job} {n}").and_then(|()| self.input.flush()).map_err(|e| failed(e.to_string()))?;
        let line = self.read_line().map_err(|e| failed(e.to_string()))?;
        match line.strip_prefix("ok ").map(str::parse::<u64>) {
            Some(Ok(ns)) => Ok(Duration::from_nanos(ns)),
            _ => Err(failed(line.strip_prefix("error ").unwrap_or(&line).to_owned())),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = writeln!(self.input, "quit");
        let _ = self.input.flush();
        let _ = self.child.wait();
    }
}

/// One job of one worker as [`TimedCalls`]; the first failure is kept (and ends sampling
/// early by answering zero time, which the sampler's bounds stop) for the driver to report.
struct WorkerCalls<'a> {
    worker: &'a mut Worker,
    job: &'a str,
    failure: Option<AbError>,
}

impl TimedCalls for WorkerCalls<'_> {
    async fn time(&mut self, n: u64) -> Duration {
        if self.failure.is_some() {
            return Duration::ZERO;
        }
        self.worker.time(self.job, n).unwrap_or_else(|error| {
            self.failure = Some(error);
            Duration::ZERO
        })
    }
}

/// How to compare two builds.
#[derive(Debug, Clone, Serialize)]
pub struct AbOptions {
    /// The smallest change that counts.
    pub threshold: Threshold,
    /// How each job is sampled.
    pub schedule: Schedule,
    /// Only the jobs whose id matches.
    #[serde(serialize_with = "serialize_regex")]
    pub filter: Option<Regex>,
    /// The confidence level of the intervals.
    pub confidence: f64,
    /// How many rounds, each with a fresh pair of worker processes, share each job's time.
    pub rounds: usize,
}

/// Rounds unless told: each a fresh pair of worker processes.
pub const DEFAULT_ROUNDS: usize = 10;

impl Default for AbOptions {
    /// 3%, 1 s per job over 10 rounds, every job, 95%.
    fn default() -> Self {
        AbOptions {
            threshold: "3%".parse().expect("a valid threshold"),
            schedule: Schedule::default().time(Duration::from_secs(1)),
            filter: None,
            confidence: 0.95,
            rounds: DEFAULT_ROUNDS,
        }
    }
}

fn serialize_regex<S: serde::Serializer>(regex: &Option<Regex>, serializer: S) -> Result<S::Ok, S::Error> {
    match regex {
        Some(regex) => serializer.serialize_str(regex.as_str()),
        None => serializer.serialize_none(),
    }
}

/// One job, base against candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobComparison {
    /// The job, e.g. `in_process/logger/unary`.
    pub id: String,
    /// Samples taken.
    pub samples: usize,
    /// The base build's median nanoseconds per call.
    pub base_ns: Estimate,
    /// The candidate build's median nanoseconds per call.
    pub candidate_ns: Estimate,
    /// The change candidate ÷ base, minus one: the median over the rounds of each round's
    /// median per-sample ratio, with its order-statistic interval over the rounds. With fewer
    /// than 6 rounds that is their whole range, which holds the median with less than 95%
    /// confidence (75% for 3 rounds; `ibench ab` says so).
    pub change: Estimate,
    /// Each round's median per-sample ratio candidate ÷ base, minus one.
    pub rounds: Vec<f64>,
    /// The smallest change this run could have flagged at the threshold: the threshold plus
    /// the interval's half-width.
    pub detectable: f64,
    /// The verdict.
    pub verdict: Verdict,
}

/// Two builds compared, job by job.
#[derive(Debug, Clone, Serialize)]
pub struct AbReport {
    /// The builds.
    pub builds: Builds,
    /// How they were compared.
    pub options: AbOptions,
    /// Each job both builds have.
    pub jobs: Vec<JobComparison>,
    /// Jobs only the base has (not judged).
    pub only_base: Vec<String>,
    /// Jobs only the candidate has (not judged).
    pub only_candidate: Vec<String>,
}

/// Runs both builds' workers and compares every job they share (and the filter selects),
/// printing each job's line to standard error as it finishes.
///
/// The time of each job is spread over [`AbOptions::rounds`] rounds, and every round starts a
/// fresh pair of worker processes: a process's memory layout (where its heap and stack
/// landed) moves its timings by several percent here, which alternating batches cannot
/// cancel, so one pair of processes would report that as a change. Each round's ratio is one
/// replicate, and the change is their median with an interval over the rounds, an interval
/// that covers what a new pair of processes does.
pub fn compare_builds(builds: &Builds, options: &AbOptions) -> Result<AbReport, AbError> {
    let rounds = options.rounds.max(1);
    let coverage = whole_range_coverage(rounds);
    if coverage < options.confidence {
        eprintln!(
            "ibench ab: with {rounds} rounds a change's interval is their whole range, which holds the median with \
             {:.0}% confidence, not {:.0}%: use 6 rounds or more for that",
            coverage * 100.0,
            options.confidence * 100.0
        );
    }
    let schedule = Schedule {
        time: options.schedule.time / rounds as u32,
        warm_up: options.schedule.warm_up / rounds as u32,
        ..options.schedule
    };
    let runtime = current_thread_runtime();
    let selected = |job: &String| options.filter.as_ref().is_none_or(|f| f.is_match(job));
    let spawn =
        || Ok::<_, AbError>((Worker::spawn("base", &builds.base)?, Worker::spawn("candidate", &builds.candidate)?));
    // The first round's workers say which jobs both builds know.
    let (base, candidate) = spawn()?;
    let shared: Vec<String> =
        base.jobs.iter().filter(|job| candidate.jobs.contains(job) && selected(job)).cloned().collect();
    if shared.is_empty() {
        return Err(AbError::NothingInCommon { filter: options.filter.as_ref().map(|f| f.as_str().to_owned()) });
    }
    let only = |a: &Worker, b: &Worker| -> Vec<String> {
        a.jobs.iter().filter(|job| !b.jobs.contains(job) && selected(job)).cloned().collect()
    };
    let (only_base, only_candidate) = (only(&base, &candidate), only(&candidate, &base));
    let mut first = Some((base, candidate));
    let mut sampled: Vec<(PairSamples, Vec<f64>)> =
        shared.iter().map(|_| (PairSamples::default(), Vec::new())).collect();
    for round in 1..=rounds {
        let (mut base, mut candidate) = match first.take() {
            Some(workers) => workers,
            None => spawn()?,
        };
        for (job, (pooled, ratios)) in shared.iter().zip(&mut sampled) {
            let mut a = WorkerCalls { worker: &mut base, job, failure: None };
            let mut b = WorkerCalls { worker: &mut candidate, job, failure: None };
            // One call each first: a job that fails says so before any sampling.
            runtime.block_on(async {
                a.time(1).await;
                b.time(1).await;
            });
            let samples = runtime.block_on(sample_pair(&mut a, &mut b, &schedule));
            if let Some(failure) = a.failure.or(b.failure) {
                return Err(failure);
            }
            let estimate = samples.estimate(options.confidence).expect("a job takes at least one sample");
            ratios.push(estimate.ratio.point - 1.0);
            pooled.absorb(samples);
        }
        eprintln!("ibench ab: round {round} of {rounds} done ({} jobs)", shared.len());
    }
    let threshold = options.threshold.fraction();
    let mut jobs = Vec::new();
    for (done, (job, (pooled, rounds))) in shared.iter().zip(sampled).enumerate() {
        let estimate = pooled.estimate(options.confidence).expect("a job takes at least one sample");
        let change = Estimate::median(&rounds, options.confidence).unwrap_or(Estimate {
            point: estimate.ratio.point - 1.0,
            lower: estimate.ratio.lower - 1.0,
            upper: estimate.ratio.upper - 1.0,
        });
        let verdict = if change.lower > threshold {
            Verdict::Regressed
        } else if change.upper < -threshold {
            Verdict::Improved
        } else {
            Verdict::Unchanged
        };
        let comparison = JobComparison {
            id: job.clone(),
            samples: estimate.samples,
            base_ns: estimate.reference_ns,
            candidate_ns: estimate.candidate_ns,
            detectable: threshold + (change.upper - change.lower) / 2.0,
            change,
            rounds,
            verdict,
        };
        eprintln!("ibench ab [{}/{}] {}", done + 1, shared.len(), comparison.line());
        jobs.push(comparison);
    }
    Ok(AbReport { builds: builds.clone(), options: options.clone(), jobs, only_base, only_candidate })
}

impl JobComparison {
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            format_ns(self.base_ns.point),
            format_ns(self.candidate_ns.point),
            format_change(&self.change),
            format!("±{:.1}% → {:.1}%", (self.change.upper - self.change.lower) * 50.0, self.detectable * 100.0),
            self.verdict.as_str().to_owned(),
        ]
    }

    fn line(&self) -> String {
        let cells = self.cells();
        format!("{}: {} → {}, {} ({})", cells[0], cells[1], cells[2], cells[3], cells[5])
    }
}

fn format_change(change: &Estimate) -> String {
    let percent = |fraction: f64| format!("{:+.1}%", fraction * 100.0);
    format!("{} [{}, {}]", percent(change.point), percent(change.lower), percent(change.upper))
}

impl AbReport {
    /// The jobs that regressed.
    pub fn regressions(&self) -> impl Iterator<Item = &JobComparison> {
        self.jobs.iter().filter(|job| job.verdict == Verdict::Regressed)
    }

    /// True when no job regressed.
    pub fn passed(&self) -> bool {
        self.regressions().next().is_none()
    }

    /// One line: `PASS`, or `FAIL` with the regressed jobs.
    pub fn summary(&self) -> String {
        let regressed: Vec<&str> = self.regressions().map(|job| job.id.as_str()).collect();
        if regressed.is_empty() {
            "PASS: no job regressed".to_owned()
        } else {
            format!("FAIL: regressed: {}", regressed.join(", "))
        }
    }

    /// The report in `format`, ending with a newline.
    pub fn render(&self, format: Format) -> String {
        if format == Format::Json {
            return serde_json::to_string_pretty(self).expect("a report serializes") + "\n";
        }
        let markdown = format == Format::Markdown;
        let heading = if markdown { "### " } else { "" };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{heading}Build against build: {} (base) vs {} (candidate)\n",
            self.builds.base_label, self.builds.candidate_label
        );
        let _ = writeln!(
            out,
            "Change = median per-sample ratio candidate/base - 1, the two builds' calls alternated in time; \
             [interval] holds it with {:.0}% confidence. Regressed = the whole interval above +{}. \
             Resolution: the interval's half-width, and the smallest change this run could flag.\n",
            self.options.confidence * 100.0,
            self.options.threshold
        );
        let header = ["job", "base", "candidate", "change", "resolution → detectable", "verdict"];
        let rows: Vec<Vec<String>> = self.jobs.iter().map(JobComparison::cells).collect();
        write_table(&mut out, &header, &rows, markdown);
        for (what, jobs) in [("Only in the base", &self.only_base), ("Only in the candidate", &self.only_candidate)] {
            if !jobs.is_empty() {
                let _ = writeln!(out, "\n{what} (not judged): {}", jobs.join(", "));
            }
        }
        let _ = writeln!(out, "\n{heading}{}", self.summary());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_builds_get_aligned_functions_beside_the_users_flags() {
        assert_eq!(with_aligned_layout(None), ALIGNED_LAYOUT);
        assert_eq!(with_aligned_layout(Some(" ".into())), ALIGNED_LAYOUT);
        assert_eq!(
            with_aligned_layout(Some("-C target-cpu=native".into())),
            format!("-C target-cpu=native {ALIGNED_LAYOUT}")
        );
    }

    #[test]
    fn the_package_name_comes_from_either_pkgid_form() {
        assert_eq!(package_name("path+file:///work/main#interceptor-bench@0.1.0"), Some("interceptor-bench"));
        assert_eq!(package_name("path+file:///work/interceptor-bench#0.1.0"), Some("interceptor-bench"));
        assert_eq!(package_name("no fragment"), None);
        assert_eq!(package_name("path+file:///work/#0.1.0"), None);
    }
}
