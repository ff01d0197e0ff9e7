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
//!   in-process and over loopback (each layer's server beside the baseline's, `Suite::server_beside`).
//!
//! Each of the 5 rounds runs in a fresh process of this binary (`run_rounds`).
//! `cargo bench --bench paired` takes about two minutes; `-- logger` runs only the pairs whose
//! candidate id matches, `-- --paired-time 3s` samples each pair longer.

use interceptor_bench::bench::{BASELINE, BenchedHttpService, Depth};
use interceptor_bench::ecosystem::suites;
use interceptor_bench::paired::{PairedBench, run_rounds};
use interceptor_bench::stack::{Interceptors, find};

#[path = "support/comparators.rs"]
mod comparators;

/// Each comparator paired with the baseline over the codec.
impl comparators::Visit for PairedBench {
    fn http<S>(&mut self, name: &str, service: S)
    where
        S: BenchedHttpService,
    {
        PairedBench::http(self, BASELINE, comparators::baseline(), name, service);
    }
}

fn main() {
    let interceptors = Interceptors::default();
    let baseline = find(BASELINE).expect("a catalog stack");
    let ecosystem = suites();
    let names: Vec<&str> = ["", "comparators"].into_iter().chain(ecosystem.iter().map(|suite| suite.name)).collect();
    run_rounds(&names, |benches| {
        benches[0].catalog();
        comparators::visit(&mut benches[1]);
        // The ecosystem suites: each layer against the baseline, both as HTTP services, then
        // over loopback, each layer's server on the baseline server's thread.
        // Servers start only for the pairs the filter keeps.
        for (suite, paired) in ecosystem.iter().zip(&mut benches[2..]) {
            let mut reference_server = None;
            for stack in &suite.stacks {
                if paired.would_run(Depth::InProcess, stack.name()) {
                    let _runtime = paired.runtime().enter();
                    let reference = suite.service(&baseline, &interceptors);
                    let candidate = suite.service(stack, &interceptors);
                    paired.http(BASELINE, reference, stack.name(), candidate);
                }
                if paired.would_run(Depth::Loopback, stack.name()) {
                    let reference = reference_server.get_or_insert_with(|| {
                        suite.server(&baseline, &interceptors).expect("a loopback server for baseline")
                    });
                    let server = suite
                        .server_beside(reference, stack, &interceptors)
                        .unwrap_or_else(|e| panic!("cannot start a loopback server for {:?}: {e}", stack.name()));
                    paired.loopback(BASELINE, reference.addr(), stack.name(), server.addr());
                }
            }
        }
    })
    .expect("paired results written");
}
