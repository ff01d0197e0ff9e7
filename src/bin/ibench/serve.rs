//! `ibench serve`: one listener per stack, for load tools to compare stacks side by side.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use interceptor_bench::connect::DEFAULT_MAX_BODY_BYTES;
use interceptor_bench::fault::{FaultConfig, FaultLayer};
use interceptor_bench::interceptors::logger::{LogWriter, LoggerLayer};
use interceptor_bench::interceptors::otel::OtelLayer;
use interceptor_bench::server::{Drain, Server, ServerConfig, StackListener, TerminationSignals};
use interceptor_bench::stack::{Interceptors, SEED_LAYOUT, Stack, find, parse_chain, seed_stacks};

use crate::flags;
use clap::builder::RangedU64ValueParser;

/// The most `--max-connections`: far past what one process's descriptors allow anyway.
const MAX_CONNECTIONS: u64 = 1 << 20;

/// Serve the seed's stacks (or your choice) over HTTP/1.1 and h2c, one port per stack.
///
/// Without --stack it listens on 8080 full chain, 8081 baseline, 8082 validation, 8083 logger,
/// 8084 tracing. Every listener answers the greeter RPCs (Connect unary JSON), GET /health and
/// /healthz, and GET /metrics (Prometheus text). SIGINT or SIGTERM stops accepting, answers the
/// requests in flight within the grace period, and exits 0.
#[derive(clap::Args)]
pub struct Args {
    /// IP address every listener binds to.
    #[arg(long, value_name = "ADDR", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,

    /// Serve catalog stack NAME on PORT, or your own chain of catalog interceptors and ecosystem
    /// layers as NAME=CHAIN@PORT, e.g. `mine=error_handler,timeout,tower_http_trace,logger@9000`
    /// (each placed at its level: HTTP-level layers around the codec, interceptors inside it;
    /// `interceptor@package.Service/*` limits one to some procedures). Repeatable; PORT 0 picks
    /// a free port. Replaces the default listeners. `ibench stacks` lists the names.
    #[arg(long = "stack", value_name = "NAME=PORT|NAME=CHAIN@PORT", value_parser = parse_stack_port)]
    stacks: Vec<(Stack, u16)>,

    /// Add N to every default port (8080..8084), to run beside another server.
    #[arg(long, value_name = "N", default_value_t = 0, conflicts_with = "stacks")]
    port_offset: u16,

    /// Inject faults into the greeter of listener STACK (repeatable), e.g.
    /// `full=error=0.2:unavailable,latency=0.1:50ms,panic=0.01,seed=7`. Kinds: error=RATE:CODE,
    /// latency=RATE:DURATION, panic=RATE, seed=N; rates from 0 to 1.
    #[arg(long = "fault", value_name = "STACK=SPEC", value_parser = parse_stack_faults)]
    faults: Vec<(String, FaultConfig)>,

    /// Tokio worker threads. 1 runs everything on one thread, which was fastest on a 2-core
    /// machine shared with the load generator.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=flags::MAX_THREADS as i64))]
    workers: u16,

    /// Most connections served at once over all listeners (1 to 1048576); more are closed on
    /// accept and counted.
    #[arg(long, value_name = "N", default_value_t = ServerConfig::default().get_max_connections(),
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_CONNECTIONS))]
    max_connections: usize,

    /// Close an HTTP/1 connection whose client takes longer than this to send request headers;
    /// also the idle timeout of HTTP/1 keep-alive connections.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = flags::positive_duration)]
    header_read_timeout: Duration,

    /// Largest request body accepted (1 B to 1 GiB); larger ones get 429 resource_exhausted.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=1 << 30))]
    max_body_bytes: usize,

    /// Largest request header block accepted (names, values and the request line; 1 B to 1 MiB);
    /// larger ones get 431 with a JSON body saying so.
    #[arg(long, value_name = "BYTES", default_value_t = ServerConfig::default().get_max_header_bytes(),
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=1 << 20))]
    max_header_bytes: usize,

    /// Most request headers accepted (1 to 1000); more get 431.
    #[arg(long, value_name = "N", default_value_t = ServerConfig::default().get_max_headers(),
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=1000))]
    max_headers: usize,

    /// On SIGINT/SIGTERM, how long to wait for in-flight requests before closing their connections.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = flags::duration)]
    grace_period: Duration,

    /// File the logger interceptor appends its lines to (never the terminal).
    /// [default: <system temp dir>/ibench-serve.log]
    #[arg(long, value_name = "PATH", conflicts_with = "discard_logs")]
    log_file: Option<PathBuf>,

    /// Discard the logger interceptor's lines instead of writing them to a file.
    #[arg(long)]
    discard_logs: bool,

    /// Export the otel interceptor's spans over OTLP/HTTP to this URL. [default: none, spans
    /// go to a no-op exporter]
    #[arg(long, value_name = "URL")]
    otlp_endpoint: Option<http::Uri>,
}

