//! The executors: ramping VUs (closed model) and ramping arrival rate (open model).
//!
//! **Closed** (k6 `stages`): the VU count follows the stages, ramping linearly from one
//! target to the next; each VU runs an iteration, sleeps its think time, and goes again. A slow
//! server slows the VUs down, so it is asked fewer questions while it is slow: latency
//! percentiles then hide a stall (coordinated omission).
//!
//! **Open** (k6 `ramping-arrival-rate`): iterations start on a schedule, whatever the server
//! does. The rate follows the stages, `target VUs × rate_per_vu` iterations per second, ramping
//! linearly; there is no think time (the rate replaces it). A stalled server cannot hide: the
//! iterations due during the stall still start on time on other VUs of the pool and wait with
//! it, and an iteration that found no VU free at its due time is timed from that due time, so
//! the wait for a VU counts too. (An iteration whose VU was free and waiting is timed from its
//! actual start: the timer's millisecond of coarseness is the generator's, not the server's.)
//! Iterations whose time comes while every VU of the pool is busy are dropped and counted
//! (`dropped_iterations`); a free VU takes the most recent due iteration.
//!
//! The run loop ([`super::run`]) drives either through one seam: a `Model` chosen before the
//! run launches its VUs and, each tick, ramps them (closed) or reads how many are busy (open).
//! The breakpoint search ([`super::breakpoint`]) is a sequence of open-model runs.
//!
//! ```
//! use interceptor_bench::load::executor::RateSchedule;
//! use interceptor_bench::load::scenario::Stage;
//! use std::time::Duration;
//!
//! // 0 → 10 iterations/s over 2 s, then 10/s for 1 s: 10 + 10 = 20 iterations.
//! let schedule = RateSchedule::new(0, &[Stage::secs(2, 10), Stage::secs(1, 10)], 1.0);
//! assert_eq!(schedule.total(), 20);
//! assert_eq!(schedule.time_of(10), Some(Duration::from_secs(2)));
//! assert_eq!(schedule.time_of(15), Some(Duration::from_millis(2500)));
//! assert_eq!(schedule.due(Duration::from_millis(2500)), 16);
//! ```

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use rand::seq::SliceRandom;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use super::client::Caller;
use super::metrics::Recorder;
use super::output::OpenModel;
use super::scenario::{ExecutorKind, Scenario, Sleep, Stage};
use super::target::Target;

/// How long a VU waits after a connection failure before its next iteration, so that a dead
/// target is counted as failing without being hammered in a tight loop.
pub const CONNECT_BACKOFF: Duration = Duration::from_millis(10);

/// The closed model's VU count over time: linear ramps between stage targets.
///
/// ```
/// use interceptor_bench::load::executor::VuSchedule;
/// use interceptor_bench::load::scenario::Stage;
/// use std::time::Duration;
///
/// let schedule = VuSchedule::new(0, &[Stage::secs(10, 100), Stage::secs(10, 0)]);
/// assert_eq!(schedule.vus_at(Duration::from_secs(5)), 50);
/// assert_eq!(schedule.vus_at(Duration::from_secs(10)), 100);
/// assert_eq!(schedule.vus_at(Duration::from_secs(19)), 10);
/// assert_eq!(schedule.vus_at(Duration::from_secs(30)), 0);
/// ```
#[derive(Debug, Clone)]
pub struct VuSchedule {
    start: u32,
    stages: Vec<Stage>,
}

impl VuSchedule {
    /// Starts at `start` VUs and follows `stages`.
    pub fn new(start: u32, stages: &[Stage]) -> Self {
        VuSchedule { start, stages: stages.to_vec() }
    }

    /// The VU target `elapsed` into the run (the last stage's target after the end).
    pub fn vus_at(&self, elapsed: Duration) -> u32 {
        let mut from = self.start;
        let mut stage_start = Duration::ZERO;
        for stage in &self.stages {
            let stage_end = stage_start + stage.duration;
            if elapsed < stage_end {
                let progress = (elapsed - stage_start).as_secs_f64() / stage.duration.as_secs_f64();
                let vus = f64::from(from) + (f64::from(stage.target) - f64::from(from)) * progress;
                return vus.round() as u32;
            }
            from = stage.target;
            stage_start = stage_end;
        }
        from
    }
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    start: f64,
    duration: f64,
    from_rate: f64,
    to_rate: f64,
    count_before: f64,
}

