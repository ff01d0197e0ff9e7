//! `ibench load`: the seed's k6 scenarios (basic load, stress, spike, interceptor overhead) as a
//! built-in load runner against `ibench serve` or any server speaking the greeter RPC, on
//! loopback only.
//!
//! A run takes a [`Scenario`] (built-in or from TOML, scaled with [`Scenario::scaled`]),
//! [`Targets`] (listener name → loopback URL) and [`LoadOptions`], checks that every target
//! answers, drives the load with the closed or open [`executor`], records HDR histograms and a
//! time series ([`metrics`]), and returns a [`Report`] with threshold verdicts, a k6-style
//! [`Report::summary`] and a versioned JSON form ([`output`]).
//!
//! ```
//! use interceptor_bench::load::{self, LoadOptions, Scenario, Targets};
//! use interceptor_bench::server::BackgroundServer;
//! use interceptor_bench::stack::{Interceptors, find};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let server = BackgroundServer::start(&find("full").unwrap(), &Interceptors::default()).unwrap();
//! let targets = Targets::new().with(&format!("full=http://{}", server.addr())).unwrap();
//! let scenario = Scenario::builtin("basic-load").unwrap().scaled(0.002, 0.02);
//! let report = load::run(&scenario, &targets, &LoadOptions::new()).await.unwrap();
//! assert!(report.metrics.requests.http_reqs.count > 0);
//! assert!(report.passed, "{}", report.summary());
//! # });
//! ```

pub mod breakpoint;
pub mod client;
pub mod executor;
pub mod metrics;
pub mod output;
pub mod remote_write;
pub mod resources;
pub mod scenario;
pub mod summary;
pub mod target;
pub mod threshold;
pub mod wire;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until, timeout_at};
use tokio_util::sync::CancellationToken;

use self::client::Caller;
use self::executor::{Model, Shared};
use self::metrics::{Recorder, Series};
pub use self::output::Report;
use self::output::{MinMax, RunFacts, Tally};
use self::remote_write::{Feed, Gauges, RemoteWriteHandle};
use self::resources::{Sampler, Source};
pub use self::scenario::{ExecutorKind, Scenario, ScenarioError};
pub use self::target::{Target, Targets};
use self::threshold::{Metric, Threshold};

/// How long the pre-flight call to each target may take.
pub const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(2);

/// How a run is driven, beyond its scenario.
///
/// ```
/// use interceptor_bench::load::{ExecutorKind, LoadOptions};
/// use std::time::Duration;
///
/// let options = LoadOptions::new().executor(ExecutorKind::Open).rate(1000.0).max_vus(50).timeout(Duration::from_secs(2));
/// assert_eq!(options.get_executor(), Some(ExecutorKind::Open));
/// ```
#[derive(Debug, Clone)]
pub struct LoadOptions {
    executor: Option<ExecutorKind>,
    rate: Option<f64>,
    max_vus: Option<u32>,
    timeout: Duration,
    grace: Duration,
    interval: Option<Duration>,
    server: Option<Source>,
    progress: bool,
    thresholds: Vec<Threshold>,
    cancel: CancellationToken,
    remote_write: Option<RemoteWriteHandle>,
    /// The `phase` label of remote-written series (a breakpoint's step).
    phase: Option<String>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions::new()
    }
}

impl LoadOptions {
    /// The scenario's executor, a 10 s request timeout, a 5 s grace period, no progress bar.
    pub fn new() -> Self {
        LoadOptions {
            executor: None,
            rate: None,
            max_vus: None,
            timeout: Duration::from_secs(10),
            grace: Duration::from_secs(5),
            interval: None,
            server: None,
            progress: false,
            thresholds: Vec::new(),
            cancel: CancellationToken::new(),
            remote_write: None,
            phase: None,
        }
    }

    /// Runs the scenario in this model instead of its own.
    pub fn executor(mut self, executor: ExecutorKind) -> Self {
        self.executor = Some(executor);
        self
    }

