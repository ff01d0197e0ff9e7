//! PLACEHOLDER: the `fallback` interceptor is not implemented yet; this layer passes calls through.

/// Placeholder layer: passes every call through unchanged.
pub type FallbackLayer = tower::layer::util::Identity;
