//! `ibench load`: run a load scenario against loopback listeners, print the k6-style summary,
//! exit 0 when every threshold held, 1 when one failed, 2 when the run could not happen.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::builder::RangedU64ValueParser;
use interceptor_bench::connect::Protocol;
use interceptor_bench::load::breakpoint::{MAX_STEPS, Search};
use interceptor_bench::load::output::{check_writable, write_json};
use interceptor_bench::load::remote_write::{RemoteWriter, default_testid};
use interceptor_bench::load::resources::Source;
use interceptor_bench::load::scenario::{BUILTINS, MAX_VUS};
use interceptor_bench::load::threshold::Threshold;
use interceptor_bench::load::{self, ExecutorKind, LoadOptions, Scenario, Target, Targets};
use interceptor_bench::report::{HtmlReport, LoadRun};
use tokio_util::sync::CancellationToken;

use crate::flags;

#[derive(clap::Args)]
pub struct Args {
    /// basic-load, stress-test, spike-test, interceptor-overhead, breakpoint, or a TOML scenario file.
    #[arg(required_unless_present = "list")]
    scenario: Option<String>,
    /// List the built-in scenarios and exit.
    #[arg(long)]
    list: bool,
    /// closed (ramping VUs), open (arrival rate: stage VUs × rate_per_vu iterations/s) or
    /// breakpoint (open model, the rate raised step by step until a threshold fails).
    #[arg(long)]
    executor: Option<ExecutorKind>,
    /// Replace the scenario's listeners, e.g. baseline,full (a breakpoint search runs each in turn).
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    listeners: Vec<String>,
    /// Breakpoint: the first step's rate, iterations per second (default 1000); at most 10000000.
    #[arg(long, value_parser = flags::rate, help_heading = "Breakpoint search")]
    start_rate: Option<f64>,
    /// Breakpoint: each step's rate is the previous one's times this (default 1.25); above 1, at most 100.
    #[arg(long, value_parser = flags::rate_factor, help_heading = "Breakpoint search")]
    rate_factor: Option<f64>,
    /// Breakpoint: how long each step lasts (default 5s; --duration-scale scales it); at most 24h.
    #[arg(long, value_parser = flags::positive_duration, help_heading = "Breakpoint search")]
    step: Option<Duration>,
    /// Breakpoint: the ceiling rate, reached at the last step (default 200000); at most 10000000.
    #[arg(long, value_parser = flags::rate, help_heading = "Breakpoint search")]
    max_rate: Option<f64>,
    /// Breakpoint: at most this many steps per listener (default 30); 1 to 1000.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_STEPS)), help_heading = "Breakpoint search")]
    max_steps: Option<u32>,
    /// Multiply every stage's duration (0.01 turns 7 minutes into 4.2 s); above 0, at most 1000.
    #[arg(long, default_value_t = 1.0, value_parser = flags::scale)]
    duration_scale: f64,
    /// Multiply every stage's VU target (rounded up, at least 1); above 0, at most 1000.
    #[arg(long, default_value_t = 1.0, value_parser = flags::scale)]
    vus_scale: f64,
    /// The protocol of every call: connect-json, connect-proto (Connect binary protobuf, both over
    /// HTTP/1.1) or grpc (over h2c). Default: the scenario's `protocol`, else connect-json.
    #[arg(long)]
    protocol: Option<Protocol>,
    /// Open model: the peak arrival rate in iterations per second (stages keep their shape).
    #[arg(long, value_parser = flags::rate)]
    rate: Option<f64>,
    /// Open model and breakpoint: the VU pool, i.e. the most iterations in flight (default: the
    /// peak VUs; a breakpoint search's default is 100).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_VUS)))]
    max_vus: Option<u32>,
    /// The host of the default seed listeners; loopback only.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// The seed listeners are at 8080 + N … 8084 + N, as with `ibench serve --port-offset N`.
    #[arg(long, default_value_t = 0)]
    port_offset: u16,
    /// A listener's URL, overriding or adding to the seed ones (repeatable; loopback only).
    #[arg(long = "target", value_name = "NAME=URL")]
    targets: Vec<String>,
    /// An extra threshold, e.g. 'http_req_duration{listener:full}: p(99)<5' (repeatable).
    #[arg(long = "threshold", value_name = "METRIC: CONDITION")]
    thresholds: Vec<String>,
    /// Where results go (repeatable): json=FILE writes the report (schema ibench.load/v1);
    /// prometheus-rw=URL streams metrics once a second by Prometheus remote write (loopback),
    /// e.g. prometheus-rw=http://127.0.0.1:9090/api/v1/write.
    #[arg(long, value_name = "json=FILE|prometheus-rw=URL")]
    out: Vec<String>,
    /// The testid label of remote-written series (default: ibench-<unix time>).
    #[arg(long)]
    testid: Option<String>,
    /// Also write the run's HTML report (as `ibench report --load` draws it).
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
    /// Replace the --out and --report files if they exist (atomically).
    #[arg(long)]
    force: bool,
    /// Sample this server process's memory and CPU from /proc once a second.
    #[arg(long, conflicts_with = "server_metrics", value_parser = clap::value_parser!(u32).range(1..))]
    server_pid: Option<u32>,
    /// Sample them from the server's Prometheus endpoint instead (loopback), e.g. http://127.0.0.1:8080/metrics.
    #[arg(long, value_name = "URL")]
    server_metrics: Option<String>,
    /// No progress bar (it is off anyway when standard output is not a terminal).
    #[arg(long)]
    no_progress: bool,
    /// Abandon a request after this long, counting it as failed.
    #[arg(long, default_value = "10s", value_parser = flags::positive_duration)]
    timeout: Duration,
    /// How long iterations in flight at the end may finish before they are cut off.
    #[arg(long, default_value = "5s", value_parser = flags::duration)]
    grace: Duration,
    /// Load-generator threads (one is fastest when the server shares a 2-core machine).
    #[arg(long, default_value_t = 1, value_parser = RangedU64ValueParser::<usize>::new().range(1..=flags::MAX_THREADS))]
    threads: usize,
}

