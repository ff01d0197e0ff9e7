//! What a run records: HDR histograms of request durations (µs resolution) with request,
//! failure and check counts, per stage and listener for the totals, and per interval for the
//! time series.
//!
//! VUs record into mutex-guarded shards (VU id modulo the shard count; one per runtime
//! worker), so that recording stays cheap and uncontended; the collector drains finished
//! intervals once per interval and merges the shards at the end.
//!
//! ```
//! use interceptor_bench::load::client::Outcome;
//! use interceptor_bench::load::metrics::Cell;
//! use std::time::Duration;
//!
//! let mut cell = Cell::new();
//! cell.record(Duration::from_millis(3), Outcome { status: Some(200), message_ok: true, transport_error: false });
//! cell.record(Duration::from_millis(5), Outcome { status: Some(503), message_ok: false, transport_error: false });
//! assert_eq!((cell.requests, cell.failed), (2, 1));
//! assert!((cell.trend().max - 5.0).abs() < 0.01); // HDR: 3 significant figures
//! assert_eq!(cell.checks_rate(), Some(0.5));
//! ```

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::client::Outcome;

/// The checks made on every response, in order.
pub const CHECKS: [&str; 2] = ["status is 200", "message is \"Hello, <name>!\""];

/// Passes and fails of one check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CheckCount {
    /// Times the check held.
    pub passes: u64,
    /// Times it did not.
    pub fails: u64,
}

/// Durations and counts of a set of requests.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Request durations in microseconds.
    pub duration: Histogram<u64>,
    /// Requests made.
    pub requests: u64,
    /// Requests that failed: no response, or a status other than 200.
    pub failed: u64,
    /// Each of [`CHECKS`].
    pub checks: [CheckCount; 2],
}

impl Cell {
    /// An empty cell whose histogram already spans `like`'s range, so that recording the same
    /// kind of durations does not grow (reallocate and copy) it again.
    fn like(like: &Cell) -> Self {
        Cell {
            duration: Histogram::new_from(&like.duration),
            requests: 0,
            failed: 0,
            checks: [CheckCount::default(); 2],
        }
    }
}

impl Default for Cell {
    fn default() -> Self {
        Cell::new()
    }
}

/// A trend's summary, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub avg: f64,
    /// Smallest.
    pub min: f64,
    /// Median.
    pub med: f64,
    /// Largest.
    pub max: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// A microsecond histogram value in milliseconds.
pub fn millis(micros: u64) -> f64 {
    micros as f64 / 1e3
}

/// The value at `percentile` (0–100) of a microsecond histogram, in milliseconds; `None` when empty.
pub fn percentile_ms(histogram: &Histogram<u64>, percentile: f64) -> Option<f64> {
    (!histogram.is_empty()).then(|| millis(histogram.value_at_percentile(percentile)))
}

impl Cell {
    /// An empty cell.
    pub fn new() -> Self {
        // Auto-resizing, so a call that takes minutes still records exactly.
        let duration = Histogram::new(3).expect("3 significant figures is a valid HDR precision");
        Cell { duration, requests: 0, failed: 0, checks: [CheckCount::default(); 2] }
    }

    /// Records one request that took `duration` and came to `outcome`.
    pub fn record(&mut self, duration: Duration, outcome: Outcome) {
        let micros = (duration.as_micros() as u64).max(1);
        // `record` grows the auto-resizing histogram; `saturating_record` would clamp to its current top.
        if self.duration.record(micros).is_err() {
            self.duration.saturating_record(micros);
        }
        self.requests += 1;
        self.failed += u64::from(!outcome.status_ok());
        for (count, passed) in self.checks.iter_mut().zip([outcome.status_ok(), outcome.message_ok]) {
            count.passes += u64::from(passed);
            count.fails += u64::from(!passed);
        }
    }

    /// Adds another cell's samples and counts.
    pub fn add(&mut self, other: &Cell) {
        self.duration.add(&other.duration).expect("auto-resizing histograms always add");
        self.requests += other.requests;
        self.failed += other.failed;
        for (mine, theirs) in self.checks.iter_mut().zip(other.checks) {
            mine.passes += theirs.passes;
            mine.fails += theirs.fails;
        }
    }

