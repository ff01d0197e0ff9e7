//! PLACEHOLDER: the `validation` interceptor is not implemented yet; this layer passes calls through.

/// Placeholder layer: passes every call through unchanged.
pub type ValidationLayer = tower::layer::util::Identity;
