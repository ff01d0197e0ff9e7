//! [`PairedBench`]: paired measurements of one suite under `cargo bench`, written to
//! [`paired_dir`](super::paired_dir) for `ibench overhead` and `ibench compare`.

use std::fmt::Debug;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use regex::Regex;
use tokio::runtime::Runtime;
use tower::util::MapRequestLayer;
use tower::{Layer, Service};

use super::{PairResult, PairSamples, PairedError, SCHEMA, Schedule, SuiteResults, sample_pair};
use crate::bench::{
    BARE_HYPER, BASELINE, BenchedHttpService, Depth, FLOOR, RoundTrips, ServiceCalls, TimedCalls, bare_hyper,
    current_thread_runtime, floor,
};
use crate::greeter::Greeter;
use crate::overhead::format_ns;
use crate::rpc::{RpcRequest, RpcResponse};
use crate::server::BackgroundServer;
use crate::stack::{BoxRpcService, Interceptors, Stack, catalog, cumulative_chain, seed_stacks};

/// The confidence level of every paired interval.
pub const CONFIDENCE: f64 = 0.95;

/// What the bench binary was asked to do, from its command line.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// `cargo bench`: measure and write the results.
    Measure,
    /// `cargo test --benches` (no `--bench` flag): run every pair briefly, write nothing.
    Test,
    /// `--list`: print the pairs' ids.
    List,
    /// `--profile-time`: criterion is profiling; paired measurement stays out of its way.
    Skip,
}

/// One suite's paired measurements: each pair is a reference and a candidate measured
/// interleaved in time (see [`crate::paired`]); [`finish`](PairedBench::finish) writes them.
///
/// It reads the bench binary's command line as criterion does: `cargo bench` measures,
/// `cargo test --benches` runs each pair a few times without writing, a free argument is a
/// regex selecting pairs by the candidate's id (`cargo bench -- logger`), `--list` lists them,
/// and `--profile-time` (criterion's flamegraphs) skips the paired runs. `--paired-time 3s`
/// (or `IBENCH_PAIRED_TIME=3s`) sets the sampling time per pair (default 1.5 s), spread over
/// `--paired-rounds` rounds (default 5, see [`rounds`](PairedBench::rounds)).
///
/// `--inject STACK=DURATION` (e.g. `fallback=50ns`) is the gate's self-test: it makes every
/// call of the catalog stack `STACK` busy-wait `DURATION` first, and adds the pair
/// `injected_spin` (the spin alone over `baseline`) so the run also measures what it injected.
/// Compare such a run with a baseline of a clean run to see whether the gate flags a
/// regression of that size on your machine, and nothing else.
///
/// ```no_run
/// use interceptor_bench::bench::{BASELINE, floor};
/// use interceptor_bench::greeter::Greeter;
/// use interceptor_bench::paired::PairedBench;
/// use interceptor_bench::stack::{Interceptors, find};
///
/// let mut paired = PairedBench::new("my_suite");
/// let service = |name: &str| find(name).unwrap().service(&Interceptors::default(), Greeter::new());
/// paired.rpc(BASELINE, service(BASELINE), "logger", service("logger"));
/// paired.finish().unwrap(); // target/criterion/ibench-paired/my_suite.json
/// ```
pub struct PairedBench {
    suite: String,
    runtime: Runtime,
    schedule: Schedule,
    mode: Mode,
    filter: Option<Regex>,
    collected: Vec<((Depth, String, String), PairSamples)>,
    rounds: usize,
    out_dir: PathBuf,
    /// The stack to slow down and by how many spins per call.
    inject: Option<(String, u64)>,
    /// In a process measuring one round for [`run_rounds`]: where its samples go.
    round_samples: Option<PathBuf>,
}

/// Set in a process that measures one round for [`run_rounds`]: `ROUND/ROUNDS`.
const ROUND_ENV: &str = "IBENCH_PAIRED_ROUND";
/// The directory where that process leaves its samples, one file per suite.
const SAMPLES_ENV: &str = "IBENCH_PAIRED_SAMPLES";

