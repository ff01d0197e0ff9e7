//! End-to-end tests of `ibench serve`: the real binary, on free loopback ports.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

const SAY_HELLO: &str = "/greeter.v1.GreeterService/SayHello";
/// The longest any step waits for the server; every wait loop is bounded by it.
const PATIENCE: Duration = Duration::from_secs(20);

/// A running `ibench serve`, killed on drop.
struct Serve {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl Serve {
    fn start(args: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ibench"))
            .arg("serve")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ibench starts");
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        Serve { child, stdout, stderr }
    }

    /// The `ready <stack> http://<addr> ...` lines, or the error output if it exits first.
    fn ready(&mut self, listeners: usize) -> Result<Vec<(String, SocketAddr)>, String> {
        let deadline = Instant::now() + PATIENCE;
        let mut ready = Vec::new();
        while ready.len() < listeners {
            match self.stdout.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    if let ["ready", stack, url, ..] = fields[..] {
                        let addr = url.strip_prefix("http://").expect("ready lines carry a URL").parse().unwrap();
                        ready.push((stack.to_owned(), addr));
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return Err(self.error_output()),
                Err(RecvTimeoutError::Timeout) => panic!("no ready lines within {PATIENCE:?}"),
            }
        }
        Ok(ready)
    }

    /// Everything it wrote to stderr, once it has exited.
    fn error_output(&mut self) -> String {
        self.wait();
        let deadline = Instant::now() + PATIENCE;
        let mut lines = Vec::new();
        // The reader thread delivers the last lines, then hangs up.
        while let Ok(line) = self.stderr.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            lines.push(line);
        }
        lines.join("\n")
    }

