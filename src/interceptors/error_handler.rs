//! PLACEHOLDER: the `error_handler` interceptor is not implemented yet; this layer passes calls through.

/// Placeholder layer: passes every call through unchanged.
pub type ErrorHandlerLayer = tower::layer::util::Identity;
