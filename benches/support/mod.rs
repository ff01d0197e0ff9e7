//! Shared by the bench files: criterion's configuration and the flamegraph profiler.
//! (A sub-folder, so cargo does not take it for a bench.)

use std::fs::{self, File};
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use criterion::Criterion;
use criterion::profiler::Profiler;
use http_body_util::Full;
use interceptor_bench::attribution::{Attribution, fold_by_layer};
use interceptor_bench::connect::Protocol;
use interceptor_bench::greeter::{SAY_HELLO, SAY_HELLO_REQUEST};
use pprof::{ProfilerGuard, ProfilerGuardBuilder};

/// The criterion configuration of a bench file: short warm-up and measurement and 20 000
/// bootstrap resamples (criterion's default is 100 000) so that the whole `cargo bench` stays
/// under 10 minutes on 2 shared cores, and a flamegraph per bench under `--profile-time`.
/// Command-line flags (`--measurement-time`, `--nresamples`, `--save-baseline`, ...) apply on
/// top, as `criterion_group!` calls `configure_from_args` on it.
pub fn criterion(warm_up: Duration, measurement: Duration, sample_size: usize) -> Criterion {
    Criterion::default()
        .warm_up_time(warm_up)
        .measurement_time(measurement)
        .sample_size(sample_size)
        .nresamples(20_000)
        .with_profiler(Flamegraph::default())
}

/// The benches' `SayHello` with `{"name": "Ada"}` as an HTTP request in `protocol`.
#[allow(dead_code, reason = "used by in_process.rs, not by every bench file that includes this module")]
pub fn say_hello(protocol: Protocol) -> http::Request<Full<Bytes>> {
    let body = protocol.encode_request(&SAY_HELLO_REQUEST, &serde_json::json!({"name": "Ada"})).expect("a string name");
    http::Request::post(format!("/{SAY_HELLO}"))
        .header("content-type", protocol.content_type())
        .body(Full::new(body))
        .expect("a valid request")
}

/// Criterion's `Profiler` over pprof: samples while criterion runs a bench under
/// `--profile-time N`, then writes `flamegraph.svg` into the bench's profile directory,
/// `<criterion dir>/<group>/<stack>/<variant>/profile/flamegraph.svg`.
///
/// From the same profile it also writes `attribution.json` (each layer's share of the samples,
/// [`interceptor_bench::attribution`]), prints it, and writes `flamegraph-layers.svg`, whose
/// frames are grouped under the layers' names.
///
/// pprof samples on `SIGPROF`; this kernel's 250 Hz timer caps it at about 250 samples a
/// second, so give it several seconds.
#[derive(Default)]
pub struct Flamegraph {
    active: Option<ProfilerGuard<'static>>,
}

/// Samples per second asked of pprof (the kernel may deliver fewer).
const FREQUENCY: i32 = 997;

impl Profiler for Flamegraph {
    fn start_profiling(&mut self, benchmark_id: &str, _benchmark_dir: &Path) {
        let guard = ProfilerGuardBuilder::default()
            .frequency(FREQUENCY)
            .blocklist(&["libc", "libgcc", "pthread", "vdso"])
            .build();
        match guard {
            Ok(guard) => self.active = Some(guard),
            Err(e) => eprintln!("no flamegraph for {benchmark_id}: cannot start pprof: {e}"),
        }
    }

    fn stop_profiling(&mut self, benchmark_id: &str, benchmark_dir: &Path) {
        let Some(guard) = self.active.take() else { return };
        let path = benchmark_dir.join("flamegraph.svg");
        let written = guard.report().build().map_err(|e| e.to_string()).and_then(|report| {
            fs::create_dir_all(benchmark_dir).map_err(|e| e.to_string())?;
            let file = File::create(&path).map_err(|e| e.to_string())?;
            report.flamegraph(file).map_err(|e| e.to_string())?;
            write_by_layer(&report, benchmark_id, benchmark_dir)
        });
        match written {
            Ok(()) => eprintln!("flamegraph for {benchmark_id}: {}", path.display()),
            Err(e) => eprintln!("no flamegraph for {benchmark_id}: {e}"),
        }
    }
}

/// Writes the profile's per-layer attribution (`attribution.json`, also printed) and its
/// flamegraph with frames grouped by layer (`flamegraph-layers.svg`).
fn write_by_layer(report: &pprof::Report, benchmark_id: &str, dir: &Path) -> Result<(), String> {
    let stacks: Vec<(Vec<String>, u64)> = report
        .data
        .iter()
        .map(|(frames, &count)| {
            let symbols = frames.frames.iter().flatten().map(|symbol| symbol.name()).collect();
            (symbols, count.max(0) as u64)
        })
        .collect();
    let attribution = Attribution::of(stacks.iter().map(|(stack, count)| (stack.as_slice(), *count)));
    let json = serde_json::to_string_pretty(&attribution).map_err(|e| e.to_string())?;
    fs::write(dir.join("attribution.json"), json + "\n").map_err(|e| e.to_string())?;
    eprint!("layer attribution for {benchmark_id} ({} samples):\n{}", attribution.samples, attribution.to_table());
    let lines: Vec<String> = stacks.iter().map(|(stack, count)| fold_by_layer(stack, *count)).collect();
    let file = File::create(dir.join("flamegraph-layers.svg")).map_err(|e| e.to_string())?;
    let mut options = inferno::flamegraph::Options::default();
    options.title = format!("{benchmark_id} by layer");
    inferno::flamegraph::from_lines(&mut options, lines.iter().map(String::as_str), file).map_err(|e| e.to_string())
}
