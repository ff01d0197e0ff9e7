//! Scenarios: the seed's four k6 scenarios built in, and your own from a TOML file.
//!
//! | scenario | stages (duration → target VUs) | per iteration | thresholds |
//! |---|---|---|---|
//! | `basic-load` | 30s→50, 1m→100, 5m→100, 30s→0 | SayHello to `full`, sleep 50–150 ms | p95 < 100 ms, p99 < 150 ms, failed < 1%, checks > 99% |
//! | `stress-test` | 1m→100, 2m→500, 2m→1000, 2m→2000, 1m→0 | SayHello to `full`, sleep 10 ms | failed < 5%, checks > 95% |
//! | `spike-test` | 30s→100, 10s→1000, 30s→1000, 10s→100, 30s→100 | SayHello to `full`, sleep 50 ms | failed < 2%, checks > 98%, p95 after the spike < 150 ms, recovery < 30 s |
//! | `interceptor-overhead` | 10 VUs for 2m | SayHello to all five listeners, shuffled | baseline p95 < 10 ms, full p95 < 30 ms, each listener failed < 1%, overhead < 2 ms per interceptor |
//! | `breakpoint` | open model, 1,000/s ×1.25 every 5s up to 200,000/s (≤ 30 steps), `baseline` then `full` | SayHello to one listener at a time | stop when p99 ≥ 100 ms, failed ≥ 1% or dropped > 1% |
//!
//! ```
//! use interceptor_bench::load::scenario::Scenario;
//! use std::time::Duration;
//!
//! let basic = Scenario::builtin("basic-load").unwrap().scaled(0.01, 0.1);
//! assert_eq!(basic.total_duration(), Duration::from_millis(4200));
//! assert_eq!(basic.peak_vus(), 10);
//!
//! let mine = Scenario::from_toml(r#"
//!     name = "mine"
//!     listeners = ["baseline"]
//!     sleep = "10ms"
//!     stages = [{ duration = "2s", target = 5 }]
//!     protocol = "grpc"   # or connect-json (the default), connect-proto
//!     [thresholds]
//!     http_req_duration = ["p(95)<50"]
//! "#).unwrap();
//! assert_eq!(mine.thresholds[0].to_string(), "http_req_duration: p(95)<50");
//! assert_eq!(mine.protocol, interceptor_bench::connect::Protocol::Grpc);
//! assert!(Scenario::from_toml("name = 1").unwrap_err().to_string().contains("line 1"));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use super::breakpoint::Search;
use super::threshold::{Aggregation, Metric, MetricRef, Threshold};
use crate::connect::Protocol;
use crate::stack::SEED_LAYOUT;

/// One stage: ramp linearly from the previous stage's target to `target` VUs over `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Stage {
    /// How long the ramp lasts.
    #[serde(with = "super::threshold::duration_ms", rename = "duration_ms")]
    pub duration: Duration,
    /// The VU count reached at its end.
    pub target: u32,
}

impl Stage {
    /// A stage of `secs` seconds ramping to `target` VUs.
    pub const fn secs(secs: u64, target: u32) -> Self {
        Stage { duration: Duration::from_secs(secs), target }
    }
}

/// How a scenario turns stages into load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutorKind {
    /// Ramping VUs (k6 `stages`): each VU runs iterations back to back with its sleep between.
    #[default]
    Closed,
    /// Ramping arrival rate: iterations start on a schedule (stage VUs × `rate_per_vu` per
    /// second), whether or not earlier ones have finished; latency counts from the scheduled start.
    Open,
    /// Breaking-point search: the open model at a rate raised step by step on each listener
    /// until a stop condition fails ([`super::breakpoint`]).
    Breakpoint,
}

impl fmt::Display for ExecutorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExecutorKind::Closed => "closed",
            ExecutorKind::Open => "open",
            ExecutorKind::Breakpoint => "breakpoint",
        })
    }
}

impl FromStr for ExecutorKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "closed" => Ok(ExecutorKind::Closed),
            "open" => Ok(ExecutorKind::Open),
            "breakpoint" => Ok(ExecutorKind::Breakpoint),
            other => Err(format!("unknown executor {other:?}; expected closed, open or breakpoint")),
        }
    }
}

