//! Benchmarking: the names every bench writes its results under, and (with the `criterion`
//! feature) the harness the crate's own benches use, so you can bench your own `tower::Layer`
//! the same way in a few lines.
//!
//! # Bench your own layer
//!
//! Add the crate with its `criterion` feature and `criterion` itself to your dev-dependencies,
//! declare a bench with `harness = false`, and hand your layer to [`bench_layer`]:
//!
//! ```toml
//! [dev-dependencies]
//! criterion = "0.8"
//! interceptor-bench = { version = "0.1", features = ["criterion"] }
//!
//! [[bench]]
//! name = "my_layer"
//! harness = false
//! ```
//!
//! ```no_run
//! # #[cfg(feature = "criterion")] {
//! use criterion::{Criterion, criterion_group, criterion_main};
//!
//! fn my_layer(c: &mut Criterion) {
//!     // Any `tower::Layer` over the crate's RPC services; `Identity` stands in for yours.
//!     interceptor_bench::bench::bench_layer(c, "my_layer", tower::layer::util::Identity::new());
//! }
//!
//! criterion_group!(benches, my_layer);
//! criterion_main!(benches);
//! # }
//! ```
//!
//! `cargo bench --bench my_layer` then measures your layer and the `baseline` stack side by
//! side, in-process and over loopback HTTP, and `ibench overhead` prints what your layer adds.
//! A layer over `http::Request`s (tower-http's, tower's, axum or tonic middleware) goes to
//! [`bench_http_layer`] instead; your whole service (an axum `Router`) with your own request
//! to [`bench_service`], or layer by layer to [`bench_service_layers`]. `docs/your-own-stack.md` walks through it from your own crate.
//!
//! # Names
//!
//! A *suite* is a set of stacks benchmarked beside a `baseline`; its in-process results go to the
//! criterion group [`Depth::InProcess`]`.group(suite)` and its loopback results to
//! [`Depth::Loopback`]`.group(suite)`. Each bench is `BenchmarkId::new(stack, variant)`:
//!
//! | group | stacks | variants |
//! |---|---|---|
//! | `in_process` | [`FLOOR`], every catalog stack, `chain/1` … `chain/9` | [`UNARY`] |
//! | `loopback` | the seed stacks and [`BARE_HYPER`] | [`HTTP1_SEQ`], [`HTTP1_C16`] |
//! | `comparators/in_process` | [`BASELINE`] and well-known HTTP layers, all over the codec | [`UNARY`] |
//! | `ecosystem/in_process` | [`BASELINE`] and every [`ecosystem`](crate::stack::ecosystem) stack, as HTTP services | [`UNARY`] |
//! | `ecosystem_4k/in_process` | [`BASELINE`] and `tower_http_compression`, with a 4 KiB answer | [`UNARY`] |
//! | `ecosystem/loopback`, `ecosystem_4k/loopback` | the same stacks, each on its own server | [`HTTP1_SEQ`], [`HTTP1_C16`] |
//! | `<your suite>/in_process` | [`bench_service_layers`]: [`BASELINE`], [`ALL`], each layer alone, `without_<layer>` | [`UNARY`] |
//! | `<your layer>/in_process`, `<your layer>/loopback` | [`BASELINE`] and your layer | as above |
//!
//! ```
//! use interceptor_bench::bench::Depth;
//!
//! assert_eq!(Depth::InProcess.group(""), "in_process");
//! assert_eq!(Depth::Loopback.group("my_layer"), "my_layer/loopback");
//! assert_eq!(Depth::parse_group("my_layer/loopback"), Some(("my_layer", Depth::Loopback)));
//! ```

mod calls;
#[cfg(feature = "criterion")]
mod harness;
#[cfg(feature = "criterion")]
mod layer;

