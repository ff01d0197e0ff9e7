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
//! `cargo bench --bench paired` takes about two minutes; `-- logger` runs only the pairs whose
//! candidate id matches, `-- --paired-time 3s` samples each pair longer.

use std::fmt::Debug;

use bytes::Bytes;
use http_body::Body;
use http_body_util::Full;
use interceptor_bench::bench::BASELINE;
use interceptor_bench::paired::PairedBench;
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
    let (mut catalog, mut comparators) = (PairedBench::new(""), PairedBench::new("comparators"));
    let rounds = catalog.rounds();
    for round in 1..=rounds {
        if rounds > 1 {
            eprintln!("paired: round {round} of {rounds}");
        }
        catalog.catalog();
        comparators::visit(&mut comparators);
    }
    catalog.finish().expect("paired results written");
    comparators.finish().expect("paired results written");
}
