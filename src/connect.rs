//! The Connect unary codec: HTTP requests in, [`RpcRequest`]s to the interceptor stack,
//! [`RpcResponse`]s or [`RpcError`]s back out as HTTP responses.
//!
//! This is the only place that knows about HTTP bodies. It speaks Connect unary with the JSON
//! codec: `POST /<package>.<Service>/<Method>`, `Content-Type: application/json`, an optional
//! `Connect-Protocol-Version: 1`, and `Connect-Timeout-Ms` as the request deadline.
//!
//! | bad input | status | Connect code |
//! |---|---|---|
//! | unknown procedure | 404 | `unimplemented` |
//! | method other than POST | 405 (with `Allow: POST`) | `unknown` |
//! | content type other than `application/json` | 415 (with `Accept-Post`) | `unknown` |
//! | `Connect-Protocol-Version` other than `1`, bad `Connect-Timeout-Ms` | 400 | `invalid_argument` |
//! | malformed JSON, invalid UTF-8, wrong field types | 400 | `invalid_argument` |
//! | body over the limit (default 4 MiB) | 429, without reading the rest | `resource_exhausted` |
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Full};
//! use interceptor_bench::connect::ConnectService;
//! use interceptor_bench::greeter::Greeter;
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let request = http::Request::post("/greeter.v1.GreeterService/SayHello")
//!     .header("content-type", "application/json")
//!     .body(Full::new(Bytes::from_static(br#"{"name":"Ada"}"#)))
//!     .unwrap();
//! let response = ConnectService::greeter(Greeter::new()).oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 200);
//! let body = response.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(body, r#"{"message":"Hello, Ada!"}"#);
//! # });
//! ```

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, Method, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use tokio::time::Instant;
use tower::{Service, ServiceExt};

use crate::greeter;
use crate::rpc::{Code, MessageSchema, Procedure, RpcError, RpcRequest, RpcResponse};

/// The default limit on a request body: 4 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");
const PROTOCOL_VERSION: &str = "connect-protocol-version";
const TIMEOUT_MS: &str = "connect-timeout-ms";

/// The procedures a codec routes, each with its request schema.
///
/// ```
/// use interceptor_bench::connect::Routes;
/// use interceptor_bench::greeter;
///
/// let routes = Routes::new(greeter::METHODS);
/// assert!(routes.get("/greeter.v1.GreeterService/SayHello").is_some());
/// assert!(routes.get("/greeter.v1.GreeterService/Nope").is_none());
/// ```
#[derive(Debug, Clone)]
pub struct Routes {
    by_path: Arc<HashMap<String, (Procedure, MessageSchema)>>,
}

impl Routes {
    /// Routes for the given `(procedure, request schema)` pairs.
    ///
    /// # Panics
    /// When a procedure is not of the form `package.Service/Method` (a programming error).
    pub fn new(methods: &[(&str, MessageSchema)]) -> Self {
        let by_path = methods
            .iter()
            .map(|(name, schema)| {
                let procedure = Procedure::parse(name).expect("route procedures are package.Service/Method");
                (format!("/{name}"), (procedure, *schema))
            })
            .collect();
        Routes { by_path: Arc::new(by_path) }
    }

    /// The procedure and request schema served at `path`, if any.
    pub fn get(&self, path: &str) -> Option<&(Procedure, MessageSchema)> {
        self.by_path.get(path)
    }
}

/// A tower service that decodes Connect unary HTTP requests, calls the RPC service `S`
/// (usually an interceptor stack over a handler) and encodes its answer.
#[derive(Debug, Clone)]
pub struct ConnectService<S> {
    inner: S,
    routes: Routes,
    max_body_bytes: usize,
}

impl<S> ConnectService<S> {
    /// A codec over `inner` that routes `routes`, with the default body limit.
    pub fn new(inner: S, routes: Routes) -> Self {
        ConnectService { inner, routes, max_body_bytes: DEFAULT_MAX_BODY_BYTES }
    }

    /// A codec routing the greeter's two methods to `inner`.
    pub fn greeter(inner: S) -> Self {
        Self::new(inner, Routes::new(greeter::METHODS))
    }

    /// Sets the request body limit in bytes; larger bodies get 429 `resource_exhausted`.
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// The wrapped RPC service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

/// The codec's response future.
pub type ResponseFuture = Pin<Box<dyn Future<Output = Result<http::Response<Full<Bytes>>, Infallible>> + Send>>;

impl<S, B> Service<http::Request<B>> for ConnectService<S>
where
    S: Service<RpcRequest, Response = RpcResponse, Error = RpcError> + Clone + Send + 'static,
    S::Future: Send,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    type Response = http::Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness of the RPC service is awaited per call, on a clone, so that a bulkhead
        // answers `resource_exhausted` instead of stalling the connection.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let inner = self.inner.clone();
        let routes = self.routes.clone();
        let limit = self.max_body_bytes;
        Box::pin(async move {
            let response = match decode(request, &routes, limit).await {
                Ok(rpc_request) => match inner.oneshot(rpc_request).await {
                    Ok(rpc_response) => encode_message(rpc_response),
                    Err(error) => encode_error(&error),
                },
                Err(rejection) => rejection,
            };
            Ok(response)
        })
    }
}

