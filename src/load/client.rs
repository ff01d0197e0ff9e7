//! One keep-alive connection per VU and listener, speaking the target's [`Protocol`] to the
//! greeter: a VU's `SayHello` with its own name, checked for success and `Hello, <name>!`.
//! Connect JSON and Connect protobuf go over HTTP/1.1; gRPC over HTTP/2 cleartext with prior
//! knowledge (h2c, as gRPC clients connect to a plaintext port), where a non-zero
//! `grpc-status` counts as the HTTP status of its Connect code (14 `unavailable` as 503), so
//! `http_req_failed` and the checks mean the same in every protocol.
//!
//! ```no_run
//! use interceptor_bench::load::client::Caller;
//! use interceptor_bench::load::target::Target;
//! use std::time::Duration;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let target = Target::parse("http://127.0.0.1:8081").unwrap();
//! let mut caller = Caller::new(target, "vu-1");
//! let outcome = caller.say_hello(Duration::from_secs(1)).await;
//! assert!(outcome.status_ok() && outcome.message_ok);
//! # });
//! ```

use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, HeaderValue, TE};
use http::{HeaderMap, Response};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::Deserialize;
use tokio::net::TcpStream;

use super::target::Target;
use crate::connect::{DEFAULT_MAX_BODY_BYTES, Protocol, code_of_grpc_status, unframe_grpc};
use crate::greeter::{SAY_HELLO, SAY_HELLO_REQUEST, SAY_HELLO_RESPONSE};

/// What one call came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The HTTP status, or `None` when the connection failed or the call timed out.
    pub status: Option<u16>,
    /// The response was `{"message": "Hello, <name>!"}` with this VU's name.
    pub message_ok: bool,
    /// The call failed before any response: refused, reset or timed out.
    pub transport_error: bool,
}

impl Outcome {
    /// Status 200.
    pub fn status_ok(&self) -> bool {
        self.status == Some(200)
    }

    const fn transport_error() -> Self {
        Outcome { status: None, message_ok: false, transport_error: true }
    }
}

#[derive(Deserialize)]
struct Reply<'a> {
    #[serde(borrow)]
    message: std::borrow::Cow<'a, str>,
}

/// `GET`s the target's URL (its path included) on a fresh connection and returns the body of
/// a 200 answer as text; `None` on any failure or after `timeout`.
pub async fn get_text(target: &Target, timeout: Duration) -> Option<String> {
    let fetch = async {
        let stream = TcpStream::connect(target.addr()).await.ok()?;
        let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await.ok()?;
        tokio::spawn(connection);
        let request = http::Request::get(target.base_path())
            .header(HOST, target.authority())
            .body(Full::new(Bytes::new()))
            .ok()?;
        let response = sender.send_request(request).await.ok()?;
        if response.status() != http::StatusCode::OK {
            return None;
        }
        let body = response.into_body().collect().await.ok()?.to_bytes();
        String::from_utf8(body.to_vec()).ok()
    };
    tokio::time::timeout(timeout, fetch).await.ok().flatten()
}

/// A kept-alive connection: HTTP/1.1 for Connect, HTTP/2 for gRPC.
enum Connection {
    Http1(http1::SendRequest<Full<Bytes>>),
    Http2(http2::SendRequest<Full<Bytes>>),
}

impl Connection {
    fn is_closed(&self) -> bool {
        match self {
            Connection::Http1(sender) => sender.is_closed(),
            Connection::Http2(sender) => sender.is_closed(),
        }
    }

    async fn send(&mut self, request: http::Request<Full<Bytes>>) -> Option<Response<hyper::body::Incoming>> {
        match self {
            Connection::Http1(sender) => {
                sender.ready().await.ok()?;
                sender.send_request(request).await.ok()
            }
            Connection::Http2(sender) => {
                sender.ready().await.ok()?;
                sender.send_request(request).await.ok()
            }
        }
    }
}

/// A VU's client for one target: keeps its connection open across calls and reconnects
/// when the server closed it.
pub struct Caller {
    target: Target,
    uri: http::Uri,
    host: HeaderValue,
    body: Bytes,
    expected: String,
    connection: Option<Connection>,
}

