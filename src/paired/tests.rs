//! The sampler and its estimates on synthetic, seeded calls: a virtual clock, a machine whose
//! speed drifts, and noise — never wall-clock timings.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

/// The simulated machine both sides share: a virtual clock in nanoseconds, a slowness factor
/// that drifts with it, and a seeded source of per-batch noise.
struct Machine {
    now_ns: f64,
    drift: fn(f64) -> f64,
    noise: f64,
    rng: StdRng,
}

/// One side: `cost_ns` per call on an unloaded machine.
struct FakeCalls {
    cost_ns: f64,
    machine: Rc<RefCell<Machine>>,
}

impl TimedCalls for FakeCalls {
    async fn time(&mut self, n: u64) -> Duration {
        let mut machine = self.machine.borrow_mut();
        let slowness = (machine.drift)(machine.now_ns);
        // Multiplicative noise with a long right tail (a preempted batch is much slower).
        let noise = machine.noise;
        let jitter = if noise > 0.0 { -noise * (1.0 - machine.rng.random::<f64>()).ln() } else { 0.0 };
        let elapsed = n as f64 * self.cost_ns * slowness * (1.0 + jitter);
        machine.now_ns += elapsed;
        Duration::from_nanos(elapsed.round() as u64)
    }
}

fn pair(costs: (f64, f64), drift: fn(f64) -> f64, noise: f64, seed: u64) -> (FakeCalls, FakeCalls) {
    let machine = Rc::new(RefCell::new(Machine { now_ns: 0.0, drift, noise, rng: StdRng::seed_from_u64(seed) }));
    (FakeCalls { cost_ns: costs.0, machine: machine.clone() }, FakeCalls { cost_ns: costs.1, machine })
}

/// Many samples, decided by the sample cap alone (fake calls take no real time).
fn schedule(samples: usize) -> Schedule {
    Schedule {
        time: Duration::from_secs(3600),
        warm_up: Duration::ZERO,
        batch_time: Duration::from_micros(20),
        max_samples: samples,
    }
}

fn run<T>(future: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future)
}

/// The machine's speed swings linearly between 1× and 3× slower and back every 2 ms of
/// virtual time: a drift a sample (four batches of about 20 µs) sees as linear.
fn linear_slowdown(now_ns: f64) -> f64 {
    let phase = (now_ns / 2e6).fract();
    1.0 + 4.0 * if phase < 0.5 { phase } else { 1.0 - phase }
}

#[test]
fn drift_between_the_two_sides_cancels() {
    let (mut a, mut b) = pair((100.0, 110.0), linear_slowdown, 0.0, 1);
    let samples = run(sample_pair(&mut a, &mut b, &schedule(400)));
    let estimate = samples.estimate(0.95).unwrap();
    // ABBA: a drift linear within a sample hits both sides equally, so every ratio is 1.1 up to
    // the nanosecond rounding of the fake clock.
    assert!((estimate.ratio.point - 1.1).abs() < 1e-3, "{:?}", estimate.ratio);
    assert!(estimate.ratio.lower > 1.099 && estimate.ratio.upper < 1.101, "{:?}", estimate.ratio);

    // A machine slowing down over the run fools a comparison of two benches run one after
    // the other, as criterion runs them.
    let (mut a, mut b) = pair((100.0, 110.0), |now_ns| 1.0 + 2.0 * (now_ns / 1e8).min(1.0), 0.0, 1);
    let (first, second) = run(async {
        let batch = samples.batch;
        let mut first = Vec::new();
        for _ in 0..400 {
            first.push(a.time(batch).await.as_nanos() as f64 / batch as f64);
        }
        let mut second = Vec::new();
        for _ in 0..400 {
            second.push(b.time(batch).await.as_nanos() as f64 / batch as f64);
        }
        (first, second)
    });
    let unpaired = stats::median(&second) / stats::median(&first);
    assert!((unpaired - 1.1).abs() > 0.1, "sequential benches should be biased by the drift: {unpaired}");
}

