//! Thresholds in k6's own syntax: `p(95)<100`, `p(99.9)<=5`, `rate<0.01`, `avg<50`, `med<40`,
//! `max<200`, `min>0`, `count>1000`, `value<30000`, on a metric with an optional tag filter
//! (`http_req_duration{listener:baseline}`).
//!
//! Times are in milliseconds, rates are fractions (0.01 = 1%), as in k6.
//!
//! ```
//! use interceptor_bench::load::threshold::{Aggregation, Threshold};
//!
//! let threshold: Threshold = "http_req_duration{listener:baseline}: p(95)<10".parse().unwrap();
//! assert_eq!(threshold.metric.name, "http_req_duration");
//! assert_eq!(threshold.condition.aggregation, Aggregation::Percentile(95.0));
//! assert!(threshold.condition.holds(9.5));
//! assert!(!threshold.condition.holds(10.0));
//! assert!("http_req_duration: p(95)<<10".parse::<Threshold>().is_err());
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;

/// What a condition aggregates a metric to.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// The mean.
    Avg,
    /// The smallest value.
    Min,
    /// The median.
    Med,
    /// The largest value.
    Max,
    /// A percentile, `p(95)` or `p(99.9)`.
    Percentile(f64),
    /// The fraction of true samples (rates) or events per second (counters).
    Rate,
    /// How many samples or events.
    Count,
    /// The value of a single-number metric (`spike_recovery_time`).
    Value,
}

impl fmt::Display for Aggregation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Aggregation::Avg => f.write_str("avg"),
            Aggregation::Min => f.write_str("min"),
            Aggregation::Med => f.write_str("med"),
            Aggregation::Max => f.write_str("max"),
            Aggregation::Percentile(p) => write!(f, "p({p})"),
            Aggregation::Rate => f.write_str("rate"),
            Aggregation::Count => f.write_str("count"),
            Aggregation::Value => f.write_str("value"),
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `==`
    #[serde(rename = "==")]
    Eq,
    /// `!=`
    #[serde(rename = "!=")]
    Ne,
}

impl Op {
    const ALL: [(&'static str, Op); 6] =
        [("<=", Op::Le), (">=", Op::Ge), ("==", Op::Eq), ("!=", Op::Ne), ("<", Op::Lt), (">", Op::Gt)];

    fn symbol(self) -> &'static str {
        Op::ALL.iter().find(|(_, op)| *op == self).map_or("?", |(symbol, _)| symbol)
    }
}

/// Why a threshold did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad threshold {input:?}: {reason}")]
pub struct ThresholdError {
    /// The text that did not parse.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ThresholdError {
    fn new(input: &str, reason: impl Into<String>) -> Self {
        ThresholdError { input: input.to_owned(), reason: reason.into() }
    }
}

/// `aggregation operator number`, e.g. `p(95)<100`.
///
/// ```
/// use interceptor_bench::load::threshold::Condition;
/// let condition: Condition = "rate < 0.01".parse().unwrap();
/// assert!(condition.holds(0.005));
/// assert_eq!(condition.to_string(), "rate<0.01");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Condition {
    /// What the metric is reduced to.
    pub aggregation: Aggregation,
    /// How it is compared.
    pub op: Op,
    /// With what.
    pub limit: f64,
}

impl Condition {
    /// Whether `value` satisfies the condition.
    pub fn holds(&self, value: f64) -> bool {
        match self.op {
            Op::Lt => value < self.limit,
            Op::Le => value <= self.limit,
            Op::Gt => value > self.limit,
            Op::Ge => value >= self.limit,
            Op::Eq => value == self.limit,
            Op::Ne => value != self.limit,
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.aggregation, self.op.symbol(), self.limit)
    }
}

fn parse_aggregation(text: &str, input: &str) -> Result<Aggregation, ThresholdError> {
    let aggregation = match text {
        "avg" => Aggregation::Avg,
        "min" => Aggregation::Min,
        "med" => Aggregation::Med,
        "max" => Aggregation::Max,
        "rate" => Aggregation::Rate,
        "count" => Aggregation::Count,
        "value" => Aggregation::Value,
        _ => {
            let inner = text.strip_prefix("p(").and_then(|rest| rest.strip_suffix(')')).ok_or_else(|| {
                ThresholdError::new(
                    input,
                    format!("unknown aggregation {text:?}; expected avg, min, med, max, p(N), rate, count or value"),
                )
            })?;
            let percentile: f64 = inner
                .trim()
                .parse()
                .map_err(|_| ThresholdError::new(input, format!("p({inner}) needs a number between 0 and 100")))?;
            if !(0.0..=100.0).contains(&percentile) {
                return Err(ThresholdError::new(input, format!("p({inner}) needs a number between 0 and 100")));
            }
            Aggregation::Percentile(percentile)
        }
    };
    Ok(aggregation)
}

