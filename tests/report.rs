//! `ibench report` and `ibench load --report` end to end, from real output made here: a short
//! spike run through the binary against an in-test server, and a short criterion run. Each
//! page is parsed as XML (the report is written well-formed), checked to load nothing from
//! anywhere, and its key figures are compared with the JSON and results they came from.

mod criterion_run;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use criterion_run::criterion_run;
use interceptor_bench::overhead::{OverheadReport, format_ns};
use interceptor_bench::report::{Change, Comparison, ComparisonRow, HtmlReport};
use interceptor_bench::results::Results;
use interceptor_bench::server::BackgroundServer;
use interceptor_bench::stack::{Interceptors, find};
use quick_xml::events::{BytesStart, Event};
use serde_json::Value;

fn ibench(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_ibench")).args(args).env_remove("CRITERION_HOME").output().unwrap();
    eprintln!(
        "ibench {args:?}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A table: its caption and its rows' cell texts.
#[derive(Debug, Default)]
struct Table {
    caption: String,
    rows: Vec<Vec<String>>,
}

/// What the checks read from a page.
#[derive(Debug, Default)]
struct Page {
    tables: Vec<Table>,
    /// `role="img"` SVG charts, with all the text drawn in each.
    charts: Vec<String>,
    /// Every `href`.
    links: Vec<String>,
    text: String,
}

impl Page {
    fn table(&self, caption: &str) -> &Table {
        self.tables.iter().find(|t| t.caption.starts_with(caption)).unwrap_or_else(|| panic!("no table {caption}"))
    }
}

fn attribute(element: &BytesStart<'_>, name: &str) -> Option<String> {
    element.try_get_attribute(name).unwrap().map(|a| a.unescape_value().unwrap().into_owned())
}

/// Parses `html` as XML — failing on any unclosed or mismatched element — and checks it loads
/// nothing: no script, no external `src`/`href`, no `url(` or `@import` in styles.
fn parse(html: &str) -> Page {
    assert!(html.starts_with("<!DOCTYPE html>"));
    let mut reader = quick_xml::Reader::from_str(html);
    reader.check_end_names(true);
    let mut page = Page::default();
    let mut open: Vec<String> = Vec::new();
    loop {
        let event =
            reader.read_event().unwrap_or_else(|e| panic!("not well-formed at {}: {e}", reader.buffer_position()));
        let element = match &event {
            Event::Start(e) | Event::Empty(e) => Some(e.clone()),
            _ => None,
        };
        if let Some(e) = &element {
            let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
            assert!(!["script", "iframe", "object", "embed", "link", "img"].contains(&name.as_str()), "<{name}> found");
            for attr in e.attributes() {
                let attr = attr.unwrap();
                let key = String::from_utf8(attr.key.as_ref().to_vec()).unwrap();
                let value = attr.unescape_value().unwrap().into_owned();
                assert!(!key.starts_with("on"), "event handler {key}");
                if key == "src" || key.ends_with("href") {
                    assert!(!value.contains("://"), "{key}={value} loads from elsewhere");
                    page.links.push(value);
                }
            }
            match name.as_str() {
                "table" => page.tables.push(Table::default()),
                "tr" if open.contains(&"tbody".to_owned()) => page.tables.last_mut().unwrap().rows.push(Vec::new()),
                "td" | "th" if open.contains(&"tbody".to_owned()) => {
                    page.tables.last_mut().unwrap().rows.last_mut().unwrap().push(String::new())
                }
                "svg" if attribute(e, "role").as_deref() == Some("img") => page.charts.push(String::new()),
                _ => {}
            }
        }
        match event {
            Event::Start(e) => open.push(String::from_utf8(e.name().as_ref().to_vec()).unwrap()),
            Event::End(_) => {
                open.pop().unwrap();
            }
            Event::Text(text) => {
                let text = text.unescape().unwrap().into_owned();
                if open.last().map(String::as_str) == Some("style") {
                    assert!(!text.contains("url(") && !text.contains("@import"), "style loads from elsewhere");
                }
                page.text += &text;
                if open.contains(&"svg".to_owned()) {
                    if let Some(chart) = page.charts.last_mut() {
                        *chart += &text;
                        chart.push('\n');
                    }
                } else if open.last().map(String::as_str) == Some("caption") {
                    page.tables.last_mut().unwrap().caption += &text;
                } else if open.iter().any(|e| e == "td" || e == "th")
                    && let Some(cell) =
                        page.tables.last_mut().and_then(|t| t.rows.last_mut()).and_then(|r| r.last_mut())
                {
                    *cell += &text;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(open.is_empty(), "unclosed: {open:?}");
    page
}

/// `<section>…</section>` of the page: the part two ways of writing the same run share.
fn section(html: &str) -> &str {
    &html[html.find("<section>").unwrap()..html.rfind("</section>").unwrap()]
}

#[test]
fn a_spike_run_is_drawn_with_the_figures_of_its_json() {
    let server = BackgroundServer::start(&find("full").unwrap(), &Interceptors::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (json, direct, report) =
        (dir.path().join("run.json"), dir.path().join("direct.html"), dir.path().join("report.html"));
    let target = format!("full=http://{}", server.addr());
    let output = ibench(&[
        "load",
        "spike-test",
        "--duration-scale",
        "0.02",
        "--vus-scale",
        "0.01",
        "--no-progress",
        "--target",
        &target,
        "--out",
        &format!("json={}", json.display()),
        "--report",
        direct.to_str().unwrap(),
    ]);
    assert!(output.status.code().unwrap() < 2);
    let run: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let output = ibench(&["report", "--load", json.to_str().unwrap(), "-o", report.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));

    // The run drawn straight away and drawn from its JSON later are the same.
    let html = std::fs::read_to_string(&report).unwrap();
    assert_eq!(section(&std::fs::read_to_string(&direct).unwrap()), section(&html));
    let page = parse(&html);

    // Every threshold, with its value and verdict.
    let thresholds = &page.table("Thresholds").rows;
    let expected: Vec<Vec<String>> = run["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let value = t["value"].as_f64().map_or_else(|| "no data".to_owned(), |v| format!("{v:.3}"));
            let held = if t["ok"].as_bool().unwrap() { "✓" } else { "✗" };
            vec![t["metric"].as_str().unwrap().into(), t["condition"].as_str().unwrap().into(), value, held.into()]
        })
        .collect();
    assert_eq!(thresholds, &expected);
    assert!(thresholds.iter().any(|row| row[0] == "http_req_duration{phase:after_spike}" && row[1] == "p(95)<150"));

    let summary = &page.table("Summary").rows;
    let metrics = &run["metrics"];
    let requests = metrics["http_reqs"]["count"].as_u64().unwrap();
    assert!(requests > 0);
    assert!(summary[0][1].starts_with(&format!("{requests} (")), "{summary:?}");
    let p95 = format!("{:.2} ms", metrics["http_req_duration"]["p95"].as_f64().unwrap());
    assert!(summary[5][1].contains(&p95), "{summary:?} lacks {p95}");

    // Two charts, axes labelled with units, the spike and its recovery marked, and the
    // numbers behind them in a table, one row per interval.
    assert_eq!(page.charts.len(), 2, "{:?}", page.charts);
    let (latency, throughput) = (&page.charts[0], &page.charts[1]);
    for label in ["latency (ms)", "time since start (s)", "active VUs", "p50", "p95", "p99", "VUs", "spike"] {
        assert!(latency.lines().any(|l| l == label), "latency chart lacks {label}");
    }
    let recovery = run["spike"]["recovery_time_ms"].as_f64();
    let marked = recovery.map(|ms| format!("recovered +{:.1} s", ms / 1e3));
    assert_eq!(marked.as_ref().is_some_and(|m| latency.contains(m)), recovery.is_some());
    assert!(page.text.contains(if recovery.is_some() { "recovered" } else { "never recovered" }));
    for label in ["per second", "requests/s", "errors/s"] {
        assert!(throughput.lines().any(|l| l == label), "throughput chart lacks {label}");
    }
    let intervals = page.table("Per interval");
    assert_eq!(intervals.rows.len(), run["series"]["points"].as_array().unwrap().len());
    let requests_in_series: u64 = intervals.rows.iter().map(|r| r[1].parse::<u64>().unwrap()).sum();
    assert_eq!(
        requests_in_series,
        run["series"]["points"].as_array().unwrap().iter().map(|p| p["requests"].as_u64().unwrap()).sum::<u64>()
    );
    // No benches were asked for (--load without --criterion-dir).
    assert!(!page.text.contains("Interceptor overhead"));
}

#[test]
fn bench_results_are_drawn_with_their_overheads_and_links() {
    let criterion = tempfile::tempdir().unwrap();
    criterion_run(criterion.path(), 2, true);
    // A flamegraph where `cargo bench -- --profile-time` would write one.
    let profile = criterion.path().join("in_process/full/unary/profile");
    std::fs::create_dir_all(&profile).unwrap();
    std::fs::write(profile.join("flamegraph.svg"), "<svg/>").unwrap();

    let out = tempfile::tempdir().unwrap();
    let report = out.path().join("benches.html");
    let output = ibench(&[
        "report",
        "--criterion-dir",
        criterion.path().to_str().unwrap(),
        "--budget",
        "500us",
        "-o",
        report.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0));
    let page = parse(&std::fs::read_to_string(&report).unwrap());

    let results = Results::read(criterion.path(), Results::LAST_RUN).unwrap();
    let expected = OverheadReport::new(&results, Duration::from_micros(500)).unwrap();
    let catalog = &expected.suites[0];
    let rows = &page.table("Overhead per stack").rows;
    assert_eq!(rows.len(), catalog.rows.len());
    for (row, stack) in rows.iter().zip(&catalog.rows) {
        assert_eq!(row[0], stack.stack);
        let o = stack.in_process.unwrap();
        assert_eq!(row[2], format!("{} [{}, {}]", format_ns(o.median), format_ns(o.lower), format_ns(o.upper)));
        assert_eq!(row[4], format_ns(stack.budget_ns));
    }
    let full = rows.iter().find(|r| r[0] == "full").unwrap();
    assert!(full[3].starts_with(&format_ns(catalog.rows[0].loopback.unwrap().median)), "{full:?}");
    let chain = &page.table("Cumulative chain").rows;
    let steps: Vec<(&str, &str)> = chain.iter().map(|r| (r[0].as_str(), r[1].as_str())).collect();
    assert_eq!(steps, [("chain/1", "error_handler"), ("chain/2", "timeout")]);

    assert_eq!(page.charts.len(), 2, "{:#?}", page.charts);
    let (bars, waterfall) = (&page.charts[0], &page.charts[1]);
    for label in ["full", "timeout", "in-process", "loopback HTTP/1.1", "overhead over the baseline (log scale)"] {
        assert!(bars.lines().any(|l| l == label), "overhead chart lacks {label}:\n{bars}");
    }
    for label in ["baseline", "+ error_handler", "+ timeout", "= chain/2", "time per call, in-process"] {
        assert!(waterfall.lines().any(|l| l == label), "waterfall lacks {label}:\n{waterfall}");
    }

    // Links to criterion's pages and the flamegraph, relative to the report, that resolve.
    let pages = &page.table("Criterion's pages").rows;
    assert_eq!(pages.len(), results.len());
    assert!(!page.links.is_empty());
    for link in &page.links {
        assert!(out.path().join(link).is_file(), "{link} does not resolve");
    }
    assert!(page.links.iter().any(|l| l.ends_with("in_process/full/unary/report/index.html")));
    assert_eq!(page.links.iter().filter(|l| l.ends_with("flamegraph.svg")).count(), 1);
}

#[test]
fn a_comparison_colours_each_change_by_its_verdict() {
    let row = |id: &str, change: f64, verdict| ComparisonRow {
        id: id.into(),
        baseline_ns: 1_000.0,
        now_ns: 1_000.0 * (1.0 + change / 100.0),
        change_percent: change,
        interval_percent: (change - 2.0, change + 2.0),
        verdict,
    };
    let comparison = Comparison {
        baseline: "main".into(),
        rows: vec![
            row("in_process/full/unary", 12.5, Change::Regressed),
            row("in_process/timeout/unary", -0.4, Change::Unchanged),
            row("loopback/full/http1_seq", -8.0, Change::Improved),
        ],
    };
    let html = HtmlReport::new("compare").comparison(comparison).render().unwrap();
    let page = parse(&html);
    let rows = &page.table("Change per bench").rows;
    assert_eq!(rows[0], ["in_process/full/unary", "1.00 µs", "1.12 µs", "+12.5%", "[+10.5%, +14.5%]", "regressed"]);
    assert_eq!(rows[2][5], "improved");
    assert!(html.contains(r#"<span class="regressed">regressed</span>"#));
    assert!(page.text.contains("1 of 3 benches regressed"));
    assert_eq!(page.charts.len(), 1);
    assert!(page.charts[0].lines().any(|l| l == "in_process/timeout/unary"));
    // The bars take the verdict's colour: vermillion, grey, green.
    for colour in ["#D55E00", "#6E6E6E", "#009E73"] {
        assert!(html.contains(&format!("fill=\"{colour}\"")), "no {colour} bar");
    }
}

#[test]
fn bad_input_exits_2_naming_the_file_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.html");
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    std::fs::write(path("corrupt.json"), "{\"schema\": \"ibench.load/v1\", \"scenario\": ").unwrap();
    std::fs::write(path("other.json"), r#"{"schema": "something/v2"}"#).unwrap();
    std::fs::write(path("partial.json"), r#"{"schema": "ibench.load/v1", "scenario": "x"}"#).unwrap();
    for (file, says) in [
        ("missing.json", "cannot read"),
        ("corrupt.json", "EOF"),
        ("other.json", "not \"ibench.load/v1\""),
        ("partial.json", "missing field"),
    ] {
        let output = ibench(&["report", "--load", &path(file), "-o", out.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(2), "{file}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&path(file)) && stderr.contains(says), "{file}: {stderr}");
        assert!(!out.exists());
    }
    let empty = dir.path().join("criterion");
    let output = ibench(&["report", "--criterion-dir", empty.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("run `cargo bench` first"));

    // An existing file is kept without --force, replaced with it.
    let run = dir.path().join("run.json");
    let server = BackgroundServer::start(&find("full").unwrap(), &Interceptors::default()).unwrap();
    let target = format!("full=http://{}", server.addr());
    let load = ["load", "basic-load", "--duration-scale", "0.002", "--vus-scale", "0.02", "--no-progress"];
    let output = ibench(&[&load[..], &["--target", &target, "--out", &format!("json={}", run.display())]].concat());
    assert_eq!(output.status.code(), Some(0));
    std::fs::write(&out, "mine").unwrap();
    let output = ibench(&["report", "--load", run.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "mine");
    // `ibench load --report` refuses before running.
    let output = ibench(&[&load[..], &["--target", &target, "--report", out.to_str().unwrap()]].concat());
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "mine");
    let output = ibench(&["report", "--load", run.to_str().unwrap(), "-o", out.to_str().unwrap(), "--force"]);
    assert_eq!(output.status.code(), Some(0));
    parse(&std::fs::read_to_string(&out).unwrap());
}

#[test]
fn server_resources_are_tabulated_and_drawn_over_time_when_sampled() {
    let server = BackgroundServer::start(&find("full").unwrap(), &Interceptors::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let output = ibench(&[
        "load",
        "basic-load",
        "--duration-scale",
        "0.006",
        "--vus-scale",
        "0.02",
        "--no-progress",
        "--target",
        &format!("full=http://{}", server.addr()),
        "--server-pid",
        &std::process::id().to_string(),
        "--out",
        &format!("json={}", json.display()),
    ]);
    assert!(output.status.code().unwrap() < 2);
    let report = |json: &Path, name: &str| {
        let html = dir.path().join(name);
        let output = ibench(&["report", "--load", json.to_str().unwrap(), "-o", html.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(0));
        parse(&std::fs::read_to_string(html).unwrap())
    };

    // Peak and mean against the targets, and every sample over time.
    let run: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let page = report(&json, "sampled.html");
    let rows = &page.table("Server memory and CPU").rows;
    let resources = &run["resources"];
    assert_eq!(rows[0][1], format!("{:.1} MB", resources["rss_peak_mb"].as_f64().unwrap()));
    assert_eq!(rows[1][2], format!("{:.1}%", resources["cpu_mean_percent"].as_f64().unwrap()));
    assert_eq!(page.charts.len(), 3);
    for label in ["resident memory (MB)", "CPU (% of one core)", "memory", "CPU"] {
        assert!(page.charts[2].lines().any(|l| l == label), "resources chart lacks {label}");
    }
    let points = resources["points"].as_array().unwrap();
    assert!(points.len() >= 2, "a 2.5 s run is sampled at least twice: {points:?}");
    let samples = &page.table("Server samples").rows;
    assert_eq!(samples.len(), points.len(), "one row per sample");
    assert_eq!(samples[0], ["0.0", &format!("{:.1}", points[0]["rss_mb"].as_f64().unwrap()), "–"]);
    let last = points.last().unwrap();
    let row = samples.last().unwrap();
    assert_eq!(row[1], format!("{:.1}", last["rss_mb"].as_f64().unwrap()));
    assert_eq!(row[2], format!("{:.1}", last["cpu_percent"].as_f64().unwrap()));

    // A run without samples (an older file, or one sampled once): the table and a note.
    let mut unsampled = run.clone();
    unsampled["resources"].as_object_mut().unwrap().remove("points");
    let file = dir.path().join("unsampled.json");
    std::fs::write(&file, unsampled.to_string()).unwrap();
    let page = report(&file, "peak.html");
    assert_eq!(page.charts.len(), 2);
    assert!(page.text.contains("keeps the peak and mean only"));
}
