//! Shared by the end-to-end tests: a running `ibench serve` (the real binary, killed on drop)
//! and a small HTTP client. Not every test file uses every piece.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub const SAY_HELLO: &str = "/greeter.v1.GreeterService/SayHello";
/// The longest any step waits for the server; every wait loop is bounded by it.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A running `ibench serve`, killed on drop.
pub struct Serve {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl Serve {
    pub fn start(args: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ibench"))
            .arg("serve")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ibench starts");
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        Serve { child, stdout, stderr }
    }

    /// The `ready <stack> http://<addr> ...` lines, or the error output if it exits first.
    pub fn ready(&mut self, listeners: usize) -> Result<Vec<(String, SocketAddr)>, String> {
        let deadline = Instant::now() + PATIENCE;
        let mut ready = Vec::new();
        while ready.len() < listeners {
            match self.stdout.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    if let ["ready", stack, url, ..] = fields[..] {
                        let addr = url.strip_prefix("http://").expect("ready lines carry a URL").parse().unwrap();
                        ready.push((stack.to_owned(), addr));
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return Err(self.error_output()),
                Err(RecvTimeoutError::Timeout) => panic!("no ready lines within {PATIENCE:?}"),
            }
        }
        Ok(ready)
    }

    /// Everything it wrote to stderr, once it has exited.
    pub fn error_output(&mut self) -> String {
        self.wait();
        let deadline = Instant::now() + PATIENCE;
        let mut lines = Vec::new();
        // The reader thread delivers the last lines, then hangs up.
        while let Ok(line) = self.stderr.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            lines.push(line);
        }
        lines.join("\n")
    }

    /// Waits for the next stderr line containing `needle`.
    pub fn await_stderr(&self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let line = self
                .stderr
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|e| panic!("no stderr line with {needle:?}: {e}"));
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "ibench serve did not exit within {PATIENCE:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill").args(["-s", name, &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn lines(stream: impl Read + Send + 'static) -> Receiver<String> {
    let (send, receive) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

/// `ibench serve` with the default listeners shifted by a random offset, retried when a
/// port is taken.
pub fn start_default_listeners() -> (Serve, u16, Vec<(String, SocketAddr)>) {
    for _ in 0..5 {
        let offset: u16 = rand::random_range(20_000..50_000);
        let mut serve = Serve::start(&["--port-offset", &offset.to_string()]);
        match serve.ready(5) {
            Ok(listeners) => return (serve, offset, listeners),
            Err(error) if error.contains("in use") => continue,
            Err(error) => panic!("ibench serve failed: {error}"),
        }
    }
    panic!("no free run of 5 ports in 5 tries");
}

/// One listener per stack, each on a port the system picks.
pub fn start_stacks(stacks: &[&str], extra: &[&str]) -> (Serve, Vec<(String, SocketAddr)>) {
    let mut args: Vec<String> = stacks.iter().flat_map(|s| ["--stack".to_owned(), format!("{s}=0")]).collect();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let mut serve = Serve::start(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let listeners = serve.ready(stacks.len()).unwrap_or_else(|e| panic!("ibench serve failed: {e}"));
    (serve, listeners)
}

/// A small HTTP client: HTTP/1.1 keep-alive, or h2c with prior knowledge.
pub struct Http {
    pub runtime: tokio::runtime::Runtime,
    pub http1: Client<HttpConnector, Full<Bytes>>,
    pub h2c: Client<HttpConnector, Full<Bytes>>,
}

pub struct Answer {
    pub status: u16,
    pub version: http::Version,
    pub content_type: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

impl Http {
    pub fn new() -> Http {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let _entered = runtime.enter();
        let http1 = Client::builder(TokioExecutor::new()).build_http();
        let h2c = Client::builder(TokioExecutor::new()).http2_only(true).build_http();
        Http { runtime, http1, h2c }
    }

    pub fn send(&self, client: &Client<HttpConnector, Full<Bytes>>, request: http::Request<Full<Bytes>>) -> Answer {
        self.runtime.block_on(async {
            let response = tokio::time::timeout(PATIENCE, client.request(request))
                .await
                .expect("answered in time")
                .expect("answered");
            let status = response.status().as_u16();
            let version = response.version();
            let content_type = response
                .headers()
                .get(http::header::CONTENT_TYPE)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            Answer { status, version, content_type, body: String::from_utf8(body.to_vec()).unwrap() }
        })
    }

    pub fn say_hello(&self, addr: SocketAddr, message: &str) -> Answer {
        self.send(&self.http1, say_hello_request(addr, message))
    }

    pub fn get(&self, addr: SocketAddr, path: &str) -> Answer {
        let request = http::Request::get(format!("http://{addr}{path}")).body(Full::default()).unwrap();
        self.send(&self.http1, request)
    }
}

pub fn say_hello_request(addr: SocketAddr, message: &str) -> http::Request<Full<Bytes>> {
    http::Request::post(format!("http://{addr}{SAY_HELLO}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(message.to_owned())))
        .unwrap()
}

pub fn addr_of(listeners: &[(String, SocketAddr)], stack: &str) -> SocketAddr {
    listeners.iter().find(|(name, _)| name == stack).unwrap_or_else(|| panic!("no {stack} listener")).1
}

/// `ibench load <args>` run to the end; its output is printed (shown when an assertion fails).
pub fn ibench_load(args: &[String]) -> std::process::Output {
    let output = Command::new(env!("CARGO_BIN_EXE_ibench")).arg("load").args(args).output().unwrap();
    eprintln!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
