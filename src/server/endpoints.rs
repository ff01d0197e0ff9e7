//! The operational endpoints every listener serves beside the RPCs: `GET /health` and
//! `GET /healthz` (200, `{"status":"SERVING","stack":"<name>"}`) and `GET /metrics`
//! (Prometheus text). Every other request goes to the wrapped service.
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Full};
//! use interceptor_bench::connect::ConnectService;
//! use interceptor_bench::greeter::Greeter;
//! use interceptor_bench::server::endpoints::WithEndpoints;
//! use interceptor_bench::server::metrics::Metrics;
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let service = WithEndpoints::new("baseline", Metrics::new(), ConnectService::greeter(Greeter::new()));
//! let request = http::Request::get("/healthz").body(Full::<Bytes>::default()).unwrap();
//! let response = service.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 200);
//! let body = response.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(body, r#"{"status":"SERVING","stack":"baseline"}"#);
//! # });
//! ```

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::future::Either;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, StatusCode};
use tower::Service;

use crate::server::metrics::{self, Metrics};

/// Answers `GET /health`, `GET /healthz` and `GET /metrics`; passes every other request to `S`.
#[derive(Clone)]
pub struct WithEndpoints<S> {
    inner: S,
    health: Bytes,
    metrics: Metrics,
}

impl<S> WithEndpoints<S> {
    /// Serves the endpoints of the listener of `stack`, with the metrics of `metrics`, in front of `inner`.
    pub fn new(stack: &str, metrics: Metrics, inner: S) -> Self {
        let name = serde_json::Value::from(stack);
        let health = format!(r#"{{"status":"SERVING","stack":{name}}}"#);
        WithEndpoints { inner, health: Bytes::from(health), metrics }
    }

    define_inner_service_accessors!();
}

/// A response of `status` with `body` of `content_type`, in the listener's body type.
pub(super) fn answer<RB: From<Bytes>>(
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
) -> http::Response<RB> {
    let mut response = http::Response::new(RB::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

impl<S, B, RB> Service<http::Request<B>> for WithEndpoints<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>, Error = Infallible>,
    RB: From<Bytes>,
{
    type Response = http::Response<RB>;
    type Error = Infallible;
    type Future = Either<Ready<Result<Self::Response, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.method() == Method::GET {
            match request.uri().path() {
                "/health" | "/healthz" => {
                    return Either::Left(ready(Ok(answer(StatusCode::OK, "application/json", self.health.clone()))));
                }
                "/metrics" => {
                    return Either::Left(ready(Ok(answer(
                        StatusCode::OK,
                        metrics::CONTENT_TYPE,
                        Bytes::from(self.metrics.encode()),
                    ))));
                }
                _ => {}
            }
        }
        Either::Right(self.inner.call(request))
    }
}
