//! The protocol codec: HTTP requests in, [`RpcRequest`]s to the interceptor stack,
//! [`RpcResponse`]s or [`RpcError`]s back out as HTTP responses, in the protocol the client
//! spoke. This is the only place that knows about HTTP bodies.
//!
//! One [`ConnectService`] serves three [`Protocol`]s on the same port, chosen by the
//! request's content type:
//!
//! | protocol | content type | module |
//! |---|---|---|
//! | Connect unary, JSON | `application/json` | `unary` |
//! | Connect unary, binary protobuf | `application/proto` | `unary` |
//! | gRPC (over h2c) | `application/grpc`, `application/grpc+proto` | `grpc` |
//!
//! Each decodes into the same [`RpcRequest`] (the message as proto3 JSON, whatever the codec),
//! records the wire codec in [`RpcRequest::codec`], and encodes the answer in the request's own
//! format. gzip is read and written by both (see `compression`); the body limit applies to the
//! decompressed size.
//!
//! | bad input | Connect (status, code) | gRPC (`grpc-status`) |
//! |---|---|---|
//! | unknown procedure | 404 `unimplemented` | 12 `unimplemented` |
//! | method other than POST | 405 (with `Allow: POST`) `unknown` | the same 405 |
//! | unsupported content type | 415 (with `Accept-Post`) `unknown` | the same 415 |
//! | `Connect-Protocol-Version` other than `1`, bad `Connect-Timeout-Ms` / `grpc-timeout` | 400 `invalid_argument` | 3 `invalid_argument` |
//! | malformed JSON or protobuf (truncated varint, wrong wire type, bad UTF-8), wrong field types | 400 `invalid_argument` | 3 `invalid_argument` |
//! | truncated gRPC prefix or message, more than one message | — | 3 `invalid_argument` |
//! | gRPC compressed flag without `grpc-encoding` | — | 13 `internal` |
//! | unsupported `Content-Encoding` / `grpc-encoding` | 501 `unimplemented` | 12 `unimplemented` |
//! | malformed gzip | 400 `invalid_argument` | 3 `invalid_argument` |
//! | body, length prefix or decompressed message over the limit (default 4 MiB) | 429 `resource_exhausted`, without reading the rest | 8 `resource_exhausted` |
//!
//! Refusals that come before the body is read (404, 405, 415) first drain the request body up
//! to 256 KiB ([`DRAIN_LIMIT_BYTES`]), so a client still sending it reads the refusal and can
//! reuse the connection; a larger body is not read and the connection closes after the answer.
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Full};
//! use interceptor_bench::connect::ConnectService;
//! use interceptor_bench::greeter::Greeter;
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let service = ConnectService::greeter(Greeter::new());
//! let request = http::Request::post("/greeter.v1.GreeterService/SayHello")
//!     .header("content-type", "application/json")
//!     .body(Full::new(Bytes::from_static(br#"{"name":"Ada"}"#)))
//!     .unwrap();
//! let response = service.clone().oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 200);
//! let body = response.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(body, r#"{"message":"Hello, Ada!"}"#);
//!
//! // The same call in binary protobuf: field 1, length 3, "Ada".
//! let request = http::Request::post("/greeter.v1.GreeterService/SayHello")
//!     .header("content-type", "application/proto")
//!     .body(Full::new(Bytes::from_static(b"\x0a\x03Ada")))
//!     .unwrap();
//! let response = service.oneshot(request).await.unwrap();
//! assert_eq!(response.headers()["content-type"], "application/proto");
//! let body = response.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(body, &b"\x0a\x0bHello, Ada!"[..]);
//! # });
//! ```

mod body;
mod compression;
mod grpc;
mod unary;

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, Method, StatusCode};
use http_body::Body;
use serde::{Deserialize, Serialize};
use tower::{Service, ServiceExt};

pub use self::body::{DRAIN_LIMIT_BYTES, DRAIN_TIMEOUT, ResponseBody};
pub use self::compression::COMPRESS_MIN_BYTES;
pub use self::grpc::{
    PREFIX_BYTES as GRPC_PREFIX_BYTES, code_of_grpc_status, encode_error as encode_grpc_error, frame as frame_grpc,
    grpc_status, parse_grpc_timeout, unframe as unframe_grpc,
};
pub use self::unary::encode_error;
use crate::rpc::{
    Code, Message, MessageSchema, MethodSchema, Procedure, RpcError, RpcRequest, RpcResponse, SchemaViolation,
    WireCodec,
};

/// The default limit on a request body: 4 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// What the server answers a request of unsupported content type with, in `Accept-Post`.
const ACCEPTED_CONTENT_TYPES: HeaderValue =
    HeaderValue::from_static("application/json, application/proto, application/grpc, application/grpc+proto");

