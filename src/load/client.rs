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
use http::header::HOST;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::TcpStream;

use super::target::Target;
use super::wire::Connection;
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
/// when the server closed it. The request is encoded once, at creation; each call writes it
/// and reads the answer on the VU's own task ([`super::wire`]).
pub struct Caller {
    target: Target,
    request: Vec<u8>,
    expected: String,
    /// The body the greeter answers with, byte for byte: checked before parsing any JSON.
    expected_body: Vec<u8>,
    connection: Option<Connection>,
}

impl Caller {
    /// A caller that greets as `name`; it connects on its first call.
    pub fn new(target: Target, name: &str) -> Self {
        let body = serde_json::json!({ "name": name }).to_string();
        let expected = format!("Hello, {name}!");
        let expected_body = serde_json::json!({ "message": expected }).to_string().into_bytes();
        let request = format!(
            "POST {} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            target.path(SAY_HELLO),
            target.authority(),
            body.len()
        )
        .into_bytes();
        Caller { target, request, expected, expected_body, connection: None }
    }

    async fn call(&mut self) -> Outcome {
        // A kept connection the server has closed since shows as an end of stream before any
        // answer: the request never reached it, so it goes again on a new connection.
        let reused = self.connection.is_some();
        for fresh in [!reused, true] {
            let mut connection = match self.connection.take() {
                Some(connection) => connection,
                None => match Connection::open(self.target.addr()).await {
                    Ok(connection) => connection,
                    Err(_) => return Outcome::transport_error(),
                },
            };
            let reply = match connection.exchange(&self.request).await {
                Ok(reply) => reply,
                Err(error) if !fresh && error.kind() == std::io::ErrorKind::UnexpectedEof => continue,
                Err(error) if !fresh && error.kind() == std::io::ErrorKind::BrokenPipe => continue,
                Err(error) if !fresh && error.kind() == std::io::ErrorKind::ConnectionReset => continue,
                Err(_) => return Outcome::transport_error(),
            };
            let status = reply.status;
            let message_ok = status == 200
                && (reply.body == self.expected_body.as_slice()
                    || serde_json::from_slice::<Reply<'_>>(reply.body)
                        .is_ok_and(|reply| reply.message == self.expected.as_str()));
            if reply.keep_alive {
                self.connection = Some(connection);
            }
            return Outcome { status: Some(status), message_ok, transport_error: false };
        }
        Outcome::transport_error()
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
