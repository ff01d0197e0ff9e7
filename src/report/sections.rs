//! The report's sections: each one's headline, charts and the tables of their numbers.

use std::fmt::Write as _;

use super::charts::{BLUE, Bar, BarChart, GREEN, GREY, Line, ORANGE, PURPLE, SKY, TimeChart, VERMILLION, ValueAxis};
use super::html::{Cell, escape, figure, link, table, verdict};
use super::{Benches, Change, Comparison, LoadRun, ReportError};
use crate::overhead::{Overhead, Suite, format_ns};

fn ms(value: f64) -> String {
    format!("{value:.2} ms")
}

fn seconds(ms: f64) -> String {
    format!("{:.1} s", ms / 1e3)
}

fn percent(fraction: f64) -> String {
    format!("{:.2}%", fraction * 100.0)
}

fn badge(passed: bool) -> &'static str {
    if passed { r#"<span class="badge ok">PASSED</span>"# } else { r#"<span class="badge fail">FAILED</span>"# }
}

/// A load run: headline, latency and throughput over time, thresholds, listeners, resources.
pub(crate) fn load_run(run: &LoadRun) -> Result<String, ReportError> {
    let m = &run.metrics;
    let d = &m.requests.http_req_duration;
    let mut out = format!(
        "<section>\n<h2>Load run: {} {}</h2>\n<p class=\"meta\">{} — {} model, {} of {} requests, {} VUs at most.</p>\n",
        escape(&run.scenario),
        badge(run.passed),
        escape(&run.description),
        escape(&run.executor),
        seconds(run.duration_ms),
        m.requests.http_reqs.count,
        m.vus_max,
    );
    if let Some(why) = &run.aborted_by {
        let _ = writeln!(out, "<p class=\"fail\">Stopped early: {}</p>", escape(why));
    }
    out += &table(
        "Thresholds",
        &["metric", "condition", "value", "held"],
        run.thresholds
            .iter()
            .map(|t| {
                let value = t.value.map_or_else(|| "no data".to_owned(), |v| format!("{v:.3}"));
                vec![t.metric.as_str().into(), t.condition.as_str().into(), value.into(), verdict(t.ok)]
            })
            .collect(),
    );
    out += &table(
        "Summary",
        &["metric", "value"],
        vec![
            vec![
                "requests".into(),
                format!("{} ({:.1}/s)", m.requests.http_reqs.count, m.requests.http_reqs.rate).into(),
            ],
            vec![
                "failed".into(),
                format!(
                    "{} ({} of {})",
                    percent(m.requests.http_req_failed.rate),
                    m.requests.http_req_failed.trues,
                    m.requests.http_req_failed.total
                )
                .into(),
            ],
            vec!["iterations".into(), format!("{} ({:.1}/s)", m.iterations.count, m.iterations.rate).into()],
            vec!["dropped iterations".into(), m.dropped_iterations.count.to_string().into()],
            vec!["latency p50 / p90".into(), format!("{} / {}", ms(d.med), ms(d.p90)).into()],
            vec!["latency p95 / p99".into(), format!("{} / {}", ms(d.p95), ms(d.p99)).into()],
            vec!["latency min / avg / max".into(), format!("{} / {} / {}", ms(d.min), ms(d.avg), ms(d.max)).into()],
        ],
    );

    if let Some(breakpoint) = &run.breakpoint {
        out += &super::breakpoint::section(breakpoint)?;
    }
    let interval_s = run.series.interval_ms / 1e3;
    let at = |t_ms: f64| t_ms / 1e3;
    let line = |name: &str, color, thin, pick: &dyn Fn(&super::Point) -> Option<f64>| Line {
        name: name.to_owned(),
        color,
        thin,
        points: run.series.points.iter().filter_map(|p| Some((at(p.t_ms), pick(p)?))).collect(),
    };
    let mut latency = TimeChart {
        y_desc: "latency (ms)".into(),
        lines: vec![
            line("p50", BLUE, false, &|p| p.p50),
            line("p95", ORANGE, false, &|p| p.p95),
            line("p99", PURPLE, false, &|p| p.p99),
        ],
        secondary: Some(("active VUs".into(), vec![line("VUs", GREY, true, &|p| Some(f64::from(p.vus)))])),
        bands: Vec::new(),
        verticals: Vec::new(),
        horizontals: Vec::new(),
    };
    let mut caption = format!(
        "Latency percentiles per {:.0} ms interval (left axis) and active VUs (right axis, thin grey line).",
        run.series.interval_ms
    );
    let mut spike_note = String::new();
    if let (Some(spike), Some((from, to))) = (run.spike, run.spike_window()) {
        latency.bands.push((at(from), at(to), "spike".into()));
        latency.horizontals.push((spike.p95_limit_ms, format!("recovered below p95 {}", ms(spike.p95_limit_ms))));
        let recovery = match spike.recovery_time_ms {
            Some(recovery) => {
                latency.verticals.push((at(spike.end_ms + recovery), format!("recovered +{}", seconds(recovery))));
                format!("recovered {} after it ended", seconds(recovery))
            }
            None => "never recovered".to_owned(),
        };
        caption += &format!(
            " Shaded: the spike, {}–{}; it {recovery} (rolling p95 over {} under {}).",
            seconds(from),
            seconds(to),
            seconds(spike.window_ms),
            ms(spike.p95_limit_ms)
        );
        spike_note = format!("<p>Spike: {}–{}; {recovery}.</p>\n", seconds(from), seconds(to));
    }
    let throughput = TimeChart {
        y_desc: "per second".into(),
        lines: vec![
            line("requests/s", BLUE, false, &|p| Some(p.requests as f64 / interval_s)),
            line("errors/s", VERMILLION, false, &|p| Some(p.errors as f64 / interval_s)),
        ],
        secondary: None,
        bands: latency.bands.clone(),
        verticals: Vec::new(),
        horizontals: Vec::new(),
    };
    let series_table = table(
        "Per interval",
        &["start (s)", "requests", "errors", "p50 (ms)", "p95 (ms)", "p99 (ms)", "VUs"],
        run.series
            .points
            .iter()
            .map(|p| {
                let cell = |v: Option<f64>| Cell::Text(v.map_or_else(|| "–".to_owned(), |v| format!("{v:.2}")));
                vec![
                    format!("{:.2}", at(p.t_ms)).into(),
                    p.requests.to_string().into(),
                    p.errors.to_string().into(),
                    cell(p.p50),
                    cell(p.p95),
                    cell(p.p99),
                    p.vus.to_string().into(),
                ]
            })
            .collect(),
    );
    let duration_s = at(run.duration_ms);
    out += "<h3>Latency and VUs over time</h3>\n";
    out += &spike_note;
    out += &figure(&latency.svg(duration_s)?, &caption, &series_table);
    out += "<h3>Throughput and errors over time</h3>\n";
    out += &figure(
        &throughput.svg(duration_s)?,
        &format!("Requests and failed requests per second, per {:.0} ms interval.", run.series.interval_ms),
        &series_table,
    );

    if !run.listeners.is_empty() {
        out += &table(
            "Per listener",
            &["listener", "requests", "failed", "p50", "p95", "p99"],
            run.listeners
                .iter()
                .map(|(name, l)| {
                    vec![
                        name.as_str().into(),
                        l.http_reqs.count.to_string().into(),
                        percent(l.http_req_failed.rate).into(),
                        ms(l.http_req_duration.med).into(),
                        ms(l.http_req_duration.p95).into(),
                        ms(l.http_req_duration.p99).into(),
                    ]
                })
                .collect(),
        );
    }
    out += "<h3>Server resources</h3>\n";
    match &run.resources {
        None => {
            out += "<p class=\"note\">Not sampled: run with <code>--server-pid</code> or <code>--server-metrics</code>.</p>\n"
        }
        Some(r) => {
            out += &table(
                &format!("Server memory and CPU ({}, {} samples, once a second)", r.source, r.samples),
                &["measure", "peak", "mean", "target", "within"],
                vec![
                    vec![
                        "resident memory".into(),
                        format!("{:.1} MB", r.rss_peak_mb).into(),
                        format!("{:.1} MB", r.rss_mean_mb).into(),
                        format!("< {:.0} MB (peak)", r.rss_target_mb).into(),
                        verdict(r.rss_peak_mb < r.rss_target_mb),
                    ],
                    vec![
                        "CPU (% of one core)".into(),
                        format!("{:.1}%", r.cpu_peak_percent).into(),
                        format!("{:.1}%", r.cpu_mean_percent).into(),
                        format!("< {:.0}% (mean)", r.cpu_target_percent).into(),
                        verdict(r.cpu_mean_percent < r.cpu_target_percent),
                    ],
                ],
            );
            out += &resources_over_time(r, run.duration_ms)?;
        }
    }
    out += "</section>\n";
    Ok(out)
}

