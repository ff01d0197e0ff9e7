//! PLACEHOLDER: the `circuit_breaker` interceptor is not implemented yet; this layer passes calls through.

/// Placeholder layer: passes every call through unchanged.
pub type CircuitBreakerLayer = tower::layer::util::Identity;
