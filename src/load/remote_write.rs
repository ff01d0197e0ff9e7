//! `--out prometheus-rw=URL`: the run's metrics streamed to Prometheus (or anything that takes
//! its remote-write protocol: Mimir, Thanos Receive, VictoriaMetrics, Grafana Agent) once a
//! second while it runs.
//!
//! Names follow k6's Prometheus remote-write output with an `ibench_` prefix; times are in
//! seconds, as Prometheus wants them. Every series carries `testid` (`--testid`, default
//! `ibench-<unix time>`) and `scenario`; request series carry `listener`; breakpoint steps carry
//! `phase` (`"full step 03 1563/s"`):
//!
//! | series | kind | what |
//! |---|---|---|
//! | `ibench_http_reqs_total{listener}` | counter | requests finished |
//! | `ibench_http_req_failed_total{listener}` | counter | of which failed (no 200) |
//! | `ibench_http_req_duration_{p50,p90,p95,p99,max,avg}{listener}` | gauge | latency over the last second, s |
//! | `ibench_checks_passed_total`, `ibench_checks_failed_total{listener}` | counter | checks |
//! | `ibench_checks_rate{listener}` | gauge | fraction of checks that held so far |
//! | `ibench_iterations_total`, `ibench_dropped_iterations_total` | counter | iterations done, dropped |
//! | `ibench_vus`, `ibench_vus_max` | gauge | VUs active (busy, open model), pool |
//! | `ibench_server_rss_bytes`, `ibench_server_cpu_percent` | gauge | with `--server-pid` / `--server-metrics` |
//!
//! The protocol is remote write 1.0: a protobuf `WriteRequest`, snappy block-compressed,
//! POSTed. Its four message types are declared here with `prost` derives (the only crates that
//! ship them pull in a whole client or a gRPC stack). Sending never touches the load: the run
//! loop hands a snapshot to a bounded queue without waiting (a full queue drops the snapshot,
//! counted; counters are cumulative, so the next one carries the counts), and a task of its own
//! posts them, retrying connection failures, 5xx and 429 with backoff. What could not be sent
//! is counted and reported at the end ([`RemoteWriteStats`]).
//!
//! ```
//! use interceptor_bench::load::remote_write::{Label, Sample, TimeSeries, WriteRequest, encode};
//!
//! let request = WriteRequest {
//!     timeseries: vec![TimeSeries {
//!         labels: vec![Label { name: "__name__".into(), value: "ibench_vus".into() }],
//!         samples: vec![Sample { value: 10.0, timestamp: 1_700_000_000_000 }],
//!     }],
//! };
//! let body = encode(&request);
//! assert_eq!(snap::raw::Decoder::new().decompress_vec(&body).unwrap(), prost::Message::encode_to_vec(&request));
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, HOST};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::metrics::{Totals, percentile_ms};
use super::resources::ResourcePoint;
use super::target::Target;

/// Remote write 1.0 `prometheus.WriteRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series and their samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`: labels sorted by name, `__name__` among them.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// The labels.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// The samples, oldest first.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    /// The name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// The value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    /// The value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// The request's body: protobuf, snappy block format (not the framed stream format).
pub fn encode(request: &WriteRequest) -> Vec<u8> {
    let protobuf = prost::Message::encode_to_vec(request);
    snap::raw::Encoder::new().compress_vec(&protobuf).expect("snappy compresses any buffer under 4 GiB")
}

/// How often the run's metrics are sent.
pub const PUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Snapshots waiting to be sent, at most; more are dropped (and counted).
const QUEUE: usize = 32;
/// Retries of one batch after the first attempt, with doubling backoff from [`BACKOFF`].
const RETRIES: u32 = 4;
const BACKOFF: Duration = Duration::from_millis(100);
/// How long one POST may take.
const POST_TIMEOUT: Duration = Duration::from_secs(2);

/// What remote write achieved, reported at the end of the run (`"remote_write"` in the JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RemoteWriteStats {
    /// The endpoint.
    pub url: String,
    /// The `testid` label of every series.
    pub testid: String,
    /// Batches the endpoint accepted.
    pub batches_sent: u64,
    /// Samples in them.
    pub samples_sent: u64,
    /// Batches given up on (after the retries, or refused with a 4xx).
    pub batches_failed: u64,
    /// Retries made.
    pub retries: u64,
    /// Snapshots not queued because the queue was full (the endpoint was too slow).
    pub snapshots_dropped: u64,
    /// Batches still unsent when the run ended and the wait for them did.
    pub batches_unsent: u64,
    /// The last failure, if any.
    pub last_error: Option<String>,
}

#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    samples: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    dropped: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// The sending task; [`RemoteWriter::handle`] gives runs what they need to feed it.
pub struct RemoteWriter {
    handle: RemoteWriteHandle,
    closing: CancellationToken,
    task: JoinHandle<u64>,
    url: String,
}

/// What a run uses to hand its snapshots to the writer. Cheap to clone.
#[derive(Clone)]
pub struct RemoteWriteHandle {
    queue: mpsc::Sender<WriteRequest>,
    testid: Arc<str>,
    counts: Arc<Counts>,
}

