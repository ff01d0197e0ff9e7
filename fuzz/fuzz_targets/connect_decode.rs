//! The protocol codec's request decoding: any method, path, headers and body, in any of the
//! served content types (Connect JSON, Connect protobuf, gRPC) or another, possibly gzipped,
//! through `ConnectService::greeter` over the full catalog stack must answer a valid HTTP
//! status with a body of its protocol (Connect error JSON, a protobuf greeting, or a gRPC
//! status) — never a panic.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use interceptor_bench::connect::ConnectService;
use interceptor_bench::greeter::{Greeter, SAY_HELLO_RESPONSE};
use interceptor_bench::stack::{BoxRpcService, Interceptors, find};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

#[derive(Debug, Arbitrary)]
struct Input {
    method: u8,
    /// Appended to a known procedure prefix half of the time, so the router is passed often.
    path: String,
    known_prefix: bool,
    /// One of [`CONTENT_TYPES`] by index, or this string when out of range.
    content_type: (u8, Option<String>),
    gzip: bool,
    timeout_ms: Option<String>,
    protocol_version: Option<String>,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

const METHODS: [&str; 6] = ["POST", "GET", "PUT", "DELETE", "OPTIONS", "PATCH"];
const CONTENT_TYPES: [&str; 4] = ["application/json", "application/proto", "application/grpc", "application/grpc+proto"];

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap())
}

fn stack() -> BoxRpcService {
    static STACK: OnceLock<BoxRpcService> = OnceLock::new();
    STACK.get_or_init(|| find("full").unwrap().service(&Interceptors::default(), Greeter::new())).clone()
}

fn request(input: &Input) -> Option<http::Request<Full<Bytes>>> {
    let path = if input.known_prefix {
        format!("/greeter.v1.GreeterService/{}", input.path)
    } else {
        input.path.clone()
    };
    let mut builder = http::Request::builder().method(METHODS[usize::from(input.method) % METHODS.len()]).uri(path);
    let (index, other) = &input.content_type;
    let content_type = CONTENT_TYPES.get(usize::from(*index)).map(|known| (*known).to_owned()).or(other.clone());
    let gzip = input.gzip.then(|| "gzip".to_owned());
    for (name, value) in [
        ("content-type", &content_type),
        ("content-encoding", &gzip),
        ("grpc-encoding", &gzip),
        ("grpc-timeout", &input.timeout_ms),
        ("connect-timeout-ms", &input.timeout_ms),
        ("connect-protocol-version", &input.protocol_version),
    ] {
        if let Some(value) = value {
            builder = builder.header(name, value.as_str());
        }
    }
    for (name, value) in &input.headers {
        builder = builder.header(name.as_str(), value.as_slice());
    }
    // Inputs http itself refuses (bad URI, bad header names) never reach a server.
    builder.body(Full::new(Bytes::from(input.body.clone()))).ok()
}

fuzz_target!(|input: Input| {
    let Some(request) = request(&input) else { return };
    runtime().block_on(async {
        let response = ConnectService::greeter(stack()).oneshot(request).await.unwrap();
        let status = response.status();
        assert!(status.as_u16() >= 200 && status.as_u16() < 600);
        let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
        let headers = response.headers().clone();
        let collected = response.into_body().collect().await.unwrap();
        let trailers = collected.trailers().cloned();
        let body = collected.to_bytes();
        match content_type.as_str() {
            "application/json" => {
                let json: serde_json::Value = serde_json::from_slice(&body).expect("a JSON answer is JSON");
                if status != 200 {
                    let code = json["code"].as_str().expect("an error has a code");
                    assert!(code.parse::<interceptor_bench::rpc::Code>().is_ok(), "unknown code {code}");
                }
            }
            "application/proto" => {
                assert_eq!(status, 200, "Connect errors are JSON");
                SAY_HELLO_RESPONSE.decode_proto(&body).expect("a protobuf greeting");
            }
            "application/grpc" => {
                assert_eq!(status, 200, "gRPC answers are HTTP 200");
                let grpc_status = trailers.as_ref().unwrap_or(&headers)["grpc-status"].to_str().unwrap();
                assert!(grpc_status.parse::<u8>().is_ok_and(|s| s <= 16), "grpc-status {grpc_status}");
            }
            other => panic!("unexpected content type {other}"),
        }
    });
});