#[test]
fn a_known_shift_is_found() {
    let (mut a, mut b) = pair((300.0, 350.0), |_| 1.0, 0.3, 7);
    let estimate = run(sample_pair(&mut a, &mut b, &schedule(400))).estimate(0.95).unwrap();
    let difference = estimate.difference_ns;
    assert!(difference.above_zero(), "{difference:?}");
    assert!(difference.lower < 50.0 * 1.3 && difference.upper > 50.0 * 0.9, "{difference:?}");
    assert!(estimate.ratio.lower > 1.05, "{:?}", estimate.ratio);
}

#[test]
fn equal_sides_are_not_told_apart() {
    // 200 seeded runs of two identical sides under noise and drift: a 95% interval of the
    // difference excludes zero in about 5% of them, never in most.
    let excluded = (0..200)
        .filter(|seed| {
            let (mut a, mut b) = pair((300.0, 300.0), linear_slowdown, 0.3, *seed);
            let estimate = run(sample_pair(&mut a, &mut b, &schedule(100))).estimate(0.95).unwrap();
            estimate.difference_ns.above_zero() || estimate.difference_ns.below_zero()
        })
        .count();
    assert!(excluded <= 200 * 8 / 100, "{excluded} of 200 A/A runs claimed a difference");
}

#[test]
fn batches_are_sized_to_the_batch_time() {
    let (mut a, mut b) = pair((100.0, 300.0), |_| 1.0, 0.0, 3);
    let samples = run(sample_pair(&mut a, &mut b, &schedule(10)));
    // 20 µs at an average 200 ns per call.
    assert_eq!(samples.batch, 100);
    assert_eq!(samples.reference_ns.len(), 10);
}

#[test]
fn merged_writes_replace_remeasured_pairs_and_keep_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let estimate = |ratio: f64| PairEstimate {
        samples: 10,
        reference_ns: Estimate { point: 100.0, lower: 99.0, upper: 101.0 },
        candidate_ns: Estimate { point: 100.0 * ratio, lower: 99.0 * ratio, upper: 101.0 * ratio },
        difference_ns: Estimate { point: 100.0 * (ratio - 1.0), lower: 0.0, upper: 200.0 },
        ratio: Estimate { point: ratio, lower: ratio - 0.01, upper: ratio + 0.01 },
    };
    let pair = |candidate: &str, ratio: f64| PairResult {
        depth: Depth::InProcess,
        variant: "unary".into(),
        reference: "baseline".into(),
        candidate: candidate.into(),
        batch: 64,
        estimate: estimate(ratio),
        measured: "2026-12-01T00:00:00Z".into(),
    };
    let suite = |pairs| SuiteResults {
        schema: SCHEMA.into(),
        suite: String::new(),
        confidence: 0.95,
        schedule: Schedule::default(),
        pairs,
    };
    suite(vec![pair("logger", 3.0), pair("otel", 2.0)]).write_merged(dir.path()).unwrap();
    let path = suite(vec![pair("logger", 3.5)]).write_merged(dir.path()).unwrap();
    assert_eq!(path, dir.path().join("catalog.json"));
    let read = SuiteResults::read_dir(dir.path()).unwrap();
    assert_eq!(read.len(), 1);
    let ratios: Vec<(String, f64)> =
        read[0].pairs.iter().map(|p| (p.candidate.clone(), p.estimate.ratio.point)).collect();
    assert_eq!(ratios, [("logger".to_owned(), 3.5), ("otel".to_owned(), 2.0)]);
    assert_eq!(read[0].pairs[0].id(""), "in_process/logger/unary");

    std::fs::write(dir.path().join("other.json"), r#"{"schema": "ibench.load/v1"}"#).unwrap();
    let error = SuiteResults::read_dir(dir.path()).unwrap_err().to_string();
    assert!(error.contains("other.json") && error.contains("not an ibench.paired/v1 file"), "{error}");
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(SuiteResults::read_dir(empty.path()), Err(PairedError::NoResults { .. })));
}