impl std::fmt::Debug for RemoteWriteHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteWriteHandle").field("testid", &self.testid).finish_non_exhaustive()
    }
}

/// A `testid` for a run that was not given one: `ibench-<unix seconds>`.
pub fn default_testid() -> String {
    format!("ibench-{}", SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs())
}

impl RemoteWriter {
    /// Starts the sending task (inside a Tokio runtime) for `url`, which must be on loopback,
    /// as every target of `ibench load` is.
    pub fn start(url: &str, testid: &str) -> Result<RemoteWriter, String> {
        let target = Target::parse(url)?;
        if target.base_path() == "/" {
            return Err(format!("{url} has no path; Prometheus takes remote writes at /api/v1/write"));
        }
        let (queue, receiver) = mpsc::channel(QUEUE);
        let counts = Arc::new(Counts::default());
        let closing = CancellationToken::new();
        let task = tokio::spawn(deliver(target, receiver, Arc::clone(&counts), closing.clone()));
        let handle = RemoteWriteHandle { queue, testid: testid.into(), counts };
        Ok(RemoteWriter { handle, closing, task, url: url.to_owned() })
    }

    /// What runs feed.
    pub fn handle(&self) -> RemoteWriteHandle {
        self.handle.clone()
    }

    /// Sends what is queued (waiting at most `patience`) and reports.
    pub async fn finish(self, patience: Duration) -> RemoteWriteStats {
        self.closing.cancel();
        let unsent = tokio::time::timeout(patience, self.task).await.map_or_else(
            |_| self.handle.queue.max_capacity() as u64 - self.handle.queue.capacity() as u64,
            |joined| joined.unwrap_or(0),
        );
        let counts = &self.handle.counts;
        RemoteWriteStats {
            url: self.url,
            testid: self.handle.testid.to_string(),
            batches_sent: counts.sent.load(Ordering::Relaxed),
            samples_sent: counts.samples.load(Ordering::Relaxed),
            batches_failed: counts.failed.load(Ordering::Relaxed),
            retries: counts.retries.load(Ordering::Relaxed),
            snapshots_dropped: counts.dropped.load(Ordering::Relaxed),
            batches_unsent: unsent,
            last_error: counts.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }
}

enum Failure {
    /// Worth another try: no connection, a timeout, 5xx or 429.
    Retry(String),
    /// The endpoint refused the data.
    Refused(String),
}

async fn post(target: &Target, body: Bytes) -> Result<(), Failure> {
    let retry = |what: &str, error: &dyn std::fmt::Display| Failure::Retry(format!("{what}: {error}"));
    let attempt = async {
        let stream = TcpStream::connect(target.addr()).await.map_err(|e| retry("cannot connect", &e))?;
        let (mut sender, connection) =
            http1::handshake(TokioIo::new(stream)).await.map_err(|e| retry("handshake", &e))?;
        tokio::spawn(connection);
        let request = http::Request::post(target.base_path())
            .header(HOST, target.authority())
            .header(CONTENT_TYPE, "application/x-protobuf")
            .header(CONTENT_ENCODING, "snappy")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(Full::new(body))
            .map_err(|e| Failure::Refused(e.to_string()))?;
        let response = sender.send_request(request).await.map_err(|e| retry("request", &e))?;
        let status = response.status();
        let text = response.into_body().collect().await.map(|body| body.to_bytes()).unwrap_or_default();
        let why = || format!("HTTP {status}: {}", String::from_utf8_lossy(&text).trim());
        match status.as_u16() {
            200..=299 => Ok(()),
            429 | 500..=599 => Err(Failure::Retry(why())),
            _ => Err(Failure::Refused(why())),
        }
    };
    tokio::time::timeout(POST_TIMEOUT, attempt)
        .await
        .unwrap_or_else(|_| Err(Failure::Retry(format!("no answer within {POST_TIMEOUT:?}"))))
}

async fn send(target: &Target, request: WriteRequest, counts: &Counts) {
    let samples: u64 = request.timeseries.iter().map(|series| series.samples.len() as u64).sum();
    let body = Bytes::from(encode(&request));
    let mut backoff = BACKOFF;
    for attempt in 0..=RETRIES {
        let error = match post(target, body.clone()).await {
            Ok(()) => {
                counts.sent.fetch_add(1, Ordering::Relaxed);
                counts.samples.fetch_add(samples, Ordering::Relaxed);
                return;
            }
            Err(Failure::Retry(_)) if attempt < RETRIES => {
                counts.retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                continue;
            }
            Err(Failure::Retry(error) | Failure::Refused(error)) => error,
        };
        counts.failed.fetch_add(1, Ordering::Relaxed);
        *counts.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
        return;
    }
}

/// Posts queued batches until closed, then what is left; returns how many were left unsent
/// (none, unless the wait for it is cut short).
async fn deliver(
    target: Target,
    mut queue: mpsc::Receiver<WriteRequest>,
    counts: Arc<Counts>,
    closing: CancellationToken,
) -> u64 {
    loop {
        let request = tokio::select! {
            biased;
            request = queue.recv() => request,
            () = closing.cancelled() => None,
        };
        match request {
            Some(request) => send(&target, request, &counts).await,
            None => break,
        }
    }
    while let Ok(request) = queue.try_recv() {
        send(&target, request, &counts).await;
    }
    0
}

/// What a run knows at one moment, beyond its totals.
pub(crate) struct Gauges {
    pub vus: u32,
    pub vus_max: u32,
    pub dropped: u64,
    pub server: Option<ResourcePoint>,
}

/// One run's side of remote write: turns its totals into series once a second.
pub(crate) struct Feed {
    handle: RemoteWriteHandle,
    base: Vec<Label>,
    listeners: Vec<String>,
    previous: Vec<Option<Histogram<u64>>>,
    last_push: Option<Instant>,
    /// Prometheus refuses a second sample of a series at the same or an earlier time.
    last_timestamp: i64,
}

fn label(name: &str, value: &str) -> Label {
    Label { name: name.to_owned(), value: value.to_owned() }
}

impl Feed {
    pub fn new(handle: RemoteWriteHandle, scenario: &str, phase: Option<&str>, listeners: &[String]) -> Feed {
        let mut base = vec![label("scenario", scenario), label("testid", &handle.testid)];
        base.extend(phase.map(|phase| label("phase", phase)));
        Feed {
            handle,
            base,
            listeners: listeners.to_vec(),
            previous: vec![None; listeners.len()],
            last_push: None,
            last_timestamp: 0,
        }
    }

