//! PLACEHOLDER: the `timeout` interceptor is not implemented yet; this layer passes calls through.

/// Placeholder layer: passes every call through unchanged.
pub type TimeoutLayer = tower::layer::util::Identity;
