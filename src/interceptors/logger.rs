//! PLACEHOLDER: the `logger` interceptor is not implemented yet; this layer passes calls through.

/// Placeholder layer: passes every call through unchanged.
pub type LoggerLayer = tower::layer::util::Identity;
