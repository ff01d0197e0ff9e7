//! Deterministic instruction counts: one in-process RPC per stack under Callgrind, saved as a
//! baseline and compared against it — the CI gate that a noisy machine cannot fool.
//!
//! `benches/instructions.rs` (run with `cargo bench --features instructions --bench instructions`,
//! needs valgrind and `gungraun-runner`) measures [`OneCall::run`] for every [`bench_stacks`]
//! entry and, with `GUNGRAUN_SAVE_SUMMARY=json`, leaves one `summary.json` per stack under
//! [`DEFAULT_RESULTS_DIR`]. This module reads them ([`read_results`]), saves them as a baseline
//! ([`Baseline`]), and compares ([`compare`]): a stack regresses when its instructions grow by
//! more than the threshold.
//!
//! ```
//! use interceptor_bench::instructions::{Baseline, StackCount, compare};
//!
//! let count = |name: &str, instructions| StackCount { name: name.into(), instructions, estimated_cycles: None };
//! let baseline = Baseline::new(vec![count("baseline", 1000), count("logger", 2000)], "ibench instructions save x", "cargo bench");
//! let current = vec![count("baseline", 1000), count("logger", 2100)];
//! let comparison = compare(&baseline, &current, 2.0);
//! assert_eq!(comparison.regressed(), ["logger"]);
//! ```

use std::fmt::Write as _;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::atomic_file::{WriteError, write_atomically};
use crate::baseline::Provenance;
use crate::connect::ResponseBody;
use crate::ecosystem::{BoxHttpService, HttpRequest, box_request, with_ecosystem_headers};
use crate::greeter::{Greeter, SAY_HELLO};
use crate::interceptors::logger::{LogClock, LoggerLayer};
use crate::rpc::{RpcRequest, RpcResponse, RpcResult};
use crate::stack::{BoxRpcService, Interceptors, Stack, catalog, cumulative_chain};
use bytes::Bytes;
use http_body_util::Full;
use tower::{Service, ServiceExt};

/// Where the bench leaves its gungraun results, relative to the crate root.
pub const DEFAULT_RESULTS_DIR: &str = "target/gungraun/interceptor-bench/instructions/stacks";

/// The `kind` of an instruction baseline file (timing baselines say `"timing"`).
pub const KIND: &str = "instructions";

/// The baseline file schema version.
pub const SCHEMA: u32 = 1;

/// How many calls warm a service before the measured one: first-call allocations, lazily
/// initialised thread-locals and the OpenTelemetry provider would otherwise skew a single call.
pub const WARM_UP_CALLS: usize = 3;

/// The name of the stack without any service around the handler... nor the handler: an empty
/// service answering a ready response, the floor under every other count.
pub const FLOOR: &str = "floor";

/// Every stack the bench measures, in bench order: [`FLOOR`], the [`catalog`], then the
/// [`cumulative_chain`] except its last step (the `full` stack, already measured).
///
/// ```
/// let names = interceptor_bench::instructions::bench_stacks();
/// assert_eq!(names[0], "floor");
/// assert!(names.iter().any(|n| n == "chain/8") && !names.iter().any(|n| n == "chain/9"));
/// ```
pub fn bench_stacks() -> Vec<String> {
    let chain = cumulative_chain();
    let steps = chain.len() - 1;
    std::iter::once(FLOOR.to_owned())
        .chain(catalog().iter().map(|s| s.name().to_owned()))
        .chain(chain.iter().take(steps).map(|s| s.name().to_owned()))
        .collect()
}

/// Every stack the bench counts, in bench order: the [`bench_stacks`] (one RPC each), then
/// the [`http_bench_stacks`] (one HTTP request each).
///
/// ```
/// let names = interceptor_bench::instructions::counted_stacks();
/// assert_eq!(names[0], "floor");
/// assert_eq!(names.last().unwrap(), "ecosystem_4k/tower_http_compression");
/// ```
pub fn counted_stacks() -> Vec<String> {
    bench_stacks().into_iter().chain(http_bench_stacks()).collect()
}