/// The think time after each closed-model iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sleep {
    /// Always the same.
    Fixed(#[serde(with = "super::threshold::duration_ms")] Duration),
    /// Uniformly random between the two, inclusive.
    Uniform(
        #[serde(with = "super::threshold::duration_ms")] Duration,
        #[serde(with = "super::threshold::duration_ms")] Duration,
    ),
}

impl Sleep {
    /// One draw.
    pub fn draw(&self) -> Duration {
        match *self {
            Sleep::Fixed(duration) => duration,
            Sleep::Uniform(low, high) => {
                let micros = rand::random_range(low.as_micros() as u64..=high.as_micros() as u64);
                Duration::from_micros(micros)
            }
        }
    }
}

/// The spike of a spike test: where it ends and what "recovered" means.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spike {
    /// The spike ends at the end of this stage (0-based).
    pub end_stage: usize,
    /// Recovered means the rolling p95 is under this many milliseconds, and stays there.
    pub p95_ms: f64,
    /// The rolling window of the p95.
    #[serde(with = "super::threshold::duration_ms", rename = "window_ms")]
    pub window: Duration,
}

/// A load scenario: stages, what each iteration does, thresholds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// The VUs (or the rate, open model) at the start, before the first stage's ramp.
    pub start_vus: u32,
    /// The stages, in order.
    pub stages: Vec<Stage>,
    /// The target listeners each iteration calls SayHello on, in this order unless `shuffle`.
    pub listeners: Vec<String>,
    /// Call the listeners in a new random order each iteration.
    pub shuffle: bool,
    /// Think time after each closed-model iteration (none in the open model: the rate replaces it).
    pub sleep: Option<Sleep>,
    /// The executor used unless the command line says otherwise.
    pub executor: ExecutorKind,
    /// Open model: iterations per second per stage VU.
    pub rate_per_vu: f64,
    /// Conditions checked at the end; any failure fails the run.
    pub thresholds: Vec<Threshold>,
    /// For spike tests: where the spike ends, for the recovery time and `{phase:after_spike}`.
    pub spike: Option<Spike>,
    /// For overhead runs: the listener without interceptors that the others are compared with.
    pub overhead_baseline: Option<String>,
    /// For breakpoint runs: the rate steps and their bounds (the defaults when `None`).
    pub breakpoint: Option<Search>,
    /// The protocol every call speaks: Connect JSON (the default), Connect protobuf or gRPC.
    pub protocol: Protocol,
}

/// The names of the built-in scenarios.
pub const BUILTINS: [&str; 5] = ["basic-load", "stress-test", "spike-test", "interceptor-overhead", "breakpoint"];

/// The most VUs any stage (or the start) may have, after scaling: each VU holds a connection
/// per listener, and one machine runs out of ports and descriptors long before.
pub const MAX_VUS: u32 = 100_000;

/// The longest a scenario may run, all stages together, after scaling.
pub const MAX_RUN: Duration = Duration::from_secs(7 * 24 * 60 * 60);

fn threshold(metric: &str, condition: &str) -> Threshold {
    Threshold::new(metric.parse().expect("built-in metric"), condition.parse().expect("built-in condition"))
}

impl Scenario {
    fn seed(name: &str, description: &str, stages: Vec<Stage>, sleep: Option<Sleep>, rate_per_vu: f64) -> Self {
        Scenario {
            name: name.to_owned(),
            description: description.to_owned(),
            start_vus: 0,
            stages,
            listeners: vec!["full".to_owned()],
            shuffle: false,
            sleep,
            executor: ExecutorKind::Closed,
            rate_per_vu,
            thresholds: Vec::new(),
            spike: None,
            overhead_baseline: None,
            breakpoint: None,
            protocol: Protocol::ConnectJson,
        }
    }

