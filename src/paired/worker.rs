//! The build-against-build worker (`ibench ab-worker`, hidden): one build's catalog, timed on
//! request over a pipe, so that [`ab`](super::ab) can alternate two builds' calls in time the
//! way [`sample_pair`](super::sample_pair) alternates two services.
//!
//! The protocol is one line each way. The worker first writes [`HELLO`], one `job <id>` line
//! per job it can time, and `ready`. Then, for each `time <job> <n>` line it reads, it times
//! `n` calls of that job and writes the elapsed nanoseconds (`ok <ns>`), or `error <why>`; it
//! exits at `quit` or at the end of its input. The worker times its own calls, so the pipe's
//! latency never enters a measurement. Loopback jobs start their server on first use and stop
//! it when another job is timed, so at most one server runs.
//!
//! ```
//! let mut output = Vec::new();
//! let input = b"time in_process/floor/unary 10\nquit\n";
//! interceptor_bench::paired::worker::serve(&input[..], &mut output).unwrap();
//! let output = String::from_utf8(output).unwrap();
//! assert!(output.starts_with(interceptor_bench::paired::worker::HELLO));
//! assert!(output.lines().any(|line| line.starts_with("ok ")));
//! ```

use std::io::{self, BufRead, Write};
use std::pin::Pin;
use std::time::Duration;

use tokio::runtime::Runtime;

use crate::bench::{
    BARE_HYPER, Depth, FLOOR, RoundTrips, ServiceCalls, TimedCalls, bare_hyper, current_thread_runtime, floor,
};
use crate::greeter::Greeter;
use crate::server::BackgroundServer;
use crate::stack::{Interceptors, Stack, catalog, cumulative_chain, seed_stacks};

/// The first line a worker writes: the protocol and its version.
pub const HELLO: &str = "ibench-ab-worker 1";

/// What a job times.
enum JobKind {
    /// The floor service in-process.
    Floor,
    /// A stack in-process.
    InProcess(Stack),
    /// The bare-hyper anchor over loopback.
    BareHyper,
    /// A stack's server over loopback.
    Loopback(Stack),
}

/// A job: its id (`in_process/logger/unary`, `loopback/full/http1_seq`) and what it times.
struct Job {
    id: String,
    kind: JobKind,
}

/// Every job of this build: the floor, each catalog stack and the cumulative chain
/// in-process; the bare-hyper anchor and the seed stacks over loopback.
fn jobs() -> Vec<Job> {
    let id = |depth: Depth, stack: &str| format!("{}/{stack}/{}", depth.group(""), depth.overhead_variant());
    let mut jobs = vec![Job { id: id(Depth::InProcess, FLOOR), kind: JobKind::Floor }];
    for stack in catalog().into_iter().chain(cumulative_chain()) {
        jobs.push(Job { id: id(Depth::InProcess, stack.name()), kind: JobKind::InProcess(stack) });
    }
    jobs.push(Job { id: id(Depth::Loopback, BARE_HYPER), kind: JobKind::BareHyper });
    for stack in seed_stacks() {
        jobs.push(Job { id: id(Depth::Loopback, stack.name()), kind: JobKind::Loopback(stack) });
    }
    jobs
}

/// [`TimedCalls`] behind a pointer, so jobs of different types can take turns.
trait BoxedCalls {
    fn time_boxed(&mut self, n: u64) -> Pin<Box<dyn Future<Output = Duration> + '_>>;
}

impl<T: TimedCalls> BoxedCalls for T {
    fn time_boxed(&mut self, n: u64) -> Pin<Box<dyn Future<Output = Duration> + '_>> {
        Box::pin(self.time(n))
    }
}

/// The job being timed, with the server it needs kept alive.
struct Prepared {
    index: usize,
    calls: Box<dyn BoxedCalls>,
    _server: Option<BackgroundServer>,
}

fn prepare(runtime: &Runtime, index: usize, job: &Job) -> Result<Prepared, String> {
    let interceptors = Interceptors::default();
    let prepared = |calls: Box<dyn BoxedCalls>, server| Prepared { index, calls, _server: server };
    let loopback = |server: BackgroundServer| -> Result<Prepared, String> {
        let mut calls = runtime.block_on(RoundTrips::connect(server.addr(), 1)).map_err(|e| e.to_string())?;
        runtime.block_on(calls.check())?;
        Ok(prepared(Box::new(calls), Some(server)))
    };
    match &job.kind {
        JobKind::Floor => Ok(prepared(Box::new(ServiceCalls::rpc(floor())), None)),
        JobKind::InProcess(stack) => {
            let mut calls = ServiceCalls::rpc(stack.service(&interceptors, Greeter::new()));
            runtime.block_on(calls.check())?;
            Ok(prepared(Box::new(calls), None))
        }
        JobKind::BareHyper => loopback(BackgroundServer::start_service(bare_hyper()).map_err(|e| e.to_string())?),
        JobKind::Loopback(stack) => loopback(BackgroundServer::start(stack, &interceptors).map_err(|e| e.to_string())?),
    }
}