/// The gungraun bench id of a stack name within its bench function ([`bench_function`]):
/// `chain/3` → `chain_3`, `ecosystem/tower_http_trace` → `tower_http_trace`.
///
/// ```
/// use interceptor_bench::instructions::bench_id;
/// assert_eq!(bench_id("chain/3"), "chain_3");
/// assert_eq!(bench_id("ecosystem/tower_http_trace"), "tower_http_trace");
/// ```
pub fn bench_id(stack: &str) -> String {
    stack.strip_prefix(HTTP_PREFIX).unwrap_or(stack).replace(['/', '-'], "_")
}

/// Whether `stack` is one of the [`http_bench_stacks`]: named `<ecosystem suite>/<stack>`,
/// counted as one HTTP request.
///
/// ```
/// use interceptor_bench::instructions::is_http_stack;
/// assert!(is_http_stack("ecosystem/tower_buffer") && is_http_stack("ecosystem_4k/baseline"));
/// assert!(!is_http_stack("chain/3") && !is_http_stack("logger"));
/// ```
pub fn is_http_stack(stack: &str) -> bool {
    http_suite_of(stack).is_some()
}

/// The ecosystem suite of an `<ecosystem suite>/<stack>` name, its layers, and the stack.
fn http_suite_of(stack: &str) -> Option<(&'static str, &'static [&'static str], &str)> {
    let (suite, layer) = stack.split_once('/')?;
    let (suite, layers) = crate::ecosystem::SUITE_LAYERS.into_iter().find(|(name, _)| *name == suite)?;
    Some((suite, layers, layer))
}

/// The bench function that counts a stack: `one_http_call` for the [`http_bench_stacks`]
/// (`ecosystem/…`, `ecosystem_4k/…`), `one_call` for the others. gungraun leaves its results in
/// `<results dir>/<function>.<bench id>/`.
///
/// ```
/// use interceptor_bench::instructions::bench_function;
/// assert_eq!(bench_function("logger"), "one_call");
/// assert_eq!(bench_function("ecosystem/baseline"), "one_http_call");
/// ```
pub fn bench_function(stack: &str) -> &'static str {
    if is_http_stack(stack) { "one_http_call" } else { "one_call" }
}

/// The prefix of the `ecosystem` suite's stacks, which their bench ids go without.
const HTTP_PREFIX: &str = "ecosystem/";

/// One prepared RPC: a built, warmed service and the request it will answer.
pub struct OneCall {
    service: BoxRpcService,
    request: Option<RpcRequest>,
    runtime: tokio::runtime::Runtime,
}

/// Builds the stack `name` (a [`bench_stacks`] entry; its logger on a fixed clock) around the greeter, warms it with
/// [`WARM_UP_CALLS`] calls and prepares one `SayHello` request. The bench's setup: none of
/// this is measured.
///
/// # Panics
/// On an unknown stack name, or a stack whose warm-up calls fail: a bench set up wrongly.
///
/// ```
/// let mut call = interceptor_bench::instructions::prepare_one_call("baseline");
/// assert_eq!(call.run().unwrap().message["message"], "Hello, Ada!");
/// ```
pub fn prepare_one_call(name: &str) -> OneCall {
    let service = if name == FLOOR {
        let empty = tower::service_fn(|_: RpcRequest| std::future::ready(Ok(RpcResponse::new(Value::Null))));
        BoxRpcService::new(empty)
    } else {
        let stack = catalog()
            .into_iter()
            .chain(cumulative_chain())
            .find(|s| s.name() == name)
            .unwrap_or_else(|| panic!("unknown bench stack {name:?}; known: {}", bench_stacks().join(", ")));
        build(&stack)
    };
    // The timeout interceptor needs a tokio time driver: a runtime made here, entered (not
    // run) around each call.
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a current-thread tokio runtime");
    let mut call = OneCall { service, request: None, runtime };
    for _ in 0..WARM_UP_CALLS {
        call.request = Some(request());
        call.run().unwrap_or_else(|e| panic!("warm-up call through {name:?} failed: {e}"));
    }
    call.request = Some(request());
    call
}

