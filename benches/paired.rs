//! Paired benches: every overhead measured side by side, the stack and its reference
//! interleaved in time (see `interceptor_bench::paired`), written to
//! `target/criterion/ibench-paired/<suite>.json` for `ibench overhead` and `ibench compare`.
//!
//! - suite `""` (the catalog): `baseline` against `floor`, every catalog stack against
//!   `baseline`, each `chain/N` against `chain/N-1`, in-process; over loopback `baseline`
//!   against `bare_hyper` and the seed stacks against `baseline`.
//! - suite `comparators`: the well-known layers of `support/comparators.rs`, each as one HTTP
//!   request through the Connect codec, against the baseline through the same codec.
//!
//! - suites `ecosystem` and `ecosystem_4k`: each ecosystem layer against the baseline, both as
//!   HTTP services answering the suite's request (`interceptor_bench::ecosystem::suites`),
//!   in-process and over loopback (each on its own server, `Suite::server`).
//!
//! `cargo bench --bench paired` takes about two minutes; `-- logger` runs only the pairs whose
//! candidate id matches, `-- --paired-time 3s` samples each pair longer.

use std::fmt::Debug;

use bytes::Bytes;
use http_body::Body;
use http_body_util::Full;
use interceptor_bench::bench::BASELINE;
use interceptor_bench::ecosystem::suites;
use interceptor_bench::paired::PairedBench;
use interceptor_bench::stack::{Interceptors, Stack, find};
use tower::Service;

#[path = "support/comparators.rs"]
mod comparators;

/// Each comparator paired with the baseline over the codec.
impl comparators::Visit for PairedBench {
    fn http<S, B>(&mut self, name: &str, service: S)
    where
        S: Service<http::Request<Full<Bytes>>, Response = http::Response<B>>,
        S::Error: Debug,
        B: Body,
        B::Error: Debug,
    {
        PairedBench::http(self, BASELINE, comparators::baseline(), name, service);
    }
}

fn main() {
    let interceptors = Interceptors::default();
    let baseline = find(BASELINE).expect("a catalog stack");
    let ecosystem = suites();
    let (mut catalog, mut comparators) = (PairedBench::new(""), PairedBench::new("comparators"));
    let mut ecosystem_benches: Vec<PairedBench> = ecosystem.iter().map(|suite| PairedBench::new(suite.name)).collect();
    let rounds = catalog.rounds();
    for round in 1..=rounds {
        if rounds > 1 {
            eprintln!("paired: round {round} of {rounds}");
        }
        catalog.catalog();
        comparators::visit(&mut comparators);
        // The ecosystem suites: each layer against the baseline, both as HTTP services, then
        // over loopback, each on its own server.
        for (suite, paired) in ecosystem.iter().zip(&mut ecosystem_benches) {
            let start = |stack: &Stack| {
                suite
                    .server(stack, &interceptors)
                    .unwrap_or_else(|e| panic!("cannot start a loopback server for {:?}: {e}", stack.name()))
            };
            let reference_server = start(&baseline);
            for stack in &suite.stacks {
                let _runtime = paired.runtime().enter();
                let reference = suite.service(&baseline, &interceptors);
                let candidate = suite.service(stack, &interceptors);
                paired.http(BASELINE, reference, stack.name(), candidate);
                let server = start(stack);
                paired.loopback(BASELINE, reference_server.addr(), stack.name(), server.addr());
            }
        }
    }
    for paired in [catalog, comparators].into_iter().chain(ecosystem_benches) {
        paired.finish().expect("paired results written");
    }
}
