//! The hyper server that puts a Connect codec and an interceptor stack on a TCP port:
//! HTTP/1.1 with keep-alive and HTTP/2 cleartext (h2c) on the same port; the codec serves
//! Connect (JSON and protobuf) and gRPC on both (gRPC needs h2c).
//!
//! [`serve`] runs the accept loop on the current runtime until a shutdown signal, then lets
//! in-flight connections finish. [`Server`] does the same with the hardening of `ibench serve`
//! ([`ServerConfig`]: header-read timeout, body and header limits, connection cap, grace period) and serves
//! any number of catalog stacks, one per listener, each with [`endpoints`] (`/health`,
//! `/healthz`, `/metrics`) and [`metrics`]. [`BackgroundServer`] runs one stack on its own
//! thread and runtime, bound to `127.0.0.1:0`, as hyper's own benches do: what the loopback
//! benches and the tests use.
//!
//! ```
//! use interceptor_bench::server::BackgroundServer;
//! use interceptor_bench::stack::{Interceptors, find};
//!
//! let server = BackgroundServer::start(&find("baseline").unwrap(), &Interceptors::default()).unwrap();
//! assert!(server.addr().ip().is_loopback());
//! drop(server); // stops it and joins its thread
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use http_body::Body as HttpBody;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{Semaphore, oneshot};
use tower::util::MapRequest;
use tower::{Layer, Service, ServiceExt};

use crate::connect::{ConnectService, DEFAULT_MAX_BODY_BYTES};
use crate::ecosystem::{BoxHttpService, HttpRequest, box_request};
use crate::fault::FaultLayer;
use crate::greeter::{self, Greeter};
use crate::stack::{BoxRpcService, Interceptors, Stack};

pub mod endpoints;
pub mod header_limit;
pub mod metrics;

use endpoints::WithEndpoints;
use header_limit::LimitHeaders;
use metrics::{Metrics, RecordMetrics};

/// The HTTP service of one `ibench serve` listener: the endpoints, the metrics recorder, the
/// stack's HTTP-level layers, the Connect codec and its RPC-level interceptors over the greeter.
pub type StackService =
    WithEndpoints<RecordMetrics<MapRequest<BoxHttpService, fn(http::Request<Incoming>) -> HttpRequest>>>;

/// A service a listener here serves: an HTTP service over hyper's request body that never
/// fails (errors are answers), cloned for each connection, answering with a [`ServedBody`].
pub trait ServedService<RB>:
    Service<http::Request<Incoming>, Response = http::Response<RB>, Error = Infallible, Future: Send + 'static>
    + Clone
    + Send
    + 'static
{
}

impl<S, RB> ServedService<RB> for S where
    S: Service<http::Request<Incoming>, Response = http::Response<RB>, Error = Infallible, Future: Send + 'static>
        + Clone
        + Send
        + 'static
{
}

/// The response body of a [`ServedService`]: bytes, made from bytes for the server's own
/// answers, its errors boxed.
pub trait ServedBody:
    HttpBody<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>> + From<Bytes> + Send + 'static
{
}

impl<B> ServedBody for B where
    B: HttpBody<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>> + From<Bytes> + Send + 'static
{
}

/// Serves `service` on every connection accepted from `listener` until `shutdown` resolves,
/// then stops accepting and waits for open connections to finish their in-flight requests,
/// with the defaults of [`ServerConfig`].
pub async fn serve<S, RB>(listener: TcpListener, service: S, shutdown: impl Future<Output = ()>) -> io::Result<()>
where
    S: ServedService<RB>,
    RB: ServedBody,
{
    Server::new(ServerConfig::default()).serve(listener, service, shutdown).await.map(drop)
}

/// The limits of a [`Server`]. Builder methods take and return `self`.
///
/// ```
/// use std::time::Duration;
/// use interceptor_bench::server::ServerConfig;
///
/// let config = ServerConfig::default().max_connections(2_000).grace_period(Duration::from_secs(3));
/// assert_eq!(config.get_max_connections(), 2_000);
/// assert_eq!(ServerConfig::default().get_header_read_timeout(), Duration::from_secs(5));
/// ```
#[derive(Debug, Clone)]
pub struct ServerConfig {
    header_read_timeout: Duration,
    max_connections: usize,
    grace_period: Duration,
    max_body_bytes: usize,
    max_header_bytes: usize,
    max_headers: usize,
}