/// The logger's clock in the bench: fixed, so that its lines, and the instructions spent
/// formatting them, are the same in every run.
const BENCH_LOG_TIME: SystemTime = SystemTime::UNIX_EPOCH;

fn build(stack: &Stack) -> BoxRpcService {
    let logger = LoggerLayer::new().clock(LogClock::Fixed(BENCH_LOG_TIME));
    stack.service(&Interceptors { logger, ..Interceptors::default() }, Greeter::new())
}

fn request() -> RpcRequest {
    RpcRequest::new(SAY_HELLO, json!({"name": "Ada"}))
}

impl OneCall {
    /// The measured region: `poll_ready`, `call`, and polling the response future to completion
    /// with a no-op waker, inside the setup's runtime context (entered, never run).
    ///
    /// # Panics
    /// When called twice without a new request, or when the stack does not answer without
    /// waiting (no catalog stack waits on a healthy call).
    pub fn run(&mut self) -> RpcResult {
        let _context = self.runtime.enter();
        let mut cx = Context::from_waker(Waker::noop());
        match self.service.poll_ready(&mut cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Err(e),
            Poll::Pending => panic!("the service was not ready without waiting"),
        }
        let mut future = self.service.call(self.request.take().expect("one request per prepared call"));
        match Pin::new(&mut future).poll(&mut cx) {
            Poll::Ready(result) => result,
            Poll::Pending => panic!("the call did not finish without waiting"),
        }
    }
}

