//! gRPC unary over HTTP/2 (h2c on the same ports): `application/grpc` and
//! `application/grpc+proto`, one length-prefixed message each way, `grpc-timeout` as the
//! deadline, `grpc-status` / `grpc-message` trailers.
//!
//! Connect codes are the gRPC status codes by name and number (`invalid_argument` is 3, …), so
//! a [`Code`] maps to `grpc-status` as its position in [`Code::ALL`] plus one (0 is OK).
//! Every failure is a trailers-only response: HTTP 200 with `grpc-status` and the
//! percent-encoded `grpc-message` in the headers and no body, as the gRPC spec asks.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{CONTENT_TYPE, HeaderValue};
use http::request::Parts;
use http::{HeaderMap, StatusCode};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use tokio::time::Instant;

use super::body::{RequestBody, ResponseBody, read_limited, too_large};
use super::compression::{self, COMPRESS_MIN_BYTES, Encoding};
use crate::rpc::{Code, MethodSchema, Procedure, RpcError, RpcRequest, RpcResponse, WireCodec};

const APPLICATION_GRPC: HeaderValue = HeaderValue::from_static("application/grpc");
const GRPC_STATUS: &str = "grpc-status";
const GRPC_MESSAGE: &str = "grpc-message";
const GRPC_TIMEOUT: &str = "grpc-timeout";
const GRPC_ENCODING: &str = "grpc-encoding";
const GRPC_ACCEPT_ENCODING: &str = "grpc-accept-encoding";

/// The 5-byte prefix of every message: a compressed flag and a big-endian length.
pub const PREFIX_BYTES: usize = 5;

/// Bytes `grpc-message` percent-encodes besides non-ASCII: controls and `%` itself.
const MESSAGE_ESCAPES: &AsciiSet = &CONTROLS.add(b'%');

/// The `grpc-status` of a Connect code.
///
/// ```
/// use interceptor_bench::connect::grpc_status;
/// use interceptor_bench::rpc::Code;
///
/// assert_eq!(grpc_status(Code::InvalidArgument), 3);
/// assert_eq!(grpc_status(Code::Unauthenticated), 16);
/// ```
pub fn grpc_status(code: Code) -> u8 {
    let index = Code::ALL.iter().position(|&c| c == code).expect("every code is in ALL");
    u8::try_from(index + 1).expect("16 codes")
}

/// The Connect code of a non-zero `grpc-status` (`unknown` for numbers past 16).
///
/// ```
/// use interceptor_bench::connect::code_of_grpc_status;
/// use interceptor_bench::rpc::Code;
///
/// assert_eq!(code_of_grpc_status(14), Code::Unavailable);
/// assert_eq!(code_of_grpc_status(99), Code::Unknown);
/// ```
pub fn code_of_grpc_status(status: u32) -> Code {
    usize::try_from(status)
        .ok()
        .and_then(|s| s.checked_sub(1))
        .and_then(|i| Code::ALL.get(i).copied())
        .unwrap_or(Code::Unknown)
}

/// How the answer to a decoded call goes back: the method's response schema, and whether to
/// gzip the message.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reply {
    method: &'static MethodSchema,
    gzip: bool,
}

/// Decodes a gRPC unary request: exactly one length-prefixed protobuf message. Its answer is
/// gzipped when `compress` and the client accepts gzip.
pub(super) async fn decode(
    parts: Parts,
    body: impl RequestBody,
    procedure: &Procedure,
    method: &'static MethodSchema,
    limit: usize,
    compress: bool,
) -> Result<(RpcRequest, Reply), RpcError> {
    let deadline = parse_timeout(parts.headers.get(GRPC_TIMEOUT))?.map(|timeout| Instant::now() + timeout);
    let encoding = Encoding::of(parts.headers.get(GRPC_ENCODING))?;
    let reply = Reply { method, gzip: compress && compression::accepts_gzip(parts.headers.get(GRPC_ACCEPT_ENCODING)) };
    let body = read_limited(&parts.headers, body, limit.saturating_add(PREFIX_BYTES)).await?;
    let message = unframe(&body, encoding == Encoding::Gzip, limit)?;
    let message =
        method.request.decode_proto(&message).map_err(|e| RpcError::new(Code::InvalidArgument, e.to_string()))?;
    let request = RpcRequest {
        procedure: procedure.clone(),
        headers: parts.headers,
        deadline,
        message,
        codec: WireCodec::Proto(method),
    };
    Ok((request, reply))
}

