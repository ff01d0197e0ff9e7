//! `ibench load` end to end: each seed scenario, shrunk, against in-test servers through the
//! real binary (summary, JSON file, threshold verdicts, exit codes), bad input, a target that
//! dies mid-run, and coordinated omission with a server that stalls.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use interceptor_bench::connect::{ConnectService, ResponseBody};
use interceptor_bench::greeter::Greeter;
use interceptor_bench::load::scenario::{Scenario, Stage};
use interceptor_bench::load::{self, ExecutorKind, LoadOptions, Targets};
use interceptor_bench::server::BackgroundServer;
use interceptor_bench::stack::{Interceptors, find, seed_stacks};
use serde_json::Value;
use support::ibench_load;
use tower::ServiceExt;

fn start(stack: &str) -> BackgroundServer {
    BackgroundServer::start(&find(stack).unwrap(), &Interceptors::default()).unwrap()
}

/// The five seed listeners, each on its own in-test server.
fn seed_servers() -> Vec<(String, BackgroundServer)> {
    seed_stacks()
        .iter()
        .map(|stack| (stack.name().to_owned(), BackgroundServer::start(stack, &Interceptors::default()).unwrap()))
        .collect()
}

fn target_args(servers: &[(String, BackgroundServer)]) -> Vec<String> {
    servers
        .iter()
        .flat_map(|(name, server)| ["--target".to_owned(), format!("{name}=http://{}", server.addr())])
        .collect()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|&s| s.to_owned()).collect()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn thresholds(report: &Value) -> BTreeMap<String, bool> {
    report["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                format!("{}: {}", t["metric"].as_str().unwrap(), t["condition"].as_str().unwrap()),
                t["ok"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// Runs a seed scenario through the binary and checks what every run must have.
fn run_seed(scenario: &str, scale: &[&str], servers: &[(String, BackgroundServer)], extra: &[&str]) -> (Output, Value) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    let mut all = args(&[scenario, "--no-progress", "--out", &format!("json={}", out.display())]);
    all.extend(args(scale));
    all.extend(target_args(servers));
    all.extend(args(extra));
    let output = ibench_load(&all);
    let report = read_json(&out);
    assert_eq!(report["schema"], "ibench.load/v1");
    assert_eq!(report["scenario"], scenario);
    let summary = String::from_utf8_lossy(&output.stdout);
    for line in ["checks", "http_req_duration", "http_req_failed", "http_reqs", "iterations", "vus_max", "THRESHOLDS"] {
        assert!(summary.contains(line), "summary lacks {line}");
    }
    assert!(report["metrics"]["http_reqs"]["count"].as_u64().unwrap() > 0);
    assert!(!report["series"]["points"].as_array().unwrap().is_empty());
    // The exit code is the verdict.
    let passed = report["passed"].as_bool().unwrap();
    assert_eq!(passed, thresholds(&report).values().all(|ok| *ok));
    assert_eq!(output.status.code(), Some(if passed { 0 } else { 1 }));
    assert!(summary.contains(if passed { "PASSED" } else { "FAILED" }));
    (output, report)
}

#[test]
fn basic_load_passes_its_thresholds() {
    let servers = vec![("full".to_owned(), start("full"))];
    let (_, report) = run_seed("basic-load", &["--duration-scale", "0.005", "--vus-scale", "0.05"], &servers, &[]);
    assert_eq!(report["passed"], true);
    assert_eq!(report["planned_duration_ms"], 2100.0);
    assert_eq!(report["metrics"]["vus"]["max"], 5);
    assert_eq!(report["metrics"]["http_req_failed"]["rate"], 0.0);
    assert_eq!(report["metrics"]["checks"]["rate"], 1.0);
    let verdicts = thresholds(&report);
    assert_eq!(verdicts.len(), 4);
    assert!(verdicts.contains_key("http_req_duration: p(95)<100"));
}

#[test]
fn every_protocol_loads_the_listener_in_that_protocol() {
    let seen: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let recorder = seen.clone();
    let codec = ConnectService::greeter(find("full").unwrap().service(&Interceptors::default(), Greeter::new()));
    let service = tower::service_fn(move |request: http::Request<hyper::body::Incoming>| {
        let content_type =
            request.headers().get("content-type").map_or("none".into(), |v| v.to_str().unwrap().to_owned());
        let version = format!("{:?}", request.version());
        *recorder.lock().unwrap().entry(format!("{version} {content_type}")).or_default() += 1;
        codec.clone().oneshot(request)
    });
    let servers = vec![("full".to_owned(), BackgroundServer::start_service(service).unwrap())];
    for (protocol, wire) in [
        ("connect-json", "HTTP/1.1 application/json"),
        ("connect-proto", "HTTP/1.1 application/proto"),
        ("grpc", "HTTP/2.0 application/grpc"),
    ] {
        seen.lock().unwrap().clear();
        let scale = ["--duration-scale", "0.003", "--vus-scale", "0.05"];
        let (_, report) = run_seed("basic-load", &scale, &servers, &["--protocol", protocol]);
        assert_eq!(report["passed"], true, "{protocol}");
        assert_eq!(report["metrics"]["checks"]["rate"], 1.0, "{protocol}");
        let seen = seen.lock().unwrap();
        assert_eq!(seen.keys().collect::<Vec<_>>(), [wire], "{protocol}: every call in its protocol");
        assert_eq!(
            seen[wire],
            report["metrics"]["http_reqs"]["count"].as_u64().unwrap() + 1,
            "and the pre-flight call"
        );
    }
}

#[test]
fn a_failing_threshold_fails_the_run_with_exit_code_1() {
    let servers = vec![("full".to_owned(), start("full"))];
    let (output, report) = run_seed(
        "basic-load",
        &["--duration-scale", "0.003", "--vus-scale", "0.02"],
        &servers,
        &["--threshold", "http_req_duration: max<0.001"],
    );
    assert_eq!(output.status.code(), Some(1));
    let verdicts = thresholds(&report);
    assert!(!verdicts["http_req_duration: max<0.001"]);
    assert!(verdicts["http_req_failed: rate<0.01"]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("✗ http_req_duration: max<0.001"));
}

#[test]
fn stress_test_ramps_through_its_stages() {
    let servers = vec![("full".to_owned(), start("full"))];
    let (_, report) = run_seed("stress-test", &["--duration-scale", "0.004", "--vus-scale", "0.005"], &servers, &[]);
    assert_eq!(report["stages"].as_array().unwrap().len(), 5);
    assert_eq!(report["metrics"]["vus"]["max"], 10);
    assert_eq!(thresholds(&report).len(), 2);
    assert_eq!(report["passed"], true);
}

#[test]
fn spike_test_reports_recovery_and_after_spike_metrics() {
    let servers = vec![("full".to_owned(), start("full"))];
    let (output, report) = run_seed("spike-test", &["--duration-scale", "0.02", "--vus-scale", "0.01"], &servers, &[]);
    let spike = &report["spike"];
    assert_eq!(spike["end_ms"], 1400.0);
    assert_eq!(spike["window_ms"], 100.0);
    // A healthy in-process server recovers (at once, unless the machine stalls a request or two
    // in the 100 ms window): a number, within the 800 ms left after the spike.
    let recovery = spike["recovery_time_ms"].as_f64().expect("recovered");
    assert!((0.0..800.0).contains(&recovery), "{recovery}");
    assert!(report["after_spike"]["http_reqs"]["count"].as_u64().unwrap() > 0);
    let verdicts = thresholds(&report);
    // The recovery limit is scaled with the durations: 30 s × 0.02.
    assert_eq!(verdicts["spike_recovery_time: value<600"], recovery < 600.0);
    assert!(verdicts.contains_key("http_req_duration{phase:after_spike}: p(95)<150"));
    assert!(String::from_utf8_lossy(&output.stdout).contains("SPIKE ended at 1.4s"));
}

#[test]
fn interceptor_overhead_reports_every_listener_and_per_interceptor_costs() {
    let servers = seed_servers();
    let (output, report) =
        run_seed("interceptor-overhead", &["--duration-scale", "0.015", "--vus-scale", "0.2"], &servers, &[]);
    let listeners = report["listeners"].as_object().unwrap();
    assert_eq!(listeners.len(), 5);
    let per_listener = listeners["validation"]["http_reqs"]["count"].as_u64().unwrap();
    // Every iteration calls every listener once.
    for (name, listener) in listeners {
        assert_eq!(listener["http_reqs"]["count"].as_u64().unwrap(), per_listener, "{name}");
        assert_eq!(listener["http_req_failed"]["rate"], 0.0, "{name}");
    }
    assert_eq!(report["metrics"]["iterations"]["count"].as_u64().unwrap(), per_listener);
    let overhead = &report["overhead"];
    assert_eq!(overhead["baseline"], "baseline");
    assert_eq!(overhead["listeners"]["full"]["interceptors"], 9);
    assert_eq!(overhead["listeners"]["validation"]["interceptors"], 1);
    let full = &overhead["listeners"]["full"];
    let per = full["per_interceptor_med_ms"].as_f64().unwrap();
    assert!((per * 9.0 - full["med_ms"].as_f64().unwrap()).abs() < 1e-9);
    let verdicts = thresholds(&report);
    assert_eq!(verdicts.len(), 2 + 5 + 8);
    for listener in ["full", "baseline", "validation", "logger", "tracing"] {
        assert!(verdicts[&format!("http_req_failed{{listener:{listener}}}: rate<0.01")]);
    }
    assert!(String::from_utf8_lossy(&output.stdout).contains("INTERCEPTOR OVERHEAD over baseline"));
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let server = start("full");
    let full = format!("full=http://{}", server.addr());
    let cases: [(&[&str], &str); 9] = [
        (&["basic-load", "--protocol", "grpc-web"], "expected connect-json, connect-proto or grpc"),
        (&["basic-load", "--threshold", "http_req_duration: p(95)<<1"], "bad threshold"),
        (&["basic-load", "--threshold", "nope: p(95)<1"], "unknown metric"),
        (&["basic-load", "--target", "full=http://192.0.2.1:8080"], "not loopback"),
        (&["basic-load", "--host", "192.0.2.1"], "not loopback"),
        (&["nonsense"], "unknown scenario"),
        (&["basic-load", "--vus-scale", "0"], "positive"),
        (&["basic-load", "--out", "csv=x.csv"], "json=FILE"),
        (&["basic-load", "--threshold", "server_rss_mb: max<100"], "needs --server-pid"),
    ];
    for (case, expected) in cases {
        let mut all = args(case);
        // The last --target wins: the loopback one goes first so that the case's own overrides it.
        all.splice(1..1, ["--target".to_owned(), full.clone(), "--duration-scale".to_owned(), "0.001".to_owned()]);
        let output = ibench_load(&all);
        assert_eq!(output.status.code(), Some(2), "{case:?}");
        assert!(String::from_utf8_lossy(&output.stderr).contains(expected), "{case:?}");
    }
}

#[test]
fn refuses_to_start_when_a_target_does_not_answer() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let output = ibench_load(&args(&["basic-load", "--target", &format!("full=http://127.0.0.1:{port}")]));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("target full") && stderr.contains("does not answer"), "{stderr}");
}