/// The HTTP-level stacks whose calls the instruction bench and `benches/allocations.rs`
/// count, by [ecosystem suite](crate::ecosystem::SUITE_LAYERS): `<suite>/baseline` (the
/// baseline stack as an HTTP service: codec and greeter), then `<suite>/<layer>` for each of the
/// suite's layers but the empty one ([`HTTP_LAYER_FLOOR`](crate::ecosystem::HTTP_LAYER_FLOOR)). The
/// `ecosystem` suite holds every [`ecosystem`](crate::stack::ecosystem) stack; `ecosystem_4k`
/// answers a 4 KiB message, which `tower_http_compression` gzips.
///
/// ```
/// let names = interceptor_bench::instructions::http_bench_stacks();
/// assert_eq!(names[..2], ["ecosystem/baseline", "ecosystem/tower_http_trace"]);
/// assert_eq!(names[names.len() - 2..], ["ecosystem_4k/baseline", "ecosystem_4k/tower_http_compression"]);
/// ```
pub fn http_bench_stacks() -> Vec<String> {
    let stacks = |(suite, layers): (&'static str, &'static [&'static str])| {
        std::iter::once("baseline").chain(layers.iter().copied()).map(move |name| format!("{suite}/{name}"))
    };
    crate::ecosystem::SUITE_LAYERS.into_iter().flat_map(stacks).collect()
}

/// One prepared HTTP call: a built, warmed HTTP service and the request it will answer.
pub struct OneHttpCall {
    service: BoxHttpService,
    request: Option<HttpRequest>,
    runtime: tokio::runtime::Runtime,
    large: bool,
}

/// Builds the HTTP-level stack `name` (an [`http_bench_stacks`] entry; a layer that logs on a
/// fixed clock) over the greeter as its suite serves it, warms it with [`WARM_UP_CALLS`] calls
/// and prepares one request with the ecosystem's headers (in `ecosystem_4k`, the 4 KiB name).
/// None of this is measured.
///
/// # Panics
/// On an unknown stack name, or a stack whose warm-up calls fail.
///
/// ```
/// let mut call = interceptor_bench::instructions::prepare_one_http_call("ecosystem/tower_http_cors");
/// assert_eq!(call.run().status(), 200);
/// ```
pub fn prepare_one_http_call(name: &str) -> OneHttpCall {
    // Checked without allocating: what the setup leaves on the heap moves the measured
    // call's malloc paths.
    let known = http_suite_of(name).filter(|(_, layers, layer)| *layer == "baseline" || layers.contains(layer));
    let Some((suite, _, layer)) = known else {
        panic!("unknown HTTP bench stack {name:?}; known: {}", http_bench_stacks().join(", "))
    };
    let stack = match crate::ecosystem::layer_with_clock(layer, LogClock::Fixed(BENCH_LOG_TIME)) {
        Some(layer) => Stack::builder(layer.name().to_owned()).http(layer).build(),
        None => Stack::of("baseline", &[]), // the one known name that is no layer
    };
    let large = suite == crate::ecosystem::LARGE_SUITE;
    // tower_buffer spawns its worker on this runtime, which each call then runs.
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a current-thread tokio runtime");
    let service = {
        let _context = runtime.enter();
        crate::ecosystem::suite_http_service(large, &stack, &Interceptors::default())
    };
    let mut call = OneHttpCall { service, request: None, runtime, large };
    for _ in 0..WARM_UP_CALLS {
        call.request = Some(call.new_request());
        let status = call.run().status();
        assert!(status.is_success(), "warm-up call through {name:?} answered {status}");
    }
    call.request = Some(call.new_request());
    call
}

impl OneHttpCall {
    /// The request its suite answers: `SayHello` with the ecosystem's headers, the 4 KiB name
    /// in `ecosystem_4k`.
    fn new_request(&self) -> HttpRequest {
        if self.large {
            return box_request(crate::ecosystem::large_hello_request());
        }
        let request = http::Request::post(format!("/{SAY_HELLO}"))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from_static(br#"{"name":"Ada"}"#)))
            .expect("a valid request");
        box_request(with_ecosystem_headers(request))
    }

    /// The measured region: readiness, the call and its answer, run on the setup's runtime
    /// (which also runs a buffer's worker).
    ///
    /// # Panics
    /// When called twice without a new request.
    pub fn run(&mut self) -> http::Response<ResponseBody> {
        let request = self.request.take().expect("one request per prepared call");
        let service = &mut self.service;
        let answer = self.runtime.block_on(async move { service.ready().await?.call(request).await });
        match answer {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

/// One stack's counts for one in-process RPC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackCount {
    /// The stack name (a [`bench_stacks`] entry).
    pub name: String,
    /// Instructions executed (Callgrind `Ir`).
    pub instructions: u64,
    /// Callgrind's estimated cycles, when collected.
    pub estimated_cycles: Option<u64>,
}

/// Why results or a baseline cannot be used; every message names the file and what to run.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// No results for a stack.
    #[error(
        "no instruction results for stack {stack:?} in {dir}: run `GUNGRAUN_SAVE_SUMMARY=json cargo bench --features instructions --bench instructions` first"
    )]
    MissingResults {
        /// The stack.
        stack: String,
        /// The results folder.
        dir: PathBuf,
    },
    /// A file that cannot be read or parsed.
    #[error("{path}: {reason}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What is wrong, and what to run.
        reason: String,
    },
}

/// Reads one count per [`counted_stacks`] entry from gungraun's `summary.json` files in `dir`
/// (`<dir>/<bench function>.<bench id>/summary.json`).
pub fn read_results(dir: &Path) -> Result<Vec<StackCount>, InputError> {
    counted_stacks().into_iter().map(|stack| read_summary(dir, stack)).collect()
}

/// Where gungraun leaves the `summary.json` of `stack` under the results folder:
/// `<bench function>.<bench id>`.
///
/// ```
/// use interceptor_bench::instructions::summary_folder;
/// assert_eq!(summary_folder("chain/3"), "one_call.chain_3");
/// assert_eq!(summary_folder("ecosystem/tower_buffer"), "one_http_call.tower_buffer");
/// ```
pub fn summary_folder(stack: &str) -> String {
    format!("{}.{}", bench_function(stack), bench_id(stack))
}

