//! The k6-style end-of-test summary.
//!
//! ```text
//!   scenario: basic-load — Normal sustained load (closed model, 4.2s)
//!   targets: full=http://127.0.0.1:8080
//!
//!      ✓ status is 200
//!      ✓ message is "Hello, <name>!"
//!
//!      checks.........................: 100.00% ✓ 2468      ✗ 0
//!      http_req_duration..............: avg=1.21ms min=310µs med=1.1ms max=9.8ms p(90)=1.9ms p(95)=2.3ms p(99)=4.1ms
//!      http_req_failed................: 0.00%   ✓ 0         ✗ 1234
//!      http_reqs......................: 1234    293.8/s
//!      iterations.....................: 1234    293.8/s
//!      vus............................: min=0 max=10
//!      vus_max........................: 10
//!
//!    THRESHOLDS
//!      ✓ http_req_duration: p(95)<100 (2.3)
//!
//!    PASSED: 4 of 4 thresholds held
//! ```

use std::fmt::Write;

use super::metrics::Trend;
use super::output::{Rate, Report, RequestMetrics};
use super::scenario::ExecutorKind;

/// A duration in milliseconds the way k6 prints it: µs, ms or s.
///
/// ```
/// use interceptor_bench::load::summary::format_ms;
/// assert_eq!(format_ms(0.25), "250µs");
/// assert_eq!(format_ms(12.345), "12.35ms");
/// assert_eq!(format_ms(1500.0), "1.5s");
/// assert_eq!(format_ms(0.0), "0s");
/// ```
pub fn format_ms(ms: f64) -> String {
    if ms == 0.0 {
        "0s".to_owned()
    } else if ms.abs() < 1.0 {
        format!("{}µs", trim(ms * 1e3))
    } else if ms.abs() < 1000.0 {
        format!("{}ms", trim(ms))
    } else {
        format!("{}s", trim(ms / 1e3))
    }
}

fn trim(value: f64) -> String {
    trim_to(value, 2)
}