    /// The durations' summary.
    pub fn trend(&self) -> Trend {
        let h = &self.duration;
        if h.is_empty() {
            return Trend::default();
        }
        Trend {
            count: h.len(),
            avg: h.mean() / 1e3,
            min: millis(h.min()),
            med: millis(h.value_at_percentile(50.0)),
            max: millis(h.max()),
            p90: millis(h.value_at_percentile(90.0)),
            p95: millis(h.value_at_percentile(95.0)),
            p99: millis(h.value_at_percentile(99.0)),
        }
    }

    /// The fraction of failed requests; `None` without requests.
    pub fn failed_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.failed as f64 / self.requests as f64)
    }

    /// The fraction of checks that held; `None` without checks.
    pub fn checks_rate(&self) -> Option<f64> {
        let passes: u64 = self.checks.iter().map(|c| c.passes).sum();
        let total: u64 = self.checks.iter().map(|c| c.passes + c.fails).sum();
        (total > 0).then(|| passes as f64 / total as f64)
    }
}

/// One interval of the time series, all listeners together.
#[derive(Debug, Clone, Default)]
pub struct Bucket {
    /// Its requests.
    pub cell: Cell,
    /// Iterations finished in it.
    pub iterations: u64,
}

#[derive(Default)]
struct Shard {
    /// `stage * listeners + listener`.
    cells: Vec<Cell>,
    iterations: u64,
    buckets: BTreeMap<u64, Bucket>,
}

/// Everything recorded, merged: per stage and listener, and the iteration count.
#[derive(Debug, Clone)]
pub struct Totals {
    /// `cells[stage][listener]`.
    pub cells: Vec<Vec<Cell>>,
    /// Iterations finished.
    pub iterations: u64,
}

impl Totals {
    /// All requests matching `select(stage, listener)`, merged.
    pub fn merged(&self, select: impl Fn(usize, usize) -> bool) -> Cell {
        let mut cell = Cell::new();
        for (stage, row) in self.cells.iter().enumerate() {
            for (listener, other) in row.iter().enumerate() {
                if select(stage, listener) {
                    cell.add(other);
                }
            }
        }
        cell
    }
}

/// The shared sink VUs record into.
pub struct Recorder {
    shards: Box<[Mutex<Shard>]>,
    start: Instant,
    stage_ends: Vec<Duration>,
    listeners: usize,
    interval: Duration,
}

/// The most shards: VUs on more worker threads than this share them.
const MAX_SHARDS: usize = 16;

impl Recorder {
    /// A recorder for a run started at `start` with stages ending at `stage_ends` (from the
    /// start), `listeners` listeners, and a time series of `interval`-long buckets; one shard
    /// per worker of the tokio runtime it is created on (one on a current-thread runtime).
    pub fn new(start: Instant, stage_ends: Vec<Duration>, listeners: usize, interval: Duration) -> Self {
        let workers = tokio::runtime::Handle::try_current().map_or(MAX_SHARDS, |handle| handle.metrics().num_workers());
        let cells = stage_ends.len().max(1) * listeners;
        let shards = (0..workers.clamp(1, MAX_SHARDS))
            .map(|_| Mutex::new(Shard { cells: vec![Cell::new(); cells], ..Shard::default() }))
            .collect();
        Recorder { shards, start, stage_ends, listeners, interval }
    }

    fn shard(&self, vu: usize) -> std::sync::MutexGuard<'_, Shard> {
        // A VU that panicked while recording leaves counts that are still counts.
        self.shards[vu % self.shards.len()].lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The interval index of `at`.
    pub fn bucket_of(&self, at: Instant) -> u64 {
        (at.saturating_duration_since(self.start).as_nanos() / self.interval.as_nanos().max(1)) as u64
    }

    /// Records a request by `vu` to `listener` that was due at `since` and ended now; returns now.
    pub fn record(&self, vu: usize, listener: usize, since: Instant, outcome: Outcome) -> Instant {
        let now = Instant::now();
        let duration = now.saturating_duration_since(since);
        let elapsed = now.saturating_duration_since(self.start);
        let stage = self.stage_ends.partition_point(|end| *end <= elapsed).min(self.stage_ends.len().saturating_sub(1));
        let bucket = self.bucket_of(now);
        let mut shard = self.shard(vu);
        let Shard { cells, buckets, .. } = &mut *shard;
        let cell = &mut cells[stage * self.listeners + listener];
        cell.record(duration, outcome);
        let bucket = buckets.entry(bucket).or_insert_with(|| Bucket { cell: Cell::like(cell), iterations: 0 });
        bucket.cell.record(duration, outcome);
        now
    }