impl FromStr for Condition {
    type Err = ThresholdError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let position = input
            .find(['<', '>', '=', '!'])
            .ok_or_else(|| ThresholdError::new(input, "expected an operator: <, <=, >, >=, == or !="))?;
        let (left, rest) = input.split_at(position);
        let (symbol, op) = Op::ALL
            .into_iter()
            .find(|(symbol, _)| rest.starts_with(symbol))
            .ok_or_else(|| ThresholdError::new(input, "expected an operator: <, <=, >, >=, == or !="))?;
        let right = rest[symbol.len()..].trim();
        let aggregation = parse_aggregation(left.trim(), input)?;
        let limit: f64 = right.parse().ok().filter(|limit: &f64| limit.is_finite()).ok_or_else(|| {
            ThresholdError::new(input, format!("expected a number after {symbol:?}, found {right:?}"))
        })?;
        Ok(Condition { aggregation, op, limit })
    }
}

/// A metric thresholds can name: its name, the aggregations it takes and the tags it can be
/// filtered by, in one place for scenario validation, the run's abort check and the report's
/// verdicts.
///
/// ```
/// use interceptor_bench::load::threshold::{Aggregation, Metric};
///
/// let metric = Metric::from_name("http_req_failed").unwrap();
/// assert_eq!(metric.name(), "http_req_failed");
/// assert!(metric.aggregates(Aggregation::Rate) && !metric.aggregates(Aggregation::Avg));
/// assert_eq!(metric.tags(), ["listener", "phase"]);
/// assert!(Metric::from_name("http_req_waiting").is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// `http_req_duration`: request durations (ms).
    HttpReqDuration,
    /// `http_req_failed`: the fraction of requests without a 200 answer.
    HttpReqFailed,
    /// `checks`: the fraction of checks that held.
    Checks,
    /// `http_reqs`: requests, counted or per second.
    HttpReqs,
    /// `iterations`: iterations finished.
    Iterations,
    /// `dropped_iterations`: open-model iterations that found no VU free.
    DroppedIterations,
    /// `interceptor_overhead{listener:NAME}`: the listener's durations over the baseline's, per
    /// interceptor (ms).
    InterceptorOverhead,
    /// `spike_recovery_time`: from the spike's end until the rolling p95 stays under its limit (ms).
    SpikeRecoveryTime,
    /// `server_rss_mb`: the server's resident memory (MB).
    ServerRssMb,
    /// `server_cpu_percent`: the server's CPU use (% of one core).
    ServerCpuPercent,
}

impl Metric {
    /// Every metric, in the order messages list them.
    pub const ALL: [Metric; 10] = [
        Metric::HttpReqDuration,
        Metric::HttpReqFailed,
        Metric::Checks,
        Metric::HttpReqs,
        Metric::Iterations,
        Metric::DroppedIterations,
        Metric::InterceptorOverhead,
        Metric::SpikeRecoveryTime,
        Metric::ServerRssMb,
        Metric::ServerCpuPercent,
    ];

