//! `ibench load`: run a load scenario against loopback listeners, print the k6-style summary,
//! exit 0 when every threshold held, 1 when one failed, 2 when the run could not happen.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use interceptor_bench::connect::Protocol;
use interceptor_bench::load::breakpoint::Search;
use interceptor_bench::load::output::{check_writable, write_json};
use interceptor_bench::load::remote_write::{RemoteWriter, default_testid};
use interceptor_bench::load::resources::Source;
use interceptor_bench::load::scenario::BUILTINS;
use interceptor_bench::load::threshold::Threshold;
use interceptor_bench::load::{self, ExecutorKind, LoadOptions, Scenario, Target, Targets};
use interceptor_bench::report::{HtmlReport, LoadRun};
use tokio_util::sync::CancellationToken;

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
    /// Breakpoint: the first step's rate, iterations per second (default 1000).
    #[arg(long, help_heading = "Breakpoint search")]
    start_rate: Option<f64>,
    /// Breakpoint: each step's rate is the previous one's times this (default 1.25).
    #[arg(long, help_heading = "Breakpoint search")]
    rate_factor: Option<f64>,
    /// Breakpoint: how long each step lasts (default 5s; --duration-scale scales it).
    #[arg(long, value_parser = humantime::parse_duration, help_heading = "Breakpoint search")]
    step: Option<Duration>,
    /// Breakpoint: the ceiling rate, reached at the last step (default 200000).
    #[arg(long, help_heading = "Breakpoint search")]
    max_rate: Option<f64>,
    /// Breakpoint: at most this many steps per listener (default 30).
    #[arg(long, help_heading = "Breakpoint search")]
    max_steps: Option<u32>,
    /// Multiply every stage's duration (0.01 turns 7 minutes into 4.2 s).
    #[arg(long, default_value_t = 1.0)]
    duration_scale: f64,
    /// Multiply every stage's VU target (rounded up, at least 1).
    #[arg(long, default_value_t = 1.0)]
    vus_scale: f64,
    /// The protocol of every call: connect-json, connect-proto (Connect binary protobuf, both over
    /// HTTP/1.1) or grpc (over h2c). Default: the scenario's `protocol`, else connect-json.
    #[arg(long)]
    protocol: Option<Protocol>,
    /// Open model: the peak arrival rate in iterations per second (stages keep their shape).
    #[arg(long)]
    rate: Option<f64>,
    /// Open model: the VU pool, i.e. the most iterations in flight (default: the peak VUs).
    #[arg(long)]
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
    #[arg(long, conflicts_with = "server_metrics")]
    server_pid: Option<u32>,
    /// Sample them from the server's Prometheus endpoint instead (loopback), e.g. http://127.0.0.1:8080/metrics.
    #[arg(long, value_name = "URL")]
    server_metrics: Option<String>,
    /// No progress bar (it is off anyway when standard output is not a terminal).
    #[arg(long)]
    no_progress: bool,
    /// Abandon a request after this long, counting it as failed.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// How long iterations in flight at the end may finish before they are cut off.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    grace: Duration,
    /// Load-generator threads (one is fastest when the server shares a 2-core machine).
    #[arg(long, default_value_t = 1)]
    threads: usize,
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
    scenario.validate().map_err(|error| error.to_string())?;
    Ok(scenario)
}

