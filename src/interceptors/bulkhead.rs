//! PLACEHOLDER: the `bulkhead` interceptor is not implemented yet; this layer passes calls through.

/// Placeholder layer: passes every call through unchanged.
pub type BulkheadLayer = tower::layer::util::Identity;
