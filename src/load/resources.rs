//! The server's resident memory and CPU, sampled once a second — from `/proc/PID` or from the
//! server's Prometheus `/metrics` (`process_resident_memory_bytes`,
//! `process_cpu_seconds_total`) — and compared with the seed's targets: under 100 MB
//! resident, under 50% of one core.
//!
//! ```
//! use interceptor_bench::load::resources::{Sampler, Source};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let mut sampler = Sampler::new(Source::Pid(std::process::id())).await.unwrap();
//! sampler.sample().await;
//! let resources = sampler.finish();
//! assert!(resources.rss_peak_mb > 0.0);
//! assert!(Sampler::new(Source::Pid(u32::MAX)).await.is_err());
//! # });
//! ```

use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::client::get_text;
use super::target::Target;

/// The seed's memory target.
pub const RSS_TARGET_MB: f64 = 100.0;
/// The seed's CPU target, in percent of one core.
pub const CPU_TARGET_PERCENT: f64 = 50.0;
/// Linux's `USER_HZ`, the unit of `/proc/PID/stat` CPU times: 100 on every Linux ABI.
const TICKS_PER_SECOND: f64 = 100.0;
/// How long one `/metrics` scrape may take.
const SCRAPE_TIMEOUT: Duration = Duration::from_millis(500);

/// Where the server's resources are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `/proc/PID/status` and `/proc/PID/stat` of a local process.
    Pid(u32),
    /// A Prometheus text endpoint with the standard process metrics.
    Metrics(Target),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Pid(pid) => write!(f, "pid {pid}"),
            Source::Metrics(target) => f.write_str(target.url()),
        }
    }
}

/// One reading: resident memory (MB) and CPU seconds so far.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Reading {
    rss_mb: f64,
    cpu_seconds: f64,
}

/// Peak and mean server resources over a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// Where they were read: `pid N` or the metrics URL.
    pub source: String,
    /// How many samples.
    pub samples: usize,
    /// Largest resident set (MB).
    pub rss_peak_mb: f64,
    /// Mean resident set (MB).
    pub rss_mean_mb: f64,
    /// Highest CPU use between two samples (percent of one core).
    pub cpu_peak_percent: f64,
    /// CPU time over wall time across the run (percent of one core).
    pub cpu_mean_percent: f64,
    /// [`RSS_TARGET_MB`].
    pub rss_target_mb: f64,
    /// [`CPU_TARGET_PERCENT`].
    pub cpu_target_percent: f64,
    /// Peak RSS and mean CPU both under their targets.
    pub within_targets: bool,
    /// Every sample, in order: what the report draws over time (absent in files written
    /// before samples were kept, read as none).
    #[serde(default)]
    pub points: Vec<ResourcePoint>,
}

/// One sample of the server's resources.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ResourcePoint {
    /// Milliseconds since sampling began (the run's start).
    pub t_ms: u64,
    /// Resident set (MB).
    pub rss_mb: f64,
    /// CPU use since the previous sample (percent of one core); `None` for the first sample.
    pub cpu_percent: Option<f64>,
}

fn read_proc(pid: u32) -> Option<Reading> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kilobytes: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses; the fields after the last ')' start at field 3.
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 1..)?.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some(Reading { rss_mb: kilobytes / 1024.0, cpu_seconds: (utime + stime) / TICKS_PER_SECOND })
}

/// The value of an unlabelled sample `name` in Prometheus text exposition.
///
/// ```
/// use interceptor_bench::load::resources::prometheus_value;
/// let text = "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.5\nprocess_resident_memory_bytes 2.5e7\n";
/// assert_eq!(prometheus_value(text, "process_cpu_seconds_total"), Some(1.5));
/// assert_eq!(prometheus_value(text, "process_resident_memory_bytes"), Some(25_000_000.0));
/// assert_eq!(prometheus_value(text, "process_cpu"), None);
/// ```
pub fn prometheus_value(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let mut parts = line.split_whitespace();
        (parts.next()? == name).then_some(())?;
        parts.next()?.parse().ok()
    })
}