    /// The executor chosen, if any.
    pub fn get_executor(&self) -> Option<ExecutorKind> {
        self.executor
    }

    /// Open model: the peak arrival rate (iterations per second); the stages keep their shape.
    pub fn rate(mut self, iterations_per_second: f64) -> Self {
        self.rate = Some(iterations_per_second);
        self
    }

    /// Open model: the VU pool (default: the scenario's peak VUs).
    pub fn max_vus(mut self, vus: u32) -> Self {
        self.max_vus = Some(vus);
        self
    }

    /// Abandons a request after this long (counted as failed).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long iterations in flight at the end may take to finish before they are cut off.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The time series' interval (default: 1 s, or 1/60 of runs shorter than a minute, ≥ 10 ms).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// Samples the server's memory and CPU once a second from `/proc` or its `/metrics`.
    pub fn server(mut self, source: Source) -> Self {
        self.server = Some(source);
        self
    }

    /// Draws a progress bar on standard error.
    pub fn progress(mut self, progress: bool) -> Self {
        self.progress = progress;
        self
    }

    /// Adds a threshold to the scenario's own.
    pub fn threshold(mut self, threshold: Threshold) -> Self {
        self.thresholds.push(threshold);
        self
    }

    /// Streams the run's metrics once a second to a [`remote_write::RemoteWriter`].
    pub fn remote_write(mut self, handle: RemoteWriteHandle) -> Self {
        self.remote_write = Some(handle);
        self
    }

    /// Ends the run early, with its report, when `token` is cancelled (Ctrl-C, for one).
    pub fn cancel_on(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The scenario or a threshold is inconsistent.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// A listener of the scenario has no target.
    #[error(
        "the scenario calls listener {listener:?} but no target is named so (known: {known}); add --target {listener}=http://127.0.0.1:PORT"
    )]
    MissingTarget {
        /// The listener.
        listener: String,
        /// The targets there are.
        known: String,
    },
    /// A target did not answer the pre-flight SayHello.
    #[error("target {name} ({url}) does not answer: {reason}; is `ibench serve` running there?")]
    Unreachable {
        /// The listener.
        name: String,
        /// Its URL.
        url: String,
        /// What happened.
        reason: String,
    },
    /// A bad option.
    #[error("{0}")]
    Option(String),
}

async fn preflight(name: &str, target: &Target) -> Result<(), LoadError> {
    let unreachable =
        |reason: String| LoadError::Unreachable { name: name.to_owned(), url: target.url().to_owned(), reason };
    match tokio::time::timeout(PREFLIGHT_TIMEOUT, tokio::net::TcpStream::connect(target.addr())).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => return Err(unreachable(format!("cannot connect to {}: {error}", target.addr()))),
        Err(_) => return Err(unreachable(format!("no connection to {} within {PREFLIGHT_TIMEOUT:?}", target.addr()))),
    }
    let outcome = Caller::new(target.clone(), "ibench-preflight").say_hello(PREFLIGHT_TIMEOUT).await;
    let unreachable =
        |reason: String| LoadError::Unreachable { name: name.to_owned(), url: target.url().to_owned(), reason };
    match outcome.status {
        None => Err(unreachable(format!("no HTTP answer within {PREFLIGHT_TIMEOUT:?} (refused, reset or timed out)"))),
        Some(200) if outcome.message_ok => Ok(()),
        Some(200) => Err(unreachable("it answered 200 but not with the greeter's message".into())),
        Some(status) => Err(unreachable(format!("SayHello got HTTP {status}"))),
    }
}

/// Every VU keeps one connection per listener open: raise the soft open-files limit to fit
/// them (and some spare), or refuse to start rather than count the generator's own `EMFILE`s
/// as server failures.
fn raise_file_limit(connections: u64) -> Result<(), LoadError> {
    const SPARE: u64 = 64;
    let needed = connections + SPARE;
    match rlimit::increase_nofile_limit(needed) {
        Ok(limit) if limit >= needed => Ok(()),
        Ok(limit) => Err(LoadError::Option(format!(
            "this run keeps {connections} connections open but the open-files limit is {limit}; raise it (ulimit -n {needed}) or lower --vus-scale / --max-vus"
        ))),
        Err(error) => Err(LoadError::Option(format!("cannot read the open-files limit: {error}"))),
    }
}