pub use calls::{
    BenchedHttpService, BoxError, RoundTrips, ServiceCalls, TimedCalls, bare_hyper, floor, http_request, rpc_request,
};
#[cfg(feature = "criterion")]
pub use harness::Harness;
#[cfg(feature = "criterion")]
pub use layer::{ALL, bench_http_layer, bench_layer, bench_service, bench_service_layers, stack_http_service};

use serde::{Deserialize, Serialize};

/// The stack every overhead is measured against: no interceptors, just the handler.
pub const BASELINE: &str = "baseline";
/// The harness's own cost: an empty service that answers at once.
pub const FLOOR: &str = "floor";
/// The loopback anchor: a hyper service that drains the request and answers the greeter's JSON,
/// with no codec and no interceptors.
pub const BARE_HYPER: &str = "bare_hyper";
/// The in-process variant: one unary call, readiness + call + awaiting the answer.
pub const UNARY: &str = "unary";
/// The loopback latency variant: sequential round trips on one HTTP/1.1 keep-alive connection.
pub const HTTP1_SEQ: &str = "http1_seq";
/// The loopback throughput variant: 16 calls in flight on 16 HTTP/1.1 keep-alive connections;
/// one iteration is 16 calls.
pub const HTTP1_C16: &str = "http1_c16";
/// How many calls [`HTTP1_C16`] keeps in flight.
pub const CONCURRENCY: usize = 16;

/// How deep a bench reaches: straight into the tower service, or through a real HTTP round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Depth {
    /// The stacked tower service called directly (criterion group `in_process`).
    InProcess,
    /// A hyper client and server on 127.0.0.1 (criterion group `loopback`).
    Loopback,
}

impl Depth {
    /// The name of the depth, which is also the catalog's criterion group.
    ///
    /// ```
    /// use interceptor_bench::bench::Depth;
    /// assert_eq!(Depth::Loopback.name(), "loopback");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Depth::InProcess => "in_process",
            Depth::Loopback => "loopback",
        }
    }

    /// The variant the overhead table reads at this depth: [`UNARY`] in-process, and the
    /// sequential [`HTTP1_SEQ`] latency over loopback.
    ///
    /// ```
    /// use interceptor_bench::bench::{Depth, HTTP1_SEQ};
    /// assert_eq!(Depth::Loopback.overhead_variant(), HTTP1_SEQ);
    /// ```
    pub const fn overhead_variant(self) -> &'static str {
        match self {
            Depth::InProcess => UNARY,
            Depth::Loopback => HTTP1_SEQ,
        }
    }

    /// The criterion group of `suite` at this depth: the depth's name for the catalog's suite
    /// (`""`), `<suite>/<depth>` for any other.
    pub fn group(self, suite: &str) -> String {
        if suite.is_empty() { self.name().to_owned() } else { format!("{suite}/{}", self.name()) }
    }

    /// The suite and depth of a criterion group named by [`Depth::group`], or `None` for any
    /// other group.
    pub fn parse_group(group: &str) -> Option<(&str, Depth)> {
        [Depth::InProcess, Depth::Loopback].into_iter().find_map(|depth| {
            if group == depth.name() {
                return Some(("", depth));
            }
            let suite = group.strip_suffix(depth.name())?.strip_suffix('/')?;
            (!suite.is_empty()).then_some((suite, depth))
        })
    }
}

/// The runtime every bench drives its calls on: one current-thread tokio runtime, timers and
/// IO enabled.
///
/// # Panics
/// When the operating system refuses the runtime's timer or IO driver.
pub(crate) fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the operating system refused a tokio runtime")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_round_trip() {
        for depth in [Depth::InProcess, Depth::Loopback] {
            for suite in ["", "comparators", "my/layer"] {
                assert_eq!(Depth::parse_group(&depth.group(suite)), Some((suite, depth)));
            }
        }
    }

    #[test]
    fn other_groups_are_no_suites() {
        for group in ["", "/in_process", "in_process_x", "xin_process", "loopbacks", "instructions"] {
            assert_eq!(Depth::parse_group(group), None, "{group}");
        }
    }
}
