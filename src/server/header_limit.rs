//! Request header limits. A request with more header fields than the count limit, or whose
//! fields add up to more bytes than the size limit (each field's name and value plus the 4
//! bytes of `: ` and CRLF, as on an HTTP/1.1 wire; the request line is not counted, the URL
//! has hyper's own limit), is answered `431 Request Header Fields Too Large` with a Connect
//! error body saying which limit and by how much, before the endpoints, the codec or any
//! interceptor sees it. Node's HTTP server refuses header blocks over 16 KiB the same way,
//! and so do most proxies (8–16 KiB): a benchmark server that accepted anything would hide
//! what a production one refuses.
//!
//! [`Server`](super::Server) also sets hyper's own limits just above these, as a backstop that
//! bounds what is buffered: over them hyper answers 431 itself, without a body (HTTP/1.1), or
//! h2 answers 431 and resets the stream (HTTP/2).
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Full};
//! use interceptor_bench::connect::ConnectService;
//! use interceptor_bench::greeter::Greeter;
//! use interceptor_bench::server::header_limit::LimitHeaders;
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let service = LimitHeaders::new(ConnectService::greeter(Greeter::new()), 1024, 100);
//! let request = http::Request::post("/greeter.v1.GreeterService/SayHello")
//!     .header("x-padding", "a".repeat(2000))
//!     .body(Full::<Bytes>::default())
//!     .unwrap();
//! let response = service.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 431);
//! let body = response.into_body().collect().await.unwrap().to_bytes();
//! assert!(String::from_utf8_lossy(&body).contains("2013 bytes, more than the limit of 1024"));
//! # });
//! ```

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::future::Either;
use http::{HeaderMap, StatusCode};
use tower::Service;

/// Answers 431 to requests over the header limits; passes the others to `S`. See the
/// [module docs](self).
#[derive(Debug, Clone)]
pub struct LimitHeaders<S> {
    inner: S,
    max_bytes: usize,
    max_count: usize,
}

impl<S> LimitHeaders<S> {
    /// Refuses requests with more than `max_count` header fields or more than `max_bytes` of them.
    pub fn new(inner: S, max_bytes: usize, max_count: usize) -> Self {
        LimitHeaders { inner, max_bytes, max_count }
    }

    define_inner_service_accessors!();

    /// Why `headers` are refused, if they are.
    fn refusal(&self, headers: &HeaderMap) -> Option<String> {
        if headers.len() > self.max_count {
            return Some(format!(
                "request has {} header fields, more than the limit of {}",
                headers.len(),
                self.max_count
            ));
        }
        let bytes: usize = headers.iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
        (bytes > self.max_bytes)
            .then(|| format!("request headers are {bytes} bytes, more than the limit of {}", self.max_bytes))
    }
}

fn too_large<RB: From<Bytes>>(message: String) -> http::Response<RB> {
    let body = serde_json::json!({"code": "resource_exhausted", "message": message});
    super::endpoints::answer(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "application/json",
        Bytes::from(body.to_string()),
    )
}

impl<S, B, RB> Service<http::Request<B>> for LimitHeaders<S>
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
        match self.refusal(request.headers()) {
            Some(message) => Either::Left(ready(Ok(too_large(message)))),
            None => Either::Right(self.inner.call(request)),
        }
    }
}
