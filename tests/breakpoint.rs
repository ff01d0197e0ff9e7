//! The breakpoint search against an in-test server that degrades at a known rate: a greeter
//! that answers in 200 ms while at most 50 calls are in flight, and in 2 s beyond, so it keeps
//! up with 50 / 200 ms = 250 calls per second and no more. (Long answers and many calls in
//! flight make the knee sharp however the shared machine delays a few of them.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use interceptor_bench::connect::ConnectService;
use interceptor_bench::greeter::Greeter;
use interceptor_bench::load::breakpoint::{Outcome, Search};
use interceptor_bench::load::scenario::Scenario;
use interceptor_bench::load::{self, LoadOptions, Targets};
use interceptor_bench::server::BackgroundServer;
use serde_json::Value;
use tower::ServiceExt;

const IN_FLIGHT_LIMIT: usize = 50;
const FAST: Duration = Duration::from_millis(200);
const SLOW: Duration = Duration::from_secs(2);
/// The stop condition on latency, between the two.
const P99_LIMIT: &str = "http_req_duration: p(99)<600";
/// Calls per second the server keeps up with: `IN_FLIGHT_LIMIT / FAST`.
const KNOWN_RATE: f64 = 250.0;
const FACTOR: f64 = 1.5;

fn degrading_server() -> BackgroundServer {
    let inner = ConnectService::greeter(Greeter::new());
    let in_flight = Arc::new(AtomicUsize::new(0));
    let service = tower::service_fn(move |request: http::Request<hyper::body::Incoming>| {
        let (inner, in_flight) = (inner.clone(), Arc::clone(&in_flight));
        async move {
            let calls = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(if calls > IN_FLIGHT_LIMIT { SLOW } else { FAST }).await;
            let response = inner.oneshot(request).await;
            in_flight.fetch_sub(1, Ordering::SeqCst);
            response
        }
    });
    BackgroundServer::start_service(service).unwrap()
}

/// 60, 90, 135, 202.5, 303.75, … per second: the known rate falls between two steps.
fn search(max_rate: f64) -> Search {
    Search { start_rate: 60.0, factor: FACTOR, step: Duration::from_millis(800), max_rate, ..Search::default() }
}

#[tokio::test]
async fn finds_the_breaking_point_within_one_step_of_the_known_rate() {
    let server = degrading_server();
    let targets = Targets::new().with(&format!("degrading=http://{}", server.addr())).unwrap();
    let mut scenario = Scenario::builtin("breakpoint").unwrap().with_search(search(2000.0));
    scenario.listeners = vec!["degrading".to_owned()];
    scenario.thresholds = vec![P99_LIMIT.parse().unwrap(), "http_req_failed: rate<0.01".parse().unwrap()];
    let report = load::run(&scenario, &targets, &LoadOptions::new()).await.unwrap();
    let summary = report.summary();
    let answer = &report.breakpoint.as_ref().expect("a breakpoint run reports its search").listeners[0];
    assert_eq!(answer.outcome, Outcome::Broke, "{summary}");
    let sustained = answer.sustained_rate.expect("the first steps hold");
    assert!(
        (KNOWN_RATE / FACTOR / FACTOR..=KNOWN_RATE).contains(&sustained),
        "sustained {sustained}/s, known {KNOWN_RATE}/s\n{summary}"
    );
    assert_eq!(answer.broke_at, Some(sustained * FACTOR));
    // The search stopped at the first failing step: it did not go on to the ceiling.
    assert!(answer.steps.iter().rev().skip(1).all(|step| step.ok));
    assert!(!answer.steps.last().unwrap().ok);
    assert!(answer.steps.iter().all(|step| !step.generator_limited), "{summary}");
    assert!(summary.contains("BREAKING POINT") && summary.contains("broke at"), "{summary}");
    assert!(report.passed, "a breaking point found is the answer asked for\n{summary}");
}

fn ibench_load(args: &[String]) -> std::process::Output {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ibench")).arg("load").args(args).output().unwrap();
    eprintln!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn reports_the_ceiling_when_no_step_breaks_it_in_the_summary_json_and_html() {
    let server = degrading_server();
    let dir = tempfile::tempdir().unwrap();
    let (json, html, toml) = (dir.path().join("run.json"), dir.path().join("run.html"), dir.path().join("bp.toml"));
    let search = search(150.0);
    let condition = P99_LIMIT.split_once(": ").unwrap().1;
    std::fs::write(
        &toml,
        format!(
            "name = \"degrading\"\nexecutor = \"breakpoint\"\nlisteners = [\"degrading\"]\n\
             [breakpoint]\nstart_rate = {}\nfactor = {}\nstep = \"800ms\"\nmax_rate = {}\n\
             [thresholds]\nhttp_req_duration = [\"{condition}\"]\n",
            search.start_rate, search.factor, search.max_rate
        ),
    )
    .unwrap();
    let args: Vec<String> = [
        toml.to_str().unwrap(),
        "--no-progress",
        "--target",
        &format!("degrading=http://{}", server.addr()),
        "--out",
        &format!("json={}", json.display()),
        "--report",
        html.to_str().unwrap(),
    ]
    .iter()
    .map(|&s| s.to_owned())
    .collect();
    let output = ibench_load(&args);
    assert_eq!(output.status.code(), Some(0));
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(summary.contains("sustained 150/s: the ceiling, no breaking point below it"), "{summary}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["schema"], "ibench.load/v1");
    assert_eq!(report["executor"], "breakpoint");
    let answer = &report["breakpoint"]["listeners"][0];
    assert_eq!(answer["outcome"], "ceiling");
    assert_eq!(answer["sustained_rate"], 150.0);
    assert_eq!(answer["broke_at"], Value::Null);
    let rates: Vec<f64> = answer["steps"].as_array().unwrap().iter().map(|s| s["rate"].as_f64().unwrap()).collect();
    assert_eq!(rates, [60.0, 90.0, 135.0, 150.0]);
    // The usual metrics cover every step.
    let requests: u64 = answer["steps"].as_array().unwrap().iter().map(|s| s["requests"].as_u64().unwrap()).sum();
    assert_eq!(report["metrics"]["http_reqs"]["count"].as_u64(), Some(requests));
    assert_eq!(report["listeners"]["degrading"]["http_reqs"]["count"].as_u64(), Some(requests));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Breaking point") && page.contains("target rate"), "the HTML report draws the curve");
}

#[test]
fn breakpoint_flags_need_the_breakpoint_executor_and_sane_values() {
    let cases: [(&[&str], &str); 4] = [
        (&["basic-load", "--start-rate", "10"], "add --executor breakpoint"),
        (&["breakpoint", "--rate-factor", "1"], "factor must be above 1"),
        (&["breakpoint", "--max-rate", "10"], "must be at least start_rate"),
        (&["breakpoint", "--rate", "10"], "--start-rate and --max-rate"),
    ];
    for (args, expected) in cases {
        let output = ibench_load(&args.iter().map(|&s| s.to_owned()).collect::<Vec<_>>());
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
