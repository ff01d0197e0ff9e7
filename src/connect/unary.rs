//! The Connect unary protocol, in both of its codecs: `application/json` (proto3 JSON) and
//! `application/proto` (protobuf binary). Error bodies are Connect error JSON in both, as the
//! protocol requires, with the code's HTTP status.

use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue};
use http::request::Parts;
use http::{HeaderMap, StatusCode};
use tokio::time::Instant;

use super::body::{RequestBody, ResponseBody, read_limited};
use super::compression::{self, COMPRESS_MIN_BYTES, Encoding};
use crate::rpc::{Code, MethodSchema, Procedure, RpcError, RpcRequest, RpcResponse, WireCodec};

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");
const APPLICATION_PROTO: HeaderValue = HeaderValue::from_static("application/proto");
const GZIP: HeaderValue = HeaderValue::from_static("gzip");
const PROTOCOL_VERSION: &str = "connect-protocol-version";
const TIMEOUT_MS: &str = "connect-timeout-ms";

/// How the answer to a decoded call goes back: in the call's codec, gzipped if the client
/// accepts it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reply {
    codec: WireCodec,
    gzip: bool,
}

/// Decodes a Connect unary request whose content type chose `codec`; its answer is gzipped
/// when `compress` and the client accepts gzip.
pub(super) async fn decode(
    parts: Parts,
    body: impl RequestBody,
    procedure: &Procedure,
    codec: WireCodec,
    method: &'static MethodSchema,
    limit: usize,
    compress: bool,
) -> Result<(RpcRequest, Reply), RpcError> {
    check_protocol_version(&parts.headers)?;
    let deadline = parse_timeout(&parts.headers)?.map(|timeout| Instant::now() + timeout);
    let encoding = Encoding::of(parts.headers.get(CONTENT_ENCODING))?;
    let reply = Reply { codec, gzip: compress && compression::accepts_gzip(parts.headers.get(ACCEPT_ENCODING)) };
    let mut bytes = read_limited(&parts.headers, body, limit).await?;
    if encoding == Encoding::Gzip {
        bytes = compression::gunzip(&bytes, limit)?;
    }
    let message = match codec {
        WireCodec::Json => {
            let message: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|e| RpcError::new(Code::InvalidArgument, format!("malformed JSON request: {e}")))?;
            method.request.check(&message).map_err(|e| RpcError::new(Code::InvalidArgument, e.to_string()))?;
            message
        }
        WireCodec::Proto(_) => {
            method.request.decode_proto(&bytes).map_err(|e| RpcError::new(Code::InvalidArgument, e.to_string()))?
        }
    };
    let request = RpcRequest { procedure: procedure.clone(), headers: parts.headers, deadline, message, codec };
    Ok((request, reply))
}

impl Reply {
    /// Encodes the call's result.
    pub(super) fn encode(self, result: Result<RpcResponse, RpcError>) -> http::Response<ResponseBody> {
        match result {
            Ok(response) => self.encode_message(response),
            Err(error) => encode_error(&error),
        }
    }

    fn encode_message(self, response: RpcResponse) -> http::Response<ResponseBody> {
        let (body, content_type) = match self.codec {
            WireCodec::Json => (serde_json::to_vec(&response.message).map_err(|e| e.to_string()), APPLICATION_JSON),
            WireCodec::Proto(method) => {
                (method.response.encode_proto(&response.message).map_err(|e| e.to_string()), APPLICATION_PROTO)
            }
        };
        let body = match body {
            Ok(body) => body,
            Err(e) => {
                return encode_error(&RpcError::new(Code::Internal, format!("failed to encode the response: {e}")));
            }
        };
        let mut headers = response.headers;
        let body = if self.gzip && body.len() >= COMPRESS_MIN_BYTES {
            headers.insert(CONTENT_ENCODING, GZIP);
            compression::gzip(&body)
        } else {
            body
        };
        respond(StatusCode::OK, headers, content_type, body)
    }
}

fn respond(
    status: StatusCode,
    headers: HeaderMap,
    content_type: HeaderValue,
    body: Vec<u8>,
) -> http::Response<ResponseBody> {
    let mut response = http::Response::new(ResponseBody::from(Bytes::from(body)));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response
}

/// Encodes a failure as Connect does: the code's HTTP status and the Connect error JSON body.
///
/// The [`Code`] also travels in the response's extensions, so that layers outside the codec
/// (metrics, for one) read it without parsing the body.
pub fn encode_error(error: &RpcError) -> http::Response<ResponseBody> {
    reject(error.code.status_code(), error.code, &error.message)
}

/// A Connect error answer with an explicit HTTP status (404, 405 and 415 have no code of their own).
pub(super) fn reject(status: StatusCode, code: Code, message: &str) -> http::Response<ResponseBody> {
    let body = serde_json::json!({"code": code.as_str(), "message": message}).to_string();
    let mut response = respond(status, HeaderMap::new(), APPLICATION_JSON, body.into_bytes());
    response.extensions_mut().insert(code);
    response
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
