//! # interceptor-bench
//!
//! What does each interceptor in a tower RPC stack cost, and did this change make it worse?
//!
//! The crate answers at three depths from one catalog of stacks ([`stack`]):
//! in-process (criterion calls the tower service directly), over loopback HTTP (a real hyper
//! server and client), and under load (the seed's k6 scenarios).
//!
//! ```text
//! HTTP request ─► connect codec ─► interceptor stack (tower Layers) ─► handler (greeter)
//! HTTP response ◄─ encode message or Connect error JSON + HTTP status ◄──────┘
//! ```
//!
//! - [`rpc`]: the model every interceptor sees — procedure, headers, deadline, message, and
//!   Connect error codes with their HTTP statuses.
//! - [`connect`]: the Connect unary JSON codec, the only place that knows about HTTP bodies.
//! - [`greeter`]: the benchmark handler.
//! - [`interceptors`]: one module per interceptor (Layer + Service + ResponseFuture).
//! - [`stack`]: the named stacks and a builder for your own, including your own `tower::Layer`.
//! - [`bench`](mod@bench): the names the criterion benches write under and, with the `criterion` feature,
//!   the harness that benches any stack or your own layer in-process and over loopback.
//! - [`paired`]: what a stack costs over its reference, the two measured interleaved in time
//!   (the figures `ibench overhead` and `ibench compare` judge), and build against build
//!   (`ibench ab`).
//! - [`results`]: reads criterion's results (`target/criterion`); [`overhead`]: what each
//!   interceptor costs, from them (`ibench overhead`).
#![warn(missing_docs)]

/// `get_ref`, `get_mut` and `into_inner` for a middleware service that wraps `inner: S`, as
/// tower's middleware have them; written once here, as tower-http's
/// `define_inner_service_accessors!` does, and used inside each service's `impl<S>` block.
macro_rules! define_inner_service_accessors {
    () => {
        /// The wrapped service.
        pub fn get_ref(&self) -> &S {
            &self.inner
        }

        /// The wrapped service, mutably.
        pub fn get_mut(&mut self) -> &mut S {
            &mut self.inner
        }

        /// Unwraps the service, dropping this middleware.
        pub fn into_inner(self) -> S {
            self.inner
        }
    };
}

pub mod allocations;
pub mod atomic_file;
pub mod attribution;
pub mod baseline;
pub mod bench;
pub mod connect;
pub mod ecosystem;
pub mod fault;
pub mod greeter;
pub mod instructions;
pub mod interceptors;
pub mod load;
pub mod overhead;
pub mod paired;
pub mod report;
pub mod results;
pub mod rpc;
pub mod server;
pub mod stack;