impl Segment {
    fn count(&self) -> f64 {
        (self.from_rate + self.to_rate) / 2.0 * self.duration
    }

    /// Iterations started `t` seconds into the segment.
    fn count_at(&self, t: f64) -> f64 {
        let slope = (self.to_rate - self.from_rate) / self.duration;
        self.from_rate * t + slope * t * t / 2.0
    }

    /// When, in seconds into the segment, `count` iterations have started.
    fn time_of(&self, count: f64) -> f64 {
        let half_slope = (self.to_rate - self.from_rate) / self.duration / 2.0;
        if half_slope.abs() < 1e-12 {
            return count / self.from_rate;
        }
        let discriminant = (self.from_rate * self.from_rate + 4.0 * half_slope * count).max(0.0);
        ((-self.from_rate + discriminant.sqrt()) / (2.0 * half_slope)).clamp(0.0, self.duration)
    }
}

/// The open model's schedule: iteration `k` is due when the integral of the arrival rate
/// reaches `k`; the rate ramps linearly between `stage target × rate_per_vu` values.
#[derive(Debug, Clone)]
pub struct RateSchedule {
    segments: Vec<Segment>,
    total: u64,
    duration: f64,
}

impl RateSchedule {
    /// From `start_vus` along `stages`, at `rate_per_vu` iterations per second per VU.
    pub fn new(start_vus: u32, stages: &[Stage], rate_per_vu: f64) -> Self {
        let mut segments = Vec::with_capacity(stages.len());
        let (mut start, mut count_before, mut from_rate) = (0.0, 0.0, f64::from(start_vus) * rate_per_vu);
        for stage in stages.iter().filter(|stage| !stage.duration.is_zero()) {
            let to_rate = f64::from(stage.target) * rate_per_vu;
            let segment = Segment { start, duration: stage.duration.as_secs_f64(), from_rate, to_rate, count_before };
            start += segment.duration;
            count_before += segment.count();
            from_rate = to_rate;
            segments.push(segment);
        }
        RateSchedule { segments, total: count_before.ceil() as u64, duration: start }
    }

    /// How many iterations the whole schedule starts.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The highest rate anywhere in the schedule, iterations per second.
    pub fn peak_rate(&self) -> f64 {
        self.segments.iter().map(|s| s.from_rate.max(s.to_rate)).fold(0.0, f64::max)
    }

    fn count_at(&self, elapsed: Duration) -> f64 {
        let t = elapsed.as_secs_f64();
        match self.segments.iter().rev().find(|segment| segment.start <= t) {
            Some(segment) => segment.count_before + segment.count_at((t - segment.start).min(segment.duration)),
            None => 0.0,
        }
    }

    /// How many iterations are due `elapsed` into the run (iterations `0..due`).
    pub fn due(&self, elapsed: Duration) -> u64 {
        if self.total == 0 {
            return 0;
        }
        ((self.count_at(elapsed).floor() as u64) + 1).min(self.total)
    }

    /// When iteration `k` is due, from the start; `None` past the schedule's end.
    pub fn time_of(&self, k: u64) -> Option<Duration> {
        if k >= self.total {
            return None;
        }
        let count = k as f64;
        let segment =
            self.segments.iter().rev().find(|segment| segment.count_before <= count && segment.count() > 0.0)?;
        let seconds = segment.start + segment.time_of(count - segment.count_before);
        Some(Duration::from_secs_f64(seconds.min(self.duration)))
    }
}

/// What every VU shares.
pub(crate) struct Shared {
    pub recorder: Recorder,
    pub targets: Vec<Target>,
    pub shuffle: bool,
    pub sleep: Option<Sleep>,
    pub timeout: Duration,
    pub end: Instant,
    pub stop: CancellationToken,
    /// VUs in the middle of an iteration.
    pub busy: AtomicU32,
    /// The most VUs ever busy at once.
    pub peak_busy: AtomicU32,
}