async fn read_metrics(target: &Target) -> Option<Reading> {
    let text = get_text(target, SCRAPE_TIMEOUT).await?;
    Some(Reading {
        rss_mb: prometheus_value(&text, "process_resident_memory_bytes")? / (1024.0 * 1024.0),
        cpu_seconds: prometheus_value(&text, "process_cpu_seconds_total")?,
    })
}

/// Samples one server.
#[derive(Debug)]
pub struct Sampler {
    source: Source,
    first: (Instant, f64),
    last: (Instant, f64),
    points: Vec<ResourcePoint>,
}

impl Sampler {
    async fn read(source: &Source) -> Option<Reading> {
        match source {
            Source::Pid(pid) => read_proc(*pid),
            Source::Metrics(target) => read_metrics(target).await,
        }
    }

    /// A sampler for `source`, or an error when it cannot be read now.
    pub async fn new(source: Source) -> Result<Sampler, String> {
        let reading = Sampler::read(&source).await.ok_or_else(|| match &source {
            Source::Pid(pid) => format!("cannot read /proc/{pid}: no such process (--server-pid)"),
            Source::Metrics(target) => format!(
                "cannot read process_resident_memory_bytes and process_cpu_seconds_total from {} (--server-metrics)",
                target.url()
            ),
        })?;
        let now = (Instant::now(), reading.cpu_seconds);
        let first_point = ResourcePoint { t_ms: 0, rss_mb: reading.rss_mb, cpu_percent: None };
        Ok(Sampler { source, first: now, last: now, points: vec![first_point] })
    }

    /// Takes one sample; a server that has gone away is simply not sampled any more.
    pub async fn sample(&mut self) {
        let Some(reading) = Sampler::read(&self.source).await else { return };
        let now = Instant::now();
        let (then, before) = self.last;
        let wall = now.duration_since(then).as_secs_f64();
        let cpu_percent = (wall > 0.0).then(|| (reading.cpu_seconds - before) / wall * 100.0);
        let t_ms = u64::try_from(now.duration_since(self.first.0).as_millis()).unwrap_or(u64::MAX);
        self.points.push(ResourcePoint { t_ms, rss_mb: reading.rss_mb, cpu_percent });
        self.last = (now, reading.cpu_seconds);
    }

    /// The latest sample.
    pub fn last(&self) -> Option<ResourcePoint> {
        self.points.last().copied()
    }

    /// Peak and mean over the samples taken.
    pub fn finish(self) -> Resources {
        let mean =
            |values: &[f64]| if values.is_empty() { 0.0 } else { values.iter().sum::<f64>() / values.len() as f64 };
        let peak = |values: &[f64]| values.iter().copied().fold(0.0, f64::max);
        let ((start, first), (end, last)) = (self.first, self.last);
        let wall = end.duration_since(start).as_secs_f64();
        let cpu_mean_percent = if wall > 0.0 { (last - first) / wall * 100.0 } else { 0.0 };
        let rss_mb: Vec<f64> = self.points.iter().map(|p| p.rss_mb).collect();
        let cpu_percent: Vec<f64> = self.points.iter().filter_map(|p| p.cpu_percent).collect();
        let rss_peak_mb = peak(&rss_mb);
        Resources {
            source: self.source.to_string(),
            samples: rss_mb.len(),
            rss_peak_mb,
            rss_mean_mb: mean(&rss_mb),
            cpu_peak_percent: peak(&cpu_percent),
            cpu_mean_percent,
            rss_target_mb: RSS_TARGET_MB,
            cpu_target_percent: CPU_TARGET_PERCENT,
            within_targets: rss_peak_mb < RSS_TARGET_MB && cpu_mean_percent < CPU_TARGET_PERCENT,
            points: self.points,
        }
    }
}
