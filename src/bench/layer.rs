//! Bench your own layer beside the baseline, in-process and over loopback.

use criterion::Criterion;
use tower::{Layer, Service};

use super::{BASELINE, Depth, Harness};
use crate::greeter::Greeter;
use crate::paired::PairedBench;
use crate::rpc::{RpcError, RpcRequest, RpcResponse};
use crate::server::BackgroundServer;
use crate::stack::{BoxRpcService, Interceptors, Stack};

/// Benches your `layer` over the greeter beside the `baseline` stack: in-process in the
/// criterion group `<name>/in_process`, and over loopback HTTP in `<name>/loopback`, each
/// server on its own thread; then the two paired, interleaved in time, in-process and over
/// loopback ([`crate::paired`]). `ibench overhead` then prints what the layer adds, under the
/// suite `name`, and `ibench compare` judges it.
///
/// The layer wraps the crate's boxed RPC service, as every built-in interceptor does; build
/// it as [`Stack::builder`]`(..).layer(..)` would.
///
/// ```no_run
/// use criterion::Criterion;
/// use interceptor_bench::bench::bench_layer;
///
/// let mut c = Criterion::default();
/// bench_layer(&mut c, "concurrency_limit", tower::limit::ConcurrencyLimitLayer::new(64));
/// ```
///
/// # Panics
/// When `name` is empty or `baseline`, when a loopback server cannot start, or when the
/// stack with your layer fails the benchmark call.
pub fn bench_layer<L>(c: &mut Criterion, name: &str, layer: L)
where
    L: Layer<BoxRpcService> + Send + Sync + 'static,
    L::Service: Service<RpcRequest, Response = RpcResponse, Error = RpcError> + Clone + Send + Sync + 'static,
    <L::Service as Service<RpcRequest>>::Future: Send + 'static,
{
    assert!(!name.is_empty() && name != BASELINE, "name your layer something other than {name:?}");
    let stacks = [Stack::of(BASELINE, &[]), Stack::builder(name).layer(name, layer).build()];
    let interceptors = Interceptors::default();
    let harness = Harness::new();

    let mut group = c.benchmark_group(Depth::InProcess.group(name));
    for stack in &stacks {
        harness.rpc(&mut group, stack.name(), stack.service(&interceptors, Greeter::new()));
    }
    group.finish();

    let start = |stack: &Stack| {
        BackgroundServer::start(stack, &interceptors)
            .unwrap_or_else(|e| panic!("cannot start a loopback server for {:?}: {e}", stack.name()))
    };
    let mut group = c.benchmark_group(Depth::Loopback.group(name));
    for stack in &stacks {
        harness.loopback(&mut group, stack.name(), start(stack).addr());
    }
    group.finish();

    let mut paired = PairedBench::new(name);
    for _ in 0..paired.rounds() {
        let service = |stack: &Stack| stack.service(&interceptors, Greeter::new());
        paired.rpc(BASELINE, service(&stacks[0]), name, service(&stacks[1]));
        let (reference, candidate) = (start(&stacks[0]), start(&stacks[1]));
        paired.loopback(BASELINE, reference.addr(), name, candidate.addr());
    }
    if let Err(error) = paired.finish() {
        panic!("cannot write the paired results of {name:?}: {error}");
    }
}