fn bad_input(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("ibench load: {message}");
    ExitCode::from(2)
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

pub fn run(args: Args) -> ExitCode {
    if args.list {
        return list();
    }
    let Some(name) = args.scenario.as_deref() else { return bad_input("a scenario is required (see --list)") };
    for (flag, value) in [("--duration-scale", args.duration_scale), ("--vus-scale", args.vus_scale)] {
        if !(value.is_finite() && value > 0.0) {
            return bad_input(format!("{flag} must be a positive number, not {value}"));
        }
    }
    if args.threads == 0 {
        return bad_input("--threads must be at least 1");
    }
    let scenario = match Scenario::load(name).map_err(|error| error.to_string()).and_then(|s| customised(s, &args)) {
        Ok(scenario) => scenario.scaled(args.duration_scale, args.vus_scale),
        Err(error) => return bad_input(error),
    };
    let executor = args.executor.unwrap_or(scenario.executor);
    if executor == ExecutorKind::Closed && (args.rate.is_some() || args.max_vus.is_some()) {
        return bad_input("--rate and --max-vus apply to the open model: add --executor open");
    }
    if executor == ExecutorKind::Breakpoint && args.rate.is_some() {
        return bad_input("--rate sets an open run's rate; a breakpoint search takes --start-rate and --max-rate");
    }
    let targets = Targets::seed(&args.host, args.port_offset)
        .and_then(|seed| args.targets.iter().try_fold(seed, |targets, target| targets.with(target)));
    let targets = match targets {
        Ok(targets) => targets,
        Err(error) => return bad_input(error),
    };
    let mut json_files = Vec::new();
    let mut remote_url = None;
    for out in &args.out {
        if let Some(path) = out.strip_prefix("json=").map(PathBuf::from) {
            if let Err(error) = check_writable(&path, args.force) {
                return bad_input(error);
            }
            json_files.push(path);
        } else if let Some(url) = out.strip_prefix("prometheus-rw=") {
            if remote_url.replace(url).is_some() {
                return bad_input("--out prometheus-rw=URL is given twice; stream to one endpoint");
            }
        } else {
            return bad_input(format!("--out {out}: expected json=FILE or prometheus-rw=URL"));
        }
    }
    if let Some(path) = &args.report
        && let Err(error) = check_writable(path, args.force)
    {
        return bad_input(error);
    }
    let progress = !args.no_progress && std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    let cancel = CancellationToken::new();
    let mut options =
        LoadOptions::new().timeout(args.timeout).grace(args.grace).progress(progress).cancel_on(cancel.clone());
    for text in &args.thresholds {
        match text.parse::<Threshold>() {
            Ok(threshold) => options = options.threshold(threshold),
            Err(error) => return bad_input(error),
        }
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
        match Target::parse(url) {
            Ok(target) => options = options.server(Source::Metrics(target)),
            Err(error) => return bad_input(format!("--server-metrics: {error}")),
        }
    }
    let runtime = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads).enable_all().build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => return bad_input(format!("cannot start the runtime: {error}")),
    };
    let testid = args.testid.clone().unwrap_or_else(default_testid);
    let report = runtime.block_on(async {
        // Ctrl-C ends the run early, still with its summary.
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        });
        let writer = match remote_url {
            Some(url) => {
                Some(RemoteWriter::start(url, &testid).map_err(|error| format!("--out prometheus-rw: {error}"))?)
            }
            None => None,
        };
        if let Some(writer) = &writer {
            options = options.remote_write(writer.handle());
        }
        let mut report = load::run(&scenario, &targets, &options).await.map_err(|error| error.to_string())?;
        if let Some(writer) = writer {
            report.remote_write = Some(writer.finish(REMOTE_WRITE_PATIENCE).await);
        }
        Ok::<_, String>(report)
    });
    let report = match report {
        Ok(report) => report,
        Err(error) => return bad_input(error),
    };
    print!("{}", report.summary());
    for path in &json_files {
        match write_json(path, &report, args.force) {
            Ok(()) => println!("\n   wrote {}", path.display()),
            Err(error) => return bad_input(error),
        }
    }
    if let Some(path) = &args.report {
        let run = match LoadRun::from_report(&report) {
            Ok(run) => run,
            Err(why) => return bad_input(format!("cannot report the run: {why}")),
        };
        match HtmlReport::new(format!("ibench load {}", report.scenario)).load_run(run).write(path, args.force) {
            Ok(()) => println!("   wrote {}", path.display()),
            Err(error) => return bad_input(error),
        }
    }
    ExitCode::from(report.exit_code())
}