#[test]
fn never_overwrites_the_output_file_without_force() {
    let server = start("full");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mine.json");
    std::fs::write(&out, "precious").unwrap();
    let base = ["basic-load", "--duration-scale", "0.001", "--vus-scale", "0.01", "--no-progress"];
    let mut all = args(&base);
    all.extend(args(&[
        "--target",
        &format!("full=http://{}", server.addr()),
        "--out",
        &format!("json={}", out.display()),
    ]));
    let output = ibench_load(&all);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious");
    all.push("--force".to_owned());
    assert_eq!(ibench_load(&all).status.code(), Some(0));
    assert_eq!(read_json(&out)["schema"], "ibench.load/v1");
    // Only the report is left in the directory: the temporary file was renamed into place.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_dies_mid_run_counts_as_failures_and_the_run_ends_on_time() {
    let server = start("baseline");
    let targets = Targets::new().with(&format!("full=http://{}", server.addr())).unwrap();
    let scenario = Scenario::builtin("basic-load").unwrap().scaled(0.005, 0.03);
    let total = scenario.total_duration();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        drop(server);
    });
    let started = std::time::Instant::now();
    let options = LoadOptions::new().grace(Duration::from_millis(500)).timeout(Duration::from_millis(300));
    let report = load::run(&scenario, &targets, &options).await.unwrap();
    let took = started.elapsed();
    killer.join().unwrap();
    assert!(took < total + Duration::from_secs(2), "took {took:?} for a {total:?} run");
    let metrics = &report.metrics.requests;
    assert!(metrics.http_reqs.count > metrics.http_req_failed.trues, "some requests before the death succeeded");
    assert!(metrics.http_req_failed.trues > 0, "requests after the death failed");
    assert!(!report.passed);
    assert_eq!(report.exit_code(), 1);
}

