//! One HTTP/1.1 keep-alive connection per VU and listener, speaking Connect unary JSON to the
//! greeter: a VU's `SayHello` with its own name, checked for status 200 and `Hello, <name>!`.
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
use http::header::{CONTENT_TYPE, HOST, HeaderValue};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::TcpStream;

use super::target::Target;
use crate::greeter::SAY_HELLO;

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

/// A VU's client for one target: keeps its connection open across calls and reconnects
/// when the server closed it.
pub struct Caller {
    target: Target,
    uri: http::Uri,
    host: HeaderValue,
    body: Bytes,
    expected: String,
    connection: Option<http1::SendRequest<Full<Bytes>>>,
}

impl Caller {
    /// A caller that greets as `name`; it connects on its first call.
    pub fn new(target: Target, name: &str) -> Self {
        let body = Bytes::from(serde_json::json!({ "name": name }).to_string());
        let host = HeaderValue::from_str(target.authority()).expect("a parsed URI authority is a valid header value");
        let uri = target.path(SAY_HELLO).parse().expect("a parsed URL's path and a procedure name make a valid path");
        Caller { uri, host, body, expected: format!("Hello, {name}!"), target, connection: None }
    }

    async fn connect(&self) -> Result<http1::SendRequest<Full<Bytes>>, ()> {
        let stream = TcpStream::connect(self.target.addr()).await.map_err(drop)?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await.map_err(drop)?;
        // Ends when the server closes the connection or this caller drops its sender.
        tokio::spawn(connection);
        Ok(sender)
    }

    async fn call(&mut self) -> Outcome {
        let mut sender = match self.connection.take() {
            Some(sender) if !sender.is_closed() => sender,
            _ => match self.connect().await {
                Ok(sender) => sender,
                Err(()) => return Outcome::transport_error(),
            },
        };
        if sender.ready().await.is_err() {
            return Outcome::transport_error();
        }
        let mut request = http::Request::new(Full::new(self.body.clone()));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = self.uri.clone();
        request.headers_mut().insert(HOST, self.host.clone());
        request.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let Ok(response) = sender.send_request(request).await else {
            return Outcome::transport_error();
        };
        let status = response.status().as_u16();
        let Ok(body) = response.into_body().collect().await else {
            return Outcome::transport_error();
        };
        self.connection = Some(sender);
        let body = body.to_bytes();
        let message_ok = status == 200
            && serde_json::from_slice::<Reply<'_>>(&body).is_ok_and(|reply| reply.message == self.expected.as_str());
        Outcome { status: Some(status), message_ok, transport_error: false }
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