fn read_summary(dir: &Path, stack: String) -> Result<StackCount, InputError> {
    let path = dir.join(summary_folder(&stack)).join("summary.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(InputError::MissingResults { stack, dir: dir.to_owned() });
        }
        Err(e) => return Err(InputError::Unreadable { path, reason: e.to_string() }),
    };
    let unusable = |reason: &str| InputError::Unreadable {
        path: path.clone(),
        reason: format!(
            "{reason}; re-run `GUNGRAUN_SAVE_SUMMARY=json cargo bench --features instructions --bench instructions`"
        ),
    };
    let summary: Value = serde_json::from_str(&text).map_err(|e| unusable(&format!("not JSON ({e})")))?;
    let metrics = summary["profiles"]
        .as_array()
        .and_then(|profiles| profiles.iter().find(|p| p["tool"] == "Callgrind"))
        .map(|profile| &profile["data"]["total"]["metrics"])
        .ok_or_else(|| unusable("no Callgrind profile"))?;
    // Each metric is {"values": {"new": n}}, with "old" beside "new" when an earlier run exists.
    let new_value = |event: &str| metrics[event]["values"]["new"].as_u64();
    let instructions = new_value("Ir").ok_or_else(|| unusable("no instruction count (Ir)"))?;
    Ok(StackCount { name: stack, instructions, estimated_cycles: new_value("EstimatedCycles") })
}

/// An instruction baseline file: `{"schema": 1, "kind": "instructions", ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Always [`SCHEMA`].
    pub schema: u32,
    /// Always [`KIND`].
    pub kind: String,
    /// Where, when and how it was measured (the same record as timing baselines).
    pub provenance: Provenance,
    /// One count per stack.
    pub stacks: Vec<StackCount>,
}

impl Baseline {
    /// A baseline of `stacks` measured here, now: `command` saved it from what `bench_command` produced.
    pub fn new(stacks: Vec<StackCount>, command: &str, bench_command: &str) -> Self {
        Baseline {
            schema: SCHEMA,
            kind: KIND.into(),
            provenance: Provenance::collect(command, Some(bench_command)),
            stacks,
        }
    }

    /// Reads a baseline file, checking its schema and kind.
    pub fn read(path: &Path) -> Result<Self, InputError> {
        let unusable = |reason: String| InputError::Unreadable {
            path: path.to_owned(),
            reason: format!("{reason}; save one with `ibench instructions save NAME` after running the bench"),
        };
        let text = std::fs::read_to_string(path).map_err(|e| unusable(e.to_string()))?;
        let value: Value = serde_json::from_str(&text).map_err(|e| unusable(format!("not JSON ({e})")))?;
        if value["kind"] != KIND || value["schema"] != SCHEMA {
            return Err(unusable(format!(
                "not an instruction baseline (want \"schema\": {SCHEMA}, \"kind\": \"{KIND}\")"
            )));
        }
        let baseline: Baseline = serde_json::from_value(value).map_err(|e| unusable(format!("malformed ({e})")))?;
        // A comparison divides by every count.
        if let Some((index, stack)) = baseline.stacks.iter().enumerate().find(|(_, stack)| stack.instructions == 0) {
            return Err(unusable(format!("stacks[{index}] ({}): instructions is 0", stack.name)));
        }
        Ok(baseline)
    }

    /// Writes the baseline as pretty JSON (creating its directory) with the crate's one writer
    /// ([`write_atomically`]): atomically, and an existing file is replaced only with `force`.
    pub fn write(&self, path: &Path, force: bool) -> Result<(), WriteError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| WriteError::io(dir, e))?;
        }
        let json = serde_json::to_string_pretty(self).expect("a baseline serializes") + "\n";
        write_atomically(path, json.as_bytes(), force)
    }
}

