//! Distribution-free estimates from paired samples: the median and its order-statistic
//! (sign-test) confidence interval.
//!
//! Hand-written because it is the product's own arithmetic and small: for `n` samples the
//! number lying below the true median is Binomial(`n`, ½) whatever their distribution, so the
//! `k`-th smallest and `k`-th largest samples bracket the median with a probability read off the
//! binomial's tails — no resampling, no assumption of normality, exact for any `n`. Outliers
//! (a preempted batch, a timer tick) move the median and its interval by at most one rank.
//!
//! ```
//! use interceptor_bench::paired::stats::Estimate;
//!
//! let samples: Vec<f64> = (1..=100).map(f64::from).collect();
//! let median = Estimate::median(&samples, 0.95).unwrap();
//! assert_eq!(median.point, 50.5);
//! assert!(median.lower < 50.5 && 50.5 < median.upper);
//! assert!(median.lower >= 40.0 && median.upper <= 61.0);
//! ```

use serde::{Deserialize, Serialize};

/// A median with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The sample median.
    pub point: f64,
    /// The interval's lower end: an order statistic at or below the median.
    pub lower: f64,
    /// The interval's upper end: an order statistic at or above the median.
    pub upper: f64,
}

impl Estimate {
    /// The median of `samples` with an interval holding the true median with probability at
    /// least `confidence` (as near it as the binomial's steps allow). `None` for no samples or
    /// a sample that is not a number; with too few samples for the confidence asked, the
    /// interval is the whole range of the samples.
    ///
    /// ```
    /// use interceptor_bench::paired::stats::Estimate;
    /// assert_eq!(Estimate::median(&[], 0.95), None);
    /// assert_eq!(Estimate::median(&[3.0, 1.0, 2.0], 0.95), Some(Estimate { point: 2.0, lower: 1.0, upper: 3.0 }));
    /// ```
    pub fn median(samples: &[f64], confidence: f64) -> Option<Estimate> {
        if samples.is_empty() || samples.iter().any(|x| x.is_nan()) {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let point = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
        let k = order_statistic_rank(n, confidence);
        Some(Estimate { point, lower: sorted[k], upper: sorted[n - 1 - k] })
    }

    /// Half the interval's width as a fraction of the point: how finely this estimate
    /// resolves a relative change (`0.01` = ±1%). Infinite for a zero point.
    ///
    /// ```
    /// use interceptor_bench::paired::stats::Estimate;
    /// let ratio = Estimate { point: 2.0, lower: 1.98, upper: 2.04 };
    /// assert!((ratio.relative_half_width() - 0.015).abs() < 1e-12);
    /// ```
    pub fn relative_half_width(&self) -> f64 {
        (self.upper - self.lower) / 2.0 / self.point.abs()
    }

    /// True when the whole interval lies above zero.
    pub fn above_zero(&self) -> bool {
        self.lower > 0.0
    }

    /// True when the whole interval lies below zero.
    pub fn below_zero(&self) -> bool {
        self.upper < 0.0
    }
}

/// The 0-based rank `k` such that the sorted samples `[k]` and `[n - 1 - k]` bracket the median
/// with probability at least `confidence`. The lower end lies above the median exactly when at
/// most `k` samples lie below it, so `k` is the largest with `P(Binomial(n, ½) ≤ k) ≤ (1 -
/// confidence) / 2` (and the same on the upper side, by symmetry); 0 when even the extreme
/// samples do not reach the confidence.
fn order_statistic_rank(n: usize, confidence: f64) -> usize {
    let tail = ((1.0 - confidence) / 2.0).max(0.0);
    // ln P(B = i), accumulated in log space so that large n neither underflows nor overflows.
    let ln_half_n = -(n as f64) * std::f64::consts::LN_2;
    let mut ln_pmf = ln_half_n;
    let mut cdf = 0.0;
    let mut k = 0;
    for i in 0..n.div_ceil(2) {
        if i > 0 {
            ln_pmf += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        cdf += ln_pmf.exp();
        if cdf <= tail {
            k = i;
        } else {
            break;
        }
    }
    k.min((n - 1) / 2)
}

/// The probability that the whole range of `n` samples holds their true median, `1 − 2·½ⁿ`:
/// what [`Estimate::median`]'s interval reaches when `n` is too small for the confidence asked
/// (0 for one sample, 75% for three, 97% for six).
///
/// ```
/// use interceptor_bench::paired::stats::whole_range_coverage;
/// assert_eq!(whole_range_coverage(1), 0.0);
/// assert_eq!(whole_range_coverage(3), 0.75);
/// assert!(whole_range_coverage(5) < 0.95 && whole_range_coverage(6) > 0.95);
/// ```
pub fn whole_range_coverage(n: usize) -> f64 {
    1.0 - 2.0 * 0.5f64.powi(i32::try_from(n).unwrap_or(i32::MAX))
}

/// The median of `samples`, `NaN` for none.
///
/// ```
/// assert_eq!(interceptor_bench::paired::stats::median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
/// ```
pub fn median(samples: &[f64]) -> f64 {
    Estimate::median(samples, 0.5).map_or(f64::NAN, |e| e.point)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    #[test]
    fn ranks_match_the_binomial_tables() {
        // n = 10 at 95%: P(B ≤ 1) = 11/1024 ≈ 0.0107 ≤ 0.025 < P(B ≤ 2) = 56/1024, so the
        // interval is [x(2), x(9)] 1-based = ranks 1 and 8 0-based.
        assert_eq!(order_statistic_rank(10, 0.95), 1);
        // n = 100 at 95%: the tables' [x(40), x(61)] 1-based.
        assert_eq!(order_statistic_rank(100, 0.95), 39);
        assert_eq!(order_statistic_rank(5, 0.95), 0, "too few samples: the whole range");
        assert_eq!(order_statistic_rank(1, 0.95), 0);
        assert!(order_statistic_rank(100_000, 0.95) > 49_600, "large n stays finite");
    }

    #[test]
    fn intervals_cover_the_true_median_as_often_as_promised() {
        // 2,000 seeded experiments of 101 samples from a skewed distribution with a known
        // median (exponential, median ln 2): the 95% interval must miss it at most ~5% of the time.
        let mut rng = StdRng::seed_from_u64(13);
        let truth = std::f64::consts::LN_2;
        let misses = (0..2_000)
            .filter(|_| {
                let samples: Vec<f64> = (0..101).map(|_| -(1.0 - rng.random::<f64>()).ln()).collect();
                let e = Estimate::median(&samples, 0.95).unwrap();
                !(e.lower <= truth && truth <= e.upper)
            })
            .count();
        assert!(misses <= 2_000 * 6 / 100, "{misses} misses of 2000");
        assert!(misses >= 2_000 / 100, "{misses} misses: the interval is far too wide to be useful");
    }

    #[test]
    fn nan_samples_give_no_estimate() {
        assert_eq!(Estimate::median(&[1.0, f64::NAN], 0.95), None);
    }
}