fn resources_over_time(r: &super::Resources, duration_ms: f64) -> Result<String, ReportError> {
    if r.points.is_empty() {
        return Ok(
            "<p class=\"note\">This run's JSON keeps the peak and mean only, not the samples over time.</p>\n".into()
        );
    }
    let at = |t_ms: f64| t_ms / 1e3;
    let chart = TimeChart {
        y_desc: "resident memory (MB)".into(),
        lines: vec![Line {
            name: "memory".into(),
            color: BLUE,
            thin: false,
            points: r.points.iter().map(|p| (at(p.t_ms as f64), p.rss_mb)).collect(),
        }],
        secondary: Some((
            "CPU (% of one core)".into(),
            vec![Line {
                name: "CPU".into(),
                color: ORANGE,
                thin: true,
                points: r.points.iter().filter_map(|p| Some((at(p.t_ms as f64), p.cpu_percent?))).collect(),
            }],
        )),
        bands: Vec::new(),
        verticals: Vec::new(),
        horizontals: vec![(r.rss_target_mb, format!("memory target {:.0} MB", r.rss_target_mb))],
    };
    let numbers = table(
        "Server samples",
        &["time (s)", "memory (MB)", "CPU (%)"],
        r.points
            .iter()
            .map(|p| {
                let cpu = p.cpu_percent.map_or_else(|| "–".to_owned(), |c| format!("{c:.1}"));
                vec![format!("{:.1}", at(p.t_ms as f64)).into(), format!("{:.1}", p.rss_mb).into(), cpu.into()]
            })
            .collect(),
    );
    Ok(figure(
        &chart.svg(at(duration_ms))?,
        &format!(
            "The server's resident memory (left axis) and CPU use since the previous sample (right axis, thin \
             orange line), sampled from {}; the memory target is {:.0} MB (dashed when in range).",
            r.source, r.rss_target_mb
        ),
        &numbers,
    ))
}