/// One pair's samples from one round, as a round's process leaves them for its parent.
#[derive(serde::Serialize, serde::Deserialize)]
struct RoundSamples {
    depth: Depth,
    reference: String,
    candidate: String,
    samples: PairSamples,
}

/// Runs a paired bench binary: `round` measures every pair of the suites named `suites` once
/// (`""` is the catalog), and each suite's results are written as
/// [`PairedBench::finish`] does; returns the files written.
///
/// Under `cargo bench` every round runs in a fresh process of this same binary, one after the
/// other, and the parent pools their samples: what one process's memory layout does to a pair
/// (a heap placement that makes one interceptor's allocations collide in the cache) then moves
/// one round's samples, not the whole estimate. Under `cargo test --benches`, `--list` or with
/// one round, `round` runs here.
///
/// ```no_run
/// use interceptor_bench::paired::run_rounds;
///
/// run_rounds(&["", "comparators"], |suites| {
///     suites[0].catalog();
///     // … suites[1]'s pairs
/// })
/// .unwrap();
/// ```
///
/// # Errors
/// When a round's process cannot start or fails, or a results file cannot be written.
pub fn run_rounds(suites: &[&str], mut round: impl FnMut(&mut [PairedBench])) -> Result<Vec<PathBuf>, PairedError> {
    let mut benches: Vec<PairedBench> = suites.iter().map(|suite| PairedBench::new(suite)).collect();
    let Some(first) = benches.first() else { return Ok(Vec::new()) };
    let (rounds, in_child) = (first.rounds, first.round_samples.is_some());
    if in_child || first.mode != Mode::Measure || rounds == 1 {
        for _ in 0..if in_child { 1 } else { rounds } {
            round(&mut benches);
        }
    } else {
        fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PairedError + '_ {
            move |source| PairedError::Io { path: path.to_owned(), source }
        }
        let exe = std::env::current_exe().map_err(io(Path::new("the bench binary")))?;
        let samples = tempfile::tempdir().map_err(io(&std::env::temp_dir()))?;
        for number in 1..=rounds {
            eprintln!("paired: round {number} of {rounds}, in a fresh process");
            let status = std::process::Command::new(&exe)
                .args(std::env::args_os().skip(1))
                .env(ROUND_ENV, format!("{number}/{rounds}"))
                .env(SAMPLES_ENV, samples.path())
                .status()
                .map_err(io(&exe))?;
            if !status.success() {
                let failed = std::io::Error::other(format!("round {number} of {rounds} failed: {status}"));
                return Err(PairedError::Io { path: exe, source: failed });
            }
            for bench in &mut benches {
                bench.absorb_round(samples.path())?;
            }
        }
    }
    let mut written = Vec::new();
    for bench in benches {
        written.extend(bench.finish()?);
    }
    Ok(written)
}

/// Rounds per pair unless `--paired-rounds` says otherwise.
pub const DEFAULT_ROUNDS: usize = 5;

/// The candidate name of the injected spin alone, over `baseline`.
pub const INJECTED_SPIN: &str = "injected_spin";

impl PairedBench {
    /// A suite (`""` for the catalog) configured from the process's command line.
    ///
    /// # Panics
    /// On a filter that is not a regex or a `--paired-time` that is not a duration: a bench
    /// binary has no better way to refuse its arguments.
    pub fn new(suite: &str) -> Self {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let env_time = std::env::var("IBENCH_PAIRED_TIME").ok();
        Self::from_args(suite, &args, env_time.as_deref()).unwrap_or_else(|message| panic!("{message}"))
    }