    /// Waits for the next stderr line containing `needle`.
    fn await_stderr(&self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let line = self
                .stderr
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|e| panic!("no stderr line with {needle:?}: {e}"));
            if line.contains(needle) {
                return line;
            }
        }
    }

    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "ibench serve did not exit within {PATIENCE:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill").args(["-s", name, &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(stream: impl Read + Send + 'static) -> Receiver<String> {
    let (send, receive) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

/// `ibench serve` with the default listeners shifted by a random offset, retried when a
/// port is taken.
fn start_default_listeners() -> (Serve, u16, Vec<(String, SocketAddr)>) {
    for _ in 0..5 {
        let offset: u16 = rand::random_range(20_000..50_000);
        let mut serve = Serve::start(&["--port-offset", &offset.to_string()]);
        match serve.ready(5) {
            Ok(listeners) => return (serve, offset, listeners),
            Err(error) if error.contains("in use") => continue,
            Err(error) => panic!("ibench serve failed: {error}"),
        }
    }
    panic!("no free run of 5 ports in 5 tries");
}

/// One listener per stack, each on a port the system picks.
fn start_stacks(stacks: &[&str], extra: &[&str]) -> (Serve, Vec<(String, SocketAddr)>) {
    let mut args: Vec<String> = stacks.iter().flat_map(|s| ["--stack".to_owned(), format!("{s}=0")]).collect();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let mut serve = Serve::start(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let listeners = serve.ready(stacks.len()).unwrap_or_else(|e| panic!("ibench serve failed: {e}"));
    (serve, listeners)
}

/// A small HTTP client: HTTP/1.1 keep-alive, or h2c with prior knowledge.
struct Http {
    runtime: tokio::runtime::Runtime,
    http1: Client<HttpConnector, Full<Bytes>>,
    h2c: Client<HttpConnector, Full<Bytes>>,
}

struct Answer {
    status: u16,
    version: http::Version,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

impl Http {
    fn new() -> Http {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let _entered = runtime.enter();
        let http1 = Client::builder(TokioExecutor::new()).build_http();
        let h2c = Client::builder(TokioExecutor::new()).http2_only(true).build_http();
        Http { runtime, http1, h2c }
    }

    fn send(&self, client: &Client<HttpConnector, Full<Bytes>>, request: http::Request<Full<Bytes>>) -> Answer {
        self.runtime.block_on(async {
            let response = tokio::time::timeout(PATIENCE, client.request(request))
                .await
                .expect("answered in time")
                .expect("answered");
            let status = response.status().as_u16();
            let version = response.version();
            let content_type = response
                .headers()
                .get(http::header::CONTENT_TYPE)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            Answer { status, version, content_type, body: String::from_utf8(body.to_vec()).unwrap() }
        })
    }

    fn say_hello(&self, addr: SocketAddr, message: &str) -> Answer {
        self.send(&self.http1, say_hello_request(addr, message))
    }

    fn get(&self, addr: SocketAddr, path: &str) -> Answer {
        let request = http::Request::get(format!("http://{addr}{path}")).body(Full::default()).unwrap();
        self.send(&self.http1, request)
    }
}

fn say_hello_request(addr: SocketAddr, message: &str) -> http::Request<Full<Bytes>> {
    http::Request::post(format!("http://{addr}{SAY_HELLO}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(message.to_owned())))
        .unwrap()
}

fn addr_of(listeners: &[(String, SocketAddr)], stack: &str) -> SocketAddr {
    listeners.iter().find(|(name, _)| name == stack).unwrap_or_else(|| panic!("no {stack} listener")).1
}

#[test]
fn the_default_listeners_answer_say_hello_health_and_metrics() {
    let (_serve, offset, listeners) = start_default_listeners();
    let expected = [("full", 8080), ("baseline", 8081), ("validation", 8082), ("logger", 8083), ("tracing", 8084)];
    let got: Vec<(&str, u16)> = listeners.iter().map(|(stack, addr)| (stack.as_str(), addr.port())).collect();
    let want: Vec<(&str, u16)> = expected.iter().map(|&(stack, port)| (stack, port + offset)).collect();
    assert_eq!(got, want);
    assert!(listeners.iter().all(|(_, addr)| addr.ip().is_loopback()));

    let http = Http::new();
    for (stack, addr) in &listeners {
        let hello = http.say_hello(*addr, r#"{"name":"Ada"}"#);
        assert_eq!((hello.status, hello.json()["message"].as_str()), (200, Some("Hello, Ada!")), "{stack}");
        for path in ["/health", "/healthz"] {
            let health = http.get(*addr, path);
            assert_eq!(health.status, 200);
            assert_eq!(health.content_type, "application/json");
            assert_eq!(health.json(), serde_json::json!({"status": "SERVING", "stack": stack}));
        }
    }

    let h2c = http.send(&http.h2c, say_hello_request(addr_of(&listeners, "full"), r#"{"name":"Grace"}"#));
    assert_eq!((h2c.version, h2c.status), (http::Version::HTTP_2, 200));
    assert_eq!(h2c.json()["message"], "Hello, Grace!");

    let metrics = http.get(addr_of(&listeners, "baseline"), "/metrics");
    assert_eq!(metrics.status, 200);
    assert!(metrics.content_type.starts_with("text/plain; version=0.0.4"));
    let hello = r#"procedure="greeter.v1.GreeterService/SayHello",code="ok""#;
    for line in [
        format!(r#"ibench_rpc_requests_total{{stack="baseline",{hello}}} 1"#),
        format!(r#"ibench_rpc_requests_total{{stack="full",{hello}}} 2"#),
        format!(r#"ibench_rpc_request_duration_seconds_count{{stack="tracing",{hello}}} 1"#),
        r#"ibench_rpc_in_flight_requests{stack="validation"} 0"#.to_owned(),
    ] {
        assert!(metrics.body.lines().any(|l| l == line), "no {line:?} in\n{}", metrics.body);
    }
    for name in ["ibench_connections_open ", "process_resident_memory_bytes ", "process_cpu_seconds_total "] {
        assert!(metrics.body.lines().any(|l| l.starts_with(name)), "no {name} in\n{}", metrics.body);
    }
}

#[test]
fn the_validation_listener_rejects_an_empty_name_that_baseline_accepts() {
    let (_serve, listeners) = start_stacks(&["validation", "baseline"], &[]);
    let http = Http::new();
    let baseline = http.say_hello(addr_of(&listeners, "baseline"), r#"{"name":""}"#);
    assert_eq!((baseline.status, baseline.json()["message"].as_str()), (200, Some("Hello, !")));
    let validation = http.say_hello(addr_of(&listeners, "validation"), r#"{"name":""}"#);
    assert_eq!((validation.status, validation.json()["code"].as_str()), (400, Some("invalid_argument")));
}

#[test]
fn the_logger_listener_appends_one_line_per_call_to_the_log_file() {
    let log = std::env::temp_dir().join(format!("ibench-serve-test-{}.log", std::process::id()));
    std::fs::write(&log, "a line from before\n").unwrap();
    let (_serve, listeners) = start_stacks(&["logger"], &["--log-file", log.to_str().unwrap()]);
    let http = Http::new();
    for _ in 0..3 {
        assert_eq!(http.say_hello(addr_of(&listeners, "logger"), r#"{"name":"Ada"}"#).status, 200);
    }
    let written = std::fs::read_to_string(&log).unwrap();
    std::fs::remove_file(&log).unwrap();
    let lines: Vec<&str> = written.lines().collect();
    assert_eq!(lines[0], "a line from before", "the file is appended to, never truncated");
    assert_eq!(lines.len(), 4, "{written}");
    assert!(
        lines[1..].iter().all(|l| l.contains("procedure=greeter.v1.GreeterService/SayHello") && l.contains("code=ok"))
    );
}

#[test]
fn a_second_server_on_a_taken_port_fails_naming_the_port() {
    let (_first, listeners) = start_stacks(&["baseline"], &[]);
    let port = listeners[0].1.port();
    let mut second = Serve::start(&["--stack", &format!("full={port}")]);
    let error = second.ready(1).expect_err("the port is taken");
    assert!(!second.wait().success());
    assert!(error.contains(&format!("port {port}")) && error.contains("in use"), "{error}");
}

#[test]
fn bad_flags_fail_with_a_clear_message() {
    for (args, expected) in [
        (&["--stack", "nope=0"][..], "unknown stack \"nope\""),
        (&["--stack", "baseline"][..], "expected NAME=PORT"),
        (&["--stack", "baseline=1", "--stack", "full=1"][..], "port 1 is given to two listeners"),
        (&["--port-offset", "60000"][..], "past 65535"),
        (&["--log-file", "/no/such/dir/ibench.log"][..], "cannot open log file /no/such/dir/ibench.log"),
    ] {
        let mut serve = Serve::start(args);
        let error = serve.ready(1).expect_err("bad flags");
        assert!(!serve.wait().success());
        assert!(error.contains(expected), "{args:?}: {error}");
    }
}

/// Reads from a raw connection until the server closes it (or the wait is over).
fn read_until_closed(stream: &mut TcpStream) -> Result<String, String> {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut received = Vec::new();
    match stream.read_to_end(&mut received) {
        Ok(_) => Ok(String::from_utf8_lossy(&received).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
            Ok(String::from_utf8_lossy(&received).into_owned())
        }
        Err(e) => Err(format!("not closed: {e}")),
    }
}

#[test]
fn sigterm_answers_the_request_in_flight_then_exits_zero() {
    let (mut serve, listeners) = start_stacks(&["baseline"], &[]);
    let addr = listeners[0].1;
    let http = Http::new();

    // A request whose body is still on its way: the codec is waiting for the rest.
    let mut slow = TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST {SAY_HELLO} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: 14\r\n\r\n"
    );
    slow.write_all(head.as_bytes()).unwrap();
    slow.write_all(br#"{"name":"#).unwrap();
    let deadline = Instant::now() + PATIENCE;
    while !http.get(addr, "/metrics").body.contains(r#"ibench_rpc_in_flight_requests{stack="baseline"} 1"#) {
        assert!(Instant::now() < deadline, "the slow request never got in flight");
        std::thread::sleep(Duration::from_millis(10));
    }

    serve.signal("TERM");
    serve.await_stderr("SIGTERM received");
    while TcpStream::connect(addr).is_ok() {
        assert!(Instant::now() < deadline, "still accepting connections");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(serve.child.try_wait().unwrap().is_none(), "still finishing the request in flight");

    slow.write_all(br#""Ada"}"#).unwrap();
    let answer = read_until_closed(&mut slow).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with(r#"{"message":"Hello, Ada!"}"#), "{answer}");
    assert_eq!(serve.wait().code(), Some(0));
}

#[test]
fn hardening_cuts_slow_headers_caps_connections_and_limits_bodies() {
    let (_serve, listeners) = start_stacks(
        &["baseline"],
        &["--header-read-timeout", "1s", "--max-connections", "1", "--max-body-bytes", "32"],
    );
    let addr = listeners[0].1;

    // Headers that never finish: the connection is cut.
    let mut slowloris = TcpStream::connect(addr).unwrap();
    slowloris.write_all(b"POST / HTTP/1.1\r\nhost: x\r\n").unwrap();
    read_until_closed(&mut slowloris).unwrap();

    // One connection open (its headers still coming): a second is closed without an answer.
    let mut holder = TcpStream::connect(addr).unwrap();
    holder.write_all(b"GET /health HTTP/1.1\r\n").unwrap();
    let mut excess = TcpStream::connect(addr).unwrap();
    assert_eq!(read_until_closed(&mut excess).unwrap(), "", "closed at once");
    read_until_closed(&mut holder).unwrap();

    // Once the first is gone, connections are served again and the rejection was counted.
    let http = Http::new();
    let metrics = http.get(addr, "/metrics");
    assert!(metrics.body.lines().any(|l| l == "ibench_connections_rejected_total 1"), "{}", metrics.body);

    let too_large = http.say_hello(addr, &format!(r#"{{"name":"{}"}}"#, "a".repeat(64)));
    assert_eq!((too_large.status, too_large.json()["code"].as_str()), (429, Some("resource_exhausted")));
}

#[cfg(not(feature = "otlp"))]
#[test]
fn an_otlp_endpoint_without_the_otlp_feature_is_a_clear_error() {
    let mut serve = Serve::start(&["--stack", "tracing=0", "--otlp-endpoint", "http://127.0.0.1:4318/v1/traces"]);
    let error = serve.ready(1).expect_err("no OTLP exporter in this build");
    assert!(!serve.wait().success());
    assert!(error.contains("--features otlp"), "{error}");
}