/// Serves the protocol on `input` and `output` until `quit` or the end of `input`.
///
/// # Errors
/// When `output` cannot be written or `input` read.
pub fn serve(input: impl BufRead, mut output: impl Write) -> io::Result<()> {
    let runtime = current_thread_runtime();
    let jobs = jobs();
    writeln!(output, "{HELLO}")?;
    for job in &jobs {
        writeln!(output, "job {}", job.id)?;
    }
    writeln!(output, "ready")?;
    output.flush()?;
    let mut current: Option<Prepared> = None;
    for line in input.lines() {
        let line = line?;
        let mut words = line.split_whitespace();
        let answer = match (words.next(), words.next(), words.next().map(str::parse::<u64>), words.next()) {
            (Some("quit"), None, None, None) => break,
            (Some("time"), Some(id), Some(Ok(n)), None) if n > 0 => match time(&runtime, &jobs, &mut current, id, n) {
                Ok(elapsed) => format!("ok {}", elapsed.as_nanos()),
                Err(why) => format!("error {why}"),
            },
            _ => format!("error expected `time <job> <calls>` or `quit`, got {line:?}"),
        };
        writeln!(output, "{answer}")?;
        output.flush()?;
    }
    Ok(())
}

/// Times `n` calls of the job `id`, preparing it first unless it is `current`.
fn time(runtime: &Runtime, jobs: &[Job], current: &mut Option<Prepared>, id: &str, n: u64) -> Result<Duration, String> {
    let index = jobs.iter().position(|job| job.id == id).ok_or_else(|| format!("unknown job {id:?}"))?;
    if current.as_ref().is_none_or(|prepared| prepared.index != index) {
        *current = None; // stops the previous job's server first
        let prepared =
            prepare(runtime, index, &jobs[index]).map_err(|e| format!("{id} failed the benchmark call: {e}"))?;
        *current = Some(prepared);
    }
    let prepared = current.as_mut().expect("prepared above");
    Ok(runtime.block_on(prepared.calls.time_boxed(n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(input: &str) -> Vec<String> {
        let mut output = Vec::new();
        serve(input.as_bytes(), &mut output).unwrap();
        String::from_utf8(output).unwrap().lines().map(str::to_owned).collect()
    }

    #[test]
    fn lists_its_jobs_then_times_them() {
        let lines = session("time in_process/baseline/unary 5\ntime loopback/baseline/http1_seq 2\n");
        assert_eq!(lines[0], HELLO);
        let jobs: Vec<&str> = lines.iter().filter_map(|l| l.strip_prefix("job ")).collect();
        assert!(jobs.contains(&"in_process/full/unary") && jobs.contains(&"in_process/chain/3/unary"), "{jobs:?}");
        assert!(jobs.contains(&"loopback/bare_hyper/http1_seq"), "{jobs:?}");
        let answers = &lines[lines.iter().position(|l| l == "ready").unwrap() + 1..];
        assert_eq!(answers.len(), 2, "{answers:?}");
        for answer in answers {
            let ns: u64 = answer.strip_prefix("ok ").unwrap_or_else(|| panic!("{answer}")).parse().unwrap();
            assert!(ns > 0);
        }
    }

    #[test]
    fn bad_requests_get_an_error_line_and_the_worker_goes_on() {
        let lines = session(
            "time nope 5\ntime in_process/floor/unary 0\nhello\ntime in_process/floor/unary 3\nquit\ntime x 1\n",
        );
        let answers: Vec<&String> = lines.iter().skip_while(|l| *l != "ready").skip(1).collect();
        assert_eq!(answers.len(), 4, "{answers:?}");
        assert!(answers[0].starts_with("error unknown job \"nope\""));
        assert!(answers[1].starts_with("error expected"));
        assert!(answers[2].starts_with("error expected"));
        assert!(answers[3].starts_with("ok "), "quit ends the session");
    }
}