#[cfg(feature = "otlp")]
fn otlp_layer(endpoint: &http::Uri) -> Result<OtelLayer, String> {
    OtelLayer::otlp(&endpoint.to_string()).map_err(|e| format!("cannot export spans to {endpoint}: {e}"))
}

#[cfg(not(feature = "otlp"))]
fn otlp_layer(endpoint: &http::Uri) -> Result<OtelLayer, String> {
    Err(format!(
        "--otlp-endpoint {endpoint}: this ibench was built without OTLP export; rebuild with `--features otlp`"
    ))
}

fn parse_stack_port(value: &str) -> Result<(Stack, u16), String> {
    let (name, rest) =
        value.split_once('=').ok_or_else(|| format!("expected NAME=PORT or NAME=CHAIN@PORT, got {value:?}"))?;
    let (chain, port) = match rest.rsplit_once('@') {
        Some((chain, port)) => (Some(chain), port),
        None => (None, rest),
    };
    let port = port.parse::<u16>().map_err(|e| format!("bad port {port:?}: {e}"))?;
    let stack = match chain {
        Some(chain) => parse_chain(name, chain)?,
        None => find(name)?,
    };
    Ok((stack, port))
}

fn parse_stack_faults(value: &str) -> Result<(String, FaultConfig), String> {
    let (name, spec) = value.split_once('=').ok_or_else(|| format!("expected STACK=SPEC, got {value:?}"))?;
    Ok((name.to_owned(), spec.parse::<FaultConfig>().map_err(|e| e.to_string())?))
}

impl Args {
    /// The listeners to bind: the --stack ones, or the seed's five shifted by --port-offset.
    fn listeners(&self) -> Result<Vec<(Stack, SocketAddr)>, String> {
        let with_ports: Vec<(Stack, u16)> = if self.stacks.is_empty() {
            let shifted = SEED_LAYOUT.iter().map(|listener| {
                let port = listener.port;
                port.checked_add(self.port_offset)
                    .ok_or_else(|| format!("--port-offset {} puts port {port} past 65535", self.port_offset))
            });
            let shifted: Vec<u16> = shifted.collect::<Result<_, _>>()?;
            seed_stacks().into_iter().zip(shifted).collect()
        } else {
            self.stacks.clone()
        };
        for (i, (_, port)) in with_ports.iter().enumerate() {
            if *port != 0 && with_ports[..i].iter().any(|(_, p)| p == port) {
                return Err(format!("port {port} is given to two listeners"));
            }
        }
        Ok(with_ports.into_iter().map(|(stack, port)| (stack, SocketAddr::new(self.bind, port))).collect())
    }

    /// The --fault of the listener serving `stack`; a --fault naming no listener is an error.
    fn faults_for(&self, listeners: &[(Stack, SocketAddr)]) -> Result<Vec<Option<FaultLayer>>, String> {
        for (name, _) in &self.faults {
            if !listeners.iter().any(|(stack, _)| stack.name() == name) {
                return Err(format!("--fault {name}=...: no listener serves stack {name:?}"));
            }
        }
        let faults = listeners.iter().map(|(stack, _)| {
            let mut given = self.faults.iter().filter(|(name, _)| name == stack.name());
            match (given.next(), given.next()) {
                (Some(_), Some(_)) => Err(format!("--fault {} is given twice", stack.name())),
                (first, _) => Ok(first.map(|(_, config)| FaultLayer::new(*config))),
            }
        });
        faults.collect()
    }

    fn config(&self) -> ServerConfig {
        ServerConfig::default()
            .max_connections(self.max_connections)
            .header_read_timeout(self.header_read_timeout)
            .max_body_bytes(self.max_body_bytes)
            .max_header_bytes(self.max_header_bytes)
            .max_headers(self.max_headers)
            .grace_period(self.grace_period)
    }

    /// The interceptors' configuration: the logger writes to --log-file (or nowhere), otel
    /// exports to --otlp-endpoint (or nowhere).
    fn interceptors(&self) -> Result<Interceptors, String> {
        let writer = match self.log_destination() {
            Some(path) => {
                LogWriter::file(&path).map_err(|e| format!("cannot open log file {}: {e}", path.display()))?
            }
            None => LogWriter::sink(),
        };
        let otel = match &self.otlp_endpoint {
            Some(endpoint) => otlp_layer(endpoint)?,
            None => OtelLayer::default(),
        };
        Ok(Interceptors { logger: LoggerLayer::new().writer(writer), otel, ..Interceptors::default() })
    }

