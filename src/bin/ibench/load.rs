//! `ibench load`: run a load scenario against loopback listeners, print the k6-style summary,
//! exit 0 when every threshold held, 1 when one failed, 2 when the run could not happen.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use interceptor_bench::connect::Protocol;
use interceptor_bench::load::output::{check_writable, write_json};
use interceptor_bench::load::resources::Source;
use interceptor_bench::load::scenario::BUILTINS;
use interceptor_bench::load::threshold::Threshold;
use interceptor_bench::load::{self, ExecutorKind, LoadOptions, Scenario, Target, Targets};
use interceptor_bench::report::{HtmlReport, LoadRun};
use tokio_util::sync::CancellationToken;

#[derive(clap::Args)]
pub struct Args {
    /// basic-load, stress-test, spike-test, interceptor-overhead, or a TOML scenario file.
    #[arg(required_unless_present = "list")]
    scenario: Option<String>,
    /// List the built-in scenarios and exit.
    #[arg(long)]
    list: bool,
    /// closed (ramping VUs) or open (arrival rate: stage VUs × rate_per_vu iterations/s).
    #[arg(long)]
    executor: Option<ExecutorKind>,
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
    /// Write the report as JSON (schema ibench.load/v1): --out json=FILE.
    #[arg(long, value_name = "json=FILE")]
    out: Option<String>,
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

fn bad_input(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("ibench load: {message}");
    ExitCode::from(2)
}

fn list() -> ExitCode {
    for name in BUILTINS {
        let scenario = Scenario::builtin(name).expect("built-in");
        let stages: Vec<String> = scenario
            .stages
            .iter()
            .map(|s| format!("{}→{}", humantime::format_duration(s.duration), s.target))
            .collect();
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
    let mut scenario = match Scenario::load(name) {
        Ok(scenario) => scenario.scaled(args.duration_scale, args.vus_scale),
        Err(error) => return bad_input(error),
    };
    if let Some(protocol) = args.protocol {
        scenario.protocol = protocol;
    }
    let open = args.executor.unwrap_or(scenario.executor) == ExecutorKind::Open;
    if !open && (args.rate.is_some() || args.max_vus.is_some()) {
        return bad_input("--rate and --max-vus apply to the open model: add --executor open");
    }
    let targets = Targets::seed(&args.host, args.port_offset)
        .and_then(|seed| args.targets.iter().try_fold(seed, |targets, target| targets.with(target)));
    let targets = match targets {
        Ok(targets) => targets,
        Err(error) => return bad_input(error),
    };
    let out = match args.out.as_deref().map(|out| out.strip_prefix("json=").map(PathBuf::from)) {
        None => None,
        Some(None) => return bad_input(format!("--out {}: only json=FILE is supported", args.out.unwrap_or_default())),
        Some(Some(path)) => match check_writable(&path, args.force) {
            Ok(()) => Some(path),
            Err(error) => return bad_input(error),
        },
    };
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
    if let Some(max_vus) = args.max_vus {
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
    let report = runtime.block_on(async {
        // Ctrl-C ends the run early, still with its summary.
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        });
        load::run(&scenario, &targets, &options).await
    });
    let report = match report {
        Ok(report) => report,
        Err(error) => return bad_input(error),
    };
    print!("{}", report.summary());
    if let Some(path) = out {
        match write_json(&path, &report, args.force) {
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