/// A greeter that, for requests arriving in `[from, from + stall)`, answers only at `from + stall`.
fn stalling_server(from: std::time::Instant, stall: Duration) -> BackgroundServer {
    let inner = ConnectService::greeter(Greeter::new());
    let service = tower::service_fn(move |request: http::Request<hyper::body::Incoming>| {
        let inner = inner.clone();
        async move {
            let now = std::time::Instant::now();
            if now >= from && now < from + stall {
                tokio::time::sleep(from + stall - now).await;
            }
            inner.oneshot(request).await
        }
    });
    BackgroundServer::start_service(service).unwrap()
}

fn stall_scenario() -> Scenario {
    let mut scenario = Scenario::builtin("basic-load").unwrap();
    scenario.name = "stall".to_owned();
    scenario.start_vus = 1;
    scenario.stages = vec![Stage { duration: Duration::from_secs(2), target: 1 }];
    scenario.sleep = None;
    scenario.rate_per_vu = 200.0;
    scenario.thresholds.clear();
    scenario
}

async fn run_against_a_stall(executor: ExecutorKind) -> load::Report {
    const STALL: Duration = Duration::from_millis(300);
    let server = stalling_server(std::time::Instant::now() + Duration::from_millis(600), STALL);
    let targets = Targets::new().with(&format!("full=http://{}", server.addr())).unwrap();
    let options = LoadOptions::new().executor(executor).max_vus(100);
    load::run(&stall_scenario(), &targets, &options).await.unwrap()
}

