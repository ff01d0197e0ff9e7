//! One structured `tracing` event per RPC: the procedure, the outcome (`ok` or the Connect
//! code) and the duration in microseconds, at a configurable level (default `INFO`).
//!
//! The layer owns its own [`tracing::Dispatch`]: a `tracing_subscriber::fmt` subscriber
//! writing through a [`LogWriter`] — a file (appended to), stderr, or a sink (the default, so
//! that benches never measure a terminal). Its events never reach the global subscriber, and
//! installing this layer changes nothing else in the process. A line looks like
//!
//! ```text
//! 2026-11-28T15:20:01.123456Z  INFO rpc procedure=greeter.v1.GreeterService/SayHello code=ok duration_us=12
//! ```
//!
//! A call whose response future is dropped before it completes (a timeout or the client going
//! away) is logged when it is dropped, with the code `canceled`.
//!
//! The timestamp and the duration come from a [`LogClock`]: the system's by default, or a fixed
//! one that makes every line (and so every instruction spent formatting it) the same run to
//! run, which the instruction-count bench uses.
//!
//! ```
//! use interceptor_bench::greeter::{Greeter, SAY_HELLO};
//! use interceptor_bench::interceptors::logger::{LogWriter, LoggerLayer};
//! use interceptor_bench::rpc::RpcRequest;
//! use tower::{Layer, ServiceExt};
//! use tracing::Level;
//!
//! let layer = LoggerLayer::new().level(Level::DEBUG).writer(LogWriter::stderr());
//! # let layer = layer.writer(LogWriter::sink());
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let response = layer.layer(Greeter::new()).oneshot(RpcRequest::new(SAY_HELLO, serde_json::json!({"name": "Ada"}))).await;
//! assert!(response.is_ok()); // and one DEBUG line on stderr
//! # });
//! ```

use std::fmt;
use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::{self, Write};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower::{Layer, Service};
use tracing::{Dispatch, Level, Metadata};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::fmt::{MakeWriter, time};

use crate::rpc::{Procedure, RpcError, RpcRequest, RpcResponse};

/// Where the logger's lines go. Cheap to clone: clones share the destination.
///
/// Lines are written whole, one `write` per line, and unbuffered: a line is in the file when the
/// call's response is returned.
///
/// ```
/// use interceptor_bench::interceptors::logger::LogWriter;
///
/// let _discarded = LogWriter::sink();
/// let _terminal = LogWriter::stderr();
/// let path = std::env::temp_dir().join(format!("ibench-doc-{}.log", std::process::id()));
/// let _appended = LogWriter::file(&path).unwrap(); // created if missing, never truncated
/// # std::fs::remove_file(&path).unwrap();
/// assert!(LogWriter::file("/no/such/dir/rpc.log").is_err());
/// ```
#[derive(Clone)]
pub struct LogWriter(Arc<BoxMakeWriter>);

impl LogWriter {
    /// Discards every line (`std::io::sink`): the cost of formatting without the cost of a
    /// terminal or a disk. The default.
    pub fn sink() -> Self {
        LogWriter::new(io::sink)
    }

    /// Writes each line to stderr.
    pub fn stderr() -> Self {
        LogWriter::new(io::stderr)
    }

    /// Appends each line to the file at `path`, creating it if it does not exist.
    pub fn file(path: impl AsRef<Path>) -> io::Result<Self> {
        let file: File = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(LogWriter::new(Arc::new(file)))
    }

    /// Writes through any `tracing_subscriber` writer, e.g. a non-blocking one.
    pub fn new<M>(make_writer: M) -> Self
    where
        M: for<'a> MakeWriter<'a> + Send + Sync + 'static,
    {
        LogWriter(Arc::new(BoxMakeWriter::new(make_writer)))
    }
}

impl Default for LogWriter {
    /// [`LogWriter::sink`].
    fn default() -> Self {
        LogWriter::sink()
    }
}

impl fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = Box<dyn Write + 'a>;

    fn make_writer(&'a self) -> Self::Writer {
        self.0.make_writer()
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        self.0.make_writer_for(meta)
    }
}

/// Where the logger reads the time: the timestamp that starts each line and each call's
/// duration.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use interceptor_bench::interceptors::logger::{LogClock, LoggerLayer};
///
/// let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
/// let layer = LoggerLayer::new().clock(LogClock::Fixed(at));
/// assert_eq!(layer.get_clock(), &LogClock::Fixed(at)); // lines start 2027-01-15T08:00:00.000000Z, duration_us=0
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogClock {
    /// The system's: the wall-clock time of each line, the measured duration of each call.
    #[default]
    System,
    /// Always this time: every line carries it and every call lasts 0 µs, so that lines are
    /// identical run to run (exact instruction counts, golden-file tests).
    Fixed(SystemTime),
}

