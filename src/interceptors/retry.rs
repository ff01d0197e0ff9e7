//! PLACEHOLDER: the `retry` interceptor is not implemented yet; this layer passes calls through.

/// Placeholder layer: passes every call through unchanged.
pub type RetryLayer = tower::layer::util::Identity;