    /// The built-in scenario `name` (one of [`BUILTINS`]), at full size.
    pub fn builtin(name: &str) -> Option<Scenario> {
        let ms = Duration::from_millis;
        let scenario = match name {
            "basic-load" => Scenario {
                thresholds: vec![
                    threshold("http_req_duration", "p(95)<100"),
                    threshold("http_req_duration", "p(99)<150"),
                    threshold("http_req_failed", "rate<0.01"),
                    threshold("checks", "rate>0.99"),
                ],
                ..Scenario::seed(
                    name,
                    "Normal sustained load",
                    vec![Stage::secs(30, 50), Stage::secs(60, 100), Stage::secs(300, 100), Stage::secs(30, 0)],
                    Some(Sleep::Uniform(ms(50), ms(150))),
                    10.0,
                )
            },
            "stress-test" => Scenario {
                thresholds: vec![threshold("http_req_failed", "rate<0.05"), threshold("checks", "rate>0.95")],
                ..Scenario::seed(
                    name,
                    "Find the breaking point",
                    vec![
                        Stage::secs(60, 100),
                        Stage::secs(120, 500),
                        Stage::secs(120, 1000),
                        Stage::secs(120, 2000),
                        Stage::secs(60, 0),
                    ],
                    Some(Sleep::Fixed(ms(10))),
                    100.0,
                )
            },
            "spike-test" => Scenario {
                thresholds: vec![
                    threshold("http_req_failed", "rate<0.02"),
                    threshold("checks", "rate>0.98"),
                    threshold("http_req_duration{phase:after_spike}", "p(95)<150"),
                    threshold("spike_recovery_time", "value<30000"),
                ],
                spike: Some(Spike { end_stage: 2, p95_ms: 150.0, window: Duration::from_secs(5) }),
                ..Scenario::seed(
                    name,
                    "Recovery from a sudden spike",
                    vec![
                        Stage::secs(30, 100),
                        Stage::secs(10, 1000),
                        Stage::secs(30, 1000),
                        Stage::secs(10, 100),
                        Stage::secs(30, 100),
                    ],
                    Some(Sleep::Fixed(ms(50))),
                    20.0,
                )
            },
            "interceptor-overhead" => {
                let mut thresholds = vec![
                    threshold("http_req_duration{listener:baseline}", "p(95)<10"),
                    threshold("http_req_duration{listener:full}", "p(95)<30"),
                ];
                for listener in SEED_LAYOUT.map(|listener| listener.name) {
                    thresholds.push(threshold(&format!("http_req_failed{{listener:{listener}}}"), "rate<0.01"));
                }
                // Every listener with interceptors, judged against `baseline`'s.
                for listener in SEED_LAYOUT.iter().filter(|l| !l.interceptors.is_empty()).map(|l| l.name) {
                    let metric = format!("interceptor_overhead{{listener:{listener}}}");
                    thresholds.push(threshold(&metric, "med<2"));
                    thresholds.push(threshold(&metric, "p(95)<2"));
                }
                Scenario {
                    start_vus: 10,
                    listeners: SEED_LAYOUT.iter().map(|listener| listener.name.to_owned()).collect(),
                    shuffle: true,
                    thresholds,
                    overhead_baseline: Some("baseline".to_owned()),
                    ..Scenario::seed(name, "Per-interceptor cost", vec![Stage::secs(120, 10)], None, 100.0)
                }
            }
            "breakpoint" => {
                let search = Search::default();
                Scenario {
                    thresholds: vec![
                        threshold("http_req_duration", "p(99)<100"),
                        threshold("http_req_failed", "rate<0.01"),
                    ],
                    listeners: vec!["baseline".to_owned(), "full".to_owned()],
                    ..Scenario::seed(name, "Where does it break?", Vec::new(), None, 1.0).with_search(search)
                }
            }
            _ => return None,
        };
        Some(scenario)
    }

    /// A built-in name or the path of a TOML scenario file.
    pub fn load(name_or_path: &str) -> Result<Scenario, ScenarioError> {
        if let Some(scenario) = Scenario::builtin(name_or_path) {
            return Ok(scenario);
        }
        if !name_or_path.ends_with(".toml") && !std::path::Path::new(name_or_path).exists() {
            return Err(ScenarioError::Unknown(name_or_path.to_owned()));
        }
        let text = std::fs::read_to_string(name_or_path)
            .map_err(|error| ScenarioError::Read { path: name_or_path.to_owned(), error: error.to_string() })?;
        Scenario::from_toml(&text)
            .map_err(|error| ScenarioError::File { path: name_or_path.to_owned(), error: Box::new(error) })
    }