impl LogClock {
    /// When a call starts: `None` for a fixed clock, whose calls take no time.
    fn start(self) -> Option<Instant> {
        match self {
            LogClock::System => Some(Instant::now()),
            LogClock::Fixed(_) => None,
        }
    }
}

impl FormatTime for LogClock {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        match self {
            LogClock::System => time::SystemTime.format_time(w),
            LogClock::Fixed(at) => write!(w, "{}", humantime::format_rfc3339_micros(*at)),
        }
    }
}

/// One `tracing` event per RPC through the layer's own subscriber; see the [module docs](self).
///
/// `Default` logs at `INFO` to a sink, with the system clock.
///
/// ```
/// use interceptor_bench::interceptors::logger::LoggerLayer;
/// let layer = LoggerLayer::default();
/// assert_eq!(layer.get_level(), tracing::Level::INFO);
/// ```
#[derive(Debug, Clone)]
pub struct LoggerLayer {
    level: Level,
    writer: LogWriter,
    clock: LogClock,
    dispatch: Dispatch,
}

impl LoggerLayer {
    /// Logs at `INFO` to a sink, with the system clock.
    pub fn new() -> Self {
        let (writer, clock) = (LogWriter::default(), LogClock::default());
        LoggerLayer { level: Level::INFO, dispatch: subscriber(writer.clone(), clock), writer, clock }
    }

    /// Logs each call at `level`.
    pub fn level(mut self, level: Level) -> Self {
        self.level = level;
        self
    }

    /// Writes lines to `writer`.
    pub fn writer(mut self, writer: LogWriter) -> Self {
        self.dispatch = subscriber(writer.clone(), self.clock);
        self.writer = writer;
        self
    }

    /// Reads the time from `clock`.
    pub fn clock(mut self, clock: LogClock) -> Self {
        self.dispatch = subscriber(self.writer.clone(), clock);
        self.clock = clock;
        self
    }

    /// The level each call is logged at.
    pub fn get_level(&self) -> Level {
        self.level
    }

    /// The clock it reads.
    pub fn get_clock(&self) -> &LogClock {
        &self.clock
    }
}

impl Default for LoggerLayer {
    fn default() -> Self {
        LoggerLayer::new()
    }
}

/// A subscriber that writes every event it is given, whatever its level, to `writer` as one
/// compact line without the target (every event here comes from this module), stamped by `clock`.
fn subscriber(writer: LogWriter, clock: LogClock) -> Dispatch {
    let subscriber = tracing_subscriber::fmt()
        .compact()
        .with_timer(clock)
        .with_max_level(LevelFilter::TRACE)
        .with_ansi(false)
        .with_target(false)
        .with_writer(writer)
        .finish();
    Dispatch::new(subscriber)
}

impl<S> Layer<S> for LoggerLayer {
    type Service = Logger<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Logger { level: self.level, clock: self.clock, dispatch: self.dispatch.clone(), inner }
    }
}

/// The logging service; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Logger<S> {
    level: Level,
    clock: LogClock,
    dispatch: Dispatch,
    inner: S,
}

impl<S> Logger<S> {
    define_inner_service_accessors!();
}

impl<S> Service<RpcRequest> for Logger<S>
where
    S: Service<RpcRequest, Response = RpcResponse, Error = RpcError>,
{
    type Response = RpcResponse;
    type Error = RpcError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: RpcRequest) -> Self::Future {
        let record = Record {
            level: self.level,
            dispatch: self.dispatch.clone(),
            procedure: request.procedure.clone(),
            start: self.clock.start(),
        };
        ResponseFuture { future: self.inner.call(request), record: Some(record) }
    }
}

/// What the event of one call needs, kept until the call ends.
#[derive(Debug)]
struct Record {
    level: Level,
    dispatch: Dispatch,
    procedure: Procedure,
    /// `None` under a fixed clock.
    start: Option<Instant>,
}

impl Record {
    fn emit(self, code: &str) {
        let elapsed = self.start.map_or(0, |start| start.elapsed().as_micros());
        let duration_us = u64::try_from(elapsed).unwrap_or(u64::MAX);
        let procedure = &self.procedure;
        // `tracing::event!` takes its level as a constant: one call site per level.
        macro_rules! rpc_event {
            ($level:expr) => {
                tracing::event!($level, procedure = %procedure, code = %code, duration_us, "rpc")
            };
        }
        tracing::dispatcher::with_default(&self.dispatch, || match self.level {
            Level::ERROR => rpc_event!(Level::ERROR),
            Level::WARN => rpc_event!(Level::WARN),
            Level::INFO => rpc_event!(Level::INFO),
            Level::DEBUG => rpc_event!(Level::DEBUG),
            Level::TRACE => rpc_event!(Level::TRACE),
        });
    }
}

