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

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http::header::{CONTENT_TYPE, HOST, HeaderValue, TE};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep, sleep_until};

use super::target::Target;
use super::wire::{self, Connection};
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

/// A kept-alive connection: the hand-written HTTP/1.1 one ([`super::wire`]) for Connect,
/// hyper's HTTP/2 client for gRPC (h2c, prior knowledge).
enum Link {
    Http1(Connection),
    Http2(http2::SendRequest<Full<Bytes>>),
}

/// What a caller sends: the whole HTTP/1.1 request, encoded once, for Connect; the URI and
/// framed message hyper's HTTP/2 client sends for gRPC.
enum Prepared {
    Http1(Vec<u8>),
    Http2 { uri: http::Uri, body: Bytes },
}

/// A VU's client for one target: keeps its connection open across calls and reconnects
/// when the server closed it. The request is encoded once, at creation; for Connect each call
/// writes it and reads the answer on the VU's own task ([`super::wire`]).
pub struct Caller {
    target: Target,
    request: Prepared,
    expected: String,
    /// The body the greeter answers with, byte for byte: checked before decoding it.
    expected_body: Vec<u8>,
    connection: Option<Link>,
    /// The calls' timeout: one timer kept across calls and moved only when it fires, because
    /// `tokio::time::timeout` inserts and removes a timer-wheel entry on every call (the
    /// generator's largest cost after the socket calls). Created on the first call.
    watchdog: Option<Pin<Box<Sleep>>>,
}

impl Caller {
    /// A caller that greets as `name` in the target's protocol; it connects on its first call.
    pub fn new(target: Target, name: &str) -> Self {
        let protocol = target.protocol();
        let message = serde_json::json!({ "name": name });
        let body = protocol.encode_request(&SAY_HELLO_REQUEST, &message).expect("a name is a string");
        let expected = format!("Hello, {name}!");
        let reply = serde_json::json!({ "message": expected });
        let expected_body = match protocol {
            Protocol::ConnectJson => reply.to_string().into_bytes(),
            Protocol::ConnectProto | Protocol::Grpc => {
                SAY_HELLO_RESPONSE.encode_proto(&reply).expect("a greeting is a string")
            }
        };
        let path = target.path(SAY_HELLO);
        let request = if protocol == Protocol::Grpc {
            // HTTP/2 requests carry the scheme and authority in the URI.
            let uri = format!("http://{}{path}", target.authority());
            let uri = uri.parse().expect("a parsed URL's authority and a procedure name make a valid URI");
            Prepared::Http2 { uri, body }
        } else {
            let mut request = format!(
                "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: {}\r\ncontent-length: {}\r\n\r\n",
                target.authority(),
                protocol.content_type(),
                body.len()
            )
            .into_bytes();
            request.extend_from_slice(&body);
            Prepared::Http1(request)
        };
        Caller { target, request, expected, expected_body, connection: None, watchdog: None }
    }

    async fn call(&mut self) -> Outcome {
        match &self.request {
            Prepared::Http1(_) => self.call_http1().await,
            Prepared::Http2 { .. } => self.call_http2().await,
        }
    }

    /// Connect (JSON or protobuf) over the hand-written HTTP/1.1 connection.
    async fn call_http1(&mut self) -> Outcome {
        let Prepared::Http1(request) = &self.request else { unreachable!("call dispatches on the request") };
        // A kept connection the server has closed since shows as an end of stream before any
        // answer: the request never reached it, so it goes again on a new connection.
        let reused = self.connection.is_some();
        for fresh in [!reused, true] {
            let mut connection = match self.connection.take() {
                Some(Link::Http1(connection)) => connection,
                _ => match Connection::open(self.target.addr()).await {
                    Ok(connection) => connection,
                    Err(_) => return Outcome::transport_error(),
                },
            };
            let reply = match connection.exchange(request).await {
                Ok(reply) => reply,
                Err(error) if !fresh && error.kind() == std::io::ErrorKind::UnexpectedEof => continue,
                Err(error) if !fresh && error.kind() == std::io::ErrorKind::BrokenPipe => continue,
                Err(error) if !fresh && error.kind() == std::io::ErrorKind::ConnectionReset => continue,
                Err(_) => return Outcome::transport_error(),
            };
            let wire::Reply { status, body, keep_alive } = reply;
            let message_ok = status == 200 && (body == self.expected_body.as_slice() || self.greeted(body));
            if keep_alive {
                self.connection = Some(Link::Http1(connection));
            }
            return Outcome { status: Some(status), message_ok, transport_error: false };
        }
        Outcome::transport_error()
    }