    /// Parses and checks a TOML scenario (see docs/scenarios.md for the format).
    pub fn from_toml(text: &str) -> Result<Scenario, ScenarioError> {
        let file: ScenarioFile = toml::from_str(text).map_err(|error| ScenarioError::Toml(error.to_string()))?;
        let scenario = file.into_scenario()?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// The same scenario with every stage `duration_scale` times as long (the spike window and
    /// the `spike_recovery_time` limits too) and every VU target `vus_scale` times as large,
    /// rounded up so that a stage with VUs keeps at least one. Saturating: a result too large
    /// to represent becomes the largest value, which [`Scenario::validate`] then refuses.
    pub fn scaled(mut self, duration_scale: f64, vus_scale: f64) -> Scenario {
        // `as` saturates (and turns NaN into 0) where `mul_f64` would panic.
        let vus = |target: u32| if target == 0 { 0 } else { ((f64::from(target) * vus_scale).ceil() as u32).max(1) };
        let scale =
            |duration: Duration| {
                Duration::try_from_secs_f64(duration.as_secs_f64() * duration_scale)
                    .unwrap_or(if duration_scale > 0.0 { Duration::MAX } else { Duration::ZERO })
            };
        if let Some(search) = self.breakpoint {
            // A breakpoint's stage targets are its rates: the VU scale sizes its pool instead.
            return self.with_search(Search {
                step: scale(search.step),
                max_vus: vus(search.max_vus).max(1),
                ..search
            });
        }
        self.start_vus = vus(self.start_vus);
        for stage in &mut self.stages {
            stage.duration = scale(stage.duration);
            stage.target = vus(stage.target);
        }
        if let Some(spike) = &mut self.spike {
            spike.window = scale(spike.window);
        }
        for threshold in &mut self.thresholds {
            if threshold.metric.name == "spike_recovery_time" {
                threshold.condition.limit *= duration_scale;
            }
        }
        self
    }

    /// Runs as a breakpoint search along `search`: the executor, and one stage per step (its
    /// target the step's rate, rounded) so that the stages say how long it may take.
    pub fn with_search(mut self, search: Search) -> Scenario {
        self.executor = ExecutorKind::Breakpoint;
        self.stages =
            search.rates().iter().map(|rate| Stage { duration: search.step, target: rate.round() as u32 }).collect();
        self.start_vus = 0;
        self.rate_per_vu = 1.0;
        self.breakpoint = Some(search);
        self
    }

    /// The sum of the stage durations (saturating at `Duration::MAX`).
    pub fn total_duration(&self) -> Duration {
        sum(self.stages.iter())
    }

    /// The largest VU count of any stage.
    pub fn peak_vus(&self) -> u32 {
        self.stages.iter().map(|stage| stage.target).chain([self.start_vus]).max().unwrap_or(0)
    }

    /// When the spike ends, from the start of the run.
    pub fn spike_end(&self) -> Option<Duration> {
        self.spike.map(|spike| sum(self.stages.iter().take(spike.end_stage + 1)))
    }

    /// Checks the scenario's own consistency: stages, listeners, thresholds' metrics and filters.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let invalid = |reason: String| Err(ScenarioError::Invalid(format!("scenario {:?}: {reason}", self.name)));
        if self.stages.is_empty() || self.total_duration().is_zero() {
            return invalid("needs at least one stage with a duration".into());
        }
        if self.total_duration() > MAX_RUN {
            return invalid(format!(
                "the stages last {} together, longer than the limit of {}",
                humantime::format_duration(self.total_duration()),
                humantime::format_duration(MAX_RUN)
            ));
        }
        if self.peak_vus() == 0 {
            return invalid("no stage has any VUs".into());
        }
        // A breakpoint's stage targets are rates: its VUs are the pool.
        let peak = self.breakpoint.map_or(self.peak_vus(), |search| search.max_vus);
        if peak > MAX_VUS {
            return invalid(format!("{peak} VUs at the peak, more than the limit of {MAX_VUS}"));
        }
        if self.listeners.is_empty() {
            return invalid("needs at least one listener".into());
        }
        if !(self.rate_per_vu.is_finite() && self.rate_per_vu > 0.0) {
            return invalid(format!("rate_per_vu must be a positive number, not {}", self.rate_per_vu));
        }
        if let Some(spike) = self.spike
            && spike.end_stage >= self.stages.len()
        {
            return invalid(format!(
                "the spike ends at stage {} but there are {} stages",
                spike.end_stage + 1,
                self.stages.len()
            ));
        }
        if let Some(search) = &self.breakpoint {
            search.validate().or_else(|reason| invalid(format!("[breakpoint] {reason}")))?;
        }
        if let Some(baseline) = &self.overhead_baseline
            && !self.listeners.contains(baseline)
        {
            return invalid(format!("the overhead baseline {baseline:?} is not one of the listeners"));
        }
        for threshold in &self.thresholds {
            self.check_metric(&threshold.metric, threshold.condition.aggregation)
                .or_else(|reason| invalid(format!("threshold {threshold}: {reason}")))?;
        }
        Ok(())
    }