pin_project! {
    /// The response future of [`Logger`]: logs the call when it completes or is dropped.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        future: F,
        record: Option<Record>,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(record) = this.project().record.take() {
                record.emit("canceled");
            }
        }
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<RpcResponse, RpcError>>,
{
    type Output = Result<RpcResponse, RpcError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.future.poll(cx));
        if let Some(record) = this.record.take() {
            record.emit(result.as_ref().map_or_else(|error| error.code.as_str(), |_| "ok"));
        }
        Poll::Ready(result)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use serde_json::json;
    use tower::{ServiceExt, service_fn};

    use super::*;
    use crate::greeter::{Greeter, SAY_HELLO};
    use crate::rpc::{Code, RpcResult};

    /// A writer that keeps every line in memory.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn layer(&self) -> LoggerLayer {
            let captured = self.clone();
            LoggerLayer::new().writer(LogWriter::new(move || captured.clone()))
        }

        fn lines(&self) -> Vec<String> {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap().lines().map(str::to_owned).collect()
        }
    }

    fn hello() -> RpcRequest {
        RpcRequest::new(SAY_HELLO, json!({"name": "Ada"}))
    }

    #[tokio::test]
    async fn one_event_per_call_with_procedure_and_code() {
        let captured = Captured::default();
        let service = captured.layer().layer(Greeter::new());
        for calls in 1..=3 {
            service.clone().oneshot(hello()).await.unwrap();
            let lines = captured.lines();
            assert_eq!(lines.len(), calls);
            let line = lines.last().unwrap();
            assert!(
                line.contains(" INFO rpc procedure=greeter.v1.GreeterService/SayHello code=ok duration_us="),
                "{line}"
            );
        }
    }

    #[tokio::test]
    async fn failures_are_logged_with_their_connect_code() {
        let captured = Captured::default();
        let failing = service_fn(|_: RpcRequest| async { RpcResult::Err(RpcError::new(Code::NotFound, "gone")) });
        let error = captured.layer().layer(failing).oneshot(hello()).await.unwrap_err();
        assert_eq!(error.code, Code::NotFound);
        let lines = captured.lines();
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("code=not_found"), "{}", lines[0]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_duration_is_in_microseconds() {
        let captured = Captured::default();
        let slow = service_fn(|request: RpcRequest| async move {
            tokio::time::sleep(Duration::from_millis(3)).await;
            Greeter::new().oneshot(request).await
        });
        captured.layer().layer(slow).oneshot(hello()).await.unwrap();
        assert!(captured.lines()[0].ends_with("duration_us=3000"), "{}", captured.lines()[0]);
    }

    #[tokio::test]
    async fn the_level_is_configurable() {
        let captured = Captured::default();
        let layer = captured.layer().level(Level::WARN);
        layer.layer(Greeter::new()).oneshot(hello()).await.unwrap();
        let lines = captured.lines();
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains(" WARN rpc procedure=greeter.v1.GreeterService/SayHello code=ok"), "{}", lines[0]);
    }

    #[tokio::test]
    async fn a_call_dropped_before_it_ends_is_logged_as_canceled() {
        let captured = Captured::default();
        let never = service_fn(|_: RpcRequest| std::future::pending::<RpcResult>());
        let mut service = captured.layer().layer(never);
        let mut call = Box::pin(service.ready().await.unwrap().call(hello()));
        assert!(futures_util::FutureExt::now_or_never(&mut call).is_none());
        assert!(captured.lines().is_empty());
        drop(call);
        let lines = captured.lines();
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("code=canceled"), "{}", lines[0]);
    }

    #[tokio::test]
    async fn a_fixed_clock_gives_identical_lines() {
        let captured = Captured::default();
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let slow = service_fn(|request: RpcRequest| async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            Greeter::new().oneshot(request).await
        });
        let service = captured.layer().clock(LogClock::Fixed(at)).layer(slow);
        for _ in 0..2 {
            service.clone().oneshot(hello()).await.unwrap();
        }
        let lines = captured.lines();
        assert_eq!(lines[0], lines[1]);
        assert_eq!(
            lines[0],
            "2027-01-15T08:00:00.000000Z  INFO rpc procedure=greeter.v1.GreeterService/SayHello code=ok duration_us=0"
        );
    }

    #[tokio::test]
    async fn a_file_is_appended_to() {
        let path = std::env::temp_dir().join(format!("ibench-logger-test-{}.log", std::process::id()));
        std::fs::write(&path, "earlier line\n").unwrap();
        let layer = LoggerLayer::new().writer(LogWriter::file(&path).unwrap());
        layer.layer(Greeter::new()).oneshot(hello()).await.unwrap();
        let content = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let lines: Vec<&str> = content.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], "earlier line");
        assert!(lines[1].contains("procedure=greeter.v1.GreeterService/SayHello code=ok"), "{}", lines[1]);
    }
}