fn overhead_cell(overhead: Option<Overhead>) -> Cell {
    Cell::Text(overhead.map_or_else(
        || "–".to_owned(),
        |o| format!("{} [{}, {}]", format_ns(o.median), format_ns(o.lower), format_ns(o.upper)),
    ))
}

/// The smallest power of ten at or below `value`, and the largest at or above.
fn decades(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (low, high) = values.filter(|v| *v > 0.0).fold((f64::INFINITY, 0f64), |(l, h), v| (l.min(v), h.max(v)));
    if !low.is_finite() {
        return (1.0, 10.0);
    }
    let low = 10f64.powf(low.log10().floor()).max(1.0);
    (low, 10f64.powf(high.log10().ceil()).max(low * 10.0))
}

fn overhead_chart(suite: &Suite, budget_ns: f64) -> Result<String, ReportError> {
    let mut bars = Vec::new();
    for (row, stack) in suite.rows.iter().enumerate() {
        for (lane, overhead, color) in [(0, stack.in_process, BLUE), (1, stack.loopback, ORANGE)] {
            if let Some(o) = overhead {
                bars.push(Bar { row, lane, from: 0.0, to: o.median, color, whisker: Some((o.lower, o.upper)) });
            }
        }
    }
    let values = bars.iter().flat_map(|b| [b.to, b.whisker.map_or(0.0, |w| w.1)]);
    let (min, max) = decades(values.chain(suite.rows.iter().map(|r| r.budget_ns)).chain([budget_ns]));
    BarChart {
        axis: ValueAxis {
            desc: "overhead over the baseline (log scale)".into(),
            log: true,
            min,
            max,
            // Decades: 1 µs rather than 1.00 µs.
            format: |ns| format_ns(ns).replace(".00 ", " "),
        },
        rows: suite.rows.iter().map(|r| r.stack.clone()).collect(),
        lanes: 2,
        bars,
        marks: suite.rows.iter().enumerate().map(|(row, r)| (row, r.budget_ns)).collect(),
        rule: None,
        legend: vec![
            ("in-process".into(), BLUE),
            ("loopback HTTP/1.1".into(), ORANGE),
            ("budget (per interceptor × interceptors)".into(), VERMILLION),
        ],
    }
    .svg(250)
}

