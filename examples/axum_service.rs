//! Bench your own service: an axum `Router` with four tower-http layers, each layer measured by
//! adding it alone to the bare router and by removing it from the full one, with
//! `interceptor_bench::bench::bench_service_layers`.
//!
//! ```text
//! cargo run --release --example axum_service -- --bench     # measure (criterion flags apply)
//! ibench overhead                                           # the suite `axum_service`
//! ```
//!
//! `cargo test` runs it once per bench (criterion's test mode) to check that every variant answers.
//! Bench ids in the criterion group `axum_service/in_process`: `baseline` (no layers), `all`
//! (the four), `<layer>` (that layer alone) and `without_<layer>` (all but that one). The paired
//! results (`ibench overhead`, suite `axum_service`) give what a layer costs alone (`<layer>`
//! over `baseline`) and in your stack (`<layer>_in_stack`: `all` over `without_<layer>`).

use std::time::Duration;

use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::Full;
use interceptor_bench::bench::bench_service_layers;
use serde::{Deserialize, Serialize};
use tower_http::compression::CompressionLayer;
use tower_http::cors::CorsLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

#[path = "../benches/support/mod.rs"]
mod support;

#[derive(Deserialize)]
struct HelloRequest {
    name: String,
}

#[derive(Serialize)]
struct HelloResponse {
    message: String,
}

async fn say_hello(Json(request): Json<HelloRequest>) -> Json<HelloResponse> {
    Json(HelloResponse { message: format!("Hello, {}!", request.name) })
}

/// The layers of the service, outermost first.
const LAYERS: [&str; 4] = ["trace", "cors", "request_id", "compression"];

/// The router with the layers named in `layers` (a subset of [`LAYERS`]), in [`LAYERS`] order.
fn router(layers: &[&str]) -> Router {
    let router = Router::new().route("/greeter.v1.GreeterService/SayHello", post(say_hello));
    // `Router::layer` wraps what is there, so the innermost goes on first.
    LAYERS.iter().rev().filter(|name| layers.contains(name)).fold(router, |router, &name| match name {
        "trace" => router.layer(TraceLayer::new_for_http()),
        "cors" => router.layer(CorsLayer::permissive()),
        "request_id" => router
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid)),
        "compression" => router.layer(CompressionLayer::new()),
        other => unreachable!("no layer {other}"),
    })
}

/// Your request: here a JSON `SayHello` from a browser that accepts gzip.
fn request() -> http::Request<Full<Bytes>> {
    http::Request::post("/greeter.v1.GreeterService/SayHello")
        .header("content-type", "application/json")
        .header("origin", "https://app.example.com")
        .header("accept-encoding", "gzip")
        .body(Full::new(Bytes::from_static(br#"{"name":"Ada"}"#)))
        .expect("a valid request")
}

fn axum_service(c: &mut Criterion) {
    bench_service_layers(c, "axum_service", &LAYERS, router, request());
}

criterion_group! {
    name = benches;
    config = support::criterion(Duration::from_millis(500), Duration::from_millis(1500), 50);
    targets = axum_service
}
criterion_main!(benches);
