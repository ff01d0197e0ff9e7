//! PLACEHOLDER: the `method_filter` interceptor is not implemented yet.
