//! Converts the messages to their wire bytes and back around the call, as the seed framework's
//! serializer interceptor does: the request message before the inner service sees it, the
//! response message after, each in the call's own wire codec ([`RpcRequest::codec`]): JSON
//! bytes for Connect JSON, protobuf binary for Connect proto and gRPC. The messages come out
//! equal (in protobuf, up to fields the schema does not know); the work is the cost users pay.
//!
//! A request message that does not survive the round trip is answered with `invalid_argument`
//! without calling the inner service; a response message that does not becomes `internal`.
//!
//! ```
//! use interceptor_bench::greeter::{Greeter, SAY_HELLO};
//! use interceptor_bench::interceptors::serializer::SerializerLayer;
//! use interceptor_bench::rpc::RpcRequest;
//! use tower::{Layer, ServiceExt};
//!
//! let service = SerializerLayer::new().layer(Greeter::new());
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let request = RpcRequest::new(SAY_HELLO, serde_json::json!({"name": "Ada"}));
//! let response = service.oneshot(request).await.unwrap();
//! assert_eq!(response.message["message"], "Hello, Ada!");
//! # });
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::interceptors::early::CalledOrRejected;
use crate::rpc::{Code, Message, MessageSchema, RpcError, RpcRequest, RpcResponse, WireCodec};

/// Round-trips request and response messages through their wire bytes; see the
/// [module docs](self). It has no settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct SerializerLayer;

impl SerializerLayer {
    /// The serializer layer.
    pub const fn new() -> Self {
        SerializerLayer
    }
}

impl<S> Layer<S> for SerializerLayer {
    type Service = Serializer<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Serializer::new(inner)
    }
}

/// The serializing service; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Serializer<S> {
    inner: S,
}

impl<S> Serializer<S> {
    /// Wraps `inner`.
    pub const fn new(inner: S) -> Self {
        Serializer { inner }
    }

    define_inner_service_accessors!();
}

/// Encodes `message` to JSON bytes, or to protobuf with `schema`, and decodes it back.
fn round_trip(message: &Message, schema: Option<&MessageSchema>) -> Result<Message, String> {
    match schema {
        None => serde_json::to_vec(message).and_then(|bytes| serde_json::from_slice(&bytes)).map_err(|e| e.to_string()),
        Some(schema) => {
            let bytes = schema.encode_proto(message).map_err(|e| e.to_string())?;
            schema.decode_proto(&bytes).map_err(|e| e.to_string())
        }
    }
}

impl<S> Service<RpcRequest> for Serializer<S>
where
    S: Service<RpcRequest, Response = RpcResponse, Error = RpcError>,
{
    type Response = RpcResponse;
    type Error = RpcError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: RpcRequest) -> Self::Future {
        let codec = request.codec;
        let schema = match codec {
            WireCodec::Json => None,
            WireCodec::Proto(method) => Some(&method.request),
        };
        match round_trip(&request.message, schema) {
            Ok(message) => {
                request.message = message;
                ResponseFuture { inner: CalledOrRejected::called(self.inner.call(request)), codec }
            }
            Err(error) => ResponseFuture {
                inner: CalledOrRejected::rejected(RpcError::new(
                    Code::InvalidArgument,
                    format!("request message: {error}"),
                )),
                codec,
            },
        }
    }
}

pin_project! {
    /// The response future of [`Serializer`].
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: CalledOrRejected<F>,
        codec: WireCodec,
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<RpcResponse, RpcError>>,
{
    type Output = Result<RpcResponse, RpcError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let schema = match *this.codec {
            WireCodec::Json => None,
            WireCodec::Proto(method) => Some(&method.response),
        };
        this.inner.poll(cx).map(|result| {
            let mut response = result?;
            response.message = round_trip(&response.message, schema)
                .map_err(|error| RpcError::new(Code::Internal, format!("response message: {error}")))?;
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use tower::{ServiceExt, service_fn};

    use super::*;
    use crate::greeter::{Greeter, SAY_HELLO};
    use crate::rpc::RpcResult;

    /// A message that encodes but does not decode: nested deeper than serde_json's decoder
    /// recursion limit (128).
    fn undecodable() -> Value {
        (0..200).fold(json!("deep"), |inner, _| json!([inner]))
    }

    #[tokio::test]
    async fn messages_survive_the_round_trip() {
        let message = json!({"name": "Ada", "n": 1.5, "tags": ["a", null, true], "nested": {"k": -3}});
        let echo = service_fn(|request: RpcRequest| async move { RpcResult::Ok(RpcResponse::new(request.message)) });
        let response = SerializerLayer::new().layer(echo).oneshot(RpcRequest::new(SAY_HELLO, message.clone())).await;
        assert_eq!(response.unwrap().message, message);

        let response = SerializerLayer::new().layer(Greeter::new()).oneshot(RpcRequest::new(SAY_HELLO, message)).await;
        assert_eq!(response.unwrap().message, json!({"message": "Hello, Ada!"}));
    }

    #[tokio::test]
    async fn a_request_that_cannot_be_decoded_is_an_invalid_argument() {
        let called = service_fn(|_: RpcRequest| async { panic!("the inner service must not be called") });
        let request = RpcRequest::new(SAY_HELLO, undecodable());
        let error = SerializerLayer::new().layer(called).oneshot(request).await.unwrap_err();
        assert_eq!(error.code, Code::InvalidArgument);
        assert!(error.message.starts_with("request message: recursion limit exceeded"), "{}", error.message);
    }

    #[tokio::test]
    async fn a_response_that_cannot_be_decoded_is_internal() {
        let deep = service_fn(|_: RpcRequest| async { RpcResult::Ok(RpcResponse::new(undecodable())) });
        let error =
            SerializerLayer::new().layer(deep).oneshot(RpcRequest::new(SAY_HELLO, json!({}))).await.unwrap_err();
        assert_eq!(error.code, Code::Internal);
        assert!(error.message.starts_with("response message: recursion limit exceeded"), "{}", error.message);
    }

    #[tokio::test]
    async fn proto_calls_round_trip_through_protobuf() {
        let echo = service_fn(|request: RpcRequest| async move {
            RpcResult::Ok(RpcResponse::new(json!({"message": request.message["name"], "dropped": 1})))
        });
        let mut request = RpcRequest::new(SAY_HELLO, json!({"name": "Ada", "unknown": true}));
        request.codec = WireCodec::Proto(&crate::greeter::METHODS[0]);
        let response = SerializerLayer::new().layer(echo).oneshot(request.clone()).await.unwrap();
        // Fields the schemas do not know do not survive protobuf, either way.
        assert_eq!(response.message, json!({"message": "Ada"}));

        request.message = json!({"name": 7});
        let error = SerializerLayer::new().layer(Greeter::new()).oneshot(request).await.unwrap_err();
        assert_eq!(error.code, Code::InvalidArgument);
        assert!(error.message.contains("expected string, got 7"), "{}", error.message);
    }

    #[tokio::test]
    async fn errors_from_the_inner_service_pass_unchanged() {
        let failing = service_fn(|_: RpcRequest| async { RpcResult::Err(RpcError::new(Code::NotFound, "gone")) });
        let error = SerializerLayer::new().layer(failing).oneshot(RpcRequest::new(SAY_HELLO, json!({}))).await;
        assert_eq!(error.unwrap_err(), RpcError::new(Code::NotFound, "gone"));
    }
}
