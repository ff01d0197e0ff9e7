//! PLACEHOLDER: the `serializer` interceptor is not implemented yet; this layer passes calls through.

/// Placeholder layer: passes every call through unchanged.
pub type SerializerLayer = tower::layer::util::Identity;
