//! Requests per second of `ibench serve` listeners against bare hyper, under wrk.
//!
//! Starts, in this process, each requested stack exactly as `ibench serve` serves it (same
//! accept loop and limits, `/health` and `/metrics` routing, metrics recording, Connect codec,
//! interceptors) and a bare hyper server answering the same JSON call with no codec and no
//! interceptors: the physical anchor. Every server has its own thread and single-threaded
//! runtime, like `ibench serve --workers 1`. Then runs `wrk` against each in turn, rotating
//! the order every round, and prints each run, the medians and the ratios to the anchor.
//!
//! ```text
//! apt-get install -y wrk
//! cargo run --release --example throughput -- --rounds 5 --duration 10s --connections 100 --stack baseline --stack full
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::{Command, ExitCode};
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use interceptor_bench::greeter::SAY_HELLO;
use interceptor_bench::server::{BackgroundServer, Server, ServerConfig, serve};
use interceptor_bench::stack::{Interceptors, find};

/// Requests per second of `ibench serve` listeners against bare hyper, under wrk.
#[derive(Parser)]
struct Args {
    /// Rounds; each runs wrk once against every server.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Length of each wrk run.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Keep-alive connections (wrk -c).
    #[arg(long, default_value_t = 100)]
    connections: usize,
    /// Catalog stacks to measure beside the anchor (repeatable).
    #[arg(long = "stack", default_values_t = ["baseline".to_owned(), "full".to_owned()])]
    stacks: Vec<String>,
    /// Serve only the bare hyper anchor on 127.0.0.1:PORT until killed (no wrk): for
    /// measuring its memory with your own load.
    #[arg(long, value_name = "PORT")]
    bare_only: Option<u16>,
    /// Also measure the baseline stack behind the bare Connect codec (no `/metrics` recording,
    /// no endpoint routing), to see what those cost.
    #[arg(long)]
    codec_only: bool,
}

const WRK_SCRIPT: &str = r#"wrk.method = "POST"
wrk.body = '{"name":"Ada"}'
wrk.headers["Content-Type"] = "application/json"
"#;

#[derive(serde::Deserialize)]
struct HelloRequest {
    name: String,
}

/// The anchor: read the body, parse the JSON, answer the greeting; nothing else.
async fn bare_hello(request: http::Request<Incoming>) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let body = request.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    let (status, body) = match serde_json::from_slice::<HelloRequest>(&body) {
        Ok(hello) => (200, serde_json::json!({ "message": format!("Hello, {}!", hello.name) }).to_string()),
        Err(e) => (400, serde_json::json!({ "code": "invalid_argument", "message": e.to_string() }).to_string()),
    };
    let mut response = http::Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = http::StatusCode::from_u16(status).expect("valid status");
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    Ok(response)
}

/// Runs wrk once; its requests per second, or why not.
fn wrk(addr: SocketAddr, script: &std::path::Path, args: &Args) -> Result<f64, String> {
    let output = Command::new("wrk")
        .args(["-t1", &format!("-c{}", args.connections), &format!("-d{}s", args.duration.as_secs().max(1))])
        .arg("-s")
        .arg(script)
        .arg(format!("http://{addr}/{SAY_HELLO}"))
        .output()
        .map_err(|e| format!("cannot run wrk (apt-get install -y wrk): {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("wrk failed: {text}{}", String::from_utf8_lossy(&output.stderr)));
    }
    if let Some(line) = text.lines().find(|l| l.contains("Non-2xx") || l.contains("Socket errors")) {
        return Err(format!("wrk saw failures: {line}"));
    }
    let line =
        text.lines().find(|l| l.starts_with("Requests/sec:")).ok_or_else(|| format!("no Requests/sec in {text}"))?;
    line["Requests/sec:".len()..].trim().parse().map_err(|e| format!("bad Requests/sec line {line:?}: {e}"))
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 0 { (sorted[middle - 1] + sorted[middle]) / 2.0 } else { sorted[middle] }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let script = std::env::temp_dir().join(format!("ibench-throughput-{}.lua", std::process::id()));
    if let Err(e) = std::fs::write(&script, WRK_SCRIPT) {
        eprintln!("cannot write the wrk script {}: {e}", script.display());
        return ExitCode::FAILURE;
    }
    let result = run(&args, &script);
    let _ = std::fs::remove_file(&script);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The bare anchor alone on `port`, on this thread's runtime, until the process is killed.
fn serve_bare(port: u16) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let listener =
            tokio::net::TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| format!("port {port}: {e}"))?;
        println!("bare-hyper http://{}", listener.local_addr().map_err(|e| e.to_string())?);
        serve(listener, tower::service_fn(bare_hello), std::future::pending()).await.map_err(|e| e.to_string())
    })
}

fn run(args: &Args, script: &std::path::Path) -> Result<(), String> {
    if let Some(port) = args.bare_only {
        return serve_bare(port);
    }
    let server = Server::new(ServerConfig::default());
    let interceptors = Interceptors::default();
    let mut servers = vec![(
        "bare-hyper".to_owned(),
        BackgroundServer::start_service(tower::service_fn(bare_hello)).map_err(|e| e.to_string())?,
    )];
    for name in &args.stacks {
        let stack = find(name)?;
        let service = server.stack_service(&stack, &interceptors);
        servers.push((name.clone(), BackgroundServer::start_service(service).map_err(|e| e.to_string())?));
    }
    if args.codec_only {
        let codec_only = BackgroundServer::start(&find("baseline")?, &interceptors).map_err(|e| e.to_string())?;
        servers.push(("codec-only".to_owned(), codec_only));
    }
    println!("wrk -t1 -c{} -d{}s, {} rounds, order rotating", args.connections, args.duration.as_secs(), args.rounds);
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    for round in 0..args.rounds {
        for k in 0..servers.len() {
            let i = (round + k) % servers.len();
            let (name, background) = &servers[i];
            let rps = wrk(background.addr(), script, args)?;
            println!("round {} {name:12} {rps:>10.0} req/s", round + 1);
            results[i].push(rps);
        }
    }
    let anchor = median(&results[0]);
    println!("\n{:12} {:>14} {:>10}", "server", "median req/s", "of bare");
    for ((name, _), runs) in servers.iter().zip(&results) {
        println!("{name:12} {:>14.0} {:>9.1}%", median(runs), 100.0 * median(runs) / anchor);
    }
    Ok(())
}