fn chain_chart(suite: &Suite) -> Result<String, ReportError> {
    let base = suite.baseline_in_process_ns.unwrap_or(0.0);
    let mut rows = vec!["baseline".to_owned()];
    let mut bars = vec![Bar { row: 0, lane: 0, from: 0.0, to: base, color: GREY, whisker: None }];
    let mut total = base;
    for (index, step) in suite.chain.iter().enumerate() {
        let o = step.in_process;
        let color = if o.median >= 0.0 { ORANGE } else { GREEN };
        rows.push(format!("+ {}", step.interceptor));
        let whisker = Some((total + o.lower, total + o.upper));
        bars.push(Bar { row: index + 1, lane: 0, from: total, to: total + o.median, color, whisker });
        total += o.median;
    }
    let last = suite.chain.last().map_or("chain", |s| s.stack.as_str());
    rows.push(format!("= {last}"));
    bars.push(Bar { row: rows.len() - 1, lane: 0, from: 0.0, to: total, color: SKY, whisker: None });
    let max = bars.iter().flat_map(|b| [b.from, b.to, b.whisker.map_or(0.0, |w| w.1)]).fold(0.0, f64::max);
    BarChart {
        axis: ValueAxis {
            desc: "time per call, in-process".into(),
            log: false,
            min: 0.0,
            max: max * 1.05,
            format: format_ns,
        },
        rows,
        lanes: 1,
        bars,
        marks: Vec::new(),
        rule: None,
        legend: vec![
            ("baseline".into(), GREY),
            ("adds".into(), ORANGE),
            ("saves (noise)".into(), GREEN),
            ("whole chain".into(), SKY),
        ],
    }
    .svg(200)
}

