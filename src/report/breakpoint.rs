//! A breakpoint run's section: each listener's highest sustained rate side by side, and the
//! latency-vs-rate curve (the "hockey stick") with every step's numbers beneath it.

use super::ReportError;
use super::charts::{BLUE, GREEN, Line, ORANGE, PURPLE, SKY, TimeChart, VERMILLION};
use super::html::{Cell, escape, figure, table, verdict};
use crate::load::breakpoint::{BreakpointReport, Outcome};

const COLORS: [plotters::style::RGBColor; 6] = [BLUE, VERMILLION, GREEN, ORANGE, PURPLE, SKY];

fn outcome(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Broke => "broke",
        Outcome::Ceiling => "ceiling reached",
        Outcome::GeneratorLimited => "the generator was the limit",
        Outcome::Cancelled => "cancelled",
    }
}

fn rate(rate: Option<f64>) -> String {
    rate.map_or_else(|| "–".to_owned(), |rate| format!("{rate:.0}/s"))
}

pub(crate) fn section(breakpoint: &BreakpointReport) -> Result<String, ReportError> {
    let search = &breakpoint.search;
    let mut out = format!(
        "<h3>Breaking point</h3>\n<p>Open model from {:.0}/s, ×{} every {:.1} s up to {:.0}/s, {} VUs; a step fails when one of {} fails or more than {}% of its iterations are dropped.</p>\n",
        search.start_rate,
        search.factor,
        search.step.as_secs_f64(),
        search.max_rate,
        search.max_vus,
        escape(&breakpoint.conditions.join(", ")),
        search.max_dropped * 100.0
    );
    out += &table(
        "Highest sustained rate per listener",
        &["listener", "sustained", "broke at", "outcome", "why"],
        breakpoint
            .listeners
            .iter()
            .map(|listener| {
                let why = listener.steps.iter().find(|step| !step.ok).map(|step| step.failed.join("; "));
                vec![
                    listener.listener.as_str().into(),
                    rate(listener.sustained_rate).into(),
                    rate(listener.broke_at).into(),
                    outcome(listener.outcome).into(),
                    why.unwrap_or_default().into(),
                ]
            })
            .collect(),
    );
    let mut lines = Vec::new();
    for (listener, color) in breakpoint.listeners.iter().zip(COLORS.iter().cycle()) {
        let points = |pick: fn(&crate::load::breakpoint::StepReport) -> f64| {
            listener.steps.iter().map(|step| (step.rate, pick(step))).collect()
        };
        lines.push(Line {
            name: format!("{} p99", listener.listener),
            color: *color,
            thin: false,
            points: points(|s| s.p99),
        });
        lines.push(Line {
            name: format!("{} p50", listener.listener),
            color: *color,
            thin: true,
            points: points(|s| s.p50),
        });
    }
    let verticals = breakpoint
        .listeners
        .iter()
        .filter_map(|listener| {
            Some((listener.sustained_rate?, format!("{} {}", listener.listener, rate(listener.sustained_rate))))
        })
        .collect();
    let chart = TimeChart {
        y_desc: "latency (ms)".into(),
        lines,
        secondary: None,
        bands: Vec::new(),
        verticals,
        horizontals: Vec::new(),
    };
    let x_max = breakpoint.listeners.iter().flat_map(|l| l.steps.iter().map(|s| s.rate)).fold(0.0, f64::max);
    let numbers = table(
        "Every step",
        &[
            "listener",
            "target rate (/s)",
            "achieved (/s)",
            "p50 (ms)",
            "p95 (ms)",
            "p99 (ms)",
            "errors",
            "dropped",
            "busy VUs",
            "held",
        ],
        breakpoint
            .listeners
            .iter()
            .flat_map(|listener| {
                listener.steps.iter().map(move |step| {
                    let mut generator = String::new();
                    if step.generator_limited {
                        generator = " (generator-limited)".into();
                    }
                    vec![
                        listener.listener.as_str().into(),
                        format!("{:.0}", step.rate).into(),
                        format!("{:.0}", step.achieved_rate).into(),
                        format!("{:.2}", step.p50).into(),
                        format!("{:.2}", step.p95).into(),
                        format!("{:.2}", step.p99).into(),
                        format!("{:.2}%", step.error_rate * 100.0).into(),
                        format!("{:.2}%{generator}", step.dropped_fraction * 100.0).into(),
                        step.peak_busy_vus.to_string().into(),
                        verdict(step.ok),
                    ]
                })
            })
            .collect::<Vec<Vec<Cell>>>(),
    );
    out += &figure(
        &chart.svg_over(x_max, "target rate (iterations/s)")?,
        "Latency against the target rate of each step: p99 (thick) and p50 (thin) per listener; the green lines mark each listener's highest sustained rate.",
        &numbers,
    );
    Ok(out)
}