impl Caller {
    /// A caller that greets as `name` in the target's protocol; it connects on its first call.
    pub fn new(target: Target, name: &str) -> Self {
        let message = serde_json::json!({ "name": name });
        let body = target.protocol().encode_request(&SAY_HELLO_REQUEST, &message).expect("a name is a string");
        let host = HeaderValue::from_str(target.authority()).expect("a parsed URI authority is a valid header value");
        let path = target.path(SAY_HELLO);
        // HTTP/2 requests carry the scheme and authority; HTTP/1.1 ones the path and a Host header.
        let uri =
            if target.protocol() == Protocol::Grpc { format!("http://{}{path}", target.authority()) } else { path };
        let uri = uri.parse().expect("a parsed URL's path and a procedure name make a valid URI");
        Caller { uri, host, body, expected: format!("Hello, {name}!"), target, connection: None }
    }

    async fn connect(&self) -> Result<Connection, ()> {
        let stream = TcpStream::connect(self.target.addr()).await.map_err(drop)?;
        let _ = stream.set_nodelay(true);
        // Each connection task ends when the server closes the connection or this caller drops its sender.
        if self.target.protocol() == Protocol::Grpc {
            let (sender, connection) =
                http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.map_err(drop)?;
            tokio::spawn(connection);
            Ok(Connection::Http2(sender))
        } else {
            let (sender, connection) = http1::handshake(TokioIo::new(stream)).await.map_err(drop)?;
            tokio::spawn(connection);
            Ok(Connection::Http1(sender))
        }
    }

    async fn call(&mut self) -> Outcome {
        let mut connection = match self.connection.take() {
            Some(connection) if !connection.is_closed() => connection,
            _ => match self.connect().await {
                Ok(connection) => connection,
                Err(()) => return Outcome::transport_error(),
            },
        };
        let protocol = self.target.protocol();
        let mut request = http::Request::new(Full::new(self.body.clone()));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = self.uri.clone();
        let headers = request.headers_mut();
        if protocol == Protocol::Grpc {
            headers.insert(TE, HeaderValue::from_static("trailers"));
        } else {
            headers.insert(HOST, self.host.clone());
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(protocol.content_type()));
        let Some(response) = connection.send(request).await else {
            return Outcome::transport_error();
        };
        let (parts, body) = response.into_parts();
        let Ok(body) = body.collect().await else {
            return Outcome::transport_error();
        };
        self.connection = Some(connection);
        let status = parts.status.as_u16();
        let outcome =
            |status: u16, message_ok: bool| Outcome { status: Some(status), message_ok, transport_error: false };
        match protocol {
            Protocol::ConnectJson => {
                let body = body.to_bytes();
                let message_ok = status == 200
                    && serde_json::from_slice::<Reply<'_>>(&body)
                        .is_ok_and(|reply| reply.message == self.expected.as_str());
                outcome(status, message_ok)
            }
            Protocol::ConnectProto => {
                let message_ok = status == 200 && self.greeted(&body.to_bytes());
                outcome(status, message_ok)
            }
            Protocol::Grpc => {
                let grpc_status = grpc_status(body.trailers().unwrap_or(&parts.headers));
                match grpc_status {
                    Some(0) if status == 200 => {
                        let message = unframe_grpc(&body.to_bytes(), false, DEFAULT_MAX_BODY_BYTES);
                        outcome(status, message.is_ok_and(|message| self.greeted(&message)))
                    }
                    Some(code) if status == 200 => outcome(code_of_grpc_status(code).http_status(), false),
                    _ => outcome(if status == 200 { 500 } else { status }, false),
                }
            }
        }
    }

    /// The protobuf `SayHelloResponse` greets this caller's name.
    fn greeted(&self, message: &[u8]) -> bool {
        SAY_HELLO_RESPONSE.decode_proto(message).is_ok_and(|reply| reply["message"] == self.expected.as_str())
    }

    /// One `SayHello`, abandoned (and its connection closed) after `timeout`.
    pub async fn say_hello(&mut self, timeout: Duration) -> Outcome {
        match tokio::time::timeout(timeout, self.call()).await {
            Ok(outcome) => outcome,
            // The connection may still carry the late answer: never reuse it.
            Err(_) => {
                self.connection = None;
                Outcome::transport_error()
            }
        }
    }
}

/// The `grpc-status` in trailers (or the headers of a trailers-only answer).
fn grpc_status(headers: &HeaderMap) -> Option<u32> {
    headers.get("grpc-status")?.to_str().ok()?.parse().ok()
}
