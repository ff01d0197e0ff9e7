//! The interceptors, one module each: a `Layer` holding configuration only, the `Service` it
//! wraps around an RPC service, and the service's response future.
//!
//! Every interceptor wraps a `tower::Service<RpcRequest, Response = RpcResponse, Error = RpcError>`
//! and is itself one, so they stack in any order; [`crate::stack`] names the orders that matter.

pub mod bulkhead;
pub mod circuit_breaker;
mod early;
pub mod error_handler;
pub mod fallback;
pub mod logger;
pub mod method_filter;
pub mod otel;
pub mod retry;
pub mod serializer;
#[cfg(test)]
mod testing;
pub mod timeout;
pub mod validation;

use std::time::Duration;

/// The longest wait an interceptor's configuration holds (about 30 years), so that
/// `Instant::now() + wait` never overflows.
const MAX_WAIT: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `wait`, capped at [`MAX_WAIT`].
pub(crate) const fn capped(wait: Duration) -> Duration {
    if wait.as_secs() > MAX_WAIT.as_secs() { MAX_WAIT } else { wait }
}