    fn check_metric(&self, metric: &MetricRef, aggregation: Aggregation) -> Result<(), String> {
        let Some(known) = metric.metric() else {
            let names: Vec<&str> = Metric::ALL.iter().map(|metric| metric.name()).collect();
            return Err(format!("unknown metric {:?}; known: {}", metric.name, names.join(", ")));
        };
        if !known.aggregates(aggregation) {
            return Err(format!("{known} cannot be aggregated with {aggregation}"));
        }
        let tags = known.tags();
        match (&metric.tag, known) {
            (None, Metric::InterceptorOverhead) => Err("needs a {listener:NAME} filter".into()),
            (None, _) => Ok(()),
            (Some((tag, _)), _) if !tags.contains(&tag.as_str()) => {
                Err(format!("{} has no tag {tag:?} (tags: {})", metric.name, tags.join(", ")))
            }
            (Some((tag, value)), _) if tag == "listener" && !self.listeners.contains(value) => {
                Err(format!("{value:?} is not one of the scenario's listeners ({})", self.listeners.join(", ")))
            }
            (Some((tag, value)), Metric::InterceptorOverhead) if tag == "listener" => match &self.overhead_baseline {
                Some(baseline) if baseline != value => Ok(()),
                Some(_) => Err("the baseline has no overhead over itself".into()),
                None => Err("the scenario has no overhead_baseline".into()),
            },
            (Some((tag, value)), _) if tag == "phase" && (value != "after_spike" || self.spike.is_none()) => {
                Err("the only phase is after_spike, in scenarios with a [spike]".into())
            }
            _ => Ok(()),
        }
    }
}

/// The sum of the stages' durations, saturating instead of overflowing (`Sum` panics).
fn sum<'a>(stages: impl Iterator<Item = &'a Stage>) -> Duration {
    stages.fold(Duration::ZERO, |total, stage| total.saturating_add(stage.duration))
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Neither a built-in nor a file.
    #[error(
        "unknown scenario {0:?}; built-in: basic-load, stress-test, spike-test, interceptor-overhead, breakpoint, or a path to a .toml file"
    )]
    Unknown(String),
    /// The file could not be read.
    #[error("cannot read scenario file {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// What went wrong.
        error: String,
    },
    /// The file is not a valid scenario.
    #[error("scenario file {path}: {error}")]
    File {
        /// The file.
        path: String,
        /// What is wrong with it.
        error: Box<ScenarioError>,
    },
    /// Bad TOML or a bad field (the message has the line and column).
    #[error("{0}")]
    Toml(String),
    /// Well-formed but inconsistent.
    #[error("{0}")]
    Invalid(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    executor: ExecutorKind,
    #[serde(default, deserialize_with = "vus")]
    start_vus: u32,
    /// Not needed with `executor = "breakpoint"`: its steps are the stages.
    #[serde(default)]
    stages: Vec<StageFile>,
    listeners: Vec<String>,
    #[serde(default)]
    shuffle: bool,
    sleep: Option<SleepFile>,
    #[serde(default, deserialize_with = "positive_number_opt")]
    rate_per_vu: Option<f64>,
    #[serde(default)]
    thresholds: BTreeMap<String, Vec<ThresholdFile>>,
    spike: Option<SpikeFile>,
    overhead_baseline: Option<String>,
    breakpoint: Option<SearchFile>,
    #[serde(default)]
    protocol: Protocol,
}

/// `[breakpoint]`: every field optional, defaulting to [`Search::default`]'s.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchFile {
    start_rate: Option<f64>,
    factor: Option<f64>,
    #[serde(default, deserialize_with = "human_duration_opt")]
    step: Option<Duration>,
    max_rate: Option<f64>,
    max_steps: Option<u32>,
    max_vus: Option<u32>,
    max_dropped: Option<f64>,
}

