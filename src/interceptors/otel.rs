//! One OpenTelemetry server span per RPC, through `opentelemetry_sdk`.
//!
//! Each call gets a span named after the procedure (`greeter.v1.GreeterService/SayHello`), of
//! kind server, with the RPC semantic-convention attributes `rpc.system = "connect_rpc"`,
//! `rpc.service` and `rpc.method`; a failed call adds `rpc.connect_rpc.error_code` (the Connect
//! code) and an error status with the error message. A W3C `traceparent` request header makes
//! the span a child of the caller's span. The span is the current OpenTelemetry context while
//! the inner service runs, so spans it starts nest under it; it ends when the call ends, or
//! when its response future is dropped.
//!
//! Where spans go is the tracer provider's business:
//! - [`OtelLayer::new`] (the default): the SDK with an exporter that discards every span,
//!   so the cost measured is the SDK's (ids, sampling, attributes, span processor), not I/O;
//! - [`OtelLayer::stdout`]: each span printed to stdout as it ends (for a look, not for benches);
//! - `OtelLayer::otlp` (crate feature `otlp`): OTLP over HTTP to a collector, batched;
//! - [`OtelLayer::with_provider`]: any provider you built.
//!
//! The SDK's resource is read from the environment (`OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`).
//!
//! ```
//! use interceptor_bench::greeter::{Greeter, SAY_HELLO};
//! use interceptor_bench::interceptors::otel::OtelLayer;
//! use interceptor_bench::rpc::RpcRequest;
//! use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
//! use tower::{Layer, ServiceExt};
//!
//! let exporter = InMemorySpanExporter::default();
//! let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
//! let layer = OtelLayer::with_provider(provider); // keeps the provider (and its spans) alive
//! let service = layer.layer(Greeter::new());
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let mut request = RpcRequest::new(SAY_HELLO, serde_json::json!({"name": "Ada"}));
//! let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
//! request.headers.insert("traceparent", traceparent.parse().unwrap());
//! service.oneshot(request).await.unwrap();
//! # });
//! let spans = exporter.get_finished_spans().unwrap();
//! assert_eq!(spans[0].name, "greeter.v1.GreeterService/SayHello");
//! assert_eq!(spans[0].span_context.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::HeaderMap;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanBuilder, SpanKind, Status, TraceContextExt, TracerProvider};
use opentelemetry::{Context as OtelContext, InstrumentationScope, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::rpc::{RpcError, RpcRequest, RpcResponse};

/// One server span per call; see the [module docs](self).
///
/// Cheap to clone: clones share the tracer provider. Spans still buffered by a batching
/// provider are exported when the last clone of the provider is dropped, or on
/// `layer.provider().force_flush()`.
#[derive(Debug, Clone)]
pub struct OtelLayer {
    provider: SdkTracerProvider,
    tracer: Arc<SdkTracer>,
}

impl OtelLayer {
    /// The SDK with an exporter that discards every span: a realistic cost with no I/O.
    ///
    /// It uses the SDK's simple span processor, which hands each ended span to the exporter on
    /// the calling thread: measured against the batch processor, it is the cheaper of the two
    /// here, and it starts no background thread for every layer built.
    ///
    /// ```
    /// use interceptor_bench::interceptors::otel::OtelLayer;
    /// let layer = OtelLayer::new();
    /// assert!(layer.provider().force_flush().is_ok());
    /// ```
    pub fn new() -> Self {
        OtelLayer::with_provider(SdkTracerProvider::builder().with_simple_exporter(DiscardingExporter).build())
    }

    /// Prints each span to stdout as it ends (`opentelemetry-stdout`).
    ///
    /// ```no_run
    /// use interceptor_bench::interceptors::otel::OtelLayer;
    /// let layer = OtelLayer::stdout();
    /// ```
    pub fn stdout() -> Self {
        let exporter = opentelemetry_stdout::SpanExporter::default();
        OtelLayer::with_provider(SdkTracerProvider::builder().with_simple_exporter(exporter).build())
    }

    /// Exports spans with OTLP over HTTP (protobuf) to the collector at `endpoint`, e.g.
    /// `http://127.0.0.1:4318/v1/traces`, in batches from a background thread.
    ///
    /// ```no_run
    /// use interceptor_bench::interceptors::otel::OtelLayer;
    /// let layer = OtelLayer::otlp("http://127.0.0.1:4318/v1/traces").unwrap();
    /// ```
    #[cfg(feature = "otlp")]
    pub fn otlp(endpoint: &str) -> Result<Self, opentelemetry_otlp::ExporterBuildError> {
        use opentelemetry_otlp::WithExportConfig;
        let exporter = opentelemetry_otlp::SpanExporter::builder().with_http().with_endpoint(endpoint).build()?;
        Ok(OtelLayer::with_provider(SdkTracerProvider::builder().with_batch_exporter(exporter).build()))
    }

    /// Records spans through `provider`, with the instrumentation scope `interceptor_bench`.
    pub fn with_provider(provider: SdkTracerProvider) -> Self {
        let scope =
            InstrumentationScope::builder(env!("CARGO_CRATE_NAME")).with_version(env!("CARGO_PKG_VERSION")).build();
        let tracer = Arc::new(provider.tracer_with_scope(scope));
        OtelLayer { provider, tracer }
    }

    /// The tracer provider, to flush or shut down.
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }
}