impl Default for ServerConfig {
    /// 5 s to send request headers, 4,096 connections, 10 s of grace, the codec's 4 MiB body
    /// limit, 16 KiB and 100 request header fields (Node's and hyper's defaults).
    fn default() -> Self {
        ServerConfig {
            header_read_timeout: Duration::from_secs(5),
            max_connections: 4096,
            grace_period: Duration::from_secs(10),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_header_bytes: 16 * 1024,
            max_headers: 100,
        }
    }
}

/// Room for the request line in hyper's HTTP/1 read buffer (and for the pseudo-headers in
/// h2's header list) beyond [`ServerConfig::max_header_bytes`]: hyper's own URL limit is 64 KiB.
const REQUEST_LINE_ROOM: usize = 65 * 1024;

/// The per-field overhead of h2's header list size (RFC 7540 §6.5.2).
const H2_FIELD_OVERHEAD: usize = 32;

impl ServerConfig {
    /// An HTTP/1 client that has not sent complete request headers this long after it
    /// connected, or after the previous response on a kept-alive connection, is disconnected:
    /// hyper starts the timer when it waits for a request, so this is also the idle timeout of
    /// HTTP/1 keep-alive connections.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// The most connections served at once, over all listeners; connections beyond it are
    /// closed as soon as they are accepted and counted in `ibench_connections_rejected_total`.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// How long a shutdown waits for in-flight requests before closing their connections.
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.grace_period = grace;
        self
    }

    /// The request body limit of the Connect codec ([`ConnectService::max_body_bytes`]).
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// The most bytes of request header fields: more get 431 with a Connect error body
    /// ([`header_limit`]).
    pub fn max_header_bytes(mut self, limit: usize) -> Self {
        self.max_header_bytes = limit;
        self
    }

    /// The most request header fields: more get 431 ([`header_limit`]; over HTTP/1.1 hyper
    /// refuses them itself, without a body).
    pub fn max_headers(mut self, limit: usize) -> Self {
        self.max_headers = limit;
        self
    }

    /// See [`ServerConfig::max_header_bytes`].
    pub fn get_max_header_bytes(&self) -> usize {
        self.max_header_bytes
    }

    /// See [`ServerConfig::max_headers`].
    pub fn get_max_headers(&self) -> usize {
        self.max_headers
    }

    /// See [`ServerConfig::header_read_timeout`].
    pub fn get_header_read_timeout(&self) -> Duration {
        self.header_read_timeout
    }

    /// See [`ServerConfig::max_connections`].
    pub fn get_max_connections(&self) -> usize {
        self.max_connections
    }

    /// See [`ServerConfig::grace_period`].
    pub fn get_grace_period(&self) -> Duration {
        self.grace_period
    }

    /// See [`ServerConfig::max_body_bytes`].
    pub fn get_max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }
}

/// How a shutdown ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drain {
    /// Every in-flight request was answered within the grace period.
    Finished,
    /// The grace period ran out; the remaining connections were closed.
    GracePeriodExpired,
}

/// A TCP listener bound for one stack, not yet serving.
#[derive(Debug)]
pub struct StackListener {
    stack: Stack,
    listener: TcpListener,
    addr: SocketAddr,
    faults: Option<FaultLayer>,
}

/// The backlog of pending connections of each listener.
const LISTEN_BACKLOG: u32 = 1024;