/// One VU's own connections, its order of listeners, and the timer and stop signal it pauses
/// on: one of each for its whole life, so that a pause moves the timer instead of creating a
/// timer entry and a waiter on the stop token every time (at tens of thousands of iterations a
/// second, those were a good part of the generator's own cost).
struct Vu {
    id: usize,
    callers: Vec<Caller>,
    order: Vec<usize>,
    timer: Pin<Box<tokio::time::Sleep>>,
    stopped: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl Vu {
    fn new(id: usize, shared: &Shared) -> Self {
        let name = format!("vu-{id}");
        let callers = shared.targets.iter().map(|target| Caller::new(target.clone(), &name)).collect();
        Vu {
            id,
            callers,
            order: (0..shared.targets.len()).collect(),
            timer: Box::pin(sleep_until(shared.end)),
            stopped: Box::pin(shared.stop.clone().cancelled_owned()),
        }
    }

    /// Sleeps until `deadline` or the stop; true when stopped first or when `deadline` is not
    /// before the end. A timer that fires late, past the end, for a deadline before it does not
    /// count: that lateness is the generator's, and the iteration due then still belongs to the run.
    async fn pause_until(&mut self, shared: &Shared, deadline: Instant) -> bool {
        self.timer.as_mut().reset(deadline.min(shared.end));
        tokio::select! {
            // A timer that fired wins over the stop that the end of the run (a little after it) gave.
            biased;
            () = self.timer.as_mut() => deadline >= shared.end,
            () = self.stopped.as_mut() => true,
        }
    }

    /// One iteration started `now`: SayHello on each listener, the first request timed from
    /// `due`. Returns when it ended (the clock read that recorded its last call) and whether
    /// every call failed to connect.
    async fn iterate(&mut self, shared: &Shared, due: Instant, now: Instant) -> (Instant, bool) {
        let busy = shared.busy.fetch_add(1, Ordering::Relaxed) + 1;
        shared.peak_busy.fetch_max(busy, Ordering::Relaxed);
        if shared.shuffle {
            self.order.shuffle(&mut rand::rng());
        }
        let (mut since, mut started) = (due, now);
        let mut all_transport_errors = true;
        for &listener in &self.order {
            let outcome = self.callers[listener].say_hello_by(started + shared.timeout).await;
            // The next listener's call starts when this one was recorded as ended.
            since = shared.recorder.record(self.id, listener, since, outcome);
            started = since;
            all_transport_errors &= outcome.transport_error;
        }
        shared.recorder.record_iteration(self.id, since);
        shared.busy.fetch_sub(1, Ordering::Relaxed);
        (since, all_transport_errors)
    }
}

/// A closed-model VU: iterates while its id is under the VU target, parks above it.
pub(crate) async fn closed_vu(shared: Arc<Shared>, id: usize, mut target: watch::Receiver<u32>) {
    let mut vu = Vu::new(id, &shared);
    while !shared.stop.is_cancelled() && Instant::now() < shared.end {
        if id as u32 >= *target.borrow_and_update() {
            tokio::select! {
                changed = target.changed() => if changed.is_err() { break },
                () = shared.stop.cancelled() => break,
            }
            continue;
        }
        let now = Instant::now();
        let (_, unreachable) = vu.iterate(&shared, now, now).await;
        let think = match (unreachable, shared.sleep) {
            (true, sleep) => sleep.map_or(CONNECT_BACKOFF, |s| s.draw().max(CONNECT_BACKOFF)),
            (false, Some(sleep)) => sleep.draw(),
            (false, None) => Duration::ZERO,
        };
        if !think.is_zero() && vu.pause_until(&shared, Instant::now() + think).await {
            break;
        }
    }
}

/// The open model's shared claim counter and drop count.
pub(crate) struct OpenState {
    pub schedule: RateSchedule,
    pub start: Instant,
    pub next: AtomicU64,
    pub dropped: AtomicU64,
}

impl OpenState {
    /// Claims the next iteration for a free VU: the most recent due one (older unclaimed ones
    /// are dropped: no VU was free at their time) or, when none is due, the next one.
    fn claim(&self, now: Instant) -> Option<u64> {
        let due = self.schedule.due(now.saturating_duration_since(self.start));
        let total = self.schedule.total();
        let mut claimed = None;
        let _ = self.next.fetch_update(Ordering::AcqRel, Ordering::Acquire, |next| {
            if next < due {
                claimed = Some((due - 1, due - 1 - next));
                Some(due)
            } else if next < total {
                claimed = Some((next, 0));
                Some(next + 1)
            } else {
                claimed = None;
                None
            }
        });
        let (k, skipped) = claimed?;
        self.dropped.fetch_add(skipped, Ordering::Relaxed);
        Some(k)
    }

