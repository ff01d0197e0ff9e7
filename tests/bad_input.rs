//! The bad-input battery against a running `ibench serve` (the full chain): each hostile or
//! malformed request gets its documented status and Connect code, or a clean close, and a
//! normal call right after it still succeeds; resident memory stays bounded.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use support::{Http, PATIENCE, SAY_HELLO, Serve, start_stacks};

const MAX_BODY_BYTES: usize = 4096;
const MAX_CONNECTIONS: usize = 16;

/// Writes `request` on a fresh connection and reads until the server closes it.
fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    // The server may answer and close before it has read everything; that is allowed.
    let _ = stream.write_all(request);
    read_until_closed(&mut stream)
}

fn read_until_closed(stream: &mut TcpStream) -> String {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut received = Vec::new();
    match stream.read_to_end(&mut received) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("not closed within {PATIENCE:?}: {e}"),
    }
    String::from_utf8_lossy(&received).into_owned()
}

/// A closing HTTP/1.1 POST to `path` with these extra header lines and this body.
fn post(path: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n{headers}content-length: {}\r\n\r\n",
        body.len()
    );
    [head.as_bytes(), body].concat()
}

/// A content-type line and `n` more header lines.
fn json_with_extra_headers(n: usize) -> String {
    let extra: String = (0..n).map(|i| format!("x-h{i}: 1\r\n")).collect();
    format!("content-type: application/json\r\n{extra}")
}

fn json_post(body: &[u8]) -> Vec<u8> {
    post(SAY_HELLO, "content-type: application/json\r\n", body)
}

/// A status code and the Connect error code of the answer, if it carries one.
type Expected = (u16, Option<String>);

/// The status code and the Connect error code (if the body is one) of a raw HTTP/1 answer.
fn status_and_code(answer: &str) -> Expected {
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{answer:?}"));
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    let code = serde_json::from_str::<serde_json::Value>(body).ok().and_then(|v| v["code"].as_str().map(str::to_owned));
    (status, code)
}

