//! A baseline of several runs, and each pair's tolerance from how its ratio scattered between
//! them.
//!
//! A paired interval covers one run: inside a run both sides of a pair share every sample's
//! machine state, and the interval is a fraction of a percent wide. Between runs (another
//! process, another heap layout, other neighbours) a pair's ratio moves by more — on this
//! project's 2-core machine 0.4% (standard deviation) for `fallback`, 3% for `logger`, 5% for
//! `full` — so one threshold for every pair is either too tight for the logger or too loose
//! for a small interceptor. A baseline saved from several runs (`ibench baseline save NAME
//! --add-run`, once per run) records each pair's ratio in each run, and the gate then judges
//! every pair against its own scatter:
//!
//! - the centre is the median of the runs' ratios;
//! - the scatter `s` is the standard deviation of the ratios' logarithms, shrunk towards the
//!   median scatter of all pairs ([`PRIOR_RUNS`] runs' worth), because three or five runs
//!   estimate a spread poorly and a lucky tight one would make a pair flaky;
//! - the tolerance is the larger of the threshold and [`SCATTER_MULTIPLE`] × `s`: wide, because
//!   run-to-run moves have heavy tails (one run in ten moved a pair by seven of its standard
//!   deviations here), and a gate that fails unchanged code gets removed.
//!
//! Hand-written: a median, a standard deviation and a weighted mean, nothing a crate would
//! make clearer.
//!
//! ```
//! use interceptor_bench::baseline::runs::{PairedRun, Scatter};
//!
//! let runs: Vec<PairedRun> = [1.125, 1.130, 1.120, 1.128, 1.124]
//!     .iter()
//!     .map(|&ratio| PairedRun { ratios: [("in_process/fallback/unary".to_owned(), ratio)].into() })
//!     .collect();
//! let scatter = Scatter::of(&runs);
//! let fallback = scatter.pair("in_process/fallback/unary", 0.03).unwrap();
//! assert!((fallback.centre - 1.125).abs() < 1e-9);
//! assert!(fallback.tolerance >= 0.03 && fallback.tolerance < 0.06, "{}", fallback.tolerance);
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::paired::SuiteResults;

/// How many runs a baseline needs before each pair is judged against its own scatter.
pub const MIN_RUNS: usize = 3;
/// The tolerance in standard deviations of a pair's run-to-run scatter.
pub const SCATTER_MULTIPLE: f64 = 8.0;
/// How many runs' worth of weight the median scatter of all pairs gets in each pair's scatter.
pub const PRIOR_RUNS: f64 = 2.0;

/// One run's paired ratio (candidate ÷ reference, the median per-sample ratio) per pair id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedRun {
    /// The ratio of each pair, by [`PairResult::id`](crate::paired::PairResult::id).
    pub ratios: BTreeMap<String, f64>,
}

impl PairedRun {
    /// The ratios of one run's paired results.
    pub fn of(suites: &[SuiteResults]) -> PairedRun {
        let ratios = suites
            .iter()
            .flat_map(|suite| suite.pairs.iter().map(|pair| (pair.id(&suite.suite), pair.estimate.ratio.point)))
            .collect();
        PairedRun { ratios }
    }
}

/// A pair's ratio across a baseline's runs, and the change it tolerates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PairScatter {
    /// How many runs measured the pair.
    pub runs: usize,
    /// The median ratio over the runs.
    pub centre: f64,
    /// The lowest and the highest ratio of the runs.
    pub lowest: f64,
    /// The highest ratio of the runs.
    pub highest: f64,
    /// The standard deviation of the ratio's logarithm over the runs, shrunk towards the median
    /// of all pairs'.
    pub scatter: f64,
    /// The relative change it tolerates: the larger of the threshold and
    /// `exp(SCATTER_MULTIPLE × scatter) - 1`.
    pub tolerance: f64,
}

/// Every pair's run-to-run scatter in a baseline of several runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Scatter {
    /// Per pair id: its runs' log ratios.
    logs: BTreeMap<String, Vec<f64>>,
    /// The median of the pairs' own standard deviations (pairs measured in two runs or more).
    pooled: f64,
}

impl Scatter {
    /// The scatter of `runs`.
    pub fn of(runs: &[PairedRun]) -> Scatter {
        let mut logs: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for run in runs {
            for (id, ratio) in run.ratios.iter().filter(|(_, ratio)| **ratio > 0.0 && ratio.is_finite()) {
                logs.entry(id.clone()).or_default().push(ratio.ln());
            }
        }
        let own: Vec<f64> = logs.values().filter(|l| l.len() >= 2).map(|l| standard_deviation(l)).collect();
        Scatter { pooled: median(own).unwrap_or(0.0), logs }
    }