    /// Its name, as k6 and thresholds write it.
    pub const fn name(self) -> &'static str {
        match self {
            Metric::HttpReqDuration => "http_req_duration",
            Metric::HttpReqFailed => "http_req_failed",
            Metric::Checks => "checks",
            Metric::HttpReqs => "http_reqs",
            Metric::Iterations => "iterations",
            Metric::DroppedIterations => "dropped_iterations",
            Metric::InterceptorOverhead => "interceptor_overhead",
            Metric::SpikeRecoveryTime => "spike_recovery_time",
            Metric::ServerRssMb => "server_rss_mb",
            Metric::ServerCpuPercent => "server_cpu_percent",
        }
    }

    /// The metric called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|metric| metric.name() == name)
    }

    /// Whether `aggregation` makes sense for it.
    pub fn aggregates(self, aggregation: Aggregation) -> bool {
        use Aggregation::*;
        match self {
            Metric::HttpReqDuration => matches!(aggregation, Avg | Min | Med | Max | Percentile(_) | Count),
            Metric::HttpReqFailed | Metric::Checks => matches!(aggregation, Rate),
            Metric::HttpReqs | Metric::Iterations | Metric::DroppedIterations => matches!(aggregation, Count | Rate),
            Metric::InterceptorOverhead => matches!(aggregation, Avg | Med | Percentile(_)),
            Metric::SpikeRecoveryTime => matches!(aggregation, Value),
            Metric::ServerRssMb | Metric::ServerCpuPercent => matches!(aggregation, Avg | Max),
        }
    }

    /// The tags it can be filtered by.
    pub fn tags(self) -> &'static [&'static str] {
        match self {
            Metric::HttpReqDuration | Metric::HttpReqFailed | Metric::Checks | Metric::HttpReqs => {
                &["listener", "phase"]
            }
            Metric::InterceptorOverhead => &["listener"],
            _ => &[],
        }
    }

    /// Whether it is sampled from the server (with `--server-pid` or `--server-metrics`).
    pub fn samples_the_server(self) -> bool {
        matches!(self, Metric::ServerRssMb | Metric::ServerCpuPercent)
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A metric name with an optional `{tag:value}` filter, as k6 writes sub-metrics.
///
/// ```
/// use interceptor_bench::load::threshold::MetricRef;
/// let metric: MetricRef = "checks{listener:full}".parse().unwrap();
/// assert_eq!(metric.tag, Some(("listener".to_owned(), "full".to_owned())));
/// assert_eq!(metric.to_string(), "checks{listener:full}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct MetricRef {
    /// The metric, e.g. `http_req_duration`.
    pub name: String,
    /// The tag filter, e.g. `("listener", "baseline")`.
    pub tag: Option<(String, String)>,
}

impl MetricRef {
    /// The metric `name` without a tag filter.
    pub fn new(name: impl Into<String>) -> Self {
        MetricRef { name: name.into(), tag: None }
    }

    /// The metric `name` filtered to `tag:value`.
    pub fn tagged(name: impl Into<String>, tag: impl Into<String>, value: impl Into<String>) -> Self {
        MetricRef { name: name.into(), tag: Some((tag.into(), value.into())) }
    }

    /// The [`Metric`] it names, if it names one.
    pub fn metric(&self) -> Option<Metric> {
        Metric::from_name(&self.name)
    }
}

impl fmt::Display for MetricRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.tag {
            Some((tag, value)) => write!(f, "{}{{{tag}:{value}}}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

impl FromStr for MetricRef {
    type Err = ThresholdError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let input = input.trim();
        let valid_name = |name: &str| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let Some((name, filter)) = input.split_once('{') else {
            return if valid_name(input) {
                Ok(MetricRef::new(input))
            } else {
                Err(ThresholdError::new(input, "a metric name is letters, digits and '_'"))
            };
        };
        let (tag, value) = filter
            .strip_suffix('}')
            .and_then(|filter| filter.split_once(':'))
            .map(|(tag, value)| (tag.trim(), value.trim()))
            .filter(|(tag, value)| valid_name(tag) && !value.is_empty())
            .ok_or_else(|| ThresholdError::new(input, "a tag filter is written {tag:value}"))?;
        if !valid_name(name) {
            return Err(ThresholdError::new(input, "a metric name is letters, digits and '_'"));
        }
        Ok(MetricRef::tagged(name, tag, value))
    }
}

/// A condition on a metric, optionally aborting the run as soon as it fails.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Threshold {
    /// The metric the condition is on.
    pub metric: MetricRef,
    /// The condition.
    pub condition: Condition,
    /// Stop the run as soon as the condition fails (checked once per interval).
    pub abort_on_fail: bool,
    /// With `abort_on_fail`, start checking only after this much of the run.
    #[serde(with = "duration_ms")]
    pub delay_abort_eval: Duration,
}

impl Threshold {
    /// A condition on `metric`, evaluated at the end of the run.
    pub fn new(metric: MetricRef, condition: Condition) -> Self {
        Threshold { metric, condition, abort_on_fail: false, delay_abort_eval: Duration::ZERO }
    }

    /// Also stops the run as soon as the condition fails, once `delay` of the run has passed.
    pub fn abort_on_fail(mut self, delay: Duration) -> Self {
        self.abort_on_fail = true;
        self.delay_abort_eval = delay;
        self
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.metric, self.condition)
    }
}