    /// gRPC over hyper's HTTP/2 client; the status comes from the trailers.
    async fn call_http2(&mut self) -> Outcome {
        let Prepared::Http2 { uri, body } = &self.request else { unreachable!("call dispatches on the request") };
        let mut sender = match self.connection.take() {
            Some(Link::Http2(sender)) if !sender.is_closed() => sender,
            _ => match self.connect_http2().await {
                Ok(sender) => sender,
                Err(()) => return Outcome::transport_error(),
            },
        };
        let mut request = http::Request::new(Full::new(body.clone()));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = uri.clone();
        let headers = request.headers_mut();
        headers.insert(TE, HeaderValue::from_static("trailers"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(Protocol::Grpc.content_type()));
        if sender.ready().await.is_err() {
            return Outcome::transport_error();
        }
        let Ok(response) = sender.send_request(request).await else {
            return Outcome::transport_error();
        };
        let (parts, body) = response.into_parts();
        let Ok(body) = body.collect().await else {
            return Outcome::transport_error();
        };
        self.connection = Some(Link::Http2(sender));
        let status = parts.status.as_u16();
        let outcome =
            |status: u16, message_ok: bool| Outcome { status: Some(status), message_ok, transport_error: false };
        match grpc_status(body.trailers().unwrap_or(&parts.headers)) {
            Some(0) if status == 200 => {
                let message = unframe_grpc(&body.to_bytes(), false, DEFAULT_MAX_BODY_BYTES);
                outcome(status, message.is_ok_and(|message| self.greeted(&message)))
            }
            Some(code) if status == 200 => outcome(code_of_grpc_status(code).http_status(), false),
            _ => outcome(if status == 200 { 500 } else { status }, false),
        }
    }

    async fn connect_http2(&self) -> Result<http2::SendRequest<Full<Bytes>>, ()> {
        let stream = TcpStream::connect(self.target.addr()).await.map_err(drop)?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.map_err(drop)?;
        // The connection task ends when the server closes the connection or this caller drops its sender.
        tokio::spawn(connection);
        Ok(sender)
    }

    /// The response message (JSON or protobuf, by the target's protocol) greets this caller's name.
    fn greeted(&self, message: &[u8]) -> bool {
        match self.target.protocol() {
            Protocol::ConnectJson => {
                serde_json::from_slice::<Reply<'_>>(message).is_ok_and(|reply| reply.message == self.expected.as_str())
            }
            Protocol::ConnectProto | Protocol::Grpc => {
                SAY_HELLO_RESPONSE.decode_proto(message).is_ok_and(|reply| reply["message"] == self.expected.as_str())
            }
        }
    }

    /// One `SayHello`, abandoned (and its connection closed) after `timeout`.
    pub async fn say_hello(&mut self, timeout: Duration) -> Outcome {
        self.say_hello_by(Instant::now() + timeout).await
    }

    /// One `SayHello`, abandoned (and its connection closed) at `deadline`: what
    /// [`Caller::say_hello`] does, for a caller that has just read the clock anyway.
    pub async fn say_hello_by(&mut self, deadline: Instant) -> Outcome {
        // Armed for an earlier call's deadline (earlier, with the same timeout), the timer
        // fires early at most once per timeout and is moved on to the call in flight then.
        let mut watchdog = self.watchdog.take().unwrap_or_else(|| Box::pin(sleep_until(deadline)));
        if watchdog.deadline() > deadline {
            watchdog.as_mut().reset(deadline);
        }
        let outcome = {
            let mut call = std::pin::pin!(self.call());
            loop {
                tokio::select! {
                    biased;
                    outcome = &mut call => break Some(outcome),
                    () = watchdog.as_mut() => {
                        if Instant::now() >= deadline {
                            break None;
                        }
                        watchdog.as_mut().reset(deadline);
                    }
                }
            }
        };
        self.watchdog = Some(watchdog);
        outcome.unwrap_or_else(|| {
            // The connection may still carry the late answer: never reuse it.
            self.connection = None;
            Outcome::transport_error()
        })
    }
}

/// The `grpc-status` in trailers (or the headers of a trailers-only answer).
fn grpc_status(headers: &HeaderMap) -> Option<u32> {
    headers.get("grpc-status")?.to_str().ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A server that answers the requests on one connection after the given delays, in turn.
    async fn answering_after(delays: Vec<Duration>) -> Target {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            for delay in delays {
                let mut request = [0; 1024];
                if socket.read(&mut request).await.unwrap_or(0) == 0 {
                    return;
                }
                tokio::time::sleep(delay).await;
                socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").await.unwrap();
            }
            // Holds the connection open without answering the next request.
            tokio::time::sleep(Duration::from_secs(10)).await;
        });
        Target::parse(&url).unwrap()
    }

    #[tokio::test]
    async fn each_call_times_out_at_its_own_deadline_not_an_earlier_calls() {
        let timeout = Duration::from_millis(400);
        let mut caller = Caller::new(answering_after(vec![Duration::ZERO, Duration::from_millis(200)]).await, "vu-0");
        // The first call arms the timer for its own deadline, 400 ms on.
        assert_eq!(caller.say_hello(timeout).await.status, Some(200));
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The second is answered 200 ms in: past the first call's deadline, before its own.
        let second = caller.say_hello(timeout).await;
        assert_eq!(second.status, Some(200), "timed out at the first call's deadline: {second:?}");
        // The third is never answered: it ends at its deadline, as a transport error.
        let started = Instant::now();
        let third = caller.say_hello(timeout).await;
        assert!(third.transport_error && third.status.is_none(), "{third:?}");
        assert!(started.elapsed() >= timeout, "ended {:?} in, before its deadline", started.elapsed());
        assert!(caller.connection.is_none(), "a timed-out call's connection is never reused");
    }
}
