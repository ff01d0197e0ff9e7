//! End-to-end tests of `ibench serve`: the real binary, on free loopback ports.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use interceptor_bench::stack::SEED_LAYOUT;
use support::{Http, PATIENCE, SAY_HELLO, Serve, addr_of, say_hello_request, start_default_listeners, start_stacks};

#[test]
fn the_default_listeners_answer_say_hello_health_and_metrics() {
    let (_serve, offset, listeners) = start_default_listeners();
    let got: Vec<(&str, u16)> = listeners.iter().map(|(stack, addr)| (stack.as_str(), addr.port())).collect();
    let want: Vec<(&str, u16)> = SEED_LAYOUT.iter().map(|listener| (listener.name, listener.port + offset)).collect();
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
    assert!(serve.is_running(), "still finishing the request in flight");

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

#[test]
fn a_custom_chain_of_interceptors_and_ecosystem_layers_serves_and_answers() {
    let spec = "mine=error_handler,timeout,tower_http_request_id,logger@0";
    let mut serve = Serve::start(&["--stack", spec, "--stack", "tower_http_validate_bearer=0", "--discard-logs"]);
    let listeners = serve.ready(2).unwrap_or_else(|e| panic!("ibench serve failed: {e}"));
    let http = Http::new();
    let mine = addr_of(&listeners, "mine");
    let request = say_hello_request(mine, r#"{"name":"Ada"}"#);
    let answer = http.runtime.block_on(async {
        let response = http.http1.request(request).await.expect("answered");
        assert!(response.headers().contains_key("x-request-id"), "the HTTP-level layer ran");
        response.status()
    });
    assert_eq!(answer, 200);
    let metrics = http.get(mine, "/metrics");
    assert!(metrics.body.contains(r#"ibench_rpc_requests_total{stack="mine""#), "{}", metrics.body);
    let unauthorized = http.say_hello(addr_of(&listeners, "tower_http_validate_bearer"), r#"{"name":"Ada"}"#);
    assert_eq!(unauthorized.status, 401);
}

#[test]
fn bad_stack_specs_exit_2_listing_the_known_names() {
    for (spec, expected) in [
        ("mine=logger,nope@0", "RPC-level interceptors: error_handler, timeout, bulkhead"),
        ("mine=logger,nope@0", "HTTP-level layers: tower_http_trace, tower_http_trace_fmt, tower_http_compression"),
        ("mine=tower_http_trace@greeter.v1.GreeterService/*@0", "is an HTTP-level layer"),
        ("mine=logger@x", "bad port \"x\""),
        ("nope=0", "tower_http_trace"),
    ] {
        let mut serve = Serve::start(&["--stack", spec]);
        let error = serve.ready(1).expect_err("a bad spec");
        assert_eq!(serve.wait().code(), Some(2), "{spec}: {error}");
        assert!(error.contains(expected), "{spec}: {error}");
    }
}

#[test]
fn serve_raises_its_open_files_limit_to_fit_the_connection_cap() {
    use std::io::BufRead;
    // Started the way most shells start it, with a soft limit of 256 descriptors.
    let script = format!(
        "ulimit -S -n 256 && exec {} serve --stack baseline=0 --discard-logs --max-connections 2000",
        env!("CARGO_BIN_EXE_ibench")
    );
    let mut child =
        std::process::Command::new("sh").args(["-c", &script]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("ready ") {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "ibench serve exited before it was ready");
    }
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let open_files = limits.lines().find(|l| l.starts_with("Max open files")).unwrap();
    let soft: u64 = open_files.split_whitespace().nth(3).unwrap().parse().unwrap();
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    assert!(soft >= 2064.min(hard), "{open_files}");
}