/// The RPC protocols served on every listener, told apart by content type.
///
/// ```
/// use interceptor_bench::connect::Protocol;
///
/// let protocol: Protocol = "grpc".parse().unwrap();
/// assert_eq!(protocol, Protocol::Grpc);
/// assert_eq!(protocol.content_type(), "application/grpc");
/// assert_eq!(Protocol::ConnectProto.to_string(), "connect-proto");
/// assert!("grpc-web".parse::<Protocol>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// Connect unary with the JSON codec (`application/json`), over HTTP/1.1 or h2c.
    #[default]
    ConnectJson,
    /// Connect unary with the binary protobuf codec (`application/proto`), over HTTP/1.1 or h2c.
    ConnectProto,
    /// gRPC over h2c (`application/grpc`).
    Grpc,
}

impl Protocol {
    /// Every protocol, in the order of the docs.
    pub const ALL: [Protocol; 3] = [Protocol::ConnectJson, Protocol::ConnectProto, Protocol::Grpc];

    /// Its name on the command line and in scenario files.
    pub const fn name(self) -> &'static str {
        match self {
            Protocol::ConnectJson => "connect-json",
            Protocol::ConnectProto => "connect-proto",
            Protocol::Grpc => "grpc",
        }
    }

    /// The content type its requests carry.
    pub const fn content_type(self) -> &'static str {
        match self {
            Protocol::ConnectJson => "application/json",
            Protocol::ConnectProto => "application/proto",
            Protocol::Grpc => "application/grpc",
        }
    }

    /// A request body carrying `message` (of type `schema`) in this protocol: JSON, protobuf,
    /// or one uncompressed length-prefixed protobuf message. What clients send.
    ///
    /// ```
    /// use interceptor_bench::connect::Protocol;
    /// use interceptor_bench::greeter::SAY_HELLO_REQUEST;
    /// use serde_json::json;
    ///
    /// let ada = json!({"name": "Ada"});
    /// assert_eq!(Protocol::ConnectJson.encode_request(&SAY_HELLO_REQUEST, &ada).unwrap(), r#"{"name":"Ada"}"#);
    /// assert_eq!(Protocol::Grpc.encode_request(&SAY_HELLO_REQUEST, &ada).unwrap(), &b"\0\0\0\0\x05\x0a\x03Ada"[..]);
    /// ```
    ///
    /// # Errors
    /// When `message` does not fit `schema` (protobuf only).
    pub fn encode_request(self, schema: &MessageSchema, message: &Message) -> Result<Bytes, SchemaViolation> {
        Ok(match self {
            Protocol::ConnectJson => Bytes::from(message.to_string()),
            Protocol::ConnectProto => Bytes::from(schema.encode_proto(message)?),
            Protocol::Grpc => grpc::frame(false, &schema.encode_proto(message)?),
        })
    }

    /// The protocol a request's `Content-Type` names (parameters such as `charset` aside).
    pub fn of(headers: &HeaderMap) -> Option<Protocol> {
        let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
        let media_type = value.split(';').next().unwrap_or("").trim();
        [
            ("application/json", Protocol::ConnectJson),
            ("application/proto", Protocol::ConnectProto),
            ("application/grpc", Protocol::Grpc),
            ("application/grpc+proto", Protocol::Grpc),
        ]
        .into_iter()
        .find_map(|(name, protocol)| media_type.eq_ignore_ascii_case(name).then_some(protocol))
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Protocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Protocol::ALL
            .into_iter()
            .find(|protocol| protocol.name() == s)
            .ok_or_else(|| format!("unknown protocol {s:?}: expected connect-json, connect-proto or grpc"))
    }
}

/// The procedures a codec routes, each with its message schemas.
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
    by_path: Arc<HashMap<String, (Procedure, &'static MethodSchema)>>,
}

impl Routes {
    /// Routes for the given methods.
    ///
    /// # Panics
    /// When a procedure is not of the form `package.Service/Method` (a programming error).
    pub fn new(methods: &'static [MethodSchema]) -> Self {
        let by_path = methods
            .iter()
            .map(|method| {
                let procedure =
                    Procedure::parse(method.procedure).expect("route procedures are package.Service/Method");
                (format!("/{}", method.procedure), (procedure, method))
            })
            .collect();
        Routes { by_path: Arc::new(by_path) }
    }

    /// The procedure and method served at `path`, if any.
    pub fn get(&self, path: &str) -> Option<&(Procedure, &'static MethodSchema)> {
        self.by_path.get(path)
    }
}

/// A tower service that decodes Connect (JSON or protobuf) and gRPC unary HTTP requests,
/// calls the RPC service `S` (usually an interceptor stack over a handler) and encodes its
/// answer in the request's protocol.
#[derive(Debug, Clone)]
pub struct ConnectService<S> {
    inner: S,
    routes: Routes,
    max_body_bytes: usize,
    compress_responses: bool,
}