    /// Records an iteration of `vu` that finished `at`.
    pub fn record_iteration(&self, vu: usize, at: Instant) {
        let bucket = self.bucket_of(at);
        let mut shard = self.shard(vu);
        shard.iterations += 1;
        shard.buckets.entry(bucket).or_default().iterations += 1;
    }

    /// Takes the buckets before `until` out of every shard, merged by index.
    pub fn drain_buckets(&self, until: u64) -> BTreeMap<u64, Bucket> {
        let mut merged: BTreeMap<u64, Bucket> = BTreeMap::new();
        for index in 0..self.shards.len() {
            let mut shard = self.shard(index);
            let later = shard.buckets.split_off(&until);
            for (index, bucket) in std::mem::replace(&mut shard.buckets, later) {
                match merged.entry(index) {
                    Entry::Vacant(entry) => {
                        entry.insert(bucket);
                    }
                    Entry::Occupied(mut entry) => {
                        let entry = entry.get_mut();
                        entry.cell.add(&bucket.cell);
                        entry.iterations += bucket.iterations;
                    }
                }
            }
        }
        merged
    }

    /// Everything recorded so far, merged.
    pub fn totals(&self) -> Totals {
        let stages = self.stage_ends.len().max(1);
        let mut cells = vec![vec![Cell::new(); self.listeners]; stages];
        let mut iterations = 0;
        for index in 0..self.shards.len() {
            let shard = self.shard(index);
            iterations += shard.iterations;
            for (position, cell) in shard.cells.iter().enumerate() {
                cells[position / self.listeners][position % self.listeners].add(cell);
            }
        }
        Totals { cells, iterations }
    }
}

/// One point of the per-interval time series.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// The interval's start, in ms from the start of the run.
    pub t_ms: f64,
    /// Requests finished in it.
    pub requests: u64,
    /// Of which failed.
    pub errors: u64,
    /// Iterations finished in it.
    pub iterations: u64,
    /// Open model: iterations dropped in it.
    pub dropped: u64,
    /// Median duration (ms), `null` without requests.
    pub p50: Option<f64>,
    /// 95th percentile (ms).
    pub p95: Option<f64>,
    /// 99th percentile (ms).
    pub p99: Option<f64>,
    /// VUs active at its end (closed model) or busy (open model).
    pub vus: u32,
}

/// The time series; optionally with each interval's histogram kept, for rolling percentiles.
#[derive(Debug, Clone)]
pub struct Series {
    /// Interval length.
    pub interval: Duration,
    /// One point per interval, from the start.
    pub points: Vec<Point>,
    histograms: Option<Vec<Histogram<u64>>>,
}

impl Series {
    /// An empty series of `interval`-long points.
    pub fn new(interval: Duration) -> Self {
        Series { interval, points: Vec::new(), histograms: None }
    }

    /// Also keeps every interval's histogram (up to ~100 kB each), which
    /// [`Series::rolling_p95`] and [`Series::recovery_time`] need.
    pub fn keep_histograms(mut self) -> Self {
        self.histograms = Some(Vec::new());
        self
    }

    /// Adds drained buckets, filling gaps with empty points; `vus` and `dropped` go to the last.
    pub fn extend(&mut self, buckets: BTreeMap<u64, Bucket>, until: u64, vus: u32, dropped: u64) {
        let mut buckets = buckets.into_iter().peekable();
        let first_new = self.points.len() as u64;
        for index in first_new..until {
            let bucket = match buckets.peek() {
                Some((at, _)) if *at == index => buckets.next().map(|(_, bucket)| bucket).unwrap_or_default(),
                _ => Bucket::default(),
            };
            let h = &bucket.cell.duration;
            self.points.push(Point {
                t_ms: (self.interval * index as u32).as_secs_f64() * 1e3,
                requests: bucket.cell.requests,
                errors: bucket.cell.failed,
                iterations: bucket.iterations,
                dropped: if index + 1 == until { dropped } else { 0 },
                p50: percentile_ms(h, 50.0),
                p95: percentile_ms(h, 95.0),
                p99: percentile_ms(h, 99.0),
                vus,
            });
            if let Some(histograms) = &mut self.histograms {
                histograms.push(bucket.cell.duration);
            }
        }
    }