fn trim_to(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    let text =
        if text.starts_with("-0.") && text[1..].chars().all(|c| c == '0' || c == '.') { &text[1..] } else { &text };
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn dotted(name: &str) -> String {
    format!("{name:.<40}:")
}

fn trend(trend: &Trend) -> String {
    format!(
        "avg={} min={} med={} max={} p(90)={} p(95)={} p(99)={}",
        format_ms(trend.avg),
        format_ms(trend.min),
        format_ms(trend.med),
        format_ms(trend.max),
        format_ms(trend.p90),
        format_ms(trend.p95),
        format_ms(trend.p99)
    )
}

fn rate(rate: &Rate) -> String {
    format!("{:.2}%  ✓ {:<9} ✗ {}", rate.rate * 100.0, rate.trues, rate.total - rate.trues)
}

fn request_lines(out: &mut String, prefix: &str, metrics: &RequestMetrics) {
    let _ = writeln!(out, "     {} {}", dotted(&format!("{prefix}checks")), rate(&metrics.checks));
    let _ =
        writeln!(out, "     {} {}", dotted(&format!("{prefix}http_req_duration")), trend(&metrics.http_req_duration));
    let _ = writeln!(out, "     {} {}", dotted(&format!("{prefix}http_req_failed")), rate(&metrics.http_req_failed));
    let _ = writeln!(
        out,
        "     {} {:<7} {:.1}/s",
        dotted(&format!("{prefix}http_reqs")),
        metrics.http_reqs.count,
        metrics.http_reqs.rate
    );
}

impl Report {
    /// The end-of-test summary, as k6 prints it, with the thresholds' verdicts.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let model = match (self.executor, self.open_model) {
            (ExecutorKind::Breakpoint, Some(open)) => {
                format!("breakpoint search, up to {:.0} iterations/s, {} VUs max", open.peak_rate, open.max_vus)
            }
            (ExecutorKind::Open, Some(open)) => {
                format!("open model, peak {:.0} iterations/s, {} VUs max", open.peak_rate, open.max_vus)
            }
            _ => "closed model, ramping VUs".to_owned(),
        };
        let _ = writeln!(
            out,
            "  scenario: {} — {} ({model}, {})",
            self.scenario,
            self.description,
            format_ms(self.duration_ms)
        );
        let targets: Vec<String> = self.targets.iter().map(|(name, url)| format!("{name}={url}")).collect();
        let _ = writeln!(out, "  targets: {}", targets.join(", "));
        if let Some(reason) = &self.aborted_by {
            let _ = writeln!(out, "  ABORTED early: {reason}");
        }
        out.push('\n');
        for check in &self.checks {
            let mark = if check.count.fails == 0 { '✓' } else { '✗' };
            let _ = writeln!(out, "     {mark} {}", check.name);
            if check.count.fails > 0 {
                let total = check.count.passes + check.count.fails;
                let percent = check.count.passes as f64 * 100.0 / total as f64;
                let _ = writeln!(out, "      ↳  {percent:.0}% — ✓ {} / ✗ {}", check.count.passes, check.count.fails);
            }
        }
        out.push('\n');
        request_lines(&mut out, "", &self.metrics.requests);
        let metrics = &self.metrics;
        let _ = writeln!(
            out,
            "     {} {:<7} {:.1}/s",
            dotted("iterations"),
            metrics.iterations.count,
            metrics.iterations.rate
        );
        if self.executor != ExecutorKind::Closed {
            let dropped = &metrics.dropped_iterations;
            let _ = writeln!(out, "     {} {:<7} {:.1}/s", dotted("dropped_iterations"), dropped.count, dropped.rate);
        }
        if metrics.interrupted_iterations > 0 {
            let _ = writeln!(out, "     {} {}", dotted("interrupted_iterations"), metrics.interrupted_iterations);
        }
        let _ = writeln!(out, "     {} min={} max={}", dotted("vus"), metrics.vus.min, metrics.vus.max);
        let _ = writeln!(out, "     {} {}", dotted("vus_max"), metrics.vus_max);
        if self.listeners.len() > 1 {
            for (name, listener) in &self.listeners {
                out.push('\n');
                request_lines(&mut out, &format!("{{listener:{name}}} "), listener);
            }
        }
        if let Some(after) = &self.after_spike {
            out.push('\n');
            request_lines(&mut out, "{phase:after_spike} ", after);
        }
        if let Some(overhead) = &self.overhead {
            let _ = writeln!(out, "\n   INTERCEPTOR OVERHEAD over {} (median, p95)", overhead.baseline);
            for (name, listener) in &overhead.listeners {
                let _ = writeln!(
                    out,
                    "     {} {:+.3}ms, {:+.3}ms over {} interceptor(s) → {:+.3}ms, {:+.3}ms each",
                    dotted(name),
                    listener.med_ms,
                    listener.p95_ms,
                    listener.interceptors,
                    listener.per_interceptor_med_ms,
                    listener.per_interceptor_p95_ms
                );
            }
        }
        if let Some(spike) = &self.spike {
            let recovery = spike.recovery_time_ms.map_or("never (within the run)".to_owned(), format_ms);
            let _ = writeln!(
                out,
                "\n   SPIKE ended at {}: recovery time {recovery} (rolling p95 over {} back under {} and staying)",
                format_ms(spike.end_ms),
                format_ms(spike.window_ms),
                format_ms(spike.p95_limit_ms)
            );
        }
        if let Some(resources) = &self.resources {
            let mark = if resources.within_targets { '✓' } else { '✗' };
            let _ = writeln!(
                out,
                "\n   SERVER ({}, {} samples) {mark} RSS peak {:.1} MB, mean {:.1} MB (target < {} MB); CPU peak {:.1}%, mean {:.1}% of one core (target < {}%)",
                resources.source,
                resources.samples,
                resources.rss_peak_mb,
                resources.rss_mean_mb,
                resources.rss_target_mb,
                resources.cpu_peak_percent,
                resources.cpu_mean_percent,
                resources.cpu_target_percent
            );
        }
        if let Some(breakpoint) = &self.breakpoint {
            out += &breakpoint.summary();
        }
        if let Some(sent) = &self.remote_write {
            let _ = writeln!(
                out,
                "\n   REMOTE WRITE {} (testid {}): {} batches, {} samples sent; {} failed, {} retries, {} snapshots dropped, {} unsent{}",
                sent.url,
                sent.testid,
                sent.batches_sent,
                sent.samples_sent,
                sent.batches_failed,
                sent.retries,
                sent.snapshots_dropped,
                sent.batches_unsent,
                sent.last_error.as_ref().map_or(String::new(), |error| format!(" (last error: {error})"))
            );
        }
        if !self.thresholds.is_empty() {
            let _ = writeln!(out, "\n   THRESHOLDS");
            for result in &self.thresholds {
                let mark = if result.ok { '✓' } else { '✗' };
                let value = result.value.map_or("no data".to_owned(), |value| trim_to(value, 4));
                let _ = writeln!(out, "     {mark} {}: {} ({value})", result.metric, result.condition);
            }
        }
        let verdict = if self.passed { "PASSED" } else { "FAILED" };
        if let Some(breakpoint) = &self.breakpoint {
            let _ = writeln!(out, "\n   {verdict}: {}", breakpoint.verdict());
            return out;
        }
        let failed = self.thresholds.iter().filter(|t| !t.ok).count();
        let _ = writeln!(
            out,
            "\n   {verdict}: {} of {} thresholds held",
            self.thresholds.len() - failed,
            self.thresholds.len()
        );
        out
    }
}