impl<S> ConnectService<S> {
    /// A codec over `inner` that routes `routes`, with the default body limit.
    pub fn new(inner: S, routes: Routes) -> Self {
        ConnectService { inner, routes, max_body_bytes: DEFAULT_MAX_BODY_BYTES, compress_responses: true }
    }

    /// Sets the request body limit in bytes, which also bounds decompressed messages; larger
    /// bodies get `resource_exhausted`.
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// Whether answers of [`COMPRESS_MIN_BYTES`] or more are gzipped for clients that accept
    /// gzip (on by default). Off, every answer goes back uncompressed and compressed requests
    /// are still read: for a server whose HTTP-level layers compress (tower-http's
    /// `CompressionLayer`), or a bench that measures such a layer doing the work.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http_body_util::Full;
    /// use interceptor_bench::connect::ConnectService;
    /// use interceptor_bench::greeter::Greeter;
    /// use tower::ServiceExt;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let name = "a".repeat(2048);
    /// let request = || {
    ///     http::Request::post("/greeter.v1.GreeterService/SayHello")
    ///         .header("content-type", "application/json")
    ///         .header("accept-encoding", "gzip")
    ///         .body(Full::new(Bytes::from(format!(r#"{{"name":"{name}"}}"#))))
    ///         .unwrap()
    /// };
    /// let gzipped = ConnectService::greeter(Greeter::new()).oneshot(request()).await.unwrap();
    /// assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    /// let codec = ConnectService::greeter(Greeter::new()).compress_responses(false);
    /// let plain = codec.oneshot(request()).await.unwrap();
    /// assert!(!plain.headers().contains_key("content-encoding"));
    /// # });
    /// ```
    pub fn compress_responses(mut self, on: bool) -> Self {
        self.compress_responses = on;
        self
    }

    define_inner_service_accessors!();
}

/// The codec's response future.
pub type ResponseFuture = Pin<Box<dyn Future<Output = Result<http::Response<ResponseBody>, Infallible>> + Send>>;

impl<S, B> Service<http::Request<B>> for ConnectService<S>
where
    S: Service<RpcRequest, Response = RpcResponse, Error = RpcError> + Clone + Send + 'static,
    S::Future: Send,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    type Response = http::Response<ResponseBody>;
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
        let (limit, compress) = (self.max_body_bytes, self.compress_responses);
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let (protocol, procedure, method) = match route(&parts, &routes) {
                Ok(route) => route,
                Err(refusal) => {
                    body::drain(&parts.headers, body).await;
                    return Ok(*refusal);
                }
            };
            let response = match protocol {
                Protocol::Grpc => match grpc::decode(parts, body, procedure, method, limit, compress).await {
                    Ok((request, reply)) => reply.encode(inner.oneshot(request).await),
                    Err(error) => grpc::encode_error(&error),
                },
                connect => {
                    let codec =
                        if connect == Protocol::ConnectJson { WireCodec::Json } else { WireCodec::Proto(method) };
                    match unary::decode(parts, body, procedure, codec, method, limit, compress).await {
                        Ok((request, reply)) => reply.encode(inner.oneshot(request).await),
                        Err(error) => unary::encode_error(&error),
                    }
                }
            };
            Ok(response)
        })
    }
}

/// The protocol and route of a request, or the answer refusing it before its body is read:
/// an unknown procedure, a method other than POST, a content type of no protocol served.
fn route<'r>(
    parts: &http::request::Parts,
    routes: &'r Routes,
) -> Result<(Protocol, &'r Procedure, &'static MethodSchema), Box<http::Response<ResponseBody>>> {
    let protocol = Protocol::of(&parts.headers);
    let path = parts.uri.path();
    let Some((procedure, method)) = routes.get(path) else {
        let message = format!("{path} is not a procedure served here");
        return Err(Box::new(match protocol {
            Some(Protocol::Grpc) => grpc::encode_error(&RpcError::new(Code::Unimplemented, message)),
            _ => unary::reject(StatusCode::NOT_FOUND, Code::Unimplemented, &message),
        }));
    };
    if parts.method != Method::POST {
        let message = format!("method {} not allowed: unary calls use POST", parts.method);
        let mut response = unary::reject(StatusCode::METHOD_NOT_ALLOWED, Code::Unknown, &message);
        response.headers_mut().insert(ALLOW, HeaderValue::from_static("POST"));
        return Err(Box::new(response));
    }
    let Some(protocol) = protocol else {
        let got = parts.headers.get(CONTENT_TYPE).map_or("none".into(), |v| String::from_utf8_lossy(v.as_bytes()));
        let message = format!(
            "unsupported content type {got:?}: use application/json or application/proto (Connect), application/grpc (gRPC)"
        );
        let mut response = unary::reject(StatusCode::UNSUPPORTED_MEDIA_TYPE, Code::Unknown, &message);
        response.headers_mut().insert("accept-post", ACCEPTED_CONTENT_TYPES);
        return Err(Box::new(response));
    };
    Ok((protocol, procedure, method))
}
