//! `--out prometheus-rw` against a real Prometheus (Debian package `prometheus`): the request
//! counts it stored equal the run's JSON, per listener. Skipped with a message when the binary
//! is absent, unless `CI` is set (then it fails: `.ci/run` installs it).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use interceptor_bench::server::BackgroundServer;
use interceptor_bench::stack::{Interceptors, find};
use serde_json::Value;
use support::ibench_load;

fn prometheus_binary() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("prometheus"))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but there is no prometheus binary on PATH (.ci/run installs the Debian package)"
        );
        eprintln!("skipped: no prometheus binary on PATH (apt-get install prometheus)");
    }
    found
}

/// A Prometheus with the remote-write receiver on a free loopback port, killed on drop.
struct Prometheus {
    child: Child,
    port: u16,
    _storage: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn get(port: u16, path_and_query: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

impl Prometheus {
    fn start(binary: &Path) -> Prometheus {
        let storage = tempfile::tempdir().unwrap();
        let config = storage.path().join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 1m\n").unwrap();
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", storage.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-remote-write-receiver")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts");
        let prometheus = Prometheus { child, port, _storage: storage };
        let deadline = Instant::now() + support::PATIENCE;
        while get(port, "/-/ready").is_none_or(|(status, _)| status != 200) {
            assert!(Instant::now() < deadline, "prometheus not ready within {:?}", support::PATIENCE);
            std::thread::sleep(Duration::from_millis(100));
        }
        prometheus
    }

    /// An instant query's vector, by the value of `label`.
    fn query(&self, promql: &str, label: &str) -> BTreeMap<String, f64> {
        let encoded: String = promql
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect();
        let (status, body) = get(self.port, &format!("/api/v1/query?query={encoded}")).expect("prometheus answers");
        // HTTP/1.1 with Connection: close may still be chunked; the JSON is the line that parses.
        let json: Value = body
            .lines()
            .find_map(|line| serde_json::from_str(line).ok())
            .unwrap_or_else(|| panic!("HTTP {status}: {body}"));
        assert_eq!(json["status"], "success", "{json}");
        json["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|series| {
                let name = series["metric"][label].as_str().unwrap_or_default().to_owned();
                (name, series["value"][1].as_str().unwrap().parse().unwrap())
            })
            .collect()
    }
}

fn run_with_remote_write(url: &str, testid: &str, json: &Path, servers: &[(&str, &BackgroundServer)]) -> Output {
    let mut args: Vec<String> = [
        "basic-load",
        "--no-progress",
        "--duration-scale",
        "0.006",
        "--vus-scale",
        "0.05",
        "--listeners",
        "baseline,full",
        "--testid",
        testid,
        // The in-test servers run in this process.
        "--server-pid",
        &std::process::id().to_string(),
        "--out",
        &format!("json={}", json.display()),
        "--out",
        &format!("prometheus-rw={url}"),
    ]
    .iter()
    .map(|&s| s.to_owned())
    .collect();
    for (name, server) in servers {
        args.extend(["--target".to_owned(), format!("{name}=http://{}", server.addr())]);
    }
    ibench_load(&args)
}

fn servers() -> (BackgroundServer, BackgroundServer) {
    let start = |stack| BackgroundServer::start(&find(stack).unwrap(), &Interceptors::default()).unwrap();
    (start("baseline"), start("full"))
}

#[test]
fn prometheus_stores_the_same_request_counts_as_the_json_per_listener() {
    let Some(binary) = prometheus_binary() else { return };
    let prometheus = Prometheus::start(&binary);
    let (baseline, full) = servers();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let url = format!("http://127.0.0.1:{}/api/v1/write", prometheus.port);
    let output = run_with_remote_write(&url, "it-counts", &json, &[("baseline", &baseline), ("full", &full)]);
    assert_eq!(output.status.code(), Some(0));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let sent = &report["remote_write"];
    assert_eq!(sent["batches_failed"], 0, "{sent}");
    assert!(sent["batches_sent"].as_u64().unwrap() >= 2, "once a second and at the end: {sent}");
    let stored = prometheus
        .query("sum by (listener) (max_over_time(ibench_http_reqs_total{testid=\"it-counts\"}[1h]))", "listener");
    let expected: BTreeMap<String, f64> = ["baseline", "full"]
        .iter()
        .map(|&name| (name.to_owned(), report["listeners"][name]["http_reqs"]["count"].as_f64().unwrap()))
        .collect();
    assert!(expected.values().all(|&count| count > 0.0), "{expected:?}");
    assert_eq!(stored, expected);
    // The latency gauges and VUs made it too, labelled as k6 labels them.
    let p99 = prometheus.query("ibench_http_req_duration_p99{testid=\"it-counts\"}", "listener");
    assert_eq!(p99.keys().collect::<Vec<_>>(), ["baseline", "full"]);
    let vus_max = prometheus.query("max_over_time(ibench_vus_max{testid=\"it-counts\"}[1h])", "scenario");
    assert_eq!(vus_max.get("basic-load"), Some(&5.0));
    // Every series the Grafana dashboard draws is one the run wrote.
    let names = prometheus.query("count by (__name__) ({testid=\"it-counts\"})", "__name__");
    let dashboard =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards/ibench.json")).unwrap();
    let drawn: std::collections::BTreeSet<&str> = dashboard
        .match_indices("ibench_")
        .map(|(at, _)| {
            let rest = &dashboard[at..];
            &rest[..rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len())]
        })
        .filter(|name| name.len() > "ibench_".len())
        .collect();
    assert!(drawn.len() >= 10, "{drawn:?}");
    for name in drawn {
        assert!(names.contains_key(name), "the dashboard draws {name}, which the run did not write: {names:?}");
    }
}

#[test]
fn an_unreachable_endpoint_is_retried_and_reported_without_failing_the_run() {
    let (baseline, full) = servers();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    // Bound and dropped: nothing listens there.
    let url = format!("http://127.0.0.1:{}/api/v1/write", free_port());
    let output = run_with_remote_write(&url, "nowhere", &json, &[("baseline", &baseline), ("full", &full)]);
    assert_eq!(output.status.code(), Some(0), "the load run passes whatever the endpoint does");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let sent = &report["remote_write"];
    assert_eq!(sent["batches_sent"], 0, "{sent}");
    assert!(sent["batches_failed"].as_u64().unwrap() >= 1, "{sent}");
    assert!(sent["retries"].as_u64().unwrap() >= 4, "{sent}");
    assert!(sent["last_error"].as_str().unwrap().contains("cannot connect"), "{sent}");
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(summary.contains("REMOTE WRITE") && summary.contains("failed"), "{summary}");
}

#[test]
fn refuses_a_remote_write_url_off_loopback() {
    let output =
        ibench_load(&["basic-load", "--out", "prometheus-rw=http://10.1.2.3:9090/api/v1/write"].map(str::to_owned));
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("loopback"));
}