#[tokio::test]
async fn open_model_latency_includes_a_stall_that_the_closed_model_hides() {
    let open = run_against_a_stall(ExecutorKind::Open).await;
    let closed = run_against_a_stall(ExecutorKind::Closed).await;
    let (open_trend, closed_trend) =
        (open.metrics.requests.http_req_duration, closed.metrics.requests.http_req_duration);
    // Both saw the stall at least once...
    assert!(open_trend.max >= 250.0, "open max {}", open_trend.max);
    assert!(closed_trend.max >= 250.0, "closed max {}", closed_trend.max);
    // ...but the closed VU was stuck in it, so asked only once: its p95 knows nothing of it,
    // while every iteration scheduled during the stall (15% of the run) counts in the open model.
    assert!(open_trend.p95 >= 100.0, "open p95 {}", open_trend.p95);
    assert!(closed_trend.p95 < 50.0, "closed p95 {}", closed_trend.p95);
    let dropped = open.metrics.dropped_iterations.count;
    assert!(dropped < 10, "enough VUs for the stall: {dropped} dropped");
    assert!(open.metrics.iterations.count >= 380, "200/s for 2 s: {}", open.metrics.iterations.count);
}

#[tokio::test]
async fn an_abort_on_fail_threshold_stops_the_run_early() {
    let server = start("full");
    let targets = Targets::new().with(&format!("full=http://{}", server.addr())).unwrap();
    let scenario = Scenario::builtin("basic-load").unwrap().scaled(0.01, 0.02);
    let impossible = "http_req_duration: max<0.001".parse::<load::threshold::Threshold>().unwrap();
    let options = LoadOptions::new().threshold(impossible.abort_on_fail(Duration::from_millis(300)));
    let report = load::run(&scenario, &targets, &options).await.unwrap();
    assert_eq!(report.aborted_by.as_deref(), Some("threshold http_req_duration: max<0.001 failed"));
    assert!(report.duration_ms >= 300.0, "not before its delay: {}", report.duration_ms);
    assert!(report.duration_ms < report.planned_duration_ms / 2.0, "stopped early: {}", report.duration_ms);
    assert!(!report.passed);
    assert!(report.summary().contains("ABORTED early: threshold http_req_duration: max<0.001 failed"));
}