    /// Whether a second has passed since the last snapshot.
    pub fn due(&self, now: Instant) -> bool {
        self.last_push.is_none_or(|last| now.duration_since(last) >= PUSH_INTERVAL)
    }

    fn snapshot(&mut self, totals: &Totals, gauges: &Gauges) -> WriteRequest {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as i64;
        let timestamp = now.max(self.last_timestamp + 1);
        self.last_timestamp = timestamp;
        let mut timeseries = Vec::new();
        let mut series = |name: &str, listener: Option<&str>, value: f64| {
            let mut labels = self.base.clone();
            labels.push(label("__name__", name));
            labels.extend(listener.map(|listener| label("listener", listener)));
            labels.sort_by(|a, b| a.name.cmp(&b.name));
            timeseries.push(TimeSeries { labels, samples: vec![Sample { value, timestamp }] });
        };
        for (index, listener) in self.listeners.iter().enumerate() {
            let cell = totals.merged(|_, at| at == index);
            let name = Some(listener.as_str());
            series("ibench_http_reqs_total", name, cell.requests as f64);
            series("ibench_http_req_failed_total", name, cell.failed as f64);
            let passed: u64 = cell.checks.iter().map(|c| c.passes).sum();
            let failed: u64 = cell.checks.iter().map(|c| c.fails).sum();
            series("ibench_checks_passed_total", name, passed as f64);
            series("ibench_checks_failed_total", name, failed as f64);
            if let Some(rate) = cell.checks_rate() {
                series("ibench_checks_rate", name, rate);
            }
            let mut window = cell.duration.clone();
            if let Some(previous) = &self.previous[index] {
                // Cumulative minus cumulative: the last second's requests alone.
                let _ = window.subtract(previous);
            }
            for (suffix, percentile) in [("p50", 50.0), ("p90", 90.0), ("p95", 95.0), ("p99", 99.0), ("max", 100.0)] {
                if let Some(ms) = percentile_ms(&window, percentile) {
                    series(&format!("ibench_http_req_duration_{suffix}"), name, ms / 1e3);
                }
            }
            if !window.is_empty() {
                series("ibench_http_req_duration_avg", name, window.mean() / 1e6);
            }
            self.previous[index] = Some(cell.duration);
        }
        series("ibench_iterations_total", None, totals.iterations as f64);
        series("ibench_dropped_iterations_total", None, gauges.dropped as f64);
        series("ibench_vus", None, f64::from(gauges.vus));
        series("ibench_vus_max", None, f64::from(gauges.vus_max));
        if let Some(server) = gauges.server {
            series("ibench_server_rss_bytes", None, server.rss_mb * 1024.0 * 1024.0);
            if let Some(cpu) = server.cpu_percent {
                series("ibench_server_cpu_percent", None, cpu);
            }
        }
        WriteRequest { timeseries }
    }

    /// Queues a snapshot without waiting; a full queue drops it (counted).
    pub fn push(&mut self, now: Instant, totals: &Totals, gauges: &Gauges) {
        self.last_push = Some(now);
        let request = self.snapshot(totals, gauges);
        if self.handle.queue.try_send(request).is_err() {
            self.handle.counts.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The run's final counts: waits (briefly) for room in the queue, since the load is over.
    pub async fn finish(mut self, totals: &Totals, gauges: &Gauges) {
        let request = self.snapshot(totals, gauges);
        if self.handle.queue.send_timeout(request, POST_TIMEOUT).await.is_err() {
            self.handle.counts.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}