/// Turns an HTTP request into an [`RpcRequest`], or into the HTTP answer that rejects it.
async fn decode<B>(
    request: http::Request<B>,
    routes: &Routes,
    limit: usize,
) -> Result<RpcRequest, http::Response<Full<Bytes>>>
where
    B: Body,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let (parts, body) = request.into_parts();
    let Some((procedure, schema)) = routes.get(parts.uri.path()) else {
        let message = format!("{} is not a procedure served here", parts.uri.path());
        return Err(reject(StatusCode::NOT_FOUND, Code::Unimplemented, &message));
    };
    if parts.method != Method::POST {
        let message = format!("method {} not allowed: Connect unary calls use POST", parts.method);
        let mut response = reject(StatusCode::METHOD_NOT_ALLOWED, Code::Unknown, &message);
        response.headers_mut().insert(ALLOW, HeaderValue::from_static("POST"));
        return Err(response);
    }
    if !is_json(&parts.headers) {
        let got = parts.headers.get(CONTENT_TYPE).map_or("none".into(), |v| String::from_utf8_lossy(v.as_bytes()));
        let message = format!("unsupported content type {got:?}: use application/json");
        let mut response = reject(StatusCode::UNSUPPORTED_MEDIA_TYPE, Code::Unknown, &message);
        response.headers_mut().insert("accept-post", APPLICATION_JSON);
        return Err(response);
    }
    check_protocol_version(&parts.headers).map_err(|e| encode_error(&e))?;
    let deadline = parse_timeout(&parts.headers).map_err(|e| encode_error(&e))?.map(|timeout| Instant::now() + timeout);
    let bytes = read_body(&parts.headers, body, limit).await.map_err(|e| encode_error(&e))?;
    let message: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| encode_error(&RpcError::new(Code::InvalidArgument, format!("malformed JSON request: {e}"))))?;
    schema.check(&message).map_err(|e| encode_error(&RpcError::new(Code::InvalidArgument, e.to_string())))?;
    Ok(RpcRequest { procedure: procedure.clone(), headers: parts.headers, deadline, message })
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let media_type = value.split(';').next().unwrap_or("").trim();
    media_type.eq_ignore_ascii_case("application/json")
}

fn check_protocol_version(headers: &HeaderMap) -> Result<(), RpcError> {
    match headers.get(PROTOCOL_VERSION) {
        None => Ok(()),
        Some(version) if version == "1" => Ok(()),
        Some(version) => Err(RpcError::new(
            Code::InvalidArgument,
            format!("unsupported Connect-Protocol-Version {version:?}: this server speaks 1"),
        )),
    }
}

/// `Connect-Timeout-Ms`: at most 10 ASCII digits, as the Connect protocol says.
fn parse_timeout(headers: &HeaderMap) -> Result<Option<Duration>, RpcError> {
    let Some(value) = headers.get(TIMEOUT_MS) else {
        return Ok(None);
    };
    let digits = value.as_bytes();
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(RpcError::new(
            Code::InvalidArgument,
            format!("invalid Connect-Timeout-Ms {value:?}: expected 1 to 10 digits"),
        ));
    }
    let millis: u64 = std::str::from_utf8(digits).expect("ASCII digits").parse().expect("at most 10 digits fit u64");
    Ok(Some(Duration::from_millis(millis)))
}

async fn read_body<B>(headers: &HeaderMap, body: B, limit: usize) -> Result<Bytes, RpcError>
where
    B: Body,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let too_large =
        || RpcError::new(Code::ResourceExhausted, format!("request body exceeds the limit of {limit} bytes"));
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(too_large()),
        Err(error) => Err(RpcError::new(Code::InvalidArgument, format!("failed to read the request body: {error}"))),
    }
}

fn json_response(status: StatusCode, headers: HeaderMap, body: Vec<u8>) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response.headers_mut().insert(CONTENT_TYPE, APPLICATION_JSON);
    response
}

/// Encodes a successful answer: 200 with the JSON message and the response headers.
pub fn encode_message(response: RpcResponse) -> http::Response<Full<Bytes>> {
    match serde_json::to_vec(&response.message) {
        Ok(body) => json_response(StatusCode::OK, response.headers, body),
        Err(e) => encode_error(&RpcError::new(Code::Internal, format!("failed to encode the response: {e}"))),
    }
}

/// Encodes a failure: the code's HTTP status and the Connect error JSON body.
///
/// The [`Code`] also travels in the response's extensions, so that layers outside the codec
/// (metrics, for one) read it without parsing the body.
///
/// ```
/// use interceptor_bench::connect::encode_error;
/// use interceptor_bench::rpc::{Code, RpcError};
///
/// let response = encode_error(&RpcError::new(Code::Unavailable, "circuit open"));
/// assert_eq!(response.status(), 503);
/// assert_eq!(response.extensions().get::<Code>(), Some(&Code::Unavailable));
/// ```
pub fn encode_error(error: &RpcError) -> http::Response<Full<Bytes>> {
    reject(error.code.status_code(), error.code, &error.message)
}

fn reject(status: StatusCode, code: Code, message: &str) -> http::Response<Full<Bytes>> {
    let body = serde_json::json!({"code": code.as_str(), "message": message}).to_string();
    let mut response = json_response(status, HeaderMap::new(), body.into_bytes());
    response.extensions_mut().insert(code);
    response
}