fn bad_input(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("ibench load: {message}");
    ExitCode::from(2)
}

/// How long the end of a run waits for the last remote writes.
const REMOTE_WRITE_PATIENCE: Duration = Duration::from_secs(10);

/// The scenario with the command line's listeners and breakpoint settings.
fn customised(mut scenario: Scenario, args: &Args) -> Result<Scenario, String> {
    if !args.listeners.is_empty() {
        scenario.listeners = args.listeners.clone();
    }
    if let Some(protocol) = args.protocol {
        scenario.protocol = protocol;
    }
    let flags = [args.start_rate, args.rate_factor, args.max_rate].iter().any(Option::is_some)
        || args.step.is_some()
        || args.max_steps.is_some();
    let breakpoint = args.executor.unwrap_or(scenario.executor) == ExecutorKind::Breakpoint;
    if flags && !breakpoint {
        return Err("--start-rate, --rate-factor, --step, --max-rate and --max-steps shape a breakpoint search: add --executor breakpoint".into());
    }
    if breakpoint {
        let search = scenario.breakpoint.unwrap_or_default();
        let search = Search {
            start_rate: args.start_rate.unwrap_or(search.start_rate),
            factor: args.rate_factor.unwrap_or(search.factor),
            step: args.step.unwrap_or(search.step),
            max_rate: args.max_rate.unwrap_or(search.max_rate),
            max_steps: args.max_steps.unwrap_or(search.max_steps),
            max_vus: args.max_vus.unwrap_or(search.max_vus),
            ..search
        };
        search.validate().map_err(|reason| format!("breakpoint search: {reason}"))?;
        scenario = scenario.with_search(search);
    }
    Ok(scenario)
}

fn list() -> ExitCode {
    for name in BUILTINS {
        let scenario = Scenario::builtin(name).expect("built-in");
        let stages: Vec<String> = match scenario.breakpoint {
            Some(search) => vec![format!(
                "{}/s ×{} every {} up to {}/s on {}",
                search.start_rate,
                search.factor,
                humantime::format_duration(search.step),
                search.max_rate,
                scenario.listeners.join(" then ")
            )],
            None => scenario
                .stages
                .iter()
                .map(|s| format!("{}→{}", humantime::format_duration(s.duration), s.target))
                .collect(),
        };
        println!("{name:22} {:32} {}", scenario.description, stages.join(", "));
    }
    ExitCode::SUCCESS
}

/// A run whose every flag has been checked: what [`run`] executes.
pub struct Prepared {
    scenario: Scenario,
    targets: Targets,
    options: LoadOptions,
    cancel: CancellationToken,
    json_files: Vec<PathBuf>,
    remote_url: Option<String>,
    testid: String,
    report: Option<PathBuf>,
    force: bool,
    threads: usize,
}