/// A baseline file given as a path (anything with a `/` or ending in `.json`) or a name
/// (`baselines/instructions-NAME.json`).
///
/// ```
/// use interceptor_bench::instructions::baseline_path;
/// assert_eq!(baseline_path("reference"), std::path::Path::new("baselines/instructions-reference.json"));
/// assert_eq!(baseline_path("/tmp/x.json"), std::path::Path::new("/tmp/x.json"));
/// ```
pub fn baseline_path(name_or_path: &str) -> PathBuf {
    if name_or_path.contains('/') || name_or_path.ends_with(".json") {
        PathBuf::from(name_or_path)
    } else {
        PathBuf::from(format!("baselines/instructions-{name_or_path}.json"))
    }
}

/// One stack's comparison row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The stack.
    pub name: String,
    /// Baseline instructions (`None`: the stack is new).
    pub baseline: Option<u64>,
    /// Current instructions.
    pub current: u64,
    /// Current minus baseline.
    pub delta: Option<i64>,
    /// Delta in percent of the baseline.
    pub delta_pct: Option<f64>,
    /// Current instructions minus the current count of the stack's [`reference_of`]: a catalog
    /// stack's interceptors' own cost over `baseline`; for `chain/N`, the N-th interceptor in
    /// its place; for an HTTP-level stack, its layer over `ecosystem/baseline`.
    pub overhead: Option<i64>,
    /// Grew by more than the threshold.
    pub regressed: bool,
}

/// The result of [`compare`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The threshold in percent.
    pub threshold_pct: f64,
    /// One row per current stack.
    pub rows: Vec<Row>,
    /// Stacks of the baseline that the current run did not count (renamed or removed).
    pub not_counted: Vec<String>,
}

impl Comparison {
    /// The names of the regressed stacks.
    pub fn regressed(&self) -> Vec<&str> {
        self.rows.iter().filter(|r| r.regressed).map(|r| r.name.as_str()).collect()
    }

    /// The names of the stacks the baseline has no count for: shown, and not gated until a
    /// baseline with them is saved.
    pub fn ungated(&self) -> Vec<&str> {
        self.rows.iter().filter(|r| r.baseline.is_none()).map(|r| r.name.as_str()).collect()
    }

    /// The JSON form: `{"threshold_pct", "verdict": "ok"|"regressed", "regressed": [...],
    /// "ungated": [...], "not_counted": [...], "rows": [...]}`.
    pub fn to_json(&self) -> Value {
        let verdict = if self.regressed().is_empty() { "ok" } else { "regressed" };
        json!({
            "threshold_pct": self.threshold_pct,
            "verdict": verdict,
            "regressed": self.regressed(),
            "ungated": self.ungated(),
            "not_counted": self.not_counted,
            "rows": self.rows,
        })
    }

    /// A fixed-width table, one line per stack, then the verdict.
    pub fn to_table(&self) -> String {
        self.render("", "  ", "", true)
    }

    /// A GitHub-flavoured Markdown table, then the verdict.
    pub fn to_markdown(&self) -> String {
        self.render("| ", " | ", " |", false)
    }

