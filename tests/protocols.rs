//! Connect binary protobuf, gzip and gRPC through the codec: the good path in each protocol,
//! and every bad-input case of the JSON codec (tests/connect.rs) with its protobuf and gRPC
//! twin and its code. Then, over a real loopback server, refusals that drain the body.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use interceptor_bench::connect::{COMPRESS_MIN_BYTES, ConnectService, DRAIN_LIMIT_BYTES, ResponseBody};
use interceptor_bench::greeter::{Greeter, SAY_HELLO_REQUEST, SAY_HELLO_RESPONSE};
use interceptor_bench::rpc::{RpcError, RpcRequest, RpcResponse, WireCodec};
use interceptor_bench::server::BackgroundServer;
use interceptor_bench::stack::{Interceptors, find};
use serde_json::{Value, json};
use tower::{ServiceExt, service_fn};

const HELLO_PATH: &str = "/greeter.v1.GreeterService/SayHello";
const GOODBYE_PATH: &str = "/greeter.v1.GreeterService/SayGoodbye";
const LIMIT: usize = 4096;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

/// A gzip bomb: 10 MiB of zeros in about 10 KiB.
fn bomb() -> Vec<u8> {
    gzip(&vec![0; 10 * 1024 * 1024])
}

fn proto(name: &str) -> Vec<u8> {
    SAY_HELLO_REQUEST.encode_proto(&json!({ "name": name })).unwrap()
}

fn frame(flag: u8, message: &[u8]) -> Vec<u8> {
    let mut framed = BytesMut::new();
    framed.put_u8(flag);
    framed.put_u32(message.len() as u32);
    framed.put_slice(message);
    framed.to_vec()
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    trailers: Option<HeaderMap>,
}

impl Answer {
    /// The Connect error code of a JSON error body.
    fn connect_code(&self) -> String {
        assert_eq!(self.headers["content-type"], "application/json", "Connect errors are JSON");
        let body: Value = serde_json::from_slice(&self.body).unwrap();
        body["code"].as_str().unwrap().to_owned()
    }

    /// The `grpc-status` of a trailers-only error, or of the trailers.
    fn grpc_status(&self) -> u32 {
        assert_eq!(self.status, StatusCode::OK, "gRPC answers are HTTP 200");
        let source = self.trailers.as_ref().filter(|t| t.contains_key("grpc-status")).unwrap_or(&self.headers);
        source["grpc-status"].to_str().unwrap().parse().unwrap()
    }
}

async fn call_stack(stack: &str, request: Request<Full<Bytes>>) -> Answer {
    let service = find(stack).unwrap().service(&Interceptors::default(), Greeter::new());
    settle(ConnectService::greeter(service).max_body_bytes(LIMIT).oneshot(request).await.unwrap()).await
}

async fn call(request: Request<Full<Bytes>>) -> Answer {
    call_stack("baseline", request).await
}

async fn settle(response: http::Response<ResponseBody>) -> Answer {
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.unwrap();
    let trailers = collected.trailers().cloned();
    Answer { status: parts.status, headers: parts.headers, body: collected.to_bytes(), trailers }
}

fn connect_proto(path: &str) -> http::request::Builder {
    Request::post(path).header("content-type", "application/proto")
}

fn proto_request(path: &str, body: Vec<u8>) -> Request<Full<Bytes>> {
    connect_proto(path).body(Full::from(body)).unwrap()
}

fn grpc(path: &str) -> http::request::Builder {
    Request::post(path).header("content-type", "application/grpc").header("te", "trailers")
}

fn grpc_request(path: &str, body: Vec<u8>) -> Request<Full<Bytes>> {
    grpc(path).body(Full::from(body)).unwrap()
}

#[tokio::test]
async fn connect_proto_answers_in_protobuf() {
    for (path, greeting) in [(HELLO_PATH, "Hello, Ada!"), (GOODBYE_PATH, "Goodbye, Ada!")] {
        let answer = call(proto_request(path, proto("Ada"))).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.headers["content-type"], "application/proto");
        assert_eq!(SAY_HELLO_RESPONSE.decode_proto(&answer.body).unwrap(), json!({ "message": greeting }));
    }
    // An empty message is a request with every field at its default.
    let answer = call(proto_request(HELLO_PATH, Vec::new())).await;
    assert_eq!(SAY_HELLO_RESPONSE.decode_proto(&answer.body).unwrap(), json!({"message": "Hello, !"}));
}