/// The bench results: per suite, the overhead chart and table and the cumulative chain as a
/// waterfall; then criterion's pages and flamegraphs.
pub(crate) fn benches(benches: &Benches) -> Result<String, ReportError> {
    let report = &benches.overhead;
    let mut out = format!(
        "<section>\n<h2>Interceptor overhead {}</h2>\n<p class=\"meta\">Criterion results in <code>{}</code> (baseline {}). \
         Overhead = stack median − baseline median in the same run; the interval holds it with ≥ {:.0}% confidence. \
         Budget {} per interceptor.</p>\n",
        badge(report.within_budget()),
        escape(&report.criterion_dir.display().to_string()),
        escape(&report.criterion_baseline),
        report.confidence_level * 100.0,
        format_ns(report.budget_ns),
    );
    for suite in &report.suites {
        let name = if suite.name.is_empty() { "catalog" } else { suite.name.as_str() };
        let _ = writeln!(out, "<h3>{}</h3>", escape(name));
        let anchors: Vec<String> = [
            ("floor", suite.floor_ns),
            ("baseline in-process", suite.baseline_in_process_ns),
            ("baseline loopback", suite.baseline_loopback_ns),
            ("bare hyper loopback", suite.bare_hyper_ns),
        ]
        .into_iter()
        .filter_map(|(what, ns)| Some(format!("{what} {}", format_ns(ns?))))
        .collect();
        if !anchors.is_empty() {
            let _ = writeln!(out, "<p class=\"meta\">Medians: {}.</p>", escape(&anchors.join(" · ")));
        }
        if !suite.rows.is_empty() {
            let rows = suite
                .rows
                .iter()
                .map(|r| {
                    vec![
                        r.stack.as_str().into(),
                        r.interceptors.to_string().into(),
                        overhead_cell(r.in_process),
                        overhead_cell(r.loopback),
                        format_ns(r.budget_ns).into(),
                        verdict(r.verdict == crate::overhead::Verdict::Ok),
                    ]
                })
                .collect();
            let numbers = table(
                "Overhead per stack: median [interval]",
                &["stack", "interceptors", "in-process", "loopback", "budget", "within budget"],
                rows,
            );
            let caption = format!(
                "Each stack's median overhead over the baseline, in-process and over loopback HTTP/1.1 \
                 (sequential round trips), with interval whiskers and its budget ({} × interceptors) as a red mark. \
                 The axis is logarithmic so that sub-microsecond overheads and a millisecond budget fit on one \
                 chart; overheads at or below the axis's left end (noise, negative ones included) show as no bar.",
                format_ns(report.budget_ns),
            );
            out += &figure(&overhead_chart(suite, report.budget_ns)?, &caption, &numbers);
        }
        if !suite.chain.is_empty() {
            let rows = suite
                .chain
                .iter()
                .map(|s| {
                    vec![
                        s.stack.as_str().into(),
                        s.interceptor.as_str().into(),
                        overhead_cell(Some(s.in_process)),
                        verdict(s.verdict == crate::overhead::Verdict::Ok),
                    ]
                })
                .collect();
            let numbers = table(
                "Cumulative chain: each step = chain/N − chain/N−1",
                &["step", "adds", "in-process cost [interval]", "within budget"],
                rows,
            );
            out += &figure(
                &chain_chart(suite)?,
                "The full chain built up one interceptor at a time, in-process: the baseline, what each \
                 interceptor adds in its place in the chain (whisker: its interval), and the whole chain (linear axis).",
                &numbers,
            );
        }
    }
    let pages: Vec<Vec<Cell>> = benches
        .pages
        .iter()
        .filter(|p| p.report.is_some() || p.flamegraph.is_some())
        .map(|p| {
            let page =
                |href: &Option<String>, text| Cell::Html(href.as_deref().map_or_else(String::new, |h| link(h, text)));
            vec![
                p.id.as_str().into(),
                format_ns(p.median_ns).into(),
                page(&p.report, "report"),
                page(&p.flamegraph, "flamegraph"),
            ]
        })
        .collect();
    let attributed: Vec<Vec<Cell>> = benches
        .pages
        .iter()
        .filter_map(|p| p.attribution.as_ref().map(|attribution| (p, attribution)))
        .map(|(p, attribution)| {
            let shares: Vec<String> =
                attribution.layers.iter().map(|l| format!("{} {}", l.layer, percent(l.share))).collect();
            vec![
                p.id.as_str().into(),
                attribution.samples.to_string().into(),
                shares.join(" · ").into(),
                Cell::Html(p.layers_flamegraph.as_deref().map_or_else(String::new, |h| link(h, "by layer"))),
            ]
        })
        .collect();
    if !attributed.is_empty() {
        out += "<p class=\"note\">Where the time goes: each profiled bench's samples given to the innermost interceptor or \
                layer frame they are in (what a layer calls counts for it), largest first; the rest is the harness and runtime.</p>\n";
        out += &table("Per-layer attribution", &["bench", "samples", "share by layer", "flamegraph"], attributed);
    }
    if pages.is_empty() {
        out += "<p class=\"note\">No criterion report pages or flamegraphs found (criterion writes pages unless run \
                with <code>--noplot</code>; <code>cargo bench -- --profile-time 5</code> writes flamegraphs).</p>\n";
    } else {
        out += &table("Criterion's pages", &["bench", "median", "criterion", "flamegraph"], pages);
    }
    out += "</section>\n";
    Ok(out)
}