    fn log_destination(&self) -> Option<PathBuf> {
        if self.discard_logs {
            None
        } else {
            Some(self.log_file.clone().unwrap_or_else(|| std::env::temp_dir().join("ibench-serve.log")))
        }
    }

    fn runtime(&self) -> std::io::Result<tokio::runtime::Runtime> {
        if self.workers == 1 {
            tokio::runtime::Builder::new_current_thread().enable_all().build()
        } else {
            tokio::runtime::Builder::new_multi_thread().worker_threads(self.workers.into()).enable_all().build()
        }
    }
}

/// A listener to bind: its stack and address, and the faults injected into its greeter.
type Planned = ((Stack, SocketAddr), Option<FaultLayer>);

/// The listeners to bind, each with its faults: every flag checked, nothing bound yet. `Err`
/// is bad usage, exit 2.
pub fn prepare(args: &Args) -> Result<Vec<Planned>, String> {
    let listeners = args.listeners()?;
    let faults = args.faults_for(&listeners)?;
    Ok(listeners.into_iter().zip(faults).collect())
}

pub fn run(args: Args) -> ExitCode {
    let listeners = match prepare(&args) {
        Ok(listeners) => listeners,
        Err(message) => {
            eprintln!("ibench serve: error: {message}");
            return ExitCode::from(2);
        }
    };
    raise_file_limit(args.max_connections);
    let runtime = match args.runtime() {
        Ok(runtime) => runtime,
        Err(error) => return fail(&format!("cannot start the runtime: {error}")),
    };
    let interceptors = match args.interceptors() {
        Ok(interceptors) => interceptors,
        Err(message) => return fail(&message),
    };
    runtime.block_on(async {
        let bind = |((stack, addr), faults): Planned| {
            StackListener::bind(stack, addr).map(|bound| match faults {
                Some(faults) => bound.faults(faults),
                None => bound,
            })
        };
        let bound = match listeners.into_iter().map(bind).collect() {
            Ok(bound) => bound,
            Err(error) => return fail(&error.to_string()),
        };
        let signals = match TerminationSignals::install() {
            Ok(signals) => signals,
            Err(error) => return fail(&format!("cannot watch for SIGINT/SIGTERM: {error}")),
        };
        serve(&args, &interceptors, bound, signals).await
    })
}

async fn serve(
    args: &Args,
    interceptors: &Interceptors,
    listeners: Vec<StackListener>,
    signals: TerminationSignals,
) -> ExitCode {
    let server = Server::new(args.config());
    let log = args.log_destination().map_or("discarded".to_owned(), |path| format!("appended to {}", path.display()));
    let spans = args.otlp_endpoint.as_ref().map_or("no-op exporter".to_owned(), |url| format!("OTLP to {url}"));
    println!("ibench serve: logger output {log}; otel spans to {spans}; {} worker(s)", args.workers);
    for listener in &listeners {
        let stack = listener.stack();
        let chain = stack.describe();
        let faults = listener.get_faults().map_or(String::new(), |f| format!(" (faults: {})", f.handle().get()));
        println!("ready {} http://{} {chain}{faults}", stack.name(), listener.addr());
    }
    let _ = std::io::stdout().flush();
    let grace = args.grace_period;
    let shutdown = async move {
        let name = signals.recv().await;
        eprintln!(
            "ibench serve: {name} received; no longer accepting, finishing requests in flight (grace period {})",
            humantime::format_duration(grace)
        );
    };
    match server.serve_stacks(listeners, interceptors, shutdown).await {
        Ok(Drain::Finished) => {
            eprintln!("ibench serve: stopped");
            ExitCode::SUCCESS
        }
        Ok(Drain::GracePeriodExpired) => {
            eprintln!("ibench serve: grace period over; closed the connections still open");
            ExitCode::SUCCESS
        }
        Err(error) => fail(&format!("server failed: {error}")),
    }
}

/// Every connection is a file descriptor: raises the soft open-files limit to fit
/// --max-connections and some spare (as far as the hard limit allows), or warns that
/// connections past the limit will wait in the backlog (the accept loop backs off on `EMFILE`).
fn raise_file_limit(max_connections: usize) {
    const SPARE: u64 = 64;
    let wanted = u64::try_from(max_connections).unwrap_or(u64::MAX).saturating_add(SPARE);
    match rlimit::increase_nofile_limit(wanted) {
        Ok(limit) if limit < wanted => eprintln!(
            "ibench serve: warning: the open-files limit is {limit}, under --max-connections {max_connections}; \
             raise it (ulimit -n {wanted}) or connections past it wait to be accepted"
        ),
        Ok(_) => {}
        Err(error) => eprintln!("ibench serve: warning: cannot raise the open-files limit: {error}"),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("ibench serve: error: {message}");
    ExitCode::FAILURE
}
