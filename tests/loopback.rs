//! The Connect codec and a stack served over real loopback TCP, HTTP/1.1 and h2c.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use interceptor_bench::server::BackgroundServer;
use interceptor_bench::stack::{Interceptors, find};
use serde_json::Value;

async fn say_hello(http2: bool, addr: std::net::SocketAddr) -> (u16, Value) {
    let client = Client::builder(TokioExecutor::new()).http2_only(http2).build_http::<Full<Bytes>>();
    let request = http::Request::post(format!("http://{addr}/greeter.v1.GreeterService/SayHello"))
        .header("content-type", "application/json")
        .body(Full::from(r#"{"name":"Ada"}"#))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

// Multi-threaded: dropping the server blocks this thread while it shuts down gracefully,
// and the client's connections must still be driven meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_full_stack_answers_over_http1_and_h2c_on_one_port() {
    let server = BackgroundServer::start(&find("full").unwrap(), &Interceptors::default()).unwrap();
    for http2 in [false, true] {
        let (status, body) = say_hello(http2, server.addr()).await;
        assert_eq!(status, 200, "http2={http2}");
        assert_eq!(body["message"], "Hello, Ada!");
    }
}