    fn from_args(suite: &str, args: &[String], env_time: Option<&str>) -> Result<Self, String> {
        // criterion's flags that take a value, so that the value is not taken for a filter.
        const WITH_VALUE: [&str; 15] = [
            "--save-baseline",
            "--baseline",
            "--baseline-lenient",
            "--load-baseline",
            "--measurement-time",
            "--warm-up-time",
            "--sample-size",
            "--nresamples",
            "--noise-threshold",
            "--confidence-level",
            "--significance-level",
            "--output-format",
            "--color",
            "--plotting-backend",
            "--format",
        ];
        let mut mode = Mode::Test;
        let mut filter = None;
        let mut time = env_time.map(str::to_owned);
        let mut inject = None;
        let mut rounds = DEFAULT_ROUNDS;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--bench" if mode == Mode::Test => mode = Mode::Measure,
                "--list" => mode = Mode::List,
                "--profile-time" => {
                    args.next();
                    mode = Mode::Skip;
                }
                "--paired-time" => time = Some(args.next().cloned().ok_or("--paired-time needs a duration")?),
                "--paired-rounds" => {
                    let text = args.next().ok_or("--paired-rounds needs a count")?;
                    rounds = text
                        .parse()
                        .ok()
                        .filter(|n| (1..=100).contains(n))
                        .ok_or_else(|| format!("invalid --paired-rounds {text:?}: a count from 1 to 100"))?;
                }
                "--inject" => {
                    let spec = args.next().ok_or("--inject needs STACK=DURATION, e.g. fallback=50ns")?;
                    inject = Some(parse_injection(spec)?);
                }
                flag if WITH_VALUE.contains(&flag) => {
                    args.next();
                }
                flag if flag.starts_with('-') => {}
                pattern => {
                    let regex = Regex::new(pattern).map_err(|e| format!("invalid bench filter {pattern:?}: {e}"))?;
                    filter = Some(regex);
                }
            }
        }
        let mut schedule = if mode == Mode::Test { Schedule::quick() } else { Schedule::default() };
        if let Some(time) = time.filter(|_| mode == Mode::Measure) {
            let parsed = humantime::parse_duration(&time)
                .map_err(|e| format!("invalid paired time {time:?} (write e.g. 1.5s or 800ms): {e}"))?;
            if parsed.is_zero() || parsed > Duration::from_secs(600) {
                return Err(format!("paired time {time:?} must be above 0 and at most 10 minutes"));
            }
            schedule = schedule.time(parsed);
        }
        let mut round_samples = None;
        if let (Some(round), Some(dir)) = (std::env::var_os(ROUND_ENV), std::env::var_os(SAMPLES_ENV)) {
            let round = round.to_string_lossy();
            let of = round.split_once('/').and_then(|(_, of)| of.parse().ok());
            rounds = of.ok_or_else(|| format!("{ROUND_ENV}={round:?} is not ROUND/ROUNDS"))?;
            round_samples = Some(PathBuf::from(dir));
        }
        Ok(PairedBench {
            suite: suite.to_owned(),
            runtime: current_thread_runtime(),
            schedule,
            mode,
            filter,
            collected: Vec::new(),
            rounds: if mode == Mode::Measure { rounds } else { 1 },
            out_dir: super::paired_dir(&crate::results::criterion_dir(None)),
            inject: inject.map(|(stack, spin)| (stack, spins_lasting(spin))),
            round_samples,
        })
    }

    /// How many rounds to measure every pair in: run the suite's pairs this many times, one
    /// after the other, and each pair's samples from all rounds make its estimate — so that
    /// each pair sees the machine's states over the whole run, not over one short window.
    ///
    /// ```no_run
    /// # use interceptor_bench::paired::PairedBench;
    /// let mut paired = PairedBench::new("");
    /// for _ in 0..paired.rounds() {
    ///     paired.catalog();
    /// }
    /// paired.finish().unwrap();
    /// ```
    pub fn rounds(&self) -> usize {
        self.rounds
    }

    /// The runtime the pairs run on (for setting up services that need one).
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Pairs two RPC-level services in-process: `candidate` against `reference`, one
    /// [`rpc_request`](crate::bench::rpc_request) per call.
    ///
    /// # Panics
    /// When either side fails the benchmark call.
    pub fn rpc<A, B>(&mut self, reference: &str, a: A, candidate: &str, b: B)
    where
        A: Service<RpcRequest, Response = RpcResponse>,
        A::Error: Debug,
        B: Service<RpcRequest, Response = RpcResponse>,
        B::Error: Debug,
    {
        if !self.selected(Depth::InProcess, candidate) {
            return;
        }
        let (mut a, mut b) = (ServiceCalls::rpc(a), ServiceCalls::rpc(b));
        self.check(reference, a.check());
        self.check(candidate, b.check());
        self.measure(Depth::InProcess, (reference, a), (candidate, b));
    }

    /// Pairs two HTTP-level services in-process: `candidate` against `reference`, one
    /// [`http_request`](crate::bench::http_request) per call, each response body drained.
    ///
    /// # Panics
    /// When either side fails the benchmark call or does not answer 2xx.
    pub fn http<A, B>(&mut self, reference: &str, a: A, candidate: &str, b: B)
    where
        A: BenchedHttpService,
        B: BenchedHttpService,
    {
        self.http_with(reference, a, candidate, b, crate::bench::http_request);
    }

    /// [`PairedBench::http`] with the requests `make_request` builds (your own request).
    ///
    /// # Panics
    /// When either side fails the first call or does not answer 2xx.
    pub fn http_with<A, B>(
        &mut self,
        reference: &str,
        a: A,
        candidate: &str,
        b: B,
        make_request: impl Fn() -> http::Request<Full<Bytes>> + Clone,
    ) where
        A: BenchedHttpService,
        B: BenchedHttpService,
    {
        if !self.selected(Depth::InProcess, candidate) {
            return;
        }
        let (mut a, mut b) =
            (ServiceCalls::http_with(a, make_request.clone()), ServiceCalls::http_with(b, make_request));
        self.check(reference, a.check());
        self.check(candidate, b.check());
        self.measure(Depth::InProcess, (reference, a), (candidate, b));
    }

    /// Pairs two loopback servers: sequential round trips on one keep-alive connection to
    /// each, alternated. Start the two on one thread
    /// ([`BackgroundServer::beside`](crate::server::BackgroundServer::beside)), so that where
    /// the operating system runs each server's thread favours neither.
    ///
    /// # Panics
    /// When either server cannot be reached or fails the benchmark call.
    pub fn loopback(&mut self, reference: &str, a: SocketAddr, candidate: &str, b: SocketAddr) {
        if !self.selected(Depth::Loopback, candidate) {
            return;
        }
        let connect = |name: &str, addr| {
            let mut calls = self
                .runtime
                .block_on(RoundTrips::connect(addr, 1))
                .unwrap_or_else(|e| panic!("cannot connect to {name:?} at {addr}: {e}"));
            self.check(name, calls.check());
            calls
        };
        let (a, b) = (connect(reference, a), connect(candidate, b));
        self.measure(Depth::Loopback, (reference, a), (candidate, b));
    }

    /// The catalog's pairs: in-process, `baseline` against the `floor` (what the handler
    /// costs), every catalog stack against `baseline`, and each step of the cumulative chain
    /// against the step before (`chain/1` against `baseline`); over loopback, `baseline`
    /// against the bare-hyper anchor (what the codec and server cost) and every other seed
    /// stack against `baseline`, each stack on its own server.
    ///
    /// # Panics
    /// When a stack fails the benchmark call or a loopback server cannot start.
    pub fn catalog(&mut self) {
        let interceptors = Interceptors::default();
        let inject = self.inject.clone();
        let spun = |service: BoxRpcService, spins: u64| {
            let spin = MapRequestLayer::new(move |request| {
                for i in 0..spins {
                    std::hint::black_box(i);
                }
                request
            });
            BoxRpcService::new(spin.layer(service))
        };
        let service = |stack: &Stack| {
            let service = stack.service(&interceptors, Greeter::new());
            match &inject {
                Some((name, spins)) if name == stack.name() => spun(service, *spins),
                _ => service,
            }
        };
        let baseline = Stack::of(BASELINE, &[]);
        self.rpc(FLOOR, floor(), BASELINE, service(&baseline));
        if let Some((_, spins)) = inject.as_ref() {
            self.rpc(BASELINE, service(&baseline), INJECTED_SPIN, spun(service(&baseline), *spins));
        }
        for stack in catalog().iter().filter(|stack| stack.name() != BASELINE) {
            self.rpc(BASELINE, service(&baseline), stack.name(), service(stack));
        }
        let mut previous = baseline.clone();
        for step in cumulative_chain() {
            self.rpc(previous.name(), service(&previous), step.name(), service(&step));
            previous = step;
        }
        // Every loopback pair's two servers share the reference's thread, so the operating
        // system's placement of server threads on the cores favours neither side.
        let reference = BackgroundServer::start(&baseline, &interceptors).expect("a loopback server for baseline");
        if self.would_run(Depth::Loopback, BASELINE) {
            let anchor = reference.beside_service(bare_hyper()).expect("a loopback server for bare hyper");
            self.loopback(BARE_HYPER, anchor.addr(), BASELINE, reference.addr());
        }
        for stack in seed_stacks().iter().filter(|stack| stack.name() != BASELINE) {
            if self.would_run(Depth::Loopback, stack.name()) {
                let server = reference
                    .beside(stack, &interceptors)
                    .unwrap_or_else(|e| panic!("cannot start a loopback server for {:?}: {e}", stack.name()));
                self.loopback(BASELINE, reference.addr(), stack.name(), server.addr());
            }
        }
    }

    /// Writes the suite's results (merged with earlier ones, see
    /// [`SuiteResults::write_merged`]) and returns the file; `None` when nothing was measured
    /// (`cargo test --benches`, `--list`, a filter that matched nothing).
    pub fn finish(self) -> Result<Option<PathBuf>, PairedError> {
        if self.mode != Mode::Measure || self.collected.is_empty() {
            return Ok(None);
        }
        if let Some(dir) = &self.round_samples {
            let round: Vec<RoundSamples> = self
                .collected
                .into_iter()
                .map(|((depth, reference, candidate), samples)| RoundSamples { depth, reference, candidate, samples })
                .collect();
            let path = SuiteResults::path(dir, &self.suite);
            let json = serde_json::to_vec(&round).expect("samples serialize");
            fs::write(&path, json).map_err(|source| PairedError::Io { path: path.clone(), source })?;
            return Ok(None);
        }
        let pairs = self.results();
        for pair in &pairs {
            eprintln!("{}", describe(pair, &self.suite));
        }
        let results = SuiteResults {
            schema: SCHEMA.to_owned(),
            suite: self.suite,
            confidence: CONFIDENCE,
            schedule: self.schedule,
            pairs,
        };
        let path = results.write_merged(&self.out_dir)?;
        eprintln!("paired results: {}", path.display());
        Ok(Some(path))
    }

    /// Whether the pair of `candidate` at `depth` runs; prints it under `--list`.
    fn selected(&self, depth: Depth, candidate: &str) -> bool {
        let matches = self.selected_id(depth, candidate);
        match self.mode {
            Mode::List if matches => {
                println!("paired {}/{candidate}/{}: benchmark", depth.group(&self.suite), depth.overhead_variant());
                false
            }
            Mode::Measure | Mode::Test => matches,
            Mode::List | Mode::Skip => false,
        }
    }

    /// Whether the pair of `candidate` at `depth` would run (or be listed, under `--list`),
    /// without running or listing it: ask before starting a server for a pair the filter may
    /// leave out.
    ///
    /// ```
    /// use interceptor_bench::bench::Depth;
    /// let paired = interceptor_bench::paired::PairedBench::new("my_suite");
    /// // Without a filter on the command line, every pair runs.
    /// assert!(paired.would_run(Depth::Loopback, "my_layer"));
    /// ```
    pub fn would_run(&self, depth: Depth, candidate: &str) -> bool {
        self.mode == Mode::List || self.selected_id(depth, candidate)
    }

    fn selected_id(&self, depth: Depth, candidate: &str) -> bool {
        let id = format!("{}/{candidate}/{}", depth.group(&self.suite), depth.overhead_variant());
        self.filter.as_ref().is_none_or(|filter| filter.is_match(&id))
    }

    fn check(&self, name: &str, first_call: impl Future<Output = Result<(), String>>) {
        if let Err(answer) = self.runtime.block_on(first_call) {
            panic!("stack {name:?} failed the benchmark call, so there is nothing to measure: {answer}");
        }
    }

    /// Samples one round of a pair, adding to what earlier rounds of the same pair collected.
    fn measure(&mut self, depth: Depth, reference: (&str, impl TimedCalls), candidate: (&str, impl TimedCalls)) {
        let ((reference, mut a), (candidate, mut b)) = (reference, candidate);
        let rounds = self.rounds as u32;
        let schedule =
            Schedule { time: self.schedule.time / rounds, warm_up: self.schedule.warm_up / rounds, ..self.schedule };
        let samples = self.runtime.block_on(sample_pair(&mut a, &mut b, &schedule));
        if self.mode == Mode::Test {
            let id = format!("{}/{candidate}/{}", depth.group(&self.suite), depth.overhead_variant());
            println!("Testing paired {id} vs {reference}\nSuccess");
        }
        self.add_samples((depth, reference.to_owned(), candidate.to_owned()), samples);
    }

    /// Adds the samples a round's process left in `dir` for this suite (none when it measured
    /// none of its pairs).
    fn absorb_round(&mut self, dir: &Path) -> Result<(), PairedError> {
        let path = SuiteResults::path(dir, &self.suite);
        let json = match fs::read(&path) {
            Ok(json) => json,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(PairedError::Io { path, source }),
        };
        let round: Vec<RoundSamples> = serde_json::from_slice(&json)
            .map_err(|e| PairedError::Invalid { path: path.clone(), reason: e.to_string() })?;
        for pair in round {
            self.add_samples((pair.depth, pair.reference, pair.candidate), pair.samples);
        }
        fs::remove_file(&path).map_err(|source| PairedError::Io { path, source })
    }

    fn add_samples(&mut self, key: (Depth, String, String), samples: PairSamples) {
        match self.collected.iter_mut().find(|(k, _)| *k == key) {
            Some((_, collected)) => collected.absorb(samples),
            None => self.collected.push((key, samples)),
        }
    }

    /// The estimates of every pair from all its rounds' samples.
    fn results(&self) -> Vec<PairResult> {
        let measured = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        self.collected
            .iter()
            .map(|((depth, reference, candidate), samples)| PairResult {
                depth: *depth,
                variant: depth.overhead_variant().to_owned(),
                reference: reference.clone(),
                candidate: candidate.clone(),
                batch: samples.batch,
                estimate: samples.estimate(CONFIDENCE).expect("a pair takes at least one sample"),
                measured: measured.clone(),
            })
            .collect()
    }
}