#[tokio::test]
async fn grpc_answers_with_one_framed_message_and_status_trailers() {
    for (path, greeting) in [(HELLO_PATH, "Hello, Ada!"), (GOODBYE_PATH, "Goodbye, Ada!")] {
        for content_type in ["application/grpc", "application/grpc+proto"] {
            let request =
                Request::post(path).header("content-type", content_type).body(Full::from(frame(0, &proto("Ada"))));
            let answer = call(request.unwrap()).await;
            assert_eq!(answer.grpc_status(), 0);
            assert_eq!(answer.headers["content-type"], "application/grpc");
            assert_eq!(answer.body[0], 0, "not compressed");
            assert_eq!(u32::from_be_bytes(answer.body[1..5].try_into().unwrap()) as usize, answer.body.len() - 5);
            assert_eq!(SAY_HELLO_RESPONSE.decode_proto(&answer.body[5..]).unwrap(), json!({ "message": greeting }));
        }
    }
}

#[tokio::test]
async fn validation_and_the_serializer_work_in_every_codec() {
    let empty = json!({"name": ""});
    // validation: an empty name is invalid_argument, in each protocol's own way.
    let json_answer = call_stack(
        "validation",
        Request::post(HELLO_PATH)
            .header("content-type", "application/json")
            .body(Full::from(empty.to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!((json_answer.status.as_u16(), json_answer.connect_code().as_str()), (400, "invalid_argument"));
    let proto_answer = call_stack("validation", proto_request(HELLO_PATH, proto(""))).await;
    assert_eq!((proto_answer.status.as_u16(), proto_answer.connect_code().as_str()), (400, "invalid_argument"));
    let grpc_answer = call_stack("validation", grpc_request(HELLO_PATH, frame(0, &proto("")))).await;
    assert_eq!(grpc_answer.grpc_status(), 3);
    assert!(grpc_answer.headers["grpc-message"].to_str().unwrap().contains("name"), "{:?}", grpc_answer.headers);
    // serializer and the full chain: the call goes through.
    for stack in ["serializer", "full"] {
        let answer = call_stack(stack, proto_request(HELLO_PATH, proto("Ada"))).await;
        assert_eq!(
            SAY_HELLO_RESPONSE.decode_proto(&answer.body).unwrap(),
            json!({"message": "Hello, Ada!"}),
            "{stack}"
        );
        let answer = call_stack(stack, grpc_request(HELLO_PATH, frame(0, &proto("Ada")))).await;
        assert_eq!(answer.grpc_status(), 0, "{stack}");
    }
}

#[tokio::test(start_paused = true)]
async fn interceptors_see_the_same_call_whatever_the_protocol() {
    let seen: Arc<Mutex<Vec<RpcRequest>>> = Arc::default();
    let recorder = seen.clone();
    let service = service_fn(move |request: RpcRequest| {
        recorder.lock().unwrap().push(request);
        async { Ok::<_, RpcError>(RpcResponse::new(json!({"message": "ok"}))) }
    });
    let codec = ConnectService::greeter(service);
    let before = tokio::time::Instant::now();
    let json_call: Request<Full<Bytes>> = Request::post(HELLO_PATH)
        .header("content-type", "application/json")
        .header("connect-timeout-ms", "1500")
        .body(Full::from(r#"{"name":"Ada"}"#))
        .unwrap();
    let proto_call =
        connect_proto(HELLO_PATH).header("connect-timeout-ms", "1500").body(Full::from(proto("Ada"))).unwrap();
    let grpc_call = grpc(HELLO_PATH).header("grpc-timeout", "1500m").body(Full::from(frame(0, &proto("Ada")))).unwrap();
    for request in [json_call, proto_call, grpc_call] {
        codec.clone().oneshot(request).await.unwrap();
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    for request in seen.iter() {
        assert_eq!(request.message, json!({"name": "Ada"}));
        assert_eq!(request.deadline, Some(before + Duration::from_millis(1500)));
    }
    assert_eq!(seen[0].codec, WireCodec::Json);
    assert_eq!(seen[1].codec.name(), "proto");
    assert_eq!(seen[2].codec.name(), "proto");
}

#[tokio::test]
async fn every_grpc_timeout_unit_is_a_deadline_and_bad_ones_are_invalid_argument() {
    for good in ["1H", "2M", "3S", "400m", "500u", "600n", "99999999S"] {
        let answer =
            call(grpc(HELLO_PATH).header("grpc-timeout", good).body(Full::from(frame(0, &proto("Ada")))).unwrap())
                .await;
        assert_eq!(answer.grpc_status(), 0, "{good}");
    }
    for bad in ["", "5", "S", "123456789S", "1.5S", "-1S", "10s"] {
        let answer =
            call(grpc(HELLO_PATH).header("grpc-timeout", bad).body(Full::from(frame(0, &proto("Ada")))).unwrap()).await;
        assert_eq!(answer.grpc_status(), 3, "{bad:?}");
    }
}

/// Malformed protobuf messages, each with a name.
fn malformed_messages() -> [(&'static str, Vec<u8>); 4] {
    [
        ("truncated varint", b"\x0a\xff".to_vec()),
        ("wrong wire type", b"\x0d\x00\x00\x00\x00".to_vec()),
        ("length past the end", b"\x0a\x09Ada".to_vec()),
        ("invalid UTF-8", b"\x0a\x02\xff\xfe".to_vec()),
    ]
}

#[tokio::test]
async fn malformed_protobuf_is_invalid_argument_in_connect_and_grpc() {
    for (case, message) in malformed_messages() {
        let answer = call(proto_request(HELLO_PATH, message.clone())).await;
        assert_eq!((answer.status.as_u16(), answer.connect_code().as_str()), (400, "invalid_argument"), "{case}");
        let answer = call(grpc_request(HELLO_PATH, frame(0, &message))).await;
        assert_eq!(answer.grpc_status(), 3, "{case}");
        assert!(answer.trailers.is_none() && answer.body.is_empty(), "{case}: trailers-only");
    }
}

#[tokio::test]
async fn grpc_framing_errors_have_their_codes() {
    let message = proto("Ada");
    let mut oversized = frame(0, &message);
    oversized[1..5].copy_from_slice(&u32::MAX.to_be_bytes());
    let mut truncated = frame(0, &message);
    truncated.pop();
    let two = [frame(0, &message), frame(0, &message)].concat();
    for (case, body, status) in [
        ("empty body", Vec::new(), 3),
        ("truncated prefix", vec![0, 0, 0], 3),
        ("truncated message", truncated, 3),
        ("two messages", two, 3),
        ("bad flag", frame(2, &message), 3),
        ("oversized length prefix", oversized, 8),
        ("compressed flag without encoding", frame(1, &gzip(&message)), 13),
    ] {
        let answer = call(grpc_request(HELLO_PATH, body)).await;
        assert_eq!(answer.grpc_status(), status, "{case}");
        assert!(!answer.headers["grpc-message"].is_empty(), "{case}");
    }
    let unknown = call(grpc_request("/greeter.v1.GreeterService/SayNothing", frame(0, &message))).await;
    assert_eq!(unknown.grpc_status(), 12);
}

#[tokio::test]
async fn grpc_gzip_messages_are_read_and_bombs_refused() {
    let gzipped = |body: Vec<u8>| grpc(HELLO_PATH).header("grpc-encoding", "gzip").body(Full::from(body)).unwrap();
    let answer = call(gzipped(frame(1, &gzip(&proto("Ada"))))).await;
    assert_eq!(answer.grpc_status(), 0);
    assert_eq!(SAY_HELLO_RESPONSE.decode_proto(&answer.body[5..]).unwrap(), json!({"message": "Hello, Ada!"}));
    assert_eq!(call(gzipped(frame(1, &bomb()))).await.grpc_status(), 8, "a bomb is resource_exhausted");
    assert_eq!(call(gzipped(frame(1, b"not gzip"))).await.grpc_status(), 3);
    let snappy = grpc(HELLO_PATH).header("grpc-encoding", "snappy").body(Full::from(frame(1, b"x"))).unwrap();
    let answer = call(snappy).await;
    assert_eq!(answer.grpc_status(), 12);
    assert_eq!(answer.headers["grpc-accept-encoding"], "gzip");
}

#[tokio::test]
async fn grpc_responses_are_gzipped_when_accepted_and_large() {
    let long = "a".repeat(COMPRESS_MIN_BYTES);
    let accept = |name: &str| {
        grpc(HELLO_PATH).header("grpc-accept-encoding", "gzip").body(Full::from(frame(0, &proto(name)))).unwrap()
    };
    let answer = call(accept(&long)).await;
    assert_eq!(
        (answer.grpc_status(), answer.headers["grpc-encoding"].to_str().unwrap(), answer.body[0]),
        (0, "gzip", 1)
    );
    let greeting = SAY_HELLO_RESPONSE.decode_proto(&gunzip(&answer.body[5..])).unwrap();
    assert_eq!(greeting["message"], format!("Hello, {long}!"));
    let short = call(accept("Ada")).await;
    assert!(!short.headers.contains_key("grpc-encoding") && short.body[0] == 0, "short answers are not compressed");
    let uncompressing = ConnectService::greeter(Greeter::new()).compress_responses(false);
    let plain = settle(uncompressing.oneshot(accept(&long)).await.unwrap()).await;
    assert!(!plain.headers.contains_key("grpc-encoding") && plain.body[0] == 0, "compression is off");
}

#[tokio::test]
async fn connect_gzip_requests_are_read_in_both_codecs_and_bombs_refused() {
    let gzipped = |content_type: &str, body: Vec<u8>| {
        Request::post(HELLO_PATH)
            .header("content-type", content_type)
            .header("content-encoding", "gzip")
            .body(Full::from(body))
            .unwrap()
    };
    let answer = call(gzipped("application/json", gzip(br#"{"name":"Ada"}"#))).await;
    assert_eq!(answer.body, r#"{"message":"Hello, Ada!"}"#);
    let answer = call(gzipped("application/proto", gzip(&proto("Ada")))).await;
    assert_eq!(SAY_HELLO_RESPONSE.decode_proto(&answer.body).unwrap(), json!({"message": "Hello, Ada!"}));
    for content_type in ["application/json", "application/proto"] {
        let answer = call(gzipped(content_type, bomb())).await;
        assert_eq!(
            (answer.status.as_u16(), answer.connect_code().as_str()),
            (429, "resource_exhausted"),
            "{content_type}"
        );
        let answer = call(gzipped(content_type, b"not gzip".to_vec())).await;
        assert_eq!(
            (answer.status.as_u16(), answer.connect_code().as_str()),
            (400, "invalid_argument"),
            "{content_type}"
        );
    }
    let brotli = Request::post(HELLO_PATH)
        .header("content-type", "application/json")
        .header("content-encoding", "br")
        .body(Full::from("x"))
        .unwrap();
    let answer = call(brotli).await;
    assert_eq!((answer.status.as_u16(), answer.connect_code().as_str()), (501, "unimplemented"));
}

#[tokio::test]
async fn connect_responses_are_gzipped_when_accepted_and_large() {
    let long = "a".repeat(COMPRESS_MIN_BYTES);
    for (content_type, body) in
        [("application/json", json!({"name": long}).to_string().into_bytes()), ("application/proto", proto(&long))]
    {
        let request = |body: Vec<u8>| {
            Request::post(HELLO_PATH)
                .header("content-type", content_type)
                .header("accept-encoding", "gzip, br")
                .body(Full::from(body))
                .unwrap()
        };
        let answer = call(request(body)).await;
        assert_eq!(answer.headers["content-encoding"], "gzip", "{content_type}");
        let plain = gunzip(&answer.body);
        assert!(
            plain.len() > COMPRESS_MIN_BYTES && answer.body.len() < 100,
            "{content_type}: {} bytes",
            answer.body.len()
        );
        let short = call(request(if content_type == "application/proto" {
            proto("Ada")
        } else {
            br#"{"name":"Ada"}"#.to_vec()
        }))
        .await;
        assert!(!short.headers.contains_key("content-encoding"), "{content_type}: short answers are not compressed");
    }
}

#[tokio::test]
async fn protobuf_bodies_over_the_limit_are_resource_exhausted() {
    let answer = call(proto_request(HELLO_PATH, proto(&"a".repeat(LIMIT)))).await;
    assert_eq!((answer.status.as_u16(), answer.connect_code().as_str()), (429, "resource_exhausted"));
    let answer = call(grpc_request(HELLO_PATH, frame(0, &proto(&"a".repeat(LIMIT))))).await;
    assert_eq!(answer.grpc_status(), 8);
    let just_under = call(grpc_request(HELLO_PATH, frame(0, &proto(&"a".repeat(LIMIT - 8))))).await;
    assert_eq!(just_under.grpc_status(), 0, "the limit is on the message, not the 5-byte prefix");
}

/// Sends a POST's headers, then (a little later, as a client streaming its body does) a body of
/// `length` bytes, then reads one HTTP/1.1 response.
fn refused_then_read(stream: &mut TcpStream, content_type: &str, length: usize) -> String {
    let head = format!(
        "POST {HELLO_PATH} HTTP/1.1\r\nhost: x\r\ncontent-type: {content_type}\r\ncontent-length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    stream.write_all(&vec![b'x'; length]).expect("the server must not close before the body is sent");
    read_response(stream)
}

/// Reads one HTTP/1.1 response with a content length.
fn read_response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buf = [0; 4096];
    loop {
        let n = stream.read(&mut buf).expect("the answer, not a reset");
        assert!(n > 0, "closed before the answer: {:?}", String::from_utf8_lossy(&received));
        received.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&received);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length: ").map(|v| v.parse::<usize>().unwrap())
                })
                .unwrap();
            if body.len() >= length {
                return text.into_owned();
            }
        }
    }
}

#[test]
fn a_refused_request_is_drained_so_the_client_reads_the_415_and_keeps_the_connection() {
    let server = BackgroundServer::start(&find("baseline").unwrap(), &Interceptors::default()).unwrap();
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let length = DRAIN_LIMIT_BYTES as usize - 1024;
    for content_type in ["text/plain", "application/grpc+json"] {
        let answer = refused_then_read(&mut stream, content_type, length);
        assert!(answer.starts_with("HTTP/1.1 415 "), "{answer:.200}");
        assert!(answer.contains(r#""code":"unknown""#), "{answer:.300}");
    }
    // The same connection still serves a call.
    let call = format!(
        "POST {HELLO_PATH} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 14\r\n\r\n{{\"name\":\"Ada\"}}"
    );
    stream.write_all(call.as_bytes()).unwrap();
    let answer = read_response(&mut stream);
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n") && answer.ends_with(r#"{"message":"Hello, Ada!"}"#), "{answer}");
}

#[tokio::test]
async fn grpc_trailers_pass_through_the_http_level_layers() {
    for name in ["tower_http_trace", "tower_http_timeout", "tower_http_request_id"] {
        let stack = find(name).unwrap();
        assert_eq!(stack.http_layer_names(), [name]);
        let service = stack.http_service(&Interceptors::default(), Greeter::new());
        let request = interceptor_bench::ecosystem::box_request(grpc_request(HELLO_PATH, frame(0, &proto("Ada"))));
        let answer = settle(service.oneshot(request).await.unwrap()).await;
        assert!(answer.trailers.as_ref().is_some_and(|t| t.contains_key("grpc-status")), "{name} lost the trailers");
        assert_eq!(answer.grpc_status(), 0, "{name}");
        assert_eq!(SAY_HELLO_RESPONSE.decode_proto(&answer.body[5..]).unwrap(), json!({ "message": "Hello, Ada!" }));
    }
}