    fn render(&self, open: &str, sep: &str, close: &str, pad: bool) -> String {
        let header = ["stack", "baseline Ir", "current Ir", "delta", "delta %", "overhead Ir", "verdict"];
        let cells: Vec<[String; 7]> = self
            .rows
            .iter()
            .map(|r| {
                let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
                [
                    r.name.clone(),
                    opt(r.baseline.map(|b| b.to_string())),
                    r.current.to_string(),
                    opt(r.delta.map(|d| format!("{d:+}"))),
                    opt(r.delta_pct.map(|p| format!("{p:+.2}%"))),
                    opt(r.overhead.map(|o| format!("{o:+}"))),
                    if r.regressed { "REGRESSED" } else { "ok" }.into(),
                ]
            })
            .collect();
        let widths: Vec<usize> = (0..header.len())
            .map(|i| cells.iter().map(|c| c[i].len()).chain([header[i].len()]).max().unwrap_or(0))
            .collect();
        let line = |row: &[&str]| {
            let padded: Vec<String> = row
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (cell, &w))| match (pad, i) {
                    (false, _) => (*cell).to_owned(),
                    (true, 0) => format!("{cell:<w$}"),
                    (true, _) => format!("{cell:>w$}"),
                })
                .collect();
            format!("{open}{}{close}\n", padded.join(sep).trim_end())
        };
        let mut out = line(&header);
        if !pad {
            out += &line(&["---", "---:", "---:", "---:", "---:", "---:", "---"]);
        }
        for row in &cells {
            out += &line(&row.each_ref().map(String::as_str));
        }
        let regressed = self.regressed();
        if regressed.is_empty() {
            let _ = writeln!(out, "\nok: no stack grew by more than {}%", self.threshold_pct);
        } else {
            let _ = writeln!(
                out,
                "\nREGRESSED: {} grew by more than {}% in instructions",
                regressed.join(", "),
                self.threshold_pct
            );
        }
        let ungated = self.ungated();
        if !ungated.is_empty() {
            let _ = writeln!(
                out,
                "NOT GATED: {} {} no count in the baseline; save a baseline that has them \
                 (`ibench instructions save NAME --force`) to gate them",
                ungated.join(", "),
                if ungated.len() == 1 { "has" } else { "have" }
            );
        }
        if !self.not_counted.is_empty() {
            let _ = writeln!(out, "not counted by this run, in the baseline only: {}", self.not_counted.join(", "));
        }
        out
    }
}

/// The stack whose count a stack's overhead is taken over: `baseline` for a catalog stack,
/// `chain/N-1` for `chain/N` (`baseline` for `chain/1`), its suite's baseline for an HTTP-level
/// stack (`ecosystem/baseline`, `ecosystem_4k/baseline`); `None` for the references themselves.
///
/// ```
/// use interceptor_bench::instructions::reference_of;
/// assert_eq!(reference_of("logger").as_deref(), Some("baseline"));
/// assert_eq!(reference_of("chain/1").as_deref(), Some("baseline"));
/// assert_eq!(reference_of("chain/3").as_deref(), Some("chain/2"));
/// assert_eq!(reference_of("ecosystem/tower_buffer").as_deref(), Some("ecosystem/baseline"));
/// assert_eq!(reference_of("ecosystem_4k/tower_http_compression").as_deref(), Some("ecosystem_4k/baseline"));
/// assert_eq!(reference_of("ecosystem/baseline"), None);
/// ```
pub fn reference_of(stack: &str) -> Option<String> {
    if [FLOOR, "baseline"].contains(&stack) {
        return None;
    }
    if let Some((suite, _, layer)) = http_suite_of(stack) {
        return (layer != "baseline").then(|| format!("{suite}/baseline"));
    }
    match stack.strip_prefix("chain/").and_then(|n| n.parse::<usize>().ok()) {
        Some(n) if n > 1 => Some(format!("chain/{}", n - 1)),
        _ => Some("baseline".to_owned()),
    }
}