/// How many iterations of a `black_box` loop take about `spin` on this machine. A loop, not
/// a clock: reading the clock costs more than 50 ns on some virtual machines, which would make
/// a "50 ns" spin several times longer than asked.
///
/// The fastest of 50 short probes sets the rate: a probe the scheduler interrupted is only
/// slower, so the minimum is what the loop costs on a core of its own, the same in every
/// process of a run and under a CPU hog — fixed work, whose cost the `injected_spin` pair
/// measures beside the stacks.
fn spins_lasting(spin: Duration) -> u64 {
    const PROBE: u64 = 200_000;
    let fastest = (0..50)
        .map(|_| {
            let start = Instant::now();
            for i in 0..PROBE {
                std::hint::black_box(i);
            }
            start.elapsed()
        })
        .min()
        .expect("50 probes");
    let per_spin = fastest.as_nanos() as f64 / PROBE as f64;
    (spin.as_nanos() as f64 / per_spin.max(1e-3)).round() as u64
}

/// `STACK=DURATION` of `--inject`, the stack one of the catalog's.
fn parse_injection(spec: &str) -> Result<(String, Duration), String> {
    let usage = || format!("invalid --inject {spec:?}: write STACK=DURATION, e.g. fallback=50ns");
    let (stack, duration) = spec.split_once('=').ok_or_else(usage)?;
    crate::stack::find(stack).map_err(|e| format!("--inject: {e}"))?;
    let duration = humantime::parse_duration(duration).map_err(|_| usage())?;
    if duration > Duration::from_millis(10) {
        return Err(format!("--inject {spec:?}: spin at most 10ms"));
    }
    Ok((stack.to_owned(), duration))
}