impl Default for OtelLayer {
    /// [`OtelLayer::new`]: spans are recorded and discarded.
    fn default() -> Self {
        OtelLayer::new()
    }
}

/// The exporter behind [`OtelLayer::new`]: accepts every span and keeps none.
#[derive(Debug)]
struct DiscardingExporter;

impl SpanExporter for DiscardingExporter {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        Ok(())
    }
}

impl<S> Layer<S> for OtelLayer {
    type Service = Otel<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Otel { tracer: self.tracer.clone(), inner }
    }
}

/// The tracing service; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Otel<S> {
    tracer: Arc<SdkTracer>,
    inner: S,
}

impl<S> Otel<S> {
    define_inner_service_accessors!();
}

/// Reads W3C trace context headers from a request's [`HeaderMap`].
struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

impl<S> Service<RpcRequest> for Otel<S>
where
    S: Service<RpcRequest, Response = RpcResponse, Error = RpcError>,
{
    type Response = RpcResponse;
    type Error = RpcError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: RpcRequest) -> Self::Future {
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(&request.headers));
        let procedure = &request.procedure;
        let span = SpanBuilder::from_name(procedure.as_str().to_owned())
            .with_kind(SpanKind::Server)
            .with_attributes([
                KeyValue::new("rpc.system", "connect_rpc"),
                KeyValue::new("rpc.service", procedure.service().to_owned()),
                KeyValue::new("rpc.method", procedure.method().to_owned()),
            ])
            .start_with_context(&*self.tracer, &parent);
        let context = parent.with_span(span);
        let future = {
            let _current = context.clone().attach();
            self.inner.call(request)
        };
        ResponseFuture { future, context }
    }
}