/// Checks every flag and the scenario (scaled) without contacting anything: `Err` is bad
/// usage, exit 2.
pub fn prepare(args: Args) -> Result<Prepared, String> {
    let name = args.scenario.as_deref().ok_or("a scenario is required (see --list)")?;
    let scenario = customised(Scenario::load(name).map_err(|e| e.to_string())?, &args)?
        .scaled(args.duration_scale, args.vus_scale);
    scenario.validate().map_err(|e| match (args.duration_scale, args.vus_scale) {
        (1.0, 1.0) => e.to_string(),
        (duration, vus) => format!("scaled by --duration-scale {duration} --vus-scale {vus}: {e}"),
    })?;
    let executor = args.executor.unwrap_or(scenario.executor);
    if executor == ExecutorKind::Closed && (args.rate.is_some() || args.max_vus.is_some()) {
        return Err("--rate and --max-vus apply to the open model: add --executor open".to_owned());
    }
    if executor == ExecutorKind::Breakpoint && args.rate.is_some() {
        return Err("--rate sets an open run's rate; a breakpoint search takes --start-rate and --max-rate".to_owned());
    }
    let targets = Targets::seed(&args.host, args.port_offset)
        .and_then(|seed| args.targets.iter().try_fold(seed, |targets, target| targets.with(target)))
        .map_err(|e| e.to_string())?;
    let mut json_files = Vec::new();
    let mut remote_url = None;
    for out in &args.out {
        if let Some(path) = out.strip_prefix("json=").map(PathBuf::from) {
            check_writable(&path, args.force).map_err(|e| e.to_string())?;
            json_files.push(path);
        } else if let Some(url) = out.strip_prefix("prometheus-rw=") {
            Target::parse(url).map_err(|e| format!("--out prometheus-rw: {e}"))?;
            if remote_url.replace(url.to_owned()).is_some() {
                return Err("--out prometheus-rw=URL is given twice; stream to one endpoint".to_owned());
            }
        } else {
            return Err(format!("--out {out}: expected json=FILE or prometheus-rw=URL"));
        }
    }
    if let Some(path) = &args.report {
        check_writable(path, args.force).map_err(|e| e.to_string())?;
    }
    let progress = !args.no_progress && std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    let cancel = CancellationToken::new();
    let mut options =
        LoadOptions::new().timeout(args.timeout).grace(args.grace).progress(progress).cancel_on(cancel.clone());
    for text in &args.thresholds {
        options = options.threshold(text.parse::<Threshold>().map_err(|e| e.to_string())?);
    }
    if let Some(executor) = args.executor {
        options = options.executor(executor);
    }
    if let Some(rate) = args.rate {
        options = options.rate(rate);
    }
    if let Some(max_vus) = args.max_vus
        && executor != ExecutorKind::Breakpoint
    {
        options = options.max_vus(max_vus);
    }
    if let Some(pid) = args.server_pid {
        options = options.server(Source::Pid(pid));
    }
    if let Some(url) = &args.server_metrics {
        let target = Target::parse(url).map_err(|e| format!("--server-metrics: {e}"))?;
        options = options.server(Source::Metrics(target));
    }
    Ok(Prepared {
        scenario,
        targets,
        options,
        cancel,
        json_files,
        remote_url,
        testid: args.testid.unwrap_or_else(default_testid),
        report: args.report,
        force: args.force,
        threads: args.threads,
    })
}

pub fn run(args: Args) -> ExitCode {
    if args.list {
        return list();
    }
    let Prepared { scenario, targets, mut options, cancel, json_files, remote_url, testid, report, force, threads } =
        match prepare(args) {
            Ok(prepared) => prepared,
            Err(message) => return bad_input(message),
        };
    let runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => return bad_input(format!("cannot start the runtime: {error}")),
    };
    let summary = runtime.block_on(async {
        // Ctrl-C ends the run early, still with its summary.
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        });
        let writer = match remote_url {
            Some(url) => {
                Some(RemoteWriter::start(&url, &testid).map_err(|error| format!("--out prometheus-rw: {error}"))?)
            }
            None => None,
        };
        if let Some(writer) = &writer {
            options = options.remote_write(writer.handle());
        }
        let mut summary = load::run(&scenario, &targets, &options).await.map_err(|error| error.to_string())?;
        if let Some(writer) = writer {
            summary.remote_write = Some(writer.finish(REMOTE_WRITE_PATIENCE).await);
        }
        Ok::<_, String>(summary)
    });
    let summary = match summary {
        Ok(summary) => summary,
        Err(error) => return bad_input(error),
    };
    print!("{}", summary.summary());
    for path in &json_files {
        match write_json(path, &summary, force) {
            Ok(()) => println!("\n   wrote {}", path.display()),
            Err(error) => return bad_input(error),
        }
    }
    if let Some(path) = &report {
        let run = match LoadRun::from_report(&summary) {
            Ok(run) => run,
            Err(why) => return bad_input(format!("cannot report the run: {why}")),
        };
        match HtmlReport::new(format!("ibench load {}", summary.scenario)).load_run(run).write(path, force) {
            Ok(()) => println!("   wrote {}", path.display()),
            Err(error) => return bad_input(error),
        }
    }
    ExitCode::from(summary.exit_code())
}