pub(crate) fn default_interval(total: Duration) -> Duration {
    if total >= Duration::from_secs(60) {
        Duration::from_secs(1)
    } else {
        // Whole milliseconds, so that the series' timestamps are round numbers.
        Duration::from_millis((total.as_millis() / 60) as u64).max(Duration::from_millis(10))
    }
}

fn progress_bar(options: &LoadOptions, total: Duration) -> ProgressBar {
    if !options.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total.as_millis() as u64), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("[{bar:30}] {msg}").map(|style| style.progress_chars("=> "));
    if let Ok(style) = style {
        bar.set_style(style);
    }
    bar
}

/// Runs `scenario` against `targets`: checks that every target answers, drives the load,
/// and reports. Returns an error only when the run could not start; a failing run is a report
/// with `passed == false`. The breakpoint executor runs [`breakpoint`]'s search.
pub async fn run(scenario: &Scenario, targets: &Targets, options: &LoadOptions) -> Result<Report, LoadError> {
    match Executor::choose(scenario, options)? {
        Executor::Breakpoint => breakpoint::run(scenario, targets, options).await,
        Executor::Measured(model) => measure(scenario, targets, options, model).await.map(Report::build),
    }
}

/// What [`run`] drives: one measured run in a [`Model`], or the breakpoint search (a sequence
/// of open-model runs).
enum Executor {
    Measured(Model),
    Breakpoint,
}

impl Executor {
    /// The executor of the options, else the scenario's, with its settings checked.
    fn choose(scenario: &Scenario, options: &LoadOptions) -> Result<Executor, LoadError> {
        if let Some(rate) = options.rate
            && !(rate.is_finite() && rate > 0.0)
        {
            return Err(LoadError::Option(format!("--rate must be a positive number, not {rate}")));
        }
        let peak = scenario.peak_vus();
        match options.executor.unwrap_or(scenario.executor) {
            ExecutorKind::Breakpoint => Ok(Executor::Breakpoint),
            // Its stages are rates: as VU targets they would ask for thousands of VUs.
            other if scenario.breakpoint.is_some() => Err(LoadError::Option(format!(
                "scenario {:?} is a breakpoint search; it cannot run in the {other} model",
                scenario.name
            ))),
            ExecutorKind::Closed => Ok(Executor::Measured(Model::Closed)),
            ExecutorKind::Open => Ok(Executor::Measured(Model::Open {
                rate_per_vu: options.rate.map_or(scenario.rate_per_vu, |rate| rate / f64::from(peak.max(1))),
                max_vus: options.max_vus.unwrap_or(peak).max(1),
            })),
        }
    }
}

