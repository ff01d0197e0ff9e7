//! Bench your own layer: a worked example of `interceptor_bench::bench::bench_layer`.
//!
//! `ServedByLayer` below stands for your own `tower::Layer`: it stamps every answer with an
//! `x-served-by` header. `cargo bench --bench custom_layer` measures it beside the baseline,
//! in-process (group `served_by/in_process`) and over loopback (group `served_by/loopback`);
//! `ibench overhead` then shows it under the suite `served_by`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use http::HeaderValue;
use interceptor_bench::bench::bench_layer;
use interceptor_bench::rpc::{RpcRequest, RpcResponse};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

#[path = "support/mod.rs"]
mod support;

/// Adds `x-served-by: <name>` to every successful answer.
#[derive(Clone)]
struct ServedByLayer {
    name: HeaderValue,
}

impl<S> Layer<S> for ServedByLayer {
    type Service = ServedBy<S>;

    fn layer(&self, inner: S) -> ServedBy<S> {
        ServedBy { inner, name: self.name.clone() }
    }
}

#[derive(Clone)]
struct ServedBy<S> {
    inner: S,
    name: HeaderValue,
}

impl<S> Service<RpcRequest> for ServedBy<S>
where
    S: Service<RpcRequest, Response = RpcResponse>,
{
    type Response = RpcResponse;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: RpcRequest) -> Self::Future {
        ResponseFuture { inner: self.inner.call(request), name: Some(self.name.clone()) }
    }
}

pin_project! {
    struct ResponseFuture<F> {
        #[pin]
        inner: F,
        name: Option<HeaderValue>,
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<RpcResponse, E>>,
{
    type Output = Result<RpcResponse, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        if let Some(name) = this.name.take() {
            response.headers.insert("x-served-by", name);
        }
        Poll::Ready(Ok(response))
    }
}

fn served_by(c: &mut Criterion) {
    bench_layer(c, "served_by", ServedByLayer { name: HeaderValue::from_static("greeter-1") });
}

criterion_group! {
    name = benches;
    config = support::criterion(Duration::from_millis(500), Duration::from_millis(1500), 50);
    targets = served_by
}
criterion_main!(benches);