impl SearchFile {
    fn into_search(self) -> Search {
        let default = Search::default();
        Search {
            start_rate: self.start_rate.unwrap_or(default.start_rate),
            factor: self.factor.unwrap_or(default.factor),
            step: self.step.unwrap_or(default.step),
            max_rate: self.max_rate.unwrap_or(default.max_rate),
            max_steps: self.max_steps.unwrap_or(default.max_steps),
            max_vus: self.max_vus.unwrap_or(default.max_vus),
            max_dropped: self.max_dropped.unwrap_or(default.max_dropped),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StageFile {
    #[serde(deserialize_with = "human_duration")]
    duration: Duration,
    #[serde(deserialize_with = "vus")]
    target: u32,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SleepFile {
    Fixed(#[serde(deserialize_with = "human_duration")] Duration),
    Uniform(#[serde(deserialize_with = "human_duration_pair")] (Duration, Duration)),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ThresholdFile {
    Plain(String),
    Detailed {
        threshold: String,
        #[serde(default)]
        abort_on_fail: bool,
        #[serde(default, deserialize_with = "human_duration_opt")]
        delay_abort_eval: Option<Duration>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpikeFile {
    /// 1-based, as people count stages.
    end_stage: usize,
    #[serde(deserialize_with = "positive_number")]
    p95_ms: f64,
    #[serde(deserialize_with = "human_duration")]
    window: Duration,
}

/// A duration of at most [`MAX_RUN`], from a humantime string.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|error| format!("bad duration {text:?} ({error}); write e.g. \"30s\", \"1m\", \"150ms\""))?;
    if duration > MAX_RUN {
        return Err(format!("duration {text:?} is longer than the limit of {}", humantime::format_duration(MAX_RUN)));
    }
    Ok(duration)
}

fn human_duration<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    parse_duration(&String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
}

fn vus<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let vus = u32::deserialize(deserializer)?;
    if vus > MAX_VUS {
        return Err(serde::de::Error::custom(format!("{vus} VUs is more than the limit of {MAX_VUS}")));
    }
    Ok(vus)
}

fn positive_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    let number = f64::deserialize(deserializer)?;
    if !(number.is_finite() && number > 0.0) {
        return Err(serde::de::Error::custom(format!("must be a positive number, not {number}")));
    }
    Ok(number)
}

fn positive_number_opt<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    positive_number(deserializer).map(Some)
}

fn human_duration_opt<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    human_duration(deserializer).map(Some)
}

fn human_duration_pair<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<(Duration, Duration), D::Error> {
    let [low, high] = <[String; 2]>::deserialize(deserializer)?;
    let parse = |text: &str| parse_duration(text).map_err(serde::de::Error::custom);
    Ok((parse(&low)?, parse(&high)?))
}

impl ScenarioFile {
    fn into_scenario(self) -> Result<Scenario, ScenarioError> {
        let mut thresholds = Vec::new();
        for (metric, conditions) in self.thresholds {
            let metric: MetricRef = metric.parse().map_err(|e| ScenarioError::Invalid(format!("[thresholds]: {e}")))?;
            for condition in conditions {
                let (text, abort) = match condition {
                    ThresholdFile::Plain(text) => (text, None),
                    ThresholdFile::Detailed { threshold, abort_on_fail, delay_abort_eval } => {
                        (threshold, abort_on_fail.then(|| delay_abort_eval.unwrap_or_default()))
                    }
                };
                let condition =
                    text.parse().map_err(|e| ScenarioError::Invalid(format!("[thresholds] {metric}: {e}")))?;
                let threshold = Threshold::new(metric.clone(), condition);
                thresholds.push(match abort {
                    Some(delay) => threshold.abort_on_fail(delay),
                    None => threshold,
                });
            }
        }
        let spike = match self.spike {
            Some(spike) if spike.end_stage == 0 => {
                return Err(ScenarioError::Invalid("[spike] end_stage counts from 1".into()));
            }
            Some(spike) => Some(Spike { end_stage: spike.end_stage - 1, p95_ms: spike.p95_ms, window: spike.window }),
            None => None,
        };
        let sleep = self.sleep.map(|sleep| match sleep {
            SleepFile::Fixed(duration) => Sleep::Fixed(duration),
            SleepFile::Uniform((low, high)) => Sleep::Uniform(low.min(high), low.max(high)),
        });
        let default_rate = 1.0
            / sleep
                .map_or(Duration::from_millis(10), |s| match s {
                    Sleep::Fixed(d) => d,
                    Sleep::Uniform(low, high) => (low + high) / 2,
                })
                .max(Duration::from_millis(1))
                .as_secs_f64();
        let stages: Vec<Stage> =
            self.stages.into_iter().map(|s| Stage { duration: s.duration, target: s.target }).collect();
        let search = match (self.breakpoint, self.executor) {
            (Some(file), _) => Some(file.into_search()),
            (None, ExecutorKind::Breakpoint) => Some(Search::default()),
            (None, _) => None,
        };
        if let Some(search) = &search {
            // Checked before its stages are built from it, so a bad rate cannot make them huge.
            search.validate().map_err(|reason| ScenarioError::Invalid(format!("[breakpoint] {reason}")))?;
        }
        let scenario = Scenario {
            name: self.name,
            description: self.description,
            start_vus: self.start_vus,
            stages,
            listeners: self.listeners,
            shuffle: self.shuffle,
            sleep,
            executor: self.executor,
            rate_per_vu: self.rate_per_vu.unwrap_or(default_rate),
            thresholds,
            spike,
            overhead_baseline: self.overhead_baseline,
            breakpoint: None,
            protocol: self.protocol,
        };
        Ok(match search {
            Some(search) => scenario.with_search(search),
            None => scenario,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_match_the_seed() {
        for name in BUILTINS {
            let scenario = Scenario::builtin(name).unwrap();
            scenario.validate().unwrap();
        }
        let total = |name| Scenario::builtin(name).unwrap().total_duration().as_secs();
        assert_eq!(total("basic-load"), 7 * 60);
        assert_eq!(total("stress-test"), 8 * 60);
        assert_eq!(total("spike-test"), 110);
        assert_eq!(total("interceptor-overhead"), 120);
        let spike = Scenario::builtin("spike-test").unwrap();
        assert_eq!(spike.spike_end(), Some(Duration::from_secs(70)));
        assert_eq!(Scenario::builtin("stress-test").unwrap().peak_vus(), 2000);
    }

    #[test]
    fn scaling_shrinks_durations_vus_and_recovery_limits() {
        let spike = Scenario::builtin("spike-test").unwrap().scaled(0.01, 0.01);
        assert_eq!(spike.total_duration(), Duration::from_millis(1100));
        assert_eq!(spike.stages.iter().map(|s| s.target).collect::<Vec<_>>(), [1, 10, 10, 1, 1]);
        let recovery = spike.thresholds.iter().find(|t| t.metric.name == "spike_recovery_time").unwrap();
        assert_eq!(recovery.condition.limit, 300.0);
        assert_eq!(spike.spike.unwrap().window, Duration::from_millis(50));
    }

    #[test]
    fn a_breakpoint_search_scales_its_steps_and_pool_saturating() {
        let search = Scenario::builtin("breakpoint").unwrap().scaled(0.1, 2.0).breakpoint.unwrap();
        assert_eq!((search.step, search.max_vus), (Duration::from_millis(500), 200));
        // Too long or too many VUs saturates, and validate refuses it; nothing panics.
        let long = Scenario::builtin("breakpoint").unwrap().scaled(1e300, 1.0);
        assert_eq!(long.breakpoint.unwrap().step, Duration::MAX);
        assert!(long.validate().unwrap_err().to_string().contains("longer than the limit"));
        let crowded = Scenario::builtin("breakpoint").unwrap().scaled(1.0, 1e300);
        assert_eq!(crowded.breakpoint.unwrap().max_vus, u32::MAX);
        assert!(crowded.validate().unwrap_err().to_string().contains("VUs at the peak"));
    }

    #[test]
    fn toml_errors_name_the_line_and_field() {
        let error = Scenario::from_toml(
            "name = \"x\"\nlisteners = [\"full\"]\nstages = [{ duration = \"3 parsecs\", target = 1 }]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("line 3") && error.contains("bad duration"), "{error}");
        let error = Scenario::from_toml("name = \"x\"\nlisteners = [\"full\"]\nstage = []\n").unwrap_err().to_string();
        assert!(error.contains("line 3") && error.contains("stage"), "{error}");
        let base = "name = \"x\"\nlisteners = [\"full\"]\nstages = [{ duration = \"1s\", target = 1 }]\n";
        let error =
            Scenario::from_toml(&format!("{base}[thresholds]\nhttp_req_duration = [\"p(95)<<1\"]\n")).unwrap_err();
        assert!(error.to_string().contains("p(95)<<1"), "{error}");
        let error = Scenario::from_toml(&format!("{base}[thresholds]\n\"checks{{listener:nope}}\" = [\"rate>0.9\"]\n"))
            .unwrap_err();
        assert!(error.to_string().contains("nope"), "{error}");
        let error = Scenario::from_toml(&format!("{base}[thresholds]\nchecks = [\"p(95)<1\"]\n")).unwrap_err();
        assert!(error.to_string().contains("cannot be aggregated"), "{error}");
        let error = Scenario::from_toml(&format!("{base}[thresholds]\nlatency = [\"p(95)<1\"]\n")).unwrap_err();
        assert!(error.to_string().contains("unknown metric"), "{error}");
    }

    #[test]
    fn extreme_numbers_are_refused_naming_the_line_not_panicking() {
        let with = |stages: &str, extra: &str| {
            Scenario::from_toml(&format!("name = \"x\"\nlisteners = [\"full\"]\n{extra}stages = [{stages}]\n"))
                .unwrap_err()
                .to_string()
        };
        let huge = r#"{ duration = "18446744073709551615s", target = 1 }"#;
        let error = with(&format!("{huge}, {huge}"), "");
        assert!(error.contains("line 3") && error.contains("longer than the limit"), "{error}");
        let error = with(r#"{ duration = "1s", target = 4294967295 }"#, "");
        assert!(error.contains("line 3") && error.contains("more than the limit of 100000"), "{error}");
        let error = with(r#"{ duration = "1s", target = -1 }"#, "");
        assert!(error.contains("line 3"), "{error}");
        for rate in ["nan", "inf", "0", "-1"] {
            let error = with(r#"{ duration = "1s", target = 1 }"#, &format!("rate_per_vu = {rate}\n"));
            assert!(error.contains("line 3") && error.contains("positive number"), "{rate}: {error}");
        }
        // Every stage within the limit, together over it.
        let week = r#"{ duration = "7days", target = 1 }"#;
        let error = with(&format!("{week}, {week}"), "");
        assert!(error.contains("longer than the limit"), "{error}");

        let basic = || Scenario::builtin("basic-load").unwrap();
        for (duration_scale, vus_scale) in [(1e18, 1.0), (f64::MAX, 1.0), (1.0, 1e18), (1.0, f64::INFINITY)] {
            let scaled = basic().scaled(duration_scale, vus_scale);
            assert!(scaled.validate().is_err(), "{duration_scale} {vus_scale}");
        }
        assert!(basic().scaled(0.01, 0.01).validate().is_ok());
    }

    #[test]
    fn toml_reads_every_field() {
        let scenario = Scenario::from_toml(
            r#"
            name = "spiky"
            executor = "open"
            start_vus = 2
            listeners = ["full", "baseline"]
            shuffle = true
            sleep = ["10ms", "20ms"]
            rate_per_vu = 5
            overhead_baseline = "baseline"
            stages = [{ duration = "1s", target = 4 }, { duration = "500ms", target = 1 }]
            [spike]
            end_stage = 1
            p95_ms = 50
            window = "200ms"
            [thresholds]
            "interceptor_overhead{listener:full}" = ["med<1"]
            spike_recovery_time = [{ threshold = "value<1000", abort_on_fail = true, delay_abort_eval = "1s" }]
            "#,
        )
        .unwrap();
        assert_eq!(scenario.executor, ExecutorKind::Open);
        assert_eq!(scenario.sleep, Some(Sleep::Uniform(Duration::from_millis(10), Duration::from_millis(20))));
        assert_eq!(scenario.spike_end(), Some(Duration::from_secs(1)));
        assert_eq!(scenario.thresholds.len(), 2);
        assert!(scenario.thresholds.iter().any(|t| t.abort_on_fail && t.delay_abort_eval == Duration::from_secs(1)));
    }
}
