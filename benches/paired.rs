//! Paired benches: every overhead measured side by side, the stack and its reference
//! interleaved in time (see `interceptor_bench::paired`), written to
//! `target/ibench/paired/<suite>.json` for `ibench overhead` and `ibench compare`.
//!
//! - suite `""` (the catalog): `baseline` against `floor`, every catalog stack against
//!   `baseline`, each `chain/N` against `chain/N-1`, in-process; over loopback `baseline`
//!   against `bare_hyper` and the seed stacks against `baseline`.
//! - suite `comparators`: the well-known layers of `support/comparators.rs`, each as one HTTP
//!   request through the Connect codec, against the baseline through the same codec.
//!
//! - suites `ecosystem` and `ecosystem_4k`: each ecosystem layer against the baseline, both as
//!   HTTP services answering the suite's request (`interceptor_bench::ecosystem::suites`).
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
use interceptor_bench::stack::{Interceptors, find};
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
    let mut catalog = PairedBench::new("");
    catalog.catalog();
    catalog.finish().expect("paired results written");

    let mut comparators = PairedBench::new("comparators");
    comparators::visit(&mut comparators);
    comparators.finish().expect("paired results written");

    // The ecosystem suites: each layer against the baseline, both as HTTP services.
    let interceptors = Interceptors::default();
    let baseline = find(BASELINE).expect("a catalog stack");
    for suite in suites() {
        let mut paired = PairedBench::new(suite.name);
        for stack in &suite.stacks {
            let _runtime = paired.runtime().enter();
            let (reference, candidate) = (suite.service(&baseline, &interceptors), suite.service(stack, &interceptors));
            paired.http(BASELINE, reference, stack.name(), candidate);
        }
        paired.finish().expect("paired results written");
    }
}