    /// Iterations that came due before `now` and that no VU ever took.
    pub fn unclaimed_due(&self, now: Instant) -> u64 {
        self.schedule.due(now.saturating_duration_since(self.start)).saturating_sub(self.next.load(Ordering::Acquire))
    }
}

/// Timers fire up to a millisecond late: an iteration due within this is started at once.
const EARLY_START: Duration = Duration::from_millis(1);

/// An open-model VU: claims scheduled iterations until the schedule or the run ends.
pub(crate) async fn open_vu(shared: Arc<Shared>, id: usize, state: Arc<OpenState>) {
    let mut vu = Vu::new(id, &shared);
    // The clock is read once per iteration: the end of one is the claim time of the next.
    let mut now = Instant::now();
    while !shared.stop.is_cancelled() {
        let Some(k) = state.claim(now) else { break };
        let Some(offset) = state.schedule.time_of(k) else { break };
        let due = state.start + offset;
        // Claimed ahead: this VU was free at the due time, and only the timer's coarseness (up to
        // a millisecond) stands between them; that is the generator's delay, not the server's,
        // so it is timed from its actual start. Claimed late: it waited for a free VU, and that
        // wait is the server's doing, so it is timed from the due time.
        let (since, started) = if due > now + EARLY_START {
            if vu.pause_until(&shared, due).await {
                // Due before the run ended, yet never started: it counts as dropped.
                if due <= Instant::now() {
                    state.dropped.fetch_add(1, Ordering::Relaxed);
                }
                break;
            }
            let started = Instant::now();
            (started, started)
        } else {
            (due.min(now), now)
        };
        (now, _) = vu.iterate(&shared, since, started).await;
    }
}

/// The model one measured run follows, chosen before it starts: what the run loop drives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Model {
    /// Ramping VUs, as many as the stages ask for.
    Closed,
    /// Ramping arrival rate, on a fixed pool of VUs.
    Open {
        /// Iterations per second per stage VU.
        rate_per_vu: f64,
        /// The pool.
        max_vus: u32,
    },
}

impl Model {
    /// The VUs that may run at once (each keeps one connection per listener).
    pub fn pool(self, scenario: &Scenario) -> u32 {
        match self {
            Model::Closed => scenario.peak_vus(),
            Model::Open { max_vus, .. } => max_vus,
        }
    }

    /// How the run is reported.
    pub fn kind(self) -> ExecutorKind {
        match self {
            Model::Closed => ExecutorKind::Closed,
            Model::Open { .. } => ExecutorKind::Open,
        }
    }

    /// Starts the run's VUs into `vus`: the open model's whole pool now, the closed model's as
    /// [`Running::tick`] ramps them up.
    pub fn launch(self, scenario: &Scenario, shared: &Arc<Shared>, start: Instant, vus: &mut JoinSet<()>) -> Running {
        match self {
            Model::Closed => Running::Closed {
                schedule: VuSchedule::new(scenario.start_vus, &scenario.stages),
                target: watch::channel(0).0,
                spawned: 0,
                pool: self.pool(scenario),
            },
            Model::Open { rate_per_vu, max_vus } => {
                let state = Arc::new(OpenState {
                    schedule: RateSchedule::new(scenario.start_vus, &scenario.stages, rate_per_vu),
                    start,
                    next: AtomicU64::new(0),
                    dropped: AtomicU64::new(0),
                });
                for id in 0..max_vus {
                    vus.spawn(open_vu(Arc::clone(shared), id as usize, Arc::clone(&state)));
                }
                Running::Open { state, max_vus }
            }
        }
    }
}

/// A run's VUs while it runs, in its model.
pub(crate) enum Running {
    /// The VU target the closed VUs follow, and how many were spawned.
    Closed { schedule: VuSchedule, target: watch::Sender<u32>, spawned: u32, pool: u32 },
    /// The open model's schedule and claims.
    Open { state: Arc<OpenState>, max_vus: u32 },
}

impl Running {
    /// One tick of the run loop `elapsed` into the run: the closed model moves its VU target
    /// (to 0 once `finished`) and spawns the VUs it lacks. Returns the VUs active (closed) or busy (open).
    pub fn tick(&mut self, elapsed: Duration, finished: bool, shared: &Arc<Shared>, vus: &mut JoinSet<()>) -> u32 {
        match self {
            Running::Closed { schedule, target, spawned, .. } => {
                let now = if finished { 0 } else { schedule.vus_at(elapsed) };
                target.send_if_modified(|current| std::mem::replace(current, now) != now);
                for id in *spawned..now {
                    vus.spawn(closed_vu(Arc::clone(shared), id as usize, target.subscribe()));
                }
                *spawned = (*spawned).max(now);
                now
            }
            Running::Open { .. } => shared.busy.load(Ordering::Relaxed),
        }
    }