    /// The pair `id`'s scatter and tolerance at `threshold` (a fraction); `None` when fewer than
    /// [`MIN_RUNS`] runs measured it.
    pub fn pair(&self, id: &str, threshold: f64) -> Option<PairScatter> {
        let logs = self.logs.get(id).filter(|logs| logs.len() >= MIN_RUNS)?;
        let runs = logs.len();
        let own = standard_deviation(logs);
        let weight = (runs - 1) as f64;
        let scatter = ((own * own * weight + self.pooled * self.pooled * PRIOR_RUNS) / (weight + PRIOR_RUNS)).sqrt();
        let (lowest, highest) =
            logs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &l| (lo.min(l), hi.max(l)));
        Some(PairScatter {
            runs,
            centre: median(logs.clone()).expect("at least MIN_RUNS runs").exp(),
            lowest: lowest.exp(),
            highest: highest.exp(),
            scatter,
            tolerance: threshold.max((SCATTER_MULTIPLE * scatter).exp() - 1.0),
        })
    }
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// The sample standard deviation (n − 1 in the denominator) of at least two values.
fn standard_deviation(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// `count` runs of pairs whose log ratios scatter normally with their own standard deviation.
    fn runs(rng: &mut StdRng, count: usize, pairs: &[(&str, f64, f64)]) -> Vec<PairedRun> {
        (0..count)
            .map(|_| PairedRun {
                ratios: pairs
                    .iter()
                    .map(|&(id, ratio, sd)| {
                        let normal: f64 = (0..12).map(|_| rng.random::<f64>()).sum::<f64>() - 6.0;
                        (id.to_owned(), ratio * (sd * normal).exp())
                    })
                    .collect(),
            })
            .collect()
    }

    /// A catalog's pairs: their ratio and the standard deviation of its logarithm between runs,
    /// as measured on this project's 2-core machine (docs/gate.md).
    const PAIRS: [(&str, f64, f64); 8] = [
        ("fallback", 1.125, 0.004),
        ("chain/6", 1.151, 0.005),
        ("error_handler", 1.163, 0.007),
        ("timeout", 1.326, 0.013),
        ("retry", 1.64, 0.015),
        ("validation", 1.211, 0.016),
        ("logger", 3.78, 0.03),
        ("full", 11.1, 0.05),
    ];

    #[test]
    fn each_pair_tolerates_its_own_scatter() {
        let mut rng = StdRng::seed_from_u64(7);
        let scatter = Scatter::of(&runs(&mut rng, 5, &PAIRS));
        let tolerance = |id| scatter.pair(id, 0.03).unwrap().tolerance;
        assert!(tolerance("fallback") < 0.09, "{scatter:?}");
        assert!(tolerance("logger") > 0.15 && tolerance("full") > tolerance("retry"), "{scatter:?}");
        assert_eq!(scatter.pair("fallback", 0.5).unwrap().tolerance, 0.5, "never below the threshold");
    }

    #[test]
    fn a_new_run_of_the_same_machine_stays_within_every_tolerance() {
        let mut rng = StdRng::seed_from_u64(11);
        let mut outside = 0;
        for _ in 0..200 {
            let scatter = Scatter::of(&runs(&mut rng, 5, &PAIRS));
            for (id, ratio) in &runs(&mut rng, 1, &PAIRS)[0].ratios {
                let pair = scatter.pair(id, 0.03).unwrap();
                outside += usize::from((ratio / pair.centre - 1.0).abs() > pair.tolerance);
            }
        }
        assert_eq!(outside, 0, "800 A/A comparisons");
    }

    #[test]
    fn a_fifty_nanosecond_spin_on_fallback_exceeds_its_tolerance() {
        let mut rng = StdRng::seed_from_u64(13);
        let scatter = Scatter::of(&runs(&mut rng, 5, &PAIRS));
        let fallback = scatter.pair("fallback", 0.03).unwrap();
        // 50 ns more on a 450 ns baseline call.
        assert!(fallback.centre + 50.0 / 450.0 > fallback.centre * (1.0 + fallback.tolerance), "{fallback:?}");
    }

    #[test]
    fn too_few_runs_give_no_scatter() {
        let mut rng = StdRng::seed_from_u64(17);
        let scatter = Scatter::of(&runs(&mut rng, MIN_RUNS - 1, &PAIRS));
        assert!(scatter.pair("fallback", 0.03).is_none());
        assert!(Scatter::of(&[]).pair("fallback", 0.03).is_none());
    }
}