/// The value of the un-labelled metric `name` in `/metrics`, or `None` when the request is
/// refused (the connection cap) or the metric is missing.
fn metric(addr: SocketAddr, name: &str) -> Option<u64> {
    let answer = raw(addr, b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    answer.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Waits until the server has let go of every connection but the one asking; returns how
/// many of its own requests were refused by the connection cap meanwhile.
fn wait_until_idle(addr: SocketAddr) -> u64 {
    let deadline = Instant::now() + PATIENCE;
    let mut refused = 0;
    loop {
        match metric(addr, "ibench_connections_open") {
            Some(1) => return refused,
            Some(_) => {}
            None => refused += 1,
        }
        assert!(Instant::now() < deadline, "connections still open after {PATIENCE:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads one HTTP/1.1 response with a `content-length` from a kept-alive connection.
fn read_response(stream: &mut TcpStream) -> String {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut received = Vec::new();
    let mut buffer = [0; 1024];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head.lines().find_map(|l| l.strip_prefix("content-length: ")?.parse::<usize>().ok());
            if length.is_some_and(|length| body.len() >= length) {
                return text;
            }
        }
        let read = stream.read(&mut buffer).unwrap();
        assert!(read > 0, "closed before a whole response: {text:?}");
        received.extend_from_slice(&buffer[..read]);
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A normal call on a fresh connection (a pooled one may have been closed by the server's
/// 1 s keep-alive idle timeout while a case ran) must succeed.
fn still_serves(addr: SocketAddr, case: &str) {
    let answer = raw(addr, &json_post(br#"{"name":"Ada"}"#));
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "after {case}: {answer:.300}");
    assert!(answer.ends_with(r#"{"message":"Hello, Ada!"}"#), "after {case}: {answer:.300}");
}

#[test]
fn every_bad_input_gets_its_answer_and_the_server_keeps_serving() {
    let (serve, listeners) = start_stacks(
        &["full"],
        &[
            "--discard-logs",
            "--header-read-timeout",
            "1s",
            "--max-connections",
            &MAX_CONNECTIONS.to_string(),
            "--max-body-bytes",
            &MAX_BODY_BYTES.to_string(),
        ],
    );
    let addr = listeners[0].1;
    let http = Http::new();
    still_serves(addr, "start");
    let rss_before = rss_kib(serve.pid());

    let code = |c: &str| Some(c.to_owned());
    let cases: Vec<(&str, Vec<u8>, Expected)> = vec![
        ("malformed JSON", json_post(br#"{"name":"#), (400, code("invalid_argument"))),
        ("invalid UTF-8", json_post(b"{\"name\":\"\xff\xfe\"}"), (400, code("invalid_argument"))),
        ("wrong field type", json_post(br#"{"name":5}"#), (400, code("invalid_argument"))),
        // Unknown fields are ignored, as protobuf JSON parsers with `ignoreUnknownFields` do.
        ("unknown field", json_post(br#"{"name":"Ada","extra":1}"#), (200, None)),
        ("JSON array", json_post(b"[1,2,3]"), (400, code("invalid_argument"))),
        ("missing content type", post(SAY_HELLO, "", br#"{"name":"Ada"}"#), (415, code("unknown"))),
        ("wrong content type", post(SAY_HELLO, "content-type: text/plain\r\n", br#"{"name":"Ada"}"#), (415, code("unknown"))),
        ("unknown procedure", post("/greeter.v1.GreeterService/Nope", "content-type: application/json\r\n", b"{}"), (404, code("unimplemented"))),
        ("bad Connect-Timeout-Ms", post(SAY_HELLO, "content-type: application/json\r\nconnect-timeout-ms: soon\r\n", br#"{"name":"Ada"}"#), (400, code("invalid_argument"))),
        ("bad Connect-Protocol-Version", post(SAY_HELLO, "content-type: application/json\r\nconnect-protocol-version: 2\r\n", br#"{"name":"Ada"}"#), (400, code("invalid_argument"))),
        ("GET", format!("GET {SAY_HELLO} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").into_bytes(), (405, code("unknown"))),
        ("PUT", format!("PUT {SAY_HELLO} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 0\r\n\r\n").into_bytes(), (405, code("unknown"))),
        ("DELETE", format!("DELETE {SAY_HELLO} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").into_bytes(), (405, code("unknown"))),
        (
            "body over the limit",
            json_post(format!(r#"{{"name":"{}"}}"#, "a".repeat(MAX_BODY_BYTES)).as_bytes()),
            (429, code("resource_exhausted")),
        ),
        (
            // Over the 16 KiB default of --max-header-bytes, under hyper's own limit: our answer.
            "17 KiB header",
            post(SAY_HELLO, &format!("content-type: application/json\r\nx-padding: {}\r\n", "a".repeat(17 * 1024)), br#"{"name":"Ada"}"#),
            (431, code("resource_exhausted")),
        ),
        ("15 KiB header", post(SAY_HELLO, &format!("content-type: application/json\r\nx-padding: {}\r\n", "a".repeat(15 * 1024)), br#"{"name":"Ada"}"#), (200, None)),
        // `post` sends host, connection and content-length: with content-type and n more, n + 4 fields.
        ("100 header fields", post(SAY_HELLO, &json_with_extra_headers(96), br#"{"name":"Ada"}"#), (200, None)),
        // Over --max-headers (100): hyper refuses them itself, with no body.
        ("101 header fields", post(SAY_HELLO, &json_with_extra_headers(97), br#"{"name":"Ada"}"#), (431, None)),
        (
            "very long path",
            post(&format!("/greeter.v1.GreeterService/{}", "a".repeat(64 * 1024)), "content-type: application/json\r\n", b"{}"),
            // hyper refuses a request line this long before the codec sees it.
            (414, None),
        ),
        (
            "HTTP/1.0",
            format!("POST {SAY_HELLO} HTTP/1.0\r\ncontent-type: application/json\r\ncontent-length: 14\r\n\r\n{{\"name\":\"Ada\"}}").into_bytes(),
            (200, None),
        ),
    ];
    let mut wrong = Vec::new();
    for (case, request, expected) in &cases {
        let answer = raw(addr, request);
        let got = status_and_code(&answer);
        eprintln!("{case}: {got:?}");
        if &got != expected {
            wrong.push(format!("{case}: expected {expected:?}, got {got:?}: {answer:.300}"));
        }
        still_serves(addr, case);
    }
    assert!(wrong.is_empty(), "{wrong:#?}");

    // A body announced far over the limit is answered before it is all sent.
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST {SAY_HELLO} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        1 << 30
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&[b' '; 1024]).unwrap();
    assert_eq!(status_and_code(&read_until_closed(&mut stream)), (429, code("resource_exhausted")), "1 GiB announced");
    eprintln!("1 GiB announced: answered and closed after {:?}", start.elapsed());
    still_serves(addr, "1 GiB announced");

    // A 1 MiB header block: refused (431) or closed, never buffered without bound.
    let huge = format!("x-padding: {}\r\n", "a".repeat(1 << 20));
    let answer = raw(addr, &post(SAY_HELLO, &huge, b"{}"));
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 431"), "huge headers: {answer:.300}");
    still_serves(addr, "huge headers");

    // Pipelined requests: both answered, in order.
    let keep_alive = post(SAY_HELLO, "content-type: application/json\r\n", br#"{"name":"One"}"#);
    let keep_alive = String::from_utf8(keep_alive).unwrap().replacen("connection: close\r\n", "", 1);
    let pipelined = [keep_alive.as_bytes(), &json_post(br#"{"name":"Two"}"#)].concat();
    let answer = raw(addr, &pipelined);
    let (one, two) = (answer.find("Hello, One!").unwrap(), answer.find("Hello, Two!").unwrap());
    assert!(one < two && answer.matches("HTTP/1.1 200 OK").count() == 2, "{answer}");
    still_serves(addr, "pipelined");

    // Headers sent slowly: cut off by the 1 s header-read timeout.
    let start = Instant::now();
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(format!("POST {SAY_HELLO} HTTP/1.1\r\nhost: x\r\n").as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let _ = slow.write_all(b"content-type: application/json\r\n");
    assert_eq!(read_until_closed(&mut slow), "", "slow headers get no answer");
    assert!(start.elapsed() < Duration::from_secs(5), "cut after {:?}", start.elapsed());
    still_serves(addr, "slow headers");

    // A client that connects and sends nothing is cut off by the same timeout (it used to be
    // kept for ever, holding a place under the connection cap).
    let start = Instant::now();
    let mut silent = TcpStream::connect(addr).unwrap();
    assert_eq!(read_until_closed(&mut silent), "", "a silent client gets no answer");
    assert!(start.elapsed() < Duration::from_secs(5), "silent client cut after {:?}", start.elapsed());
    still_serves(addr, "silent client");

    // Clients that disconnect mid-body (fewer than the connection cap, so that the call right
    // after never races the server noticing they are gone).
    for _ in 0..10 {
        let mut gone = TcpStream::connect(addr).unwrap();
        gone.write_all(&json_post(br#"{"name":"Ada"}"#)[..120]).unwrap();
    }
    still_serves(addr, "disconnects mid-body");

    // The connection cap: hold exactly the cap (16), each connection proven served (a
    // kept-alive request answered), and the next ones are closed on accept — at once, long
    // before the 1 s header-read timeout could close a connection that sends nothing — and
    // counted in /metrics. Without the cap they would be served and this would fail.
    assert_eq!(wait_until_idle(addr), 0, "refused under the cap");
    let rejected_before = metric(addr, "ibench_connections_rejected_total").unwrap();
    let held: Vec<TcpStream> = (0..MAX_CONNECTIONS)
        .map(|_| {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
            let answer = read_response(&mut stream);
            assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "under the cap: {answer:.300}");
            stream
        })
        .collect();
    let start = Instant::now();
    for _ in 0..5 {
        let mut excess = TcpStream::connect(addr).unwrap();
        assert_eq!(read_until_closed(&mut excess), "", "over the cap");
    }
    let closed_within = start.elapsed();
    eprintln!("5 connections over the cap of {MAX_CONNECTIONS}: all closed within {closed_within:?}");
    assert!(closed_within < Duration::from_millis(900), "closed after {closed_within:?}: by the header timeout?");
    drop(held);
    let refused_while_closing = wait_until_idle(addr);
    let rejected = metric(addr, "ibench_connections_rejected_total");
    assert_eq!(rejected, Some(rejected_before + 5 + refused_while_closing));
    still_serves(addr, "over the connection cap");

    // HTTP/2: open and reset 1,000 streams. hyper's h2 server ends a connection that resets
    // streams faster than it accepts them (its reset-flood guard), so the client reconnects
    // until 1,000 were reset, on at most 200 connections.
    http.runtime.block_on(async {
        let (mut reset, mut connections, mut answered) = (0, 0, 0);
        while reset < 1000 {
            assert!(connections < 200, "only {reset} resets on {connections} connections");
            connections += 1;
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let io = hyper_util::rt::TokioIo::new(stream);
            let Ok((mut sender, connection)) =
                hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io).await
            else {
                continue;
            };
            let driver = tokio::spawn(connection);
            while reset < 1000 {
                let request = support::say_hello_request(addr, r#"{"name":"Ada"}"#);
                // Sent, then dropped before its answer: the client resets the stream.
                match tokio::time::timeout(Duration::from_micros(1), sender.send_request(request)).await {
                    Ok(Ok(_)) => answered += 1,
                    Ok(Err(_)) => break, // the server ended this connection
                    Err(_) => reset += 1,
                }
            }
            driver.abort();
        }
        eprintln!("h2 resets: {reset} streams reset on {connections} connections ({answered} answered first)");
    });
    still_serves(addr, "h2 resets");

    // HTTP/2 (h2c): a 17 KiB header gets our 431 with its body, as over HTTP/1.1; a 200 KiB one,
    // over the SETTINGS_MAX_HEADER_LIST_SIZE the server announces, h2's own 431 or a reset stream.
    http.runtime.block_on(async {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io).await.unwrap();
        let driver = tokio::spawn(connection);
        let padded = |bytes: usize| {
            let mut request = support::say_hello_request(addr, r#"{"name":"Ada"}"#);
            request.headers_mut().insert("x-padding", "a".repeat(bytes).parse().unwrap());
            request
        };
        let response = sender.send_request(padded(17 * 1024)).await.unwrap();
        assert_eq!(response.status(), 431);
        let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
        let body = String::from_utf8_lossy(&body);
        assert!(
            body.contains(r#""code":"resource_exhausted""#) && body.contains("more than the limit of 16384"),
            "{body}"
        );
        sender.ready().await.unwrap();
        match sender.send_request(padded(200 * 1024)).await {
            Ok(response) => {
                eprintln!("h2, 200 KiB header: {}", response.status());
                assert_eq!(response.status(), 431);
            }
            Err(error) => eprintln!("h2, 200 KiB header: stream refused ({error})"),
        }
        driver.abort();
    });
    still_serves(addr, "h2 header limits");

    let rss_after = rss_kib(serve.pid());
    eprintln!("resident memory: {rss_before} KiB before, {rss_after} KiB after");
    assert!(rss_after < rss_before + 50 * 1024, "{rss_before} KiB -> {rss_after} KiB");
    drop::<Serve>(serve);
}
