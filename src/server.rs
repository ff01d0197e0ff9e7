//! The hyper server that puts a Connect codec and an interceptor stack on a TCP port:
//! HTTP/1.1 with keep-alive and HTTP/2 cleartext (h2c) on the same port.
//!
//! [`serve`] runs the accept loop on the current runtime until a shutdown signal, then lets
//! in-flight connections finish. [`BackgroundServer`] runs one on its own thread and runtime,
//! bound to `127.0.0.1:0`, as hyper's own benches do: what the loopback benches and the
//! tests use.
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
use std::thread::JoinHandle;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower::Service;

use crate::connect::ConnectService;
use crate::greeter::Greeter;
use crate::stack::{Interceptors, Stack};

/// Serves `service` on every connection accepted from `listener` until `shutdown` resolves,
/// then stops accepting and waits for open connections to finish their in-flight requests.
pub async fn serve<S>(listener: TcpListener, service: S, shutdown: impl Future<Output = ()>) -> io::Result<()>
where
    S: Service<http::Request<Incoming>, Response = http::Response<Full<Bytes>>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(connection) => connection,
                    // Out of file descriptors and similar: keep serving the open connections.
                    Err(_) => continue,
                };
                let _ = stream.set_nodelay(true);
                let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service.clone()));
                let connection = graceful.watch(connection.into_owned());
                tokio::spawn(async move {
                    // A client that disconnects or speaks garbage ends only its own connection.
                    let _ = connection.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A server running `stack` over the greeter on its own thread and single-threaded runtime,
/// bound to `127.0.0.1:0`. Dropping it shuts it down and joins the thread.
pub struct BackgroundServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl BackgroundServer {
    /// Starts `stack` built with `interceptors` behind the Connect codec.
    pub fn start(stack: &Stack, interceptors: &Interceptors) -> io::Result<Self> {
        let service = ConnectService::greeter(stack.service(interceptors, Greeter::new()));
        Self::start_service(service)
    }

    /// Starts any HTTP service (the bare-hyper anchor, for one).
    pub fn start_service<S>(service: S) -> io::Result<Self>
    where
        S: Service<http::Request<Incoming>, Response = http::Response<Full<Bytes>>, Error = Infallible>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
    {
        let std_listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (shutdown, stop) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name(format!("ibench-server-{}", addr.port())).spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async move {
                let listener = TcpListener::from_std(std_listener)?;
                serve(listener, service, async {
                    let _ = stop.await;
                })
                .await
            })
        })?;
        Ok(BackgroundServer { addr, shutdown: Some(shutdown), thread: Some(thread) })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