/// The one message of a unary request body, decompressed when its flag says so.
///
/// ```
/// use bytes::Bytes;
/// use interceptor_bench::connect::unframe_grpc;
/// use interceptor_bench::rpc::Code;
///
/// let unframe = |body: &'static [u8]| unframe_grpc(&Bytes::from_static(body), false, 100);
/// assert_eq!(unframe(b"\x00\x00\x00\x00\x02hi").unwrap(), "hi");
/// assert_eq!(unframe(b"\x00\x00\x00").unwrap_err().code, Code::InvalidArgument);
/// assert_eq!(unframe(b"\x00\x7f\xff\xff\xff").unwrap_err().code, Code::ResourceExhausted);
/// assert_eq!(unframe(b"\x01\x00\x00\x00\x00").unwrap_err().code, Code::Internal);
/// ```
pub fn unframe(body: &Bytes, gzip: bool, limit: usize) -> Result<Bytes, RpcError> {
    let invalid = |message: String| RpcError::new(Code::InvalidArgument, message);
    let Some((prefix, rest)) = body.split_first_chunk::<PREFIX_BYTES>() else {
        return Err(invalid(format!(
            "truncated gRPC message prefix: {} of {PREFIX_BYTES} bytes (a unary call sends one message)",
            body.len()
        )));
    };
    let [flag, length @ ..] = *prefix;
    let length = u32::from_be_bytes(length) as usize;
    if length > limit {
        return Err(too_large(limit));
    }
    if rest.len() < length {
        return Err(invalid(format!("truncated gRPC message: the prefix says {length} bytes, {} follow", rest.len())));
    }
    if rest.len() > length {
        return Err(invalid("more than one gRPC message in a unary call".into()));
    }
    match (flag, gzip) {
        (0, _) => Ok(body.slice(PREFIX_BYTES..)),
        (1, true) => compression::gunzip(rest, limit),
        (1, false) => Err(RpcError::new(Code::Internal, "compressed gRPC message without a grpc-encoding".to_owned())),
        (other, _) => Err(invalid(format!("invalid gRPC compressed flag {other}"))),
    }
}

/// One length-prefixed message: the compressed flag, the big-endian length, the bytes.
///
/// ```
/// assert_eq!(interceptor_bench::connect::frame_grpc(false, b"hi"), &b"\x00\x00\x00\x00\x02hi"[..]);
/// ```
///
/// # Panics
/// When `message` is 4 GiB or longer, which no limit of this crate lets through.
pub fn frame(compressed: bool, message: &[u8]) -> Bytes {
    let mut framed = BytesMut::with_capacity(PREFIX_BYTES + message.len());
    framed.put_u8(u8::from(compressed));
    framed.put_u32(u32::try_from(message.len()).expect("a gRPC message shorter than 4 GiB"));
    framed.put_slice(message);
    framed.freeze()
}

/// `grpc-timeout`: 1 to 8 ASCII digits and a unit, `H`, `M`, `S`, `m`, `u` or `n`.
///
/// ```
/// use std::time::Duration;
/// use interceptor_bench::connect::parse_grpc_timeout;
///
/// assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
/// assert_eq!(parse_grpc_timeout("2H"), Some(Duration::from_secs(7200)));
/// assert_eq!(parse_grpc_timeout("123456789S"), None);
/// assert_eq!(parse_grpc_timeout("5"), None);
/// ```
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at_checked(value.len().checked_sub(1)?)?;
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

fn parse_timeout(header: Option<&HeaderValue>) -> Result<Option<Duration>, RpcError> {
    let Some(value) = header else { return Ok(None) };
    value.to_str().ok().and_then(parse_grpc_timeout).map(Some).ok_or_else(|| {
        RpcError::new(
            Code::InvalidArgument,
            format!("invalid grpc-timeout {value:?}: expected 1 to 8 digits and a unit (H, M, S, m, u, n)"),
        )
    })
}

impl Reply {
    /// Encodes the call's result: the framed message and `grpc-status: 0` trailers, or a
    /// trailers-only error.
    pub(super) fn encode(self, result: Result<RpcResponse, RpcError>) -> http::Response<ResponseBody> {
        let response = match result {
            Ok(response) => response,
            Err(error) => return encode_error(&error),
        };
        let message = match self.method.response.encode_proto(&response.message) {
            Ok(message) => message,
            Err(e) => {
                return encode_error(&RpcError::new(Code::Internal, format!("failed to encode the response: {e}")));
            }
        };
        let mut headers = response.headers;
        let (flag, message) = if self.gzip && message.len() >= COMPRESS_MIN_BYTES {
            headers.insert(GRPC_ENCODING, compression::SUPPORTED);
            (1, compression::gzip(&message))
        } else {
            (0, message)
        };
        let framed = frame(flag == 1, &message);
        let mut trailers = HeaderMap::with_capacity(1);
        trailers.insert(GRPC_STATUS, HeaderValue::from_static("0"));
        let mut response = http::Response::new(ResponseBody::with_trailers(framed, trailers));
        *response.headers_mut() = headers;
        response.headers_mut().insert(CONTENT_TYPE, APPLICATION_GRPC);
        response
    }
}

/// A trailers-only gRPC error: HTTP 200, `grpc-status`, `grpc-message`, no body; the [`Code`]
/// in the extensions for the metrics.
///
/// ```
/// use interceptor_bench::connect::encode_grpc_error;
/// use interceptor_bench::rpc::{Code, RpcError};
///
/// let response = encode_grpc_error(&RpcError::new(Code::InvalidArgument, "name: 100% required"));
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.headers()["grpc-status"], "3");
/// assert_eq!(response.headers()["grpc-message"], "name: 100%25 required");
/// ```
pub fn encode_error(error: &RpcError) -> http::Response<ResponseBody> {
    let mut response = http::Response::new(ResponseBody::default());
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, APPLICATION_GRPC);
    headers.insert(GRPC_STATUS, HeaderValue::from(u16::from(grpc_status(error.code))));
    let message = utf8_percent_encode(&error.message, MESSAGE_ESCAPES).to_string();
    headers.insert(GRPC_MESSAGE, HeaderValue::try_from(message).expect("percent-encoded text is a valid header value"));
    if error.code == Code::Unimplemented {
        headers.insert(GRPC_ACCEPT_ENCODING, compression::SUPPORTED);
    }
    response.extensions_mut().insert(error.code);
    response
}
