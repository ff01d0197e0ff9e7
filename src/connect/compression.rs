//! gzip for Connect unary (`Content-Encoding` / `Accept-Encoding`) and gRPC (`grpc-encoding` /
//! `grpc-accept-encoding` and the per-message compressed flag), with flate2.
//!
//! The body limit applies to the decompressed size: the decoder is read through a bound one
//! byte past the limit, so a gzip bomb is refused with `resource_exhausted` after at most
//! `limit + 1` inflated bytes, never inflated whole. Responses are compressed only when the
//! client accepts gzip and the message is at least [`COMPRESS_MIN_BYTES`] long: a greeting of a
//! few dozen bytes grows under gzip and costs more to compress than to send.

use std::io::{Read, Write};

use bytes::Bytes;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use http::HeaderValue;

use super::body::too_large;
use crate::rpc::{Code, RpcError};

/// Responses shorter than this are sent uncompressed even to clients that accept gzip.
pub const COMPRESS_MIN_BYTES: usize = 1024;

/// The encodings this server reads and writes, as named in the headers.
pub const SUPPORTED: HeaderValue = HeaderValue::from_static("gzip");

/// A body or message encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    Identity,
    Gzip,
}

impl Encoding {
    /// The encoding a `Content-Encoding` or `grpc-encoding` header names (absent: identity).
    ///
    /// # Errors
    /// `unimplemented` naming the unsupported encoding, as Connect and gRPC ask.
    pub(super) fn of(header: Option<&HeaderValue>) -> Result<Encoding, RpcError> {
        let Some(value) = header else { return Ok(Encoding::Identity) };
        let name = value.to_str().unwrap_or("").trim();
        if name.eq_ignore_ascii_case("gzip") {
            Ok(Encoding::Gzip)
        } else if name.eq_ignore_ascii_case("identity") {
            Ok(Encoding::Identity)
        } else {
            Err(RpcError::new(
                Code::Unimplemented,
                format!("unsupported compression {value:?}: this server accepts gzip and identity"),
            ))
        }
    }
}

/// Whether an `Accept-Encoding` or `grpc-accept-encoding` header lists gzip (without `q=0`).
pub(super) fn accepts_gzip(header: Option<&HeaderValue>) -> bool {
    let Some(value) = header.and_then(|v| v.to_str().ok()) else { return false };
    value.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        parts.next().is_some_and(|name| name.eq_ignore_ascii_case("gzip"))
            && parts.all(|param| param.replace(' ', "") != "q=0")
    })
}

/// Inflates `bytes`, refusing with `resource_exhausted` once the output passes `limit` bytes,
/// and with `invalid_argument` when they are not gzip.
pub(super) fn gunzip(bytes: &[u8], limit: usize) -> Result<Bytes, RpcError> {
    let mut inflated = Vec::new();
    let bound = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    GzDecoder::new(bytes)
        .take(bound)
        .read_to_end(&mut inflated)
        .map_err(|e| RpcError::new(Code::InvalidArgument, format!("malformed gzip request: {e}")))?;
    if inflated.len() > limit {
        return Err(too_large(limit));
    }
    Ok(Bytes::from(inflated))
}

/// Compresses `bytes` with gzip at the default level.
pub(super) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 2 + 32), Compression::default());
    encoder.write_all(bytes).expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gzip_bomb_is_refused_after_the_limit() {
        let bomb = gzip(&vec![0u8; 10 * 1024 * 1024]);
        assert!(bomb.len() < 20 * 1024, "{} bytes", bomb.len());
        assert_eq!(gunzip(&bomb, 4096).unwrap_err().code, Code::ResourceExhausted);
        assert_eq!(gunzip(&gzip(b"hello"), 5).unwrap(), "hello");
        assert_eq!(gunzip(b"not gzip", 4096).unwrap_err().code, Code::InvalidArgument);
    }

    #[test]
    fn accept_encoding_lists() {
        let accepts = |v: &'static str| accepts_gzip(Some(&HeaderValue::from_static(v)));
        assert!(accepts("gzip") && accepts("br, GZIP;q=0.5") && accepts("identity,gzip"));
        assert!(!accepts("br") && !accepts("gzip;q=0") && !accepts("x-gzip"));
        assert!(!accepts_gzip(None));
        assert_eq!(Encoding::of(Some(&HeaderValue::from_static("snappy"))).unwrap_err().code, Code::Unimplemented);
    }
}