    /// Iterations dropped so far (open model; always 0 in the closed one).
    pub fn dropped(&self) -> u64 {
        match self {
            Running::Closed { .. } => 0,
            Running::Open { state, .. } => state.dropped.load(Ordering::Relaxed),
        }
    }

    /// Iterations dropped by the run that stopped at `stopped`, the due ones never taken included.
    pub fn dropped_by(&self, stopped: Instant) -> u64 {
        match self {
            Running::Closed { .. } => 0,
            Running::Open { state, .. } => self.dropped() + state.unclaimed_due(stopped),
        }
    }

    /// The VU pool's size.
    pub fn vus_max(&self) -> u32 {
        match self {
            Running::Closed { pool, .. } => *pool,
            Running::Open { max_vus, .. } => *max_vus,
        }
    }

    /// The open model's settings, for the report.
    pub fn open_model(&self) -> Option<OpenModel> {
        match self {
            Running::Closed { .. } => None,
            Running::Open { state, max_vus } => {
                Some(OpenModel { peak_rate: state.schedule.peak_rate(), max_vus: *max_vus })
            }
        }
    }

    /// The most VUs seen, given the ticks' `sampled` maximum: the open model's VUs keep the
    /// exact peak, which a tick's sample can miss.
    pub fn peak_vus(&self, sampled: u32, shared: &Shared) -> u32 {
        match self {
            Running::Closed { .. } => sampled,
            Running::Open { .. } => sampled.max(shared.peak_busy.load(Ordering::Relaxed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_rate_is_evenly_spaced() {
        let schedule = RateSchedule::new(10, &[Stage::secs(2, 10)], 5.0);
        assert_eq!(schedule.total(), 100);
        assert_eq!(schedule.time_of(0), Some(Duration::ZERO));
        assert_eq!(schedule.time_of(50), Some(Duration::from_secs(1)));
        assert_eq!(schedule.time_of(100), None);
        assert_eq!(schedule.due(Duration::ZERO), 1);
        assert_eq!(schedule.due(Duration::from_millis(999)), 50);
        assert_eq!(schedule.due(Duration::from_secs(10)), 100);
        assert_eq!(schedule.peak_rate(), 50.0);
    }

    #[test]
    fn ramps_down_and_time_of_inverts_due() {
        let schedule = RateSchedule::new(0, &[Stage::secs(1, 100), Stage::secs(2, 100), Stage::secs(1, 0)], 1.0);
        assert_eq!(schedule.total(), 50 + 200 + 50);
        for k in (0..schedule.total()).step_by(7) {
            let at = schedule.time_of(k).unwrap();
            assert!(schedule.due(at + Duration::from_micros(1)) > k, "iteration {k} is due at {at:?}");
            assert!(
                k == 0 || schedule.due(at.saturating_sub(Duration::from_millis(1))) <= k,
                "iteration {k} not before {at:?}"
            );
        }
        // Ramp down: the last iterations are sparser than the plateau's.
        let plateau_gap = schedule.time_of(151).unwrap() - schedule.time_of(150).unwrap();
        let tail_gap = schedule.time_of(299).unwrap() - schedule.time_of(298).unwrap();
        assert!(tail_gap > plateau_gap * 5, "{tail_gap:?} vs {plateau_gap:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_free_vu_takes_the_latest_due_iteration_and_drops_older_ones() {
        let start = Instant::now();
        let state = OpenState {
            schedule: RateSchedule::new(1, &[Stage::secs(10, 1)], 1.0),
            start,
            next: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        };
        assert_eq!(state.claim(start), Some(0));
        // Iteration 1 is not due yet: claimed ahead, to be waited for.
        assert_eq!(state.claim(start), Some(1));
        tokio::time::advance(Duration::from_millis(5500)).await;
        // Due now: 0..=5; 2, 3 and 4 found no free VU.
        assert_eq!(state.claim(Instant::now()), Some(5));
        assert_eq!(state.dropped.load(Ordering::Relaxed), 3);
        assert_eq!(state.unclaimed_due(Instant::now()), 0);
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(state.unclaimed_due(Instant::now()), 4);
        assert_eq!(state.claim(Instant::now()), Some(9));
        assert_eq!(state.claim(Instant::now()), None);
    }
}