/// The comparison with a saved baseline: change per bench coloured by verdict, and its table.
pub(crate) fn comparison(comparison: &Comparison) -> Result<String, ReportError> {
    let regressed = comparison.rows.iter().filter(|r| r.verdict == Change::Regressed).count();
    let mut out = format!(
        "<section>\n<h2>Compared with baseline {} {}</h2>\n",
        escape(&comparison.baseline),
        badge(regressed == 0)
    );
    let colour = |change| match change {
        Change::Improved => GREEN,
        Change::Unchanged => GREY,
        Change::Regressed => VERMILLION,
    };
    let bars: Vec<Bar> = comparison
        .rows
        .iter()
        .enumerate()
        .map(|(row, r)| Bar {
            row,
            lane: 0,
            from: 0.0,
            to: r.change_percent,
            color: colour(r.verdict),
            whisker: Some(r.interval_percent),
        })
        .collect();
    let reach = bars.iter().flat_map(|b| [b.to.abs(), b.whisker.map_or(0.0, |w| w.0.abs().max(w.1.abs()))]);
    let reach = reach.fold(1.0, f64::max) * 1.1;
    let signed = |value: f64| format!("{value:+.1}%");
    let chart = BarChart {
        axis: ValueAxis {
            desc: "change of the median (%)".into(),
            log: false,
            min: -reach,
            max: reach,
            format: |v| format!("{v:+.0}%"),
        },
        rows: comparison.rows.iter().map(|r| r.id.clone()).collect(),
        lanes: 1,
        bars,
        marks: Vec::new(),
        rule: Some(0.0),
        legend: vec![("improved".into(), GREEN), ("unchanged (noise)".into(), GREY), ("regressed".into(), VERMILLION)],
    };
    let rows = comparison
        .rows
        .iter()
        .map(|r| {
            let class = r.verdict.as_str();
            vec![
                r.id.as_str().into(),
                format_ns(r.baseline_ns).into(),
                format_ns(r.now_ns).into(),
                signed(r.change_percent).into(),
                format!("[{}, {}]", signed(r.interval_percent.0), signed(r.interval_percent.1)).into(),
                Cell::Html(format!(r#"<span class="{class}">{class}</span>"#)),
            ]
        })
        .collect();
    let numbers = table("Change per bench", &["bench", "baseline", "now", "change", "interval", "verdict"], rows);
    let _ = writeln!(out, "<p class=\"meta\">{regressed} of {} benches regressed.</p>", comparison.rows.len());
    out += &figure(
        &chart.svg(300)?,
        "Change of each bench's median against the baseline, with its confidence interval as a whisker; \
         red: regressed, green: improved, grey: within the noise.",
        &numbers,
    );
    out += "</section>\n";
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axes_span_whole_decades_from_1_ns() {
        assert_eq!(decades([35.0, 2e6, -5.0].into_iter()), (10.0, 1e7));
        assert_eq!(decades([0.2, 8.0].into_iter()), (1.0, 10.0));
        assert_eq!(decades([100.0].into_iter()), (100.0, 1000.0));
        assert_eq!(decades(std::iter::empty()), (1.0, 10.0));
    }
}