#[test]
fn runs_a_custom_toml_scenario_in_the_open_model_and_reports_bad_files_by_line() {
    let servers = vec![("baseline".to_owned(), start("baseline"))];
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("mine.toml");
    std::fs::write(
        &good,
        r#"
name = "mine"
executor = "open"
listeners = ["baseline"]
start_vus = 2
stages = [{ duration = "600ms", target = 2 }, { duration = "400ms", target = 4 }]
rate_per_vu = 100

[thresholds]
http_req_failed = ["rate<0.01"]
"http_reqs{listener:baseline}" = ["count>100"]
"#,
    )
    .unwrap();
    let out = dir.path().join("mine.json");
    let mut all = args(&[good.to_str().unwrap(), "--no-progress", "--out", &format!("json={}", out.display())]);
    all.extend(target_args(&servers));
    let output = ibench_load(&all);
    assert_eq!(output.status.code(), Some(0));
    let report = read_json(&out);
    assert_eq!(report["executor"], "open");
    assert_eq!(report["open_model"]["peak_rate"], 400.0);
    // 2 VUs × 100/s for 0.6 s, then 200 → 400/s over 0.4 s: 120 + 120 iterations.
    let iterations = report["metrics"]["iterations"]["count"].as_u64().unwrap();
    let dropped = report["metrics"]["dropped_iterations"]["count"].as_u64().unwrap();
    assert_eq!(iterations + dropped, 240, "{iterations} run + {dropped} dropped");

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"bad\"\nlisteners = [\"baseline\"]\nstages = [{ duration = \"soon\", target = 1 }]\n",
    )
    .unwrap();
    let output = ibench_load(&args(&[bad.to_str().unwrap()]));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.toml") && stderr.contains("line 3") && stderr.contains("bad duration"), "{stderr}");
}

#[test]
fn any_builtin_runs_in_the_open_model() {
    let servers = vec![("full".to_owned(), start("full"))];
    let (_, report) = run_seed(
        "basic-load",
        &["--duration-scale", "0.004", "--vus-scale", "0.05", "--executor", "open"],
        &servers,
        &[],
    );
    assert_eq!(report["executor"], "open");
    // 5 VUs at the plateau × 10 iterations/s per VU.
    assert_eq!(report["open_model"]["peak_rate"], 50.0);
    assert_eq!(report["passed"], true);
}

#[test]
fn the_committed_scenario_files_are_valid() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files = 0;
    for entry in std::fs::read_dir(directory).unwrap() {
        let path = entry.unwrap().path();
        Scenario::load(path.to_str().unwrap()).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        files += 1;
    }
    assert!(files >= 2);
}