/// Drives one run in `model` and returns what it measured.
pub(crate) async fn measure<'a>(
    scenario: &'a Scenario,
    targets: &Targets,
    options: &'a LoadOptions,
    model: Model,
) -> Result<RunFacts<'a>, LoadError> {
    let mut checked = scenario.clone();
    checked.thresholds.extend(options.thresholds.iter().cloned());
    checked.validate()?;
    if options.server.is_none()
        && let Some(threshold) =
            checked.thresholds.iter().find(|t| t.metric.metric().is_some_and(Metric::samples_the_server))
    {
        return Err(LoadError::Option(format!(
            "threshold {threshold} needs --server-pid PID or --server-metrics URL to sample the server"
        )));
    }
    let known = || targets.iter().map(|(name, _)| name).collect::<Vec<_>>().join(", ");
    let mut listener_targets = Vec::with_capacity(scenario.listeners.len());
    for listener in &scenario.listeners {
        let target = targets
            .get(listener)
            .ok_or_else(|| LoadError::MissingTarget { listener: listener.clone(), known: known() })?;
        listener_targets.push(target.clone().with_protocol(scenario.protocol));
    }
    for (name, target) in scenario.listeners.iter().zip(&listener_targets) {
        preflight(name, target).await?;
    }
    let mut sampler = match options.server.clone() {
        Some(source) => Some(Sampler::new(source).await.map_err(LoadError::Option)?),
        None => None,
    };
    raise_file_limit(u64::from(model.pool(scenario)) * scenario.listeners.len() as u64)?;

    let total = scenario.total_duration();
    let interval = options.interval.unwrap_or_else(|| default_interval(total));
    let start = Instant::now();
    let end = start + total;
    let stage_ends: Vec<Duration> = scenario
        .stages
        .iter()
        .scan(Duration::ZERO, |at, stage| Some(*at + stage.duration).inspect(|end| *at = *end))
        .collect();
    let stop = options.cancel.child_token();
    let shared = Arc::new(Shared {
        recorder: Recorder::new(start, stage_ends, scenario.listeners.len(), interval),
        targets: listener_targets,
        shuffle: scenario.shuffle,
        sleep: scenario.sleep,
        timeout: options.timeout,
        end,
        stop: stop.clone(),
        busy: AtomicU32::new(0),
        peak_busy: AtomicU32::new(0),
    });

    let mut vus = JoinSet::new();
    let mut running = model.launch(scenario, &shared, start, &mut vus);
    let (open_model, vus_max) = (running.open_model(), running.vus_max());

    let abort_thresholds: Vec<&Threshold> = checked.thresholds.iter().filter(|t| t.abort_on_fail).collect();
    let bar = progress_bar(options, total);
    // Rolling percentiles for the spike's recovery need every interval's histogram.
    let mut series =
        if scenario.spike.is_some() { Series::new(interval).keep_histograms() } else { Series::new(interval) };
    let mut drained = 0u64;
    let mut dropped_seen = 0u64;
    let mut aborted_by = None;
    let mut vus_seen = MinMax { min: u32::MAX, max: 0 };
    let mut last_sample = start;
    let tick = interval.min(Duration::from_millis(100));
    let mut next_tick = start;
    let mut feed = options
        .remote_write
        .clone()
        .map(|handle| Feed::new(handle, &scenario.name, options.phase.as_deref(), &scenario.listeners));
    // One pass per tick, bounded by the stage schedule (or an earlier stop).
    loop {
        let now = Instant::now();
        let finished = now >= end || stop.is_cancelled();
        let vus_now = running.tick(now - start, finished, &shared, &mut vus);
        if !finished {
            vus_seen = MinMax { min: vus_seen.min.min(vus_now), max: vus_seen.max.max(vus_now) };
        }
        let bucket = shared.recorder.bucket_of(now);
        if bucket > drained {
            let dropped = running.dropped();
            series.extend(shared.recorder.drain_buckets(bucket), bucket, vus_now, dropped - dropped_seen);
            dropped_seen = dropped;
            drained = bucket;
            if let Some(point) = series.points.last() {
                let per_second = point.requests as f64 / interval.as_secs_f64();
                let p95 = point.p95.map_or("-".to_owned(), |p95| format!("{p95:.2}ms"));
                let errors: u64 = series.points.iter().map(|p| p.errors).sum();
                bar.set_message(format!(
                    "{:.1}s/{:.1}s  VUs {vus_now}  {per_second:.0} req/s  p95 {p95}  errors {errors}",
                    (now - start).as_secs_f64(),
                    total.as_secs_f64()
                ));
            }
            bar.set_position((now - start).as_millis() as u64);
            if !abort_thresholds.is_empty() {
                let tally = Tally::of(&checked, &shared.recorder.totals(), now - start, running.dropped());
                let failing = abort_thresholds
                    .iter()
                    .find(|threshold| now - start >= threshold.delay_abort_eval && tally.fails(threshold));
                if let Some(threshold) = failing {
                    aborted_by = Some(format!("threshold {threshold} failed"));
                    stop.cancel();
                }
            }
        }
        if let Some(sampler) = &mut sampler
            && now - last_sample >= Duration::from_secs(1)
        {
            sampler.sample().await;
            last_sample = now;
        }
        if let Some(feed) = &mut feed
            && feed.due(now)
        {
            let gauges = Gauges {
                vus: vus_now,
                vus_max,
                dropped: running.dropped(),
                server: sampler.as_ref().and_then(Sampler::last),
            };
            feed.push(now, &shared.recorder.totals(), &gauges);
        }
        if finished {
            break;
        }
        next_tick += tick;
        tokio::select! {
            () = sleep_until(next_tick.min(end)) => {}
            () = stop.cancelled() => {}
        }
    }
    if options.cancel.is_cancelled() && aborted_by.is_none() {
        aborted_by = Some("cancelled before the end (Ctrl-C)".to_owned());
    }
    stop.cancel();
    let stopped = Instant::now();
    // Iterations in flight may finish within the grace period; then they are cut off.
    let hard_deadline = stopped + options.grace;
    let interrupted = match timeout_at(hard_deadline, async { while vus.join_next().await.is_some() {} }).await {
        Ok(()) => 0,
        Err(_) => {
            let busy = shared.busy.load(Ordering::Relaxed);
            vus.abort_all();
            u64::from(busy)
        }
    };
    let finished_at = Instant::now();
    let dropped = running.dropped_by(stopped);
    let last = shared.recorder.bucket_of(finished_at) + 1;
    series.extend(shared.recorder.drain_buckets(last), last.max(drained), 0, dropped - dropped_seen);
    bar.finish_and_clear();
    let totals = shared.recorder.totals();
    if let Some(feed) = feed {
        let server = sampler.as_ref().and_then(Sampler::last);
        feed.finish(&totals, &Gauges { vus: 0, vus_max, dropped, server }).await;
    }
    vus_seen.max = running.peak_vus(vus_seen.max, &shared);
    let targets_used = scenario
        .listeners
        .iter()
        .zip(&shared.targets)
        .map(|(name, target)| (name.clone(), target.url().to_owned()))
        .collect();
    Ok(RunFacts {
        scenario,
        executor: model.kind(),
        open_model,
        targets: targets_used,
        totals,
        series,
        elapsed: stopped - start,
        dropped,
        interrupted,
        vus: if vus_seen.min == u32::MAX { MinMax::default() } else { vus_seen },
        vus_max,
        aborted_by,
        resources: sampler.map(Sampler::finish),
        extra_thresholds: &options.thresholds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(scenario: &Scenario, options: &LoadOptions) -> Option<Model> {
        match Executor::choose(scenario, options).unwrap() {
            Executor::Measured(model) => Some(model),
            Executor::Breakpoint => None,
        }
    }

    #[test]
    fn the_options_choose_the_model_and_size_its_pool() {
        let scenario = Scenario::builtin("basic-load").unwrap();
        let peak = scenario.peak_vus();
        assert_eq!(chosen(&scenario, &LoadOptions::new()), Some(Model::Closed));
        assert_eq!(Model::Closed.pool(&scenario), peak);
        let open = LoadOptions::new().executor(ExecutorKind::Open).rate(f64::from(peak) * 3.0);
        assert_eq!(chosen(&scenario, &open), Some(Model::Open { rate_per_vu: 3.0, max_vus: peak }));
        let small = open.clone().max_vus(0);
        assert_eq!(chosen(&scenario, &small), Some(Model::Open { rate_per_vu: 3.0, max_vus: 1 }));
        assert_eq!(chosen(&scenario, &open.executor(ExecutorKind::Breakpoint)), None);
        let bad_rate = LoadOptions::new().executor(ExecutorKind::Open).rate(0.0);
        assert!(matches!(Executor::choose(&scenario, &bad_rate), Err(LoadError::Option(_))));
    }
}