    /// The p95 (ms) over the `window` intervals ending with interval `index`; `None` without
    /// requests or without [`Series::keep_histograms`].
    pub fn rolling_p95(&self, index: usize, window: usize) -> Option<f64> {
        let from = (index + 1).saturating_sub(window.max(1));
        let mut merged = Histogram::<u64>::new(3).ok()?;
        for histogram in self.histograms.as_ref()?.get(from..=index)? {
            merged.add(histogram).ok()?;
        }
        percentile_ms(&merged, 95.0)
    }

    /// Time from `spike_end` until the rolling p95 over `window` is under `limit_ms` and stays
    /// there to the end of the series; `None` when it never gets (and stays) there.
    pub fn recovery_time(&self, spike_end: Duration, window: Duration, limit_ms: f64) -> Option<Duration> {
        let per = self.interval.as_nanos().max(1);
        let window = (window.as_nanos().div_ceil(per) as usize).max(1);
        // The first interval that ends after the spike.
        let first = (spike_end.as_nanos() / per) as usize;
        if first >= self.points.len() {
            return None;
        }
        let mut recovered_from = None;
        for index in first..self.points.len() {
            // An interval without any request says nothing; it neither breaks nor makes recovery.
            match self.rolling_p95(index, window) {
                Some(p95) if p95 < limit_ms => {
                    recovered_from.get_or_insert(index);
                }
                Some(_) => recovered_from = None,
                None => {}
            }
        }
        // To the interval's resolution: from the spike's end to the start of the first good interval.
        recovered_from.map(|index| (self.interval * index as u32).saturating_sub(spike_end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(latency_ms: u64, requests: u64) -> Bucket {
        let mut cell = Cell::new();
        for _ in 0..requests {
            cell.record(
                Duration::from_millis(latency_ms),
                Outcome { status: Some(200), message_ok: true, transport_error: false },
            );
        }
        Bucket { cell, iterations: requests }
    }

    fn series(latencies: &[u64]) -> Series {
        let mut series = Series::new(Duration::from_secs(1)).keep_histograms();
        let buckets = latencies.iter().enumerate().map(|(i, &ms)| (i as u64, bucket(ms, 10))).collect();
        series.extend(buckets, latencies.len() as u64, 1, 0);
        series
    }

    #[test]
    fn recovery_is_measured_from_the_spike_end_to_staying_under() {
        // Spike ends at 3 s; p95 under 150 from the interval starting at 5 s, with a 1 s window.
        let s = series(&[10, 10, 300, 300, 200, 100, 50, 50]);
        assert_eq!(
            s.recovery_time(Duration::from_secs(3), Duration::from_secs(1), 150.0),
            Some(Duration::from_secs(2))
        );
        // Dipping under and back over does not count as recovered.
        let s = series(&[10, 10, 300, 100, 300, 100, 100, 100]);
        assert_eq!(
            s.recovery_time(Duration::from_secs(3), Duration::from_secs(1), 150.0),
            Some(Duration::from_secs(2))
        );
        // Under from the spike's end on: no recovery time at all.
        let s = series(&[10, 10, 300, 100, 100]);
        assert_eq!(s.recovery_time(Duration::from_secs(3), Duration::from_secs(1), 150.0), Some(Duration::ZERO));
        // Never back under.
        let s = series(&[10, 10, 300, 300, 300]);
        assert_eq!(s.recovery_time(Duration::from_secs(3), Duration::from_secs(1), 150.0), None);
        // A 2 s rolling window carries the slow interval one interval further.
        let s = series(&[10, 10, 300, 100, 100, 100]);
        assert_eq!(
            s.recovery_time(Duration::from_secs(3), Duration::from_secs(2), 150.0),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn series_fills_gaps_and_keeps_percentiles() {
        let mut s = Series::new(Duration::from_millis(500));
        s.extend([(1, bucket(20, 4))].into(), 3, 7, 5);
        assert_eq!(s.points.len(), 3);
        assert_eq!(s.points[0].requests, 0);
        assert_eq!(s.points[0].p95, None);
        assert_eq!(s.points[1].t_ms, 500.0);
        assert!((s.points[1].p95.unwrap() - 20.0).abs() < 0.1);
        assert_eq!((s.points[2].vus, s.points[2].dropped), (7, 5));
    }
}
