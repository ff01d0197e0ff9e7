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

#[cfg(test)]
mod tests {
    use std::fmt::Debug;
    use std::future::Ready;

    use crate::greeter::Greeter;
    use crate::rpc::RpcResult;

    /// Compiles only if `T` is `Debug`.
    fn debug<T: Debug>() {}

    /// Every response future is `Debug` when what it wraps is, as tower's are.
    #[test]
    fn every_response_future_is_debug() {
        type Answer = Ready<RpcResult>;
        debug::<super::error_handler::ResponseFuture<Answer>>();
        debug::<super::timeout::ResponseFuture<Answer>>();
        debug::<super::bulkhead::ResponseFuture<Greeter, Answer>>();
        debug::<super::circuit_breaker::ResponseFuture<Answer>>();
        debug::<super::fallback::ResponseFuture<Answer>>();
        debug::<super::validation::ResponseFuture<Answer>>();
        debug::<super::serializer::ResponseFuture<Answer>>();
        debug::<super::logger::ResponseFuture<Answer>>();
        debug::<super::otel::ResponseFuture<Answer>>();
        debug::<super::method_filter::ResponseFuture<Greeter, Answer>>();
        debug::<crate::fault::future::ResponseFuture<Answer>>();
        debug::<crate::server::metrics::ResponseFuture<Answer>>();
    }

    /// The accessors `define_inner_service_accessors!` writes reach the wrapped service.
    #[test]
    fn accessors_reach_the_wrapped_service() {
        let mut service = super::serializer::Serializer::new(super::error_handler::ErrorHandler::new(Greeter));
        let _: &super::error_handler::ErrorHandler<Greeter> = service.get_ref();
        let _: &mut Greeter = service.get_mut().get_mut();
        let _: Greeter = service.into_inner().into_inner();
    }
}