/// One line per pair, as it finishes: `in_process/logger/unary vs baseline: +812 ns [+806 ns,
/// +818 ns] ×3.52 [3.51, 3.53] (1,204 samples of 2×64)`.
fn describe(pair: &PairResult, suite: &str) -> String {
    let e = &pair.estimate;
    let signed = |ns: f64| if ns >= 0.0 { format!("+{}", format_ns(ns)) } else { format_ns(ns) };
    format!(
        "paired {:<48} vs {:<12} {} [{}, {}]  ×{:.3} [{:.3}, {:.3}]  ({} samples of 2×{})",
        pair.id(suite),
        pair.reference,
        signed(e.difference_ns.point),
        signed(e.difference_ns.lower),
        signed(e.difference_ns.upper),
        e.ratio.point,
        e.ratio.lower,
        e.ratio.upper,
        e.samples,
        pair.batch
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<PairedBench, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        PairedBench::from_args("", &args, None)
    }

    #[test]
    fn the_command_line_is_read_as_criterion_reads_it() {
        assert_eq!(parse(&[]).unwrap().mode, Mode::Test, "cargo test --benches passes no --bench");
        assert_eq!(parse(&["--bench"]).unwrap().mode, Mode::Measure);
        assert_eq!(parse(&["--bench", "--list"]).unwrap().mode, Mode::List);
        assert_eq!(parse(&["--bench", "--profile-time", "5"]).unwrap().mode, Mode::Skip);
        let filtered = parse(&["--bench", "--save-baseline", "main", "logger"]).unwrap();
        assert_eq!(filtered.filter.unwrap().as_str(), "logger", "a flag's value is no filter");
        let timed = parse(&["--bench", "--paired-time", "300ms"]).unwrap();
        assert_eq!(timed.schedule.time, Duration::from_millis(300));
        assert_eq!(parse(&["--paired-time", "300ms"]).unwrap().schedule, Schedule::quick(), "tests stay quick");
        let injected = parse(&["--bench", "--inject", "fallback=50ns"]).unwrap();
        assert!(injected.inject.is_some_and(|(stack, spins)| stack == "fallback" && spins > 0));
        let bad_args: [&[&str]; 6] = [
            &["--bench", "--paired-time", "soon"],
            &["--bench", "--paired-time", "0s"],
            &["("],
            &["--inject", "nope=50ns"],
            &["--inject", "fallback"],
            &["--inject", "fallback=1s"],
        ];
        for bad in bad_args {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_rounds_samples_reach_its_parent_whole() {
        let dir = tempfile::tempdir().unwrap();
        let samples =
            |ns: f64| PairSamples { batch: 64, reference_ns: vec![ns, ns + 1.0], candidate_ns: vec![2.0 * ns; 2] };
        let key = |candidate: &str| (Depth::InProcess, BASELINE.to_owned(), candidate.to_owned());
        let mut round = parse(&["--bench"]).unwrap();
        round.round_samples = Some(dir.path().to_owned());
        round.add_samples(key("logger"), samples(100.0));
        assert_eq!(round.finish().unwrap(), None, "a round's process writes no results");

        let mut parent = parse(&["--bench"]).unwrap();
        parent.add_samples(key("logger"), samples(300.0));
        parent.absorb_round(dir.path()).unwrap();
        let (_, pooled) = &parent.collected[0];
        assert_eq!(pooled.reference_ns, [300.0, 301.0, 100.0, 101.0]);
        assert_eq!(pooled.candidate_ns, [600.0, 600.0, 200.0, 200.0]);
        parent.absorb_round(dir.path()).unwrap();
        assert_eq!(parent.collected[0].1.reference_ns.len(), 4, "each round's file is taken once");
    }

    #[test]
    fn filters_select_pairs_by_the_candidates_id() {
        let bench = parse(&["--bench", "^in_process/log"]).unwrap();
        assert!(bench.selected(Depth::InProcess, "logger"));
        assert!(!bench.selected(Depth::InProcess, "otel"));
        assert!(!bench.selected(Depth::Loopback, "logger"));
    }
}