#[test]
fn samples_the_server_process_from_proc() {
    // The in-test server runs in this very process.
    let servers = vec![("full".to_owned(), start("full"))];
    let pid = std::process::id().to_string();
    let (output, report) = run_seed(
        "basic-load",
        &["--duration-scale", "0.004", "--vus-scale", "0.02"],
        &servers,
        &["--server-pid", &pid, "--threshold", "server_rss_mb: max<100000"],
    );
    let resources = &report["resources"];
    assert_eq!(resources["source"], format!("pid {pid}"));
    assert!(resources["samples"].as_u64().unwrap() >= 2);
    assert!(resources["rss_peak_mb"].as_f64().unwrap() > 1.0);
    let points = resources["points"].as_array().unwrap();
    assert_eq!(points.len() as u64, resources["samples"].as_u64().unwrap(), "one point per sample");
    assert_eq!((points[0]["t_ms"].as_u64(), points[0]["cpu_percent"].is_null()), (Some(0), true));
    assert!(points.windows(2).all(|w| w[0]["t_ms"].as_u64() < w[1]["t_ms"].as_u64()), "in time order");
    assert!(points[1..].iter().all(|p| p["cpu_percent"].as_f64().is_some_and(|c| c >= 0.0)));
    let peak = points.iter().map(|p| p["rss_mb"].as_f64().unwrap()).fold(0.0, f64::max);
    assert_eq!(peak, resources["rss_peak_mb"].as_f64().unwrap());
    assert!(thresholds(&report)["server_rss_mb: max<100000"]);
    assert!(String::from_utf8_lossy(&output.stdout).contains(&format!("SERVER (pid {pid}")));
}

#[tokio::test]
async fn samples_the_server_from_its_prometheus_metrics() {
    const METRICS: &str = "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 52428800\nprocess_cpu_seconds_total 12.5\n";
    let greeter = ConnectService::greeter(Greeter::new());
    let service = tower::service_fn(move |request: http::Request<hyper::body::Incoming>| {
        let greeter = greeter.clone();
        async move {
            if request.uri().path() == "/metrics" {
                return Ok(http::Response::new(ResponseBody::from(bytes::Bytes::from_static(METRICS.as_bytes()))));
            }
            greeter.oneshot(request).await
        }
    });
    let server = BackgroundServer::start_service(service).unwrap();
    let targets = Targets::new().with(&format!("full=http://{}", server.addr())).unwrap();
    let metrics = load::Target::parse(&format!("http://{}/metrics", server.addr())).unwrap();
    let options = LoadOptions::new().server(load::resources::Source::Metrics(metrics));
    let scenario = Scenario::builtin("basic-load").unwrap().scaled(0.004, 0.02);
    let report = load::run(&scenario, &targets, &options).await.unwrap();
    let resources = report.resources.unwrap();
    assert_eq!(resources.rss_peak_mb, 50.0);
    assert_eq!(resources.cpu_mean_percent, 0.0);
    assert!(resources.within_targets);
    assert!(resources.source.ends_with("/metrics"));
}

#[tokio::test]
async fn a_cancelled_run_still_reports_but_does_not_pass() {
    let server = start("full");
    let targets = Targets::new().with(&format!("full=http://{}", server.addr())).unwrap();
    let scenario = Scenario::builtin("basic-load").unwrap().scaled(0.01, 0.02);
    let cancel = tokio_util::sync::CancellationToken::new();
    let options = LoadOptions::new().cancel_on(cancel.clone());
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        cancel.cancel();
    });
    let report = load::run(&scenario, &targets, &options).await.unwrap();
    canceller.await.unwrap();
    assert!(report.metrics.requests.http_reqs.count > 0);
    assert!(report.duration_ms < report.planned_duration_ms / 2.0);
    assert_eq!(report.aborted_by.as_deref(), Some("cancelled before the end (Ctrl-C)"));
    assert!(!report.passed);
}