pin_project! {
    /// The response future of [`Otel`]: the inner call runs with the span as the current
    /// context, and the span ends with the call.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        future: F,
        context: OtelContext,
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<RpcResponse, RpcError>>,
{
    type Output = Result<RpcResponse, RpcError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _current = this.context.clone().attach();
            std::task::ready!(this.future.poll(cx))
        };
        let span = this.context.span();
        if let Err(error) = &result {
            span.set_attribute(KeyValue::new("rpc.connect_rpc.error_code", error.code.as_str()));
            span.set_status(Status::error(error.message.clone()));
        }
        span.end();
        Poll::Ready(result)
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanId, TraceId};
    use opentelemetry::{StringValue, Value};
    use opentelemetry_sdk::trace::InMemorySpanExporter;
    use serde_json::json;
    use tower::{ServiceExt, service_fn};

    use super::*;
    use crate::greeter::{Greeter, SAY_GOODBYE, SAY_HELLO};
    use crate::rpc::{Code, RpcResult};

    const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const PARENT_SPAN_ID: &str = "00f067aa0ba902b7";

    fn recording() -> (OtelLayer, InMemorySpanExporter) {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
        (OtelLayer::with_provider(provider), exporter)
    }

    fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
        span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| &kv.value)
    }

    fn string(value: &str) -> Value {
        Value::String(StringValue::from(value.to_owned()))
    }

    #[tokio::test]
    async fn one_server_span_per_call_with_the_rpc_attributes() {
        let (layer, exporter) = recording();
        let service = layer.layer(Greeter::new());
        for (calls, procedure) in [(1, SAY_HELLO), (2, SAY_GOODBYE)] {
            service.clone().oneshot(RpcRequest::new(procedure, json!({"name": "Ada"}))).await.unwrap();
            let spans = exporter.get_finished_spans().unwrap();
            assert_eq!(spans.len(), calls);
            let span = spans.last().unwrap();
            assert_eq!(span.name, procedure);
            assert_eq!(span.span_kind, SpanKind::Server);
            assert_eq!(span.status, Status::Unset);
            assert_eq!(attribute(span, "rpc.system"), Some(&string("connect_rpc")));
            assert_eq!(attribute(span, "rpc.service"), Some(&string("greeter.v1.GreeterService")));
            assert_eq!(attribute(span, "rpc.method"), Some(&string(procedure.rsplit('/').next().unwrap())));
            assert_eq!(attribute(span, "rpc.connect_rpc.error_code"), None);
            assert_eq!(span.parent_span_id, SpanId::INVALID, "no traceparent: a root span");
        }
    }

    #[tokio::test]
    async fn a_failed_call_records_its_connect_code_and_an_error_status() {
        let (layer, exporter) = recording();
        let failing = service_fn(|_: RpcRequest| async { RpcResult::Err(RpcError::new(Code::Unavailable, "down")) });
        let error = layer.layer(failing).oneshot(RpcRequest::new(SAY_HELLO, json!({}))).await.unwrap_err();
        assert_eq!(error.code, Code::Unavailable);
        let spans = exporter.get_finished_spans().unwrap();
        assert_eq!(spans.len(), 1);
        assert_eq!(attribute(&spans[0], "rpc.connect_rpc.error_code"), Some(&string("unavailable")));
        assert_eq!(spans[0].status, Status::error("down"));
    }

    #[tokio::test]
    async fn a_traceparent_header_makes_the_span_a_child_of_the_caller() {
        let (layer, exporter) = recording();
        let mut request = RpcRequest::new(SAY_HELLO, json!({"name": "Ada"}));
        let traceparent = format!("00-{TRACE_ID}-{PARENT_SPAN_ID}-01");
        request.headers.insert("traceparent", traceparent.parse().unwrap());
        layer.layer(Greeter::new()).oneshot(request).await.unwrap();
        let spans = exporter.get_finished_spans().unwrap();
        assert_eq!(spans[0].span_context.trace_id(), TraceId::from_hex(TRACE_ID).unwrap());
        assert_eq!(spans[0].parent_span_id, SpanId::from_hex(PARENT_SPAN_ID).unwrap());
        assert!(spans[0].parent_span_is_remote);
    }

    #[tokio::test]
    async fn the_inner_service_runs_inside_the_span() {
        let (layer, exporter) = recording();
        let inner = service_fn(|request: RpcRequest| {
            let at_call = OtelContext::current().span().span_context().span_id();
            async move {
                let at_poll = OtelContext::current().span().span_context().span_id();
                assert_eq!(at_call, at_poll);
                let response = Greeter::new().oneshot(request).await?;
                RpcResult::Ok(RpcResponse { headers: response.headers, message: json!({"span": at_poll.to_string()}) })
            }
        });
        let response = layer.layer(inner).oneshot(RpcRequest::new(SAY_HELLO, json!({}))).await.unwrap();
        let spans = exporter.get_finished_spans().unwrap();
        assert_eq!(response.message["span"], spans[0].span_context.span_id().to_string());
    }

    #[tokio::test]
    async fn a_dropped_call_still_ends_its_span() {
        let (layer, exporter) = recording();
        let never = service_fn(|_: RpcRequest| std::future::pending::<RpcResult>());
        let mut service = layer.layer(never);
        let mut call = Box::pin(service.ready().await.unwrap().call(RpcRequest::new(SAY_HELLO, json!({}))));
        assert!(futures_util::FutureExt::now_or_never(&mut call).is_none());
        assert!(exporter.get_finished_spans().unwrap().is_empty());
        drop(call);
        assert_eq!(exporter.get_finished_spans().unwrap().len(), 1);
    }

    /// Port 9 (discard) on loopback: nothing listens, so every export fails; the call must not.
    #[cfg(feature = "otlp")]
    #[tokio::test]
    async fn otlp_export_failures_do_not_fail_the_call() {
        let layer = OtelLayer::otlp("http://127.0.0.1:9/v1/traces").unwrap();
        let response = layer.layer(Greeter::new()).oneshot(RpcRequest::new(SAY_HELLO, json!({"name": "Ada"}))).await;
        assert!(response.is_ok());
        assert!(layer.provider().force_flush().is_err(), "the export to a closed port fails");
    }
}