/// Allocations per call beside instructions: one line per stack counted by
/// `benches/allocations.rs` (see [`crate::allocations`]), with its instructions where the
/// instruction bench measured it, and the allocations as an overhead over the stack's
/// [`reference_of`]. A GitHub table when `markdown`.
///
/// ```
/// use interceptor_bench::allocations::{Allocations, StackAllocations};
/// use interceptor_bench::instructions::{StackCount, allocations_table};
///
/// let allocations = |name: &str, allocations| StackAllocations { name: name.into(), per_call: Allocations { allocations, bytes: 0 } };
/// let counts = [StackCount { name: "logger".into(), instructions: 9000, estimated_cycles: None }];
/// let table = allocations_table(&[allocations("baseline", 10), allocations("logger", 14)], &counts, false);
/// assert!(table.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["logger", "9000", "14", "+4", "0"]));
/// ```
pub fn allocations_table(
    allocations: &[crate::allocations::StackAllocations],
    counts: &[StackCount],
    markdown: bool,
) -> String {
    let find = |name: &str| allocations.iter().find(|a| a.name == name).map(|a| a.per_call.allocations);
    let mut out = String::from("\nallocations per call (cargo bench --bench allocations):\n");
    let header = ["stack", "Ir", "allocations", "overhead", "bytes"];
    let rows: Vec<[String; 5]> = allocations
        .iter()
        .map(|a| {
            let instructions =
                counts.iter().find(|c| c.name == a.name).map_or("-".to_owned(), |c| c.instructions.to_string());
            let overhead = reference_of(&a.name)
                .and_then(|reference| find(&reference))
                .map_or("-".to_owned(), |r| format!("{:+}", a.per_call.allocations as i64 - r as i64));
            [a.name.clone(), instructions, a.per_call.allocations.to_string(), overhead, a.per_call.bytes.to_string()]
        })
        .collect();
    if markdown {
        out += &format!("| {} |\n|---|---:|---:|---:|---:|\n", header.join(" | "));
        for row in &rows {
            out += &format!("| {} |\n", row.join(" | "));
        }
    } else {
        let width = rows.iter().map(|r| r[0].len()).chain([5]).max().unwrap_or(5);
        for row in std::iter::once(header.map(str::to_owned)).chain(rows) {
            out += &format!("{:width$}  {:>9}  {:>11}  {:>8}  {:>7}\n", row[0], row[1], row[2], row[3], row[4]);
        }
    }
    out
}

/// Compares `current` counts with `baseline`: a stack regresses when its instructions grew by
/// more than `threshold_pct` percent. Stacks missing from the baseline are never failed: they
/// are listed as [`ungated`](Comparison::ungated) (the table says `NOT GATED`), as the
/// baseline's stacks this run did not count are listed as [`not_counted`](Comparison::not_counted).
///
/// ```
/// use interceptor_bench::instructions::{Baseline, StackCount, compare};
///
/// let count = |name: &str, instructions| StackCount { name: name.into(), instructions, estimated_cycles: None };
/// let baseline = Baseline::new(vec![count("baseline", 1000), count("gone", 5)], "ibench instructions save x", "cargo bench");
/// let comparison = compare(&baseline, &[count("baseline", 1000), count("ecosystem/tower_buffer", 9000)], 2.0);
/// assert_eq!(comparison.ungated(), ["ecosystem/tower_buffer"]);
/// assert_eq!(comparison.not_counted, ["gone"]);
/// assert!(comparison.to_table().contains("NOT GATED: ecosystem/tower_buffer has no count in the baseline"));
/// ```
pub fn compare(baseline: &Baseline, current: &[StackCount], threshold_pct: f64) -> Comparison {
    let find = |stacks: &[StackCount], name: &str| stacks.iter().find(|s| s.name == name).map(|s| s.instructions);
    let rows = current
        .iter()
        .map(|stack| {
            let old = find(&baseline.stacks, &stack.name);
            let delta = old.map(|old| stack.instructions as i64 - old as i64);
            let delta_pct = old.zip(delta).filter(|(old, _)| *old > 0).map(|(old, d)| d as f64 * 100.0 / old as f64);
            let reference = reference_of(&stack.name).and_then(|reference| find(current, &reference));
            Row {
                name: stack.name.clone(),
                baseline: old,
                current: stack.instructions,
                delta,
                delta_pct,
                overhead: reference.map(|r| stack.instructions as i64 - r as i64),
                regressed: delta_pct.is_some_and(|p| p > threshold_pct),
            }
        })
        .collect();
    let not_counted =
        baseline.stacks.iter().filter(|old| find(current, &old.name).is_none()).map(|old| old.name.clone()).collect();
    Comparison { threshold_pct, rows, not_counted }
}
