//! Custom stacks: your own layers run, in onion order, around the handler; HTTP-level layers
//! around the codec, RPC-level interceptors inside it; the ecosystem catalog answers.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use interceptor_bench::bench::http_request;
use interceptor_bench::ecosystem::{
    HttpLayer, HttpRequest, LARGE_NAME_BYTES, box_request, large_hello_request, with_ecosystem_headers,
};
use interceptor_bench::greeter::{Greeter, SAY_HELLO};
use interceptor_bench::rpc::RpcRequest;
use interceptor_bench::stack::{Interceptor, Interceptors, Stack, ecosystem, parse_chain};
use tower::{Layer, ServiceExt, service_fn};

/// A layer that records its name when a call enters it.
#[derive(Clone)]
struct Record {
    name: &'static str,
    log: Arc<Mutex<Vec<&'static str>>>,
}

impl<S> Layer<S> for Record
where
    S: tower::Service<RpcRequest> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    type Service = tower::util::BoxCloneSyncService<RpcRequest, S::Response, S::Error>;

    fn layer(&self, inner: S) -> Self::Service {
        let (name, log) = (self.name, self.log.clone());
        tower::util::BoxCloneSyncService::new(service_fn(move |request| {
            log.lock().unwrap().push(name);
            inner.clone().oneshot(request)
        }))
    }
}

#[tokio::test]
async fn custom_layers_run_outermost_first_around_builtin_interceptors() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let stack = Stack::builder("mine")
        .layer("outer", Record { name: "outer", log: log.clone() })
        .interceptor(Interceptor::Timeout)
        .layer("inner", Record { name: "inner", log: log.clone() })
        .build();
    assert_eq!(stack.interceptor_names(), ["outer", "timeout", "inner"]);
    assert_eq!(stack.len(), 3);

    let service = stack.service(&Interceptors::default(), Greeter::new());
    let request = RpcRequest::new(SAY_HELLO, serde_json::json!({"name": "Ada"}));
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.message["message"], "Hello, Ada!");
    assert_eq!(*log.lock().unwrap(), ["outer", "inner"]);
}

/// An HTTP-level layer that records its name when a request enters it.
fn record_http(name: &'static str, log: &Arc<Mutex<Vec<&'static str>>>) -> HttpLayer {
    let log = log.clone();
    HttpLayer::new(
        name,
        tower::util::MapRequestLayer::new(move |request: HttpRequest| {
            log.lock().unwrap().push(name);
            request
        }),
    )
}

#[tokio::test]
async fn the_builder_puts_http_layers_around_the_codec_and_interceptors_inside_it() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let stack = Stack::builder("mixed")
        .layer("rpc_outer", Record { name: "rpc_outer", log: log.clone() })
        .http(record_http("http_outer", &log))
        .interceptor(Interceptor::Timeout)
        .http(record_http("http_inner", &log))
        .layer("rpc_inner", Record { name: "rpc_inner", log: log.clone() })
        .build();
    assert_eq!(stack.http_layer_names(), ["http_outer", "http_inner"]);
    assert_eq!(stack.interceptor_names(), ["rpc_outer", "timeout", "rpc_inner"]);
    assert_eq!(stack.describe(), "http_outer → http_inner → [connect codec] → rpc_outer → timeout → rpc_inner");
    assert_eq!(stack.len(), 5);

    let service = stack.http_service(&Interceptors::default(), Greeter::new());
    let response = service.oneshot(box_request(http_request())).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, r#"{"message":"Hello, Ada!"}"#);
    assert_eq!(*log.lock().unwrap(), ["http_outer", "http_inner", "rpc_outer", "rpc_inner"]);
}

#[test]
fn a_chain_places_each_name_at_its_level() {
    let stack = parse_chain("mine", "error_handler,timeout,tower_http_trace,logger").unwrap();
    assert_eq!(stack.describe(), "tower_http_trace → [connect codec] → error_handler → timeout → logger");
    let filtered = parse_chain("mine", "validation@greeter.v1.GreeterService/SayHello, tower_buffer").unwrap();
    assert_eq!(filtered.http_layer_names(), ["tower_buffer"]);
    assert_eq!(filtered.interceptor_names(), ["validation@greeter.v1.GreeterService/SayHello"]);
}

