//! The RPC model every interceptor sees: what a Connect interceptor sees.
//!
//! A request carries its [`Procedure`], the request headers, an optional deadline and the
//! decoded message; a response carries headers and the message; a failure is an [`RpcError`]
//! with one of the 16 Connect [`Code`]s. Messages are the proto3 JSON form of the protobuf
//! message, as a [`serde_json::Value`] object: the codec checks it against the method's
//! [`MessageSchema`] before any interceptor runs.
//!
//! Every service in this crate is a
//! `tower::Service<RpcRequest, Response = RpcResponse, Error = RpcError>`.
//!
//! ```
//! use interceptor_bench::rpc::{Code, RpcError, RpcRequest};
//! use serde_json::json;
//!
//! let request = RpcRequest::new("greeter.v1.GreeterService/SayHello", json!({"name": "Ada"}));
//! assert_eq!(request.procedure.service(), "greeter.v1.GreeterService");
//! assert_eq!(request.procedure.method(), "SayHello");
//!
//! let error = RpcError::new(Code::InvalidArgument, "name: required");
//! assert_eq!(error.code.http_status(), 400);
//! ```

mod code;
mod procedure;
mod proto;
mod schema;

use std::borrow::Cow;
use std::fmt;

use http::HeaderMap;
use serde_json::Value;
use tokio::time::Instant;

pub use code::{Code, UnknownCode};
pub use procedure::{InvalidProcedure, Procedure};
pub use proto::ProtoDecodeError;
pub use schema::{Field, FieldKind, MessageSchema, MethodSchema, SchemaViolation};

/// A decoded message: the proto3 JSON form, always a JSON object.
pub type Message = Value;

/// One unary RPC call as an interceptor sees it.
#[derive(Debug, Clone)]
pub struct RpcRequest {
    /// The procedure called, e.g. `greeter.v1.GreeterService/SayHello`.
    pub procedure: Procedure,
    /// The request headers (Connect and application headers alike).
    pub headers: HeaderMap,
    /// When the caller stops waiting, from `Connect-Timeout-Ms`; `None` means no deadline.
    pub deadline: Option<Instant>,
    /// The decoded request message.
    pub message: Message,
    /// The codec the messages of this call travel in on the wire; the response goes back in
    /// the same one.
    pub codec: WireCodec,
}

/// The codec of a call's messages on the wire, as the protocol codec decoded them: what an
/// interceptor that works on the wire form (the serializer) encodes with.
///
/// ```
/// use interceptor_bench::greeter;
/// use interceptor_bench::rpc::{RpcRequest, WireCodec};
///
/// let request = RpcRequest::new(greeter::SAY_HELLO, serde_json::json!({"name": "Ada"}));
/// assert_eq!(request.codec, WireCodec::Json);
/// let proto = WireCodec::Proto(&greeter::METHODS[0]);
/// assert_eq!(proto.name(), "proto");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WireCodec {
    /// proto3 JSON (Connect `application/json`).
    #[default]
    Json,
    /// Protobuf binary (Connect `application/proto`, gRPC), with the method's message schemas.
    Proto(&'static MethodSchema),
}

impl WireCodec {
    /// `json` or `proto`, as in the Connect content types.
    pub const fn name(self) -> &'static str {
        match self {
            WireCodec::Json => "json",
            WireCodec::Proto(_) => "proto",
        }
    }
}

impl RpcRequest {
    /// A request with no headers and no deadline, in the JSON codec.
    ///
    /// # Panics
    /// When `procedure` is not of the form `package.Service/Method`; use
    /// [`Procedure::parse`] for untrusted input.
    pub fn new(procedure: &str, message: Message) -> Self {
        let procedure = Procedure::parse(procedure).expect("a procedure of the form pkg.Service/Method");
        RpcRequest { procedure, headers: HeaderMap::new(), deadline: None, message, codec: WireCodec::Json }
    }

    /// Sets the deadline.
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }
}

/// The answer to one unary RPC call.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcResponse {
    /// Response headers to send.
    pub headers: HeaderMap,
    /// The response message.
    pub message: Message,
}

impl RpcResponse {
    /// A response with no extra headers.
    ///
    /// ```
    /// use interceptor_bench::rpc::RpcResponse;
    /// let response = RpcResponse::new(serde_json::json!({"message": "Hello, Ada!"}));
    /// assert_eq!(response.message["message"], "Hello, Ada!");
    /// ```
    pub fn new(message: Message) -> Self {
        RpcResponse { headers: HeaderMap::new(), message }
    }
}

/// A failed RPC: a Connect code and a message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    /// The Connect code, which also decides the HTTP status.
    pub code: Code,
    /// A human-readable message, sent to the client.
    pub message: Cow<'static, str>,
}

impl RpcError {
    /// An error with the given code and message.
    pub fn new(code: Code, message: impl Into<Cow<'static, str>>) -> Self {
        RpcError { code, message: message.into() }
    }

    /// True for failures of the server rather than of the request ([`Code::is_server_failure`]):
    /// what the circuit breaker counts and the fallback answers for, by default.
    ///
    /// ```
    /// use interceptor_bench::rpc::{Code, RpcError};
    /// assert!(RpcError::new(Code::Internal, "boom").is_server_failure());
    /// assert!(!RpcError::new(Code::InvalidArgument, "name: required").is_server_failure());
    /// ```
    pub fn is_server_failure(&self) -> bool {
        self.code.is_server_failure()
    }

    /// The Connect unary error body, `{"code":"...","message":"..."}`.
    ///
    /// ```
    /// use interceptor_bench::rpc::{Code, RpcError};
    /// let body = RpcError::new(Code::Unavailable, "circuit open").to_json();
    /// assert_eq!(body, r#"{"code":"unavailable","message":"circuit open"}"#);
    /// ```
    pub fn to_json(&self) -> String {
        serde_json::json!({"code": self.code.as_str(), "message": self.message}).to_string()
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for RpcError {}

/// The result of one unary RPC call.
pub type RpcResult = Result<RpcResponse, RpcError>;
