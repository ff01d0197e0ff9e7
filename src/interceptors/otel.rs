//! PLACEHOLDER: the `otel` interceptor is not implemented yet; this layer passes calls through.

/// Placeholder layer: passes every call through unchanged.
pub type OtelLayer = tower::layer::util::Identity;