/// `metric: condition`, as on the command line (`--threshold 'http_req_failed: rate<0.01'`).
impl FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        // The metric's tag filter has a ':' of its own, so split at the first ':' outside braces.
        let mut depth = 0usize;
        let split = input.char_indices().find(|&(_, c)| {
            match c {
                '{' => depth += 1,
                '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
            c == ':' && depth == 0
        });
        let (metric, condition) = match split {
            Some((index, _)) => (&input[..index], &input[index + 1..]),
            None => {
                return Err(ThresholdError::new(
                    input,
                    "expected METRIC: CONDITION, e.g. http_req_duration: p(95)<100",
                ));
            }
        };
        Ok(Threshold::new(metric.parse()?, condition.trim().parse()?))
    }
}

pub(crate) mod duration_ms {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(duration.as_secs_f64() * 1e3)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let ms = <f64 as serde::Deserialize>::deserialize(deserializer)?;
        Duration::try_from_secs_f64(ms / 1e3).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_aggregation_and_operator() {
        let cases = [
            ("p(95)<100", Aggregation::Percentile(95.0), Op::Lt, 100.0),
            ("p(99.9)<=5", Aggregation::Percentile(99.9), Op::Le, 5.0),
            ("rate<0.01", Aggregation::Rate, Op::Lt, 0.01),
            ("rate>0.99", Aggregation::Rate, Op::Gt, 0.99),
            ("avg < 50", Aggregation::Avg, Op::Lt, 50.0),
            ("med>=1", Aggregation::Med, Op::Ge, 1.0),
            ("max==2", Aggregation::Max, Op::Eq, 2.0),
            ("min!=0", Aggregation::Min, Op::Ne, 0.0),
            ("count>1000", Aggregation::Count, Op::Gt, 1000.0),
            ("value<30000", Aggregation::Value, Op::Lt, 30000.0),
        ];
        for (text, aggregation, op, limit) in cases {
            let condition: Condition = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(condition, Condition { aggregation, op, limit }, "{text}");
        }
    }

    #[test]
    fn every_metric_is_found_by_its_name_only() {
        for metric in Metric::ALL {
            assert_eq!(Metric::from_name(metric.name()), Some(metric));
            assert_eq!(MetricRef::tagged(metric.name(), "listener", "full").metric(), Some(metric));
            assert_eq!(Metric::from_name(&metric.name().to_uppercase()), None);
        }
        assert!(Metric::ALL.iter().all(|metric| metric.samples_the_server() == metric.name().starts_with("server_")));
    }

    #[test]
    fn evaluates_boundaries() {
        let lt: Condition = "p(95)<100".parse().unwrap();
        assert!(lt.holds(99.99) && !lt.holds(100.0));
        let le: Condition = "p(95)<=100".parse().unwrap();
        assert!(le.holds(100.0) && !le.holds(100.01));
        let gt: Condition = "rate>0.99".parse().unwrap();
        assert!(gt.holds(1.0) && !gt.holds(0.99));
    }

    #[test]
    fn rejects_bad_syntax_with_a_reason() {
        let cases = [
            ("p(95)", "operator"),
            ("p(95)<<100", "number"),
            ("p(95)<", "number"),
            ("p(95)<abc", "number"),
            ("p(95)<inf", "number"),
            ("p(101)<1", "between 0 and 100"),
            ("p(x)<1", "between 0 and 100"),
            ("p95<1", "unknown aggregation"),
            ("mean<1", "unknown aggregation"),
            ("<1", "unknown aggregation"),
            ("rate=<1", "operator"),
        ];
        for (text, reason) in cases {
            let error = text.parse::<Condition>().expect_err(text);
            assert!(error.reason.contains(reason), "{text}: {error}");
            assert!(error.to_string().contains(text), "{text}: {error}");
        }
    }

    #[test]
    fn parses_thresholds_with_tag_filters() {
        let threshold: Threshold = "http_req_duration{phase:after_spike}:p(95)<150".parse().unwrap();
        assert_eq!(threshold.metric, MetricRef::tagged("http_req_duration", "phase", "after_spike"));
        assert_eq!(threshold.to_string(), "http_req_duration{phase:after_spike}: p(95)<150");
        for bad in [
            "p(95)<100",
            "http duration: p(95)<1",
            "checks{listener}: rate>0.9",
            "checks{:x}: rate>0.9",
            "x{a:b: rate<1",
        ] {
            assert!(bad.parse::<Threshold>().is_err(), "{bad}");
        }
    }
}
