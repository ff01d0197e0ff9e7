//! The server's resident memory and CPU, sampled from `/proc/PID` once a second and compared
//! with the seed's targets: under 100 MB resident, under 50% of one core.
//!
//! ```
//! use interceptor_bench::load::resources::Sampler;
//!
//! let mut sampler = Sampler::new(std::process::id()).unwrap();
//! sampler.sample();
//! let resources = sampler.finish();
//! assert!(resources.rss_peak_mb > 0.0);
//! assert!(Sampler::new(u32::MAX).is_err());
//! ```

use std::time::Instant;

use serde::Serialize;

/// The seed's memory target.
pub const RSS_TARGET_MB: f64 = 100.0;
/// The seed's CPU target, in percent of one core.
pub const CPU_TARGET_PERCENT: f64 = 50.0;
/// Linux's `USER_HZ`, the unit of `/proc/PID/stat` CPU times: 100 on every Linux ABI.
const TICKS_PER_SECOND: f64 = 100.0;

/// Peak and mean server resources over a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resources {
    /// The process sampled.
    pub pid: u32,
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
}

/// Samples one process.
#[derive(Debug)]
pub struct Sampler {
    pid: u32,
    first: Option<(Instant, f64)>,
    last: Option<(Instant, f64)>,
    rss_mb: Vec<f64>,
    cpu_percent: Vec<f64>,
}

fn read_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kilobytes: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes / 1024.0)
}

fn read_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses; the fields after the last ')' start at field 3.
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 1..)?.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

impl Sampler {
    /// A sampler for `pid`, or an error when there is no such process to read.
    pub fn new(pid: u32) -> Result<Sampler, String> {
        let cpu =
            read_cpu_seconds(pid).ok_or_else(|| format!("cannot read /proc/{pid}: no such process (--server-pid)"))?;
        let now = Instant::now();
        Ok(Sampler {
            pid,
            first: Some((now, cpu)),
            last: Some((now, cpu)),
            rss_mb: Vec::new(),
            cpu_percent: Vec::new(),
        })
    }

    /// Takes one sample; a process that has gone away is simply not sampled any more.
    pub fn sample(&mut self) {
        let now = Instant::now();
        if let Some(rss) = read_rss_mb(self.pid) {
            self.rss_mb.push(rss);
        }
        if let (Some(cpu), Some((then, before))) = (read_cpu_seconds(self.pid), self.last) {
            let wall = now.duration_since(then).as_secs_f64();
            if wall > 0.0 {
                self.cpu_percent.push((cpu - before) / wall * 100.0);
            }
            self.last = Some((now, cpu));
        }
    }

    /// Peak and mean over the samples taken.
    pub fn finish(self) -> Resources {
        let mean =
            |values: &[f64]| if values.is_empty() { 0.0 } else { values.iter().sum::<f64>() / values.len() as f64 };
        let peak = |values: &[f64]| values.iter().copied().fold(0.0, f64::max);
        let cpu_mean_percent = match (self.first, self.last) {
            (Some((start, first)), Some((end, last))) if end > start => {
                (last - first) / end.duration_since(start).as_secs_f64() * 100.0
            }
            _ => mean(&self.cpu_percent),
        };
        let rss_peak_mb = peak(&self.rss_mb);
        Resources {
            pid: self.pid,
            samples: self.rss_mb.len(),
            rss_peak_mb,
            rss_mean_mb: mean(&self.rss_mb),
            cpu_peak_percent: peak(&self.cpu_percent),
            cpu_mean_percent,
            rss_target_mb: RSS_TARGET_MB,
            cpu_target_percent: CPU_TARGET_PERCENT,
            within_targets: rss_peak_mb < RSS_TARGET_MB && cpu_mean_percent < CPU_TARGET_PERCENT,
        }
    }
}
