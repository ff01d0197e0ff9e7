//! Request bodies read under a limit or drained before a refusal, and the response body every
//! protocol answers with.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http::header::CONTENT_LENGTH;
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::rpc::{Code, RpcError};

/// A refused request's body is read and dropped up to this many bytes (Go's `net/http` server
/// reads up to the same 256 KiB before closing), so that a client still sending it reads the
/// refusal instead of a reset; past it, or after [`DRAIN_TIMEOUT`], the connection closes.
pub const DRAIN_LIMIT_BYTES: u64 = 256 * 1024;

/// The longest a refusal waits for the rest of a refused body.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// A unary response body: the message bytes (possibly none), then, for gRPC, the trailers.
///
/// hyper sends the trailers as an HTTP/2 trailing HEADERS frame; `Full<Bytes>` has none, which
/// is why the codec answers with this instead.
///
/// ```
/// use bytes::Bytes;
/// use http_body_util::BodyExt;
/// use interceptor_bench::connect::ResponseBody;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut trailers = http::HeaderMap::new();
/// trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
/// let collected = ResponseBody::with_trailers(Bytes::from_static(b"hi"), trailers).collect().await.unwrap();
/// assert_eq!(collected.trailers().unwrap()["grpc-status"], "0");
/// assert_eq!(collected.to_bytes(), "hi");
/// # });
/// ```
#[derive(Debug, Default)]
pub struct ResponseBody {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl ResponseBody {
    /// `data` followed by `trailers`.
    pub fn with_trailers(data: Bytes, trailers: HeaderMap) -> Self {
        ResponseBody { data: Some(data), trailers: Some(trailers) }
    }
}

impl From<Bytes> for ResponseBody {
    fn from(data: Bytes) -> Self {
        ResponseBody { data: Some(data), trailers: None }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if let Some(data) = this.data.take().filter(|data| !data.is_empty()) {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(this.trailers.take().map(|trailers| Ok(Frame::trailers(trailers))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.as_ref().is_none_or(Bytes::is_empty) && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |data| data.len() as u64))
    }
}

/// A request body every protocol's decoder reads: any HTTP body whose error is a real error.
pub(super) trait RequestBody: Body<Error: std::error::Error + Send + Sync + 'static> {}

impl<B: Body<Error: std::error::Error + Send + Sync + 'static>> RequestBody for B {}

/// Reads a whole request body of at most `limit` bytes: a larger declared `Content-Length` is
/// refused before reading anything, a larger body as soon as the limit is passed.
pub(super) async fn read_limited(headers: &HeaderMap, body: impl RequestBody, limit: usize) -> Result<Bytes, RpcError> {
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large(limit));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(too_large(limit)),
        Err(error) => Err(RpcError::new(Code::InvalidArgument, format!("failed to read the request body: {error}"))),
    }
}

/// The error of a body (or a decompressed message) over the limit.
pub(super) fn too_large(limit: usize) -> RpcError {
    RpcError::new(Code::ResourceExhausted, format!("request body exceeds the limit of {limit} bytes"))
}

/// Reads and drops what is left of a refused request's body, up to [`DRAIN_LIMIT_BYTES`] and
/// [`DRAIN_TIMEOUT`]; a body declared larger is not read at all.
pub(super) async fn drain<B: Body>(headers: &HeaderMap, body: B) {
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > DRAIN_LIMIT_BYTES) {
        return;
    }
    let read = async {
        let mut body = std::pin::pin!(body);
        let mut read = 0u64;
        while read <= DRAIN_LIMIT_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => read += frame.data_ref().map_or(0, |data| bytes::Buf::remaining(data) as u64),
                Some(Err(_)) | None => break,
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, read).await;
}