#[test]
fn bad_chains_are_errors_that_list_what_exists() {
    for (chain, expected) in [
        ("logger,nope", "unknown interceptor or layer \"nope\"; RPC-level interceptors: error_handler, timeout"),
        ("logger,nope", "HTTP-level layers: tower_http_trace, tower_http_trace_fmt"),
        ("tower_http_trace@greeter.v1.GreeterService/*", "is an HTTP-level layer"),
        ("logger@greeter", "\"logger@greeter\""),
        ("", "lists no interceptors or layers"),
    ] {
        let error = parse_chain("mine", chain).unwrap_err();
        assert!(error.contains(expected), "{chain:?}: {error}");
    }
    assert!(parse_chain("full", "logger").unwrap_err().contains("already a catalog stack"));
}

async fn answer(stack: &Stack, request: http::Request<Full<Bytes>>) -> (http::response::Parts, Bytes) {
    let service = stack.http_service(&Interceptors::default(), Greeter::new());
    let (parts, body) = service.oneshot(box_request(request)).await.unwrap().into_parts();
    (parts, body.collect().await.unwrap().to_bytes())
}

#[tokio::test]
async fn every_ecosystem_stack_answers_the_ecosystem_request() {
    let stacks = ecosystem();
    assert_eq!(stacks.len(), interceptor_bench::ecosystem::NAMES.len());
    for stack in &stacks {
        let (parts, body) = answer(stack, with_ecosystem_headers(http_request())).await;
        assert_eq!((parts.status.as_u16(), &body[..]), (200, &br#"{"message":"Hello, Ada!"}"#[..]), "{}", stack.name());
    }
}

#[tokio::test]
async fn the_ecosystem_layers_do_their_work() {
    let find = |name| interceptor_bench::stack::find(name).unwrap();
    let (parts, _) = answer(&find("tower_http_validate_bearer"), http_request()).await;
    assert_eq!(parts.status, 401, "no bearer token");
    let (parts, _) = answer(&find("tower_http_cors_origins"), with_ecosystem_headers(http_request())).await;
    assert_eq!(parts.headers["access-control-allow-origin"], "https://app.example.com");
    let (parts, _) = answer(&find("tower_http_request_id"), http_request()).await;
    assert!(parts.headers.contains_key("x-request-id"));
    let (parts, body) = answer(&find("tower_http_compression"), large_hello_request()).await;
    assert_eq!(parts.headers["content-encoding"], "gzip");
    assert!(body.len() < 1024, "4 KiB of one letter compresses: {} bytes", body.len());
    let mut too_large = http_request();
    *too_large.body_mut() = Full::new(Bytes::from(vec![b' '; 2 * 1024 * 1024]));
    too_large.headers_mut().insert("content-length", (2 * 1024 * 1024).into());
    let (parts, _) = answer(&find("tower_http_body_limit"), too_large).await;
    assert_eq!(parts.status, 413);
}

#[tokio::test]
async fn in_the_4k_suite_compression_layer_does_the_gzip_not_the_codec() {
    let suite = interceptor_bench::ecosystem::suites().into_iter().find(|s| s.name == "ecosystem_4k").unwrap();
    let find = |name| interceptor_bench::stack::find(name).unwrap();
    let answer = |stack| {
        let service = suite.service(&find(stack), &Interceptors::default());
        async move {
            let (parts, body) = service.oneshot(http_request()).await.unwrap().into_parts();
            (parts.headers, body.collect().await.unwrap().to_bytes())
        }
    };
    let (headers, body) = answer("baseline").await;
    assert!(!headers.contains_key("content-encoding"), "the codec compressed the baseline's answer");
    assert!(body.len() > LARGE_NAME_BYTES && body.starts_with(b"{\"message\":\"Hello, aaa"));
    let (headers, body) = answer("tower_http_compression").await;
    assert_eq!(headers["content-encoding"], "gzip");
    assert!(body.len() < 1024, "4 KiB of one letter compresses: {} bytes", body.len());
}

#[test]
fn ibench_stacks_lists_both_levels() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ibench")).args(["stacks", "--json"]).output().unwrap();
    assert!(output.status.success());
    let listing: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let stack = |name: &str| listing.as_array().unwrap().iter().find(|s| s["name"] == name).cloned().unwrap();
    assert_eq!(stack("tower_http_trace")["http_layers"], serde_json::json!(["tower_http_trace"]));
    assert_eq!(stack("tower_http_trace")["interceptors"], serde_json::json!([]));
    assert_eq!(stack("full")["interceptors"].as_array().unwrap().len(), 9);
    assert_eq!(stack("full")["http_layers"], serde_json::json!([]));

    let table = std::process::Command::new(env!("CARGO_BIN_EXE_ibench")).arg("stacks").output().unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.lines().any(|l| l.starts_with("tower_buffer ") && l.trim_end().ends_with("tower_buffer")), "{table}");
}