impl StackListener {
    /// Binds `addr` (port 0 picks a free port) for `stack`. Must be called within a tokio runtime.
    ///
    /// # Errors
    /// A [`BindError`] naming the stack, the address and the port, with the system's reason.
    ///
    /// ```
    /// use interceptor_bench::server::StackListener;
    /// use interceptor_bench::stack::find;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let first = StackListener::bind(find("baseline").unwrap(), "127.0.0.1:0".parse().unwrap()).unwrap();
    /// let taken = StackListener::bind(find("full").unwrap(), first.addr()).unwrap_err();
    /// assert!(taken.to_string().contains(&format!("port {}", first.addr().port())));
    /// # });
    /// ```
    pub fn bind(stack: Stack, addr: SocketAddr) -> Result<Self, BindError> {
        let bind = || -> io::Result<(TcpListener, SocketAddr)> {
            let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
            socket.set_reuseaddr(true)?;
            socket.bind(addr)?;
            let listener = socket.listen(LISTEN_BACKLOG)?;
            let local = listener.local_addr()?;
            Ok((listener, local))
        };
        match bind() {
            Ok((listener, addr)) => Ok(StackListener { stack, listener, addr, faults: None }),
            Err(source) => Err(BindError { stack: stack.name().to_owned(), addr, source }),
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The stack it will serve.
    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    /// Wraps this listener's greeter in `faults` (see [`crate::fault`]), inside the whole stack.
    ///
    /// ```
    /// use interceptor_bench::fault::FaultLayer;
    /// use interceptor_bench::server::StackListener;
    /// use interceptor_bench::stack::find;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let faults = FaultLayer::new("error=0.2:unavailable".parse().unwrap());
    /// let listener = StackListener::bind(find("full").unwrap(), "127.0.0.1:0".parse().unwrap()).unwrap();
    /// let listener = listener.faults(faults);
    /// assert!(listener.get_faults().is_some());
    /// # });
    /// ```
    pub fn faults(mut self, faults: FaultLayer) -> Self {
        self.faults = Some(faults);
        self
    }

    /// The faults injected into this listener's greeter, if any.
    pub fn get_faults(&self) -> Option<&FaultLayer> {
        self.faults.as_ref()
    }
}

/// A listener could not be bound; names the port.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr} (port {port}) for stack {stack:?}: {source}", port = addr.port())]
pub struct BindError {
    /// The stack the listener was for.
    pub stack: String,
    /// The address asked for.
    pub addr: SocketAddr,
    /// The system's reason (`AddrInUse` when the port is taken).
    #[source]
    pub source: io::Error,
}

/// Serves HTTP with the limits of a [`ServerConfig`] and records [`metrics::Metrics`].
/// Connection permits and metrics are shared by every listener it serves.
///
/// ```
/// use interceptor_bench::server::{Server, ServerConfig, StackListener};
/// use interceptor_bench::stack::{Interceptors, find};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let server = Server::new(ServerConfig::default());
/// let listener = StackListener::bind(find("baseline").unwrap(), "127.0.0.1:0".parse().unwrap()).unwrap();
/// // Stops at once here; a real server passes a signal (see `TerminationSignals`).
/// let drain = server.serve_stacks(vec![listener], &Interceptors::default(), async {}).await.unwrap();
/// assert_eq!(drain, interceptor_bench::server::Drain::Finished);
/// # });
/// ```
#[derive(Clone)]
pub struct Server {
    config: ServerConfig,
    permits: Arc<Semaphore>,
    metrics: Metrics,
}

impl Server {
    /// A server with `config` and a fresh metrics registry.
    pub fn new(config: ServerConfig) -> Self {
        let permits = Arc::new(Semaphore::new(config.max_connections.min(Semaphore::MAX_PERMITS)));
        Server { config, permits, metrics: Metrics::new() }
    }

    /// Its configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Its metrics, as `/metrics` shows them.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The HTTP service of a listener serving `stack` built with `interceptors` over the greeter.
    pub fn stack_service(&self, stack: &Stack, interceptors: &Interceptors) -> StackService {
        self.http_service(stack, stack.service(interceptors, Greeter::new()))
    }

    fn http_service(&self, stack: &Stack, rpc: BoxRpcService) -> StackService {
        let codec = ConnectService::greeter(rpc).max_body_bytes(self.config.max_body_bytes);
        let entry: fn(http::Request<Incoming>) -> HttpRequest = box_request;
        let layered = stack.wrap_http(codec).map_request(entry);
        let recorded = self.metrics.layer(stack.name(), greeter::METHODS).layer(layered);
        WithEndpoints::new(stack.name(), self.metrics.clone(), recorded)
    }

    /// Serves every listener with its stack until `shutdown` resolves, then drains them all.
    pub async fn serve_stacks(
        &self,
        listeners: Vec<StackListener>,
        interceptors: &Interceptors,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<Drain> {
        let shutdown = shutdown.shared();
        let runs = listeners.into_iter().map(|bound| {
            let service = match &bound.faults {
                Some(faults) => {
                    self.http_service(&bound.stack, bound.stack.service(interceptors, faults.layer(Greeter::new())))
                }
                None => self.stack_service(&bound.stack, interceptors),
            };
            self.serve(bound.listener, service, shutdown.clone())
        });
        let drains = futures_util::future::try_join_all(runs).await?;
        Ok(drains.into_iter().find(|d| *d == Drain::GracePeriodExpired).unwrap_or(Drain::Finished))
    }

    /// Serves `service` on every connection accepted from `listener` until `shutdown`
    /// resolves, then stops accepting and waits up to the grace period for open connections
    /// to finish their in-flight requests.
    pub async fn serve<S, RB>(
        &self,
        listener: TcpListener,
        service: S,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<Drain>
    where
        S: ServedService<RB>,
        RB: ServedBody,
    {
        let config = &self.config;
        let service = LimitHeaders::new(service, config.max_header_bytes, config.max_headers);
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // hyper's own limits, just above ours: they bound what is buffered before ours can answer.
        let backstop = config.max_header_bytes.saturating_add(REQUEST_LINE_ROOM);
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(config.header_read_timeout)
            .max_headers(config.max_headers)
            .max_buf_size(backstop.max(8192));
        let h2_list = backstop.saturating_add(config.max_headers.saturating_mul(H2_FIELD_OVERHEAD));
        builder.http2().max_header_list_size(u32::try_from(h2_list).unwrap_or(u32::MAX));
        let connections = self.metrics.connections();
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let stream = match accepted {
                        Ok((stream, _)) => stream,
                        Err(error) => {
                            pause_after_accept_error(&error).await;
                            continue;
                        }
                    };
                    let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                        // Over the cap: close at once (dropping the stream) and count it.
                        connections.rejected.inc();
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let (builder, service, watcher) = (builder.clone(), service.clone(), graceful.watcher());
                    let header_read_timeout = self.config.header_read_timeout;
                    let open = connections.open.clone();
                    open.inc();
                    tokio::spawn(async move {
                        // hyper's header-read timer starts only after hyper-util has read the first
                        // bytes (to tell HTTP/1 from h2c): a client that sends nothing would keep
                        // its connection, and its place under the cap, for ever.
                        if tokio::time::timeout(header_read_timeout, stream.peek(&mut [0; 1])).await.is_ok() {
                            let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
                            // Boxed: the task then holds a pointer, not a second copy of the connection state.
                            // A client that disconnects or speaks garbage ends only its own connection.
                            let _ = Box::pin(watcher.watch(connection.into_owned())).await;
                        }
                        open.dec();
                        drop(permit);
                    });
                }
                () = &mut shutdown => break,
            }
        }
        drop(listener);
        match tokio::time::timeout(self.config.grace_period, graceful.shutdown()).await {
            Ok(()) => Ok(Drain::Finished),
            Err(_) => Ok(Drain::GracePeriodExpired),
        }
    }
}

/// After a failed accept: go on at once when only that connection failed; otherwise (out of
/// file descriptors, memory) wait a little, so the loop does not spin while nothing can be accepted.
async fn pause_after_accept_error(error: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if !matches!(error.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// SIGINT and SIGTERM, caught from the moment [`TerminationSignals::install`] returns.
///
/// ```
/// use interceptor_bench::server::TerminationSignals;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let signals = TerminationSignals::install().unwrap();
/// // `signals.recv().await` resolves with "SIGINT" or "SIGTERM".
/// # drop(signals);
/// # });
/// ```
#[derive(Debug)]
pub struct TerminationSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl TerminationSignals {
    /// Installs the handlers; from now on these signals no longer end the process.
    /// Must be called within a tokio runtime.
    ///
    /// # Errors
    /// When a handler cannot be installed.
    pub fn install() -> io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(TerminationSignals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Resolves with the signal's name at the first SIGINT or SIGTERM.
    pub async fn recv(mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}

/// A server running `stack` over the greeter on its own thread and single-threaded runtime,
/// bound to `127.0.0.1:0`, or [`beside`](BackgroundServer::beside) another one on that
/// server's thread. Dropping it shuts it down and waits for it to stop.
pub struct BackgroundServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    runtime: tokio::runtime::Handle,
    running: Option<Running>,
}

/// What a [`BackgroundServer`] waits for when dropped.
enum Running {
    /// The first server of a thread: the thread itself.
    Thread(JoinHandle<io::Result<()>>),
    /// A server beside another: its accept loop's task on that server's runtime, which says
    /// here when it has stopped (or drops this sender when that runtime has gone).
    Task(std::sync::mpsc::Receiver<()>),
}

impl BackgroundServer {
    /// Starts `stack` built with `interceptors`: its [`Stack::http_service`], built on the
    /// server's runtime (where a `tower_buffer` layer spawns its worker).
    pub fn start(stack: &Stack, interceptors: &Interceptors) -> io::Result<Self> {
        Self::spawn(None, stack_service(stack, interceptors))
    }

    /// Starts any HTTP service (the bare-hyper anchor, for one).
    pub fn start_service<S, RB>(service: S) -> io::Result<Self>
    where
        S: ServedService<RB>,
        RB: ServedBody,
    {
        Self::spawn(None, move || service)
    }

    /// Starts `stack` on this server's thread and runtime, on a port of its own: two servers
    /// compared side by side then share one thread, so neither is favoured by where the
    /// operating system places its thread (the paired loopback benches do this).
    ///
    /// ```
    /// use interceptor_bench::server::BackgroundServer;
    /// use interceptor_bench::stack::{Interceptors, find};
    ///
    /// let interceptors = Interceptors::default();
    /// let baseline = BackgroundServer::start(&find("baseline").unwrap(), &interceptors).unwrap();
    /// let logger = baseline.beside(&find("logger").unwrap(), &interceptors).unwrap();
    /// assert_ne!(baseline.addr(), logger.addr());
    /// ```
    pub fn beside(&self, stack: &Stack, interceptors: &Interceptors) -> io::Result<Self> {
        Self::spawn(Some(&self.runtime), stack_service(stack, interceptors))
    }

    /// [`beside`](BackgroundServer::beside) for any HTTP service.
    pub fn beside_service<S, RB>(&self, service: S) -> io::Result<Self>
    where
        S: ServedService<RB>,
        RB: ServedBody,
    {
        Self::spawn(Some(&self.runtime), move || service)
    }

    /// Starts the service `make` builds on a thread of its own, within its runtime (where a
    /// `tower_buffer` layer in it spawns its worker).
    pub fn start_with<S, RB>(make: impl FnOnce() -> S + Send + 'static) -> io::Result<Self>
    where
        S: ServedService<RB>,
        RB: ServedBody,
    {
        Self::spawn(None, make)
    }

    /// [`start_with`](BackgroundServer::start_with) on this server's thread and runtime
    /// (see [`beside`](BackgroundServer::beside)).
    pub fn beside_with<S, RB>(&self, make: impl FnOnce() -> S + Send + 'static) -> io::Result<Self>
    where
        S: ServedService<RB>,
        RB: ServedBody,
    {
        Self::spawn(Some(&self.runtime), make)
    }

    /// Starts the service `make` builds within the server's runtime: a new thread's, or
    /// `beside`'s as a task.
    fn spawn<S, RB>(
        beside: Option<&tokio::runtime::Handle>,
        make: impl FnOnce() -> S + Send + 'static,
    ) -> io::Result<Self>
    where
        S: ServedService<RB>,
        RB: ServedBody,
    {
        let std_listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (shutdown, stop) = oneshot::channel::<()>();
        let accept_loop = async move {
            let listener = TcpListener::from_std(std_listener)?;
            serve(listener, make(), async {
                let _ = stop.await;
            })
            .await
        };
        let (runtime, running) = match beside {
            Some(runtime) => {
                let (stopped, running) = std::sync::mpsc::channel();
                runtime.spawn(async move {
                    let _ = accept_loop.await;
                    let _ = stopped.send(());
                });
                (runtime.clone(), Running::Task(running))
            }
            None => {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                let handle = runtime.handle().clone();
                let name = format!("ibench-server-{}", addr.port());
                let thread = std::thread::Builder::new().name(name).spawn(move || runtime.block_on(accept_loop))?;
                (handle, Running::Thread(thread))
            }
        };
        Ok(BackgroundServer { addr, shutdown: Some(shutdown), runtime, running: Some(running) })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// What [`BackgroundServer::start`] serves: `stack`'s [`Stack::http_service`], built when called.
fn stack_service(
    stack: &Stack,
    interceptors: &Interceptors,
) -> impl FnOnce() -> MapRequest<BoxHttpService, fn(http::Request<Incoming>) -> HttpRequest> + Send + 'static {
    let (stack, interceptors) = (stack.clone(), interceptors.clone());
    move || {
        let entry: fn(http::Request<Incoming>) -> HttpRequest = box_request;
        stack.http_service(&interceptors, Greeter::new()).map_request(entry)
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.running.take() {
            Some(Running::Thread(thread)) => {
                let _ = thread.join();
            }
            Some(Running::Task(stopped)) => {
                let _ = stopped.recv();
            }
            None => {}
        }
    }
}
