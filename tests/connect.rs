//! The Connect unary JSON codec: every bad-input case gets its documented status and code, and
//! the good path hands interceptors what a Connect interceptor sees. (Binary protobuf, gzip
//! and gRPC: tests/protocols.rs.)

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use interceptor_bench::connect::{ConnectService, ResponseBody};
use interceptor_bench::greeter::{Greeter, SAY_GOODBYE, SAY_HELLO};
use interceptor_bench::rpc::{Code, RpcError, RpcRequest, RpcResponse};
use serde_json::{Value, json};
use tower::{ServiceExt, service_fn};

const HELLO_PATH: &str = "/greeter.v1.GreeterService/SayHello";

fn post(path: &str) -> http::request::Builder {
    Request::post(path).header("content-type", "application/json")
}

async fn call<B>(request: Request<B>) -> (StatusCode, http::HeaderMap, Value)
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let response = ConnectService::greeter(Greeter::new()).oneshot(request).await.unwrap();
    split(response).await
}

async fn split(response: Response<ResponseBody>) -> (StatusCode, http::HeaderMap, Value) {
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("body is not JSON ({e}): {bytes:?}"));
    (parts.status, parts.headers, value)
}

fn assert_error(result: &(StatusCode, http::HeaderMap, Value), status: u16, code: &str) {
    let (got_status, headers, body) = result;
    assert_eq!(got_status.as_u16(), status, "body: {body}");
    assert_eq!(body["code"], code, "body: {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "error has a message: {body}");
    assert_eq!(headers["content-type"], "application/json");
}

#[tokio::test]
async fn say_hello_and_say_goodbye_answer_with_the_seed_wire_shape() {
    let hello = call(post(HELLO_PATH).body(Full::<Bytes>::from(r#"{"name":"Ada"}"#)).unwrap()).await;
    assert_eq!(hello.0, StatusCode::OK);
    assert_eq!(hello.1["content-type"], "application/json");
    assert_eq!(hello.2, json!({"message": "Hello, Ada!"}));

    let path = format!("/{SAY_GOODBYE}");
    let request = post(&path).header("connect-protocol-version", "1").body(Full::<Bytes>::from(r#"{"name":"Ada"}"#));
    let goodbye = call(request.unwrap()).await;
    assert_eq!(goodbye.2, json!({"message": "Goodbye, Ada!"}));
}

#[tokio::test]
async fn absent_or_null_name_is_the_empty_string_and_unknown_fields_are_ignored() {
    for body in [r#"{}"#, r#"{"name":null}"#, r#"{"other":[1,2],"name":""}"#] {
        let result = call(post(HELLO_PATH).body(Full::<Bytes>::from(body)).unwrap()).await;
        assert_eq!(result.2, json!({"message": "Hello, !"}), "request body {body}");
    }
}

#[tokio::test]
async fn content_type_with_charset_is_json() {
    let request = Request::post(HELLO_PATH).header("content-type", "Application/JSON; charset=utf-8");
    let result = call(request.body(Full::<Bytes>::from(r#"{"name":"Ada"}"#)).unwrap()).await;
    assert_eq!(result.0, StatusCode::OK);
}

#[tokio::test]
async fn unsupported_or_missing_content_type_is_415() {
    for content_type in [Some("application/grpc+json"), Some("text/plain"), Some("application/jsonx"), None] {
        let mut request = Request::post(HELLO_PATH);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let result = call(request.body(Full::<Bytes>::from(r#"{"name":"Ada"}"#)).unwrap()).await;
        assert_error(&result, 415, "unknown");
        assert_eq!(
            result.1["accept-post"],
            "application/json, application/proto, application/grpc, application/grpc+proto"
        );
    }
}

#[tokio::test]
async fn malformed_json_invalid_utf8_and_wrong_types_are_invalid_argument() {
    let bodies: [&[u8]; 7] = [
        b"{\"name\":",
        b"",
        b"{\"name\":\"\xff\xfe\"}",
        br#"{"name": 42}"#,
        br#"{"name": ["Ada"]}"#,
        br#"["name"]"#,
        br#""Ada""#,
    ];
    for body in bodies {
        let result = call(post(HELLO_PATH).body(Full::<Bytes>::from(Bytes::from_static(body))).unwrap()).await;
        assert_error(&result, 400, "invalid_argument");
    }
}

#[tokio::test]
async fn unknown_procedure_is_404_unimplemented() {
    for path in ["/greeter.v1.GreeterService/SayNothing", "/other.v1.Service/SayHello", "/", "/a/b/c"] {
        let result = call(post(path).body(Full::<Bytes>::from("{}")).unwrap()).await;
        assert_error(&result, 404, "unimplemented");
    }
}

#[tokio::test]
async fn methods_other_than_post_are_405_with_allow() {
    for method in [http::Method::GET, http::Method::PUT, http::Method::DELETE, http::Method::PATCH] {
        let request = Request::builder().method(method).uri(HELLO_PATH).header("content-type", "application/json");
        let result = call(request.body(Full::<Bytes>::from("{}")).unwrap()).await;
        assert_error(&result, 405, "unknown");
        assert_eq!(result.1["allow"], "POST");
    }
}

#[tokio::test]
async fn unsupported_protocol_version_and_bad_timeouts_are_invalid_argument() {
    let cases = [
        ("connect-protocol-version", "2"),
        ("connect-timeout-ms", "abc"),
        ("connect-timeout-ms", "-5"),
        ("connect-timeout-ms", "12345678901"),
        ("connect-timeout-ms", ""),
    ];
    for (name, value) in cases {
        let request = post(HELLO_PATH).header(name, value).body(Full::<Bytes>::from(r#"{"name":"Ada"}"#));
        let result = call(request.unwrap()).await;
        assert_error(&result, 400, "invalid_argument");
    }
}

/// A body of `chunks` chunks of `chunk_size` bytes that counts how many chunks were read.
fn counting_body(
    chunks: usize,
    chunk_size: usize,
    read: Arc<AtomicUsize>,
) -> StreamBody<impl futures_util::Stream<Item = Result<Frame<Bytes>, Infallible>>> {
    let chunk = Bytes::from(vec![b' '; chunk_size]);
    StreamBody::new(stream::iter((0..chunks).map(move |_| {
        read.fetch_add(1, Ordering::SeqCst);
        Ok(Frame::data(chunk.clone()))
    })))
}

#[tokio::test]
async fn a_declared_oversized_body_is_429_without_reading_any_of_it() {
    let read = Arc::new(AtomicUsize::new(0));
    let body = counting_body(100, 64 * 1024, read.clone());
    let request = post(HELLO_PATH).header("content-length", (100 * 64 * 1024).to_string()).body(body).unwrap();
    let response = ConnectService::greeter(Greeter::new()).max_body_bytes(1024).oneshot(request).await.unwrap();
    assert_error(&split(response).await, 429, "resource_exhausted");
    assert_eq!(read.load(Ordering::SeqCst), 0, "no chunk of the body was read");
}

#[tokio::test]
async fn an_undeclared_oversized_body_is_429_after_reading_only_past_the_limit() {
    let read = Arc::new(AtomicUsize::new(0));
    let body = counting_body(1000, 1024, read.clone());
    let request = post(HELLO_PATH).body(body).unwrap();
    let response = ConnectService::greeter(Greeter::new()).max_body_bytes(4 * 1024).oneshot(request).await.unwrap();
    assert_error(&split(response).await, 429, "resource_exhausted");
    let chunks_read = read.load(Ordering::SeqCst);
    assert!(chunks_read <= 5, "read {chunks_read} of 1000 chunks for a 4 KiB limit");
}

#[tokio::test]
async fn the_default_body_limit_is_4_mib() {
    let just_under = format!(r#"{{"name":"{}"}}"#, "a".repeat(4 * 1024 * 1024 - 20));
    let result = call(post(HELLO_PATH).body(Full::<Bytes>::from(just_under)).unwrap()).await;
    assert_eq!(result.0, StatusCode::OK);
    let over = format!(r#"{{"name":"{}"}}"#, "a".repeat(4 * 1024 * 1024));
    let result = call(post(HELLO_PATH).body(Full::<Bytes>::from(over)).unwrap()).await;
    assert_error(&result, 429, "resource_exhausted");
}

#[tokio::test(start_paused = true)]
async fn interceptors_see_procedure_headers_deadline_and_message() {
    let seen: Arc<Mutex<Option<RpcRequest>>> = Arc::default();
    let recorder = seen.clone();
    let service = service_fn(move |request: RpcRequest| {
        *recorder.lock().unwrap() = Some(request);
        async { Ok::<_, RpcError>(RpcResponse::new(json!({"message": "ok"}))) }
    });
    let before = tokio::time::Instant::now();
    let request = post(HELLO_PATH)
        .header("connect-timeout-ms", "1500")
        .header("x-tenant", "blue")
        .body(Full::<Bytes>::from(r#"{"name":"Ada"}"#))
        .unwrap();
    let response = ConnectService::greeter(service).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let request = seen.lock().unwrap().take().expect("the service was called");
    assert_eq!(request.procedure.as_str(), SAY_HELLO);
    assert_eq!(request.headers["x-tenant"], "blue");
    assert_eq!(request.deadline, Some(before + Duration::from_millis(1500)));
    assert_eq!(request.message, json!({"name": "Ada"}));
}

#[tokio::test]
async fn every_rpc_error_is_sent_with_its_http_status_and_json_body() {
    for code in Code::ALL {
        let service =
            service_fn(move |_: RpcRequest| async move { Err::<RpcResponse, _>(RpcError::new(code, "nope")) });
        let request = post(HELLO_PATH).body(Full::<Bytes>::from("{}")).unwrap();
        let response = ConnectService::greeter(service).oneshot(request).await.unwrap();
        let result = split(response).await;
        assert_eq!(result.0.as_u16(), code.http_status());
        assert_eq!(result.2, json!({"code": code.as_str(), "message": "nope"}));
    }
}

#[tokio::test]
async fn response_headers_from_the_stack_reach_the_client() {
    let service = service_fn(|_: RpcRequest| async {
        let mut response = RpcResponse::new(json!({}));
        response.headers.insert("x-served-by", "stack".parse().unwrap());
        Ok::<_, RpcError>(response)
    });
    let request = post(HELLO_PATH).body(Full::<Bytes>::from("{}")).unwrap();
    let (status, headers, _) = split(ConnectService::greeter(service).oneshot(request).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-served-by"], "stack");
}
