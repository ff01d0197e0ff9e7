//! The load generator's HTTP/1.1 connection: one request written as prepared bytes, one
//! response read into a buffer the connection keeps, parsed with `httparse`.
//!
//! Hand-written because it is the product's hot path: a generator slower than the server it
//! loads measures itself. A hyper client connection runs in a task of its own and hands every
//! request and response across channels, and allocates headers and bodies each time; this one
//! is a plain state machine on the VU's own task, with no allocation per request once its
//! buffer has grown to a response's size — which is what `wrk` does, and what let `ibench load`
//! reach wrk's rate (docs/load.md). It speaks only what the load needs: keep-alive requests
//! with a known body, and responses framed by `Content-Length`, chunked, or the connection's
//! end.
//!
//! ```
//! use interceptor_bench::load::wire::Connection;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let addr = listener.local_addr().unwrap();
//! tokio::spawn(async move {
//!     let (mut socket, _) = listener.accept().await.unwrap();
//!     let mut request = [0; 1024];
//!     let _ = socket.read(&mut request).await.unwrap();
//!     socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi").await.unwrap();
//! });
//! let mut connection = Connection::open(addr).await.unwrap();
//! let reply = connection.exchange(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
//! assert_eq!((reply.status, reply.body, reply.keep_alive), (200, &b"hi"[..], true));
//! # });
//! ```

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;

/// Headers a response may have, at most.
const MAX_HEADERS: usize = 32;
/// Read in steps of at least this much.
const READ_SIZE: usize = 4096;
/// A response larger than this is refused (the greeter's are under 100 bytes).
const MAX_RESPONSE: usize = 16 << 20;

/// One response, borrowed from the connection's buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Reply<'a> {
    /// The status code.
    pub status: u16,
    /// The body, de-chunked.
    pub body: &'a [u8],
    /// The connection may carry the next request.
    pub keep_alive: bool,
}

/// How the body of a response ends.
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

/// A keep-alive HTTP/1.1 client connection.
pub struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
    body: Vec<u8>,
    /// The last read returned less than it had room for: the socket was empty then.
    drained: bool,
}

fn invalid(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.into())
}

impl Connection {
    /// Connects to `addr`, with Nagle off (requests are written whole).
    pub async fn open(addr: SocketAddr) -> io::Result<Connection> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection { stream, buffer: Vec::with_capacity(READ_SIZE), body: Vec::new(), drained: false })
    }

    /// Reads more into the buffer; an error at the end of the stream.
    async fn fill(&mut self) -> io::Result<()> {
        if self.buffer.len() >= MAX_RESPONSE {
            return Err(invalid("response too large"));
        }
        self.buffer.reserve(READ_SIZE);
        let room = self.buffer.capacity() - self.buffer.len();
        match self.stream.read_buf(&mut self.buffer).await? {
            0 => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection")),
            read => {
                self.drained = read < room;
                Ok(())
            }
        }
    }

    /// After a whole response from a drained socket, forgets that the socket was readable, so
    /// the next response is awaited without first trying a read that can only fail: one
    /// syscall less per request. (Tokio keeps the readiness if an event came in meanwhile.)
    fn forget_readable(&mut self) {
        if std::mem::take(&mut self.drained) {
            let _ = self.stream.try_io(Interest::READABLE, || Err::<(), _>(io::ErrorKind::WouldBlock.into()));
        }
    }

    /// Writes `request` (a whole HTTP/1.1 request, body included) and reads its response.
    /// An error of kind `UnexpectedEof` with nothing read means the server had closed the
    /// connection before the request: retry it on a new one.
    pub async fn exchange(&mut self, request: &[u8]) -> io::Result<Reply<'_>> {
        self.buffer.clear();
        self.stream.write_all(request).await?;
        let (status, head, framing, keep_alive) = loop {
            if !self.buffer.is_empty() {
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut response = httparse::Response::new(&mut headers);
                match response.parse(&self.buffer).map_err(|error| invalid(format!("bad response: {error}")))? {
                    httparse::Status::Complete(head) => {
                        let status = response.code.unwrap_or_default();
                        let (framing, close) = framing_of(&response)?;
                        break (status, head, framing, !close && response.version == Some(1));
                    }
                    httparse::Status::Partial => {}
                }
            }
            self.fill().await?;
        };
        match framing {
            Framing::Length(length) => {
                let end = head
                    .checked_add(length)
                    .filter(|end| *end <= MAX_RESPONSE)
                    .ok_or_else(|| invalid("body too large"))?;
                while self.buffer.len() < end {
                    self.fill().await?;
                }
                if self.buffer.len() == end {
                    self.forget_readable();
                }
                Ok(Reply { status, body: &self.buffer[head..end], keep_alive })
            }
            Framing::Chunked => {
                if self.read_chunks(head).await? == self.buffer.len() {
                    self.forget_readable();
                }
                Ok(Reply { status, body: &self.body, keep_alive })
            }
            Framing::UntilClose => {
                loop {
                    match self.fill().await {
                        Ok(()) => {}
                        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => break,
                        Err(error) => return Err(error),
                    }
                }
                Ok(Reply { status, body: &self.buffer[head..], keep_alive: false })
            }
        }
    }

    /// De-chunks the body starting at `at` into `self.body` (trailers are skipped); returns
    /// where the response ended in the buffer.
    async fn read_chunks(&mut self, mut at: usize) -> io::Result<usize> {
        self.body.clear();
        loop {
            let (size_line, size) = loop {
                match httparse::parse_chunk_size(&self.buffer[at..]) {
                    Ok(httparse::Status::Complete((line, size))) => break (line, size),
                    Ok(httparse::Status::Partial) => self.fill().await?,
                    Err(_) => return Err(invalid("bad chunk size")),
                }
            };
            let size = usize::try_from(size)
                .ok()
                .filter(|size| *size <= MAX_RESPONSE)
                .ok_or_else(|| invalid("chunk too large"))?;
            at += size_line;
            if size == 0 {
                // Trailers, if any, then the empty line.
                loop {
                    if let Some(end) = self.buffer[at..].windows(2).position(|pair| pair == b"\r\n") {
                        if end == 0 {
                            return Ok(at + 2);
                        }
                        at += end + 2;
                    } else {
                        self.fill().await?;
                    }
                }
            }
            while self.buffer.len() < at + size + 2 {
                self.fill().await?;
            }
            self.body.extend_from_slice(&self.buffer[at..at + size]);
            at += size + 2;
        }
    }
}

/// The body's framing and whether the server will close the connection after it.
fn framing_of(response: &httparse::Response<'_, '_>) -> io::Result<(Framing, bool)> {
    let mut framing = Framing::UntilClose;
    let mut close = false;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            let length = std::str::from_utf8(header.value)
                .ok()
                .and_then(|text| text.trim().parse().ok())
                .ok_or_else(|| invalid("bad content-length"))?;
            if !matches!(framing, Framing::Chunked) {
                framing = Framing::Length(length);
            }
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            if header.value.split(|b| *b == b',').any(|part| part.trim_ascii().eq_ignore_ascii_case(b"chunked")) {
                framing = Framing::Chunked;
            }
        } else if header.name.eq_ignore_ascii_case("connection") {
            close |= header.value.split(|b| *b == b',').any(|part| part.trim_ascii().eq_ignore_ascii_case(b"close"));
        }
    }
    // No body in these, whatever the headers say.
    if matches!(response.code, Some(100..=199 | 204 | 304)) {
        framing = Framing::Length(0);
    }
    let close = close || matches!(framing, Framing::UntilClose);
    Ok((framing, close))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A server that answers every request on one connection with the next of `responses`.
    async fn serve(responses: Vec<&'static [u8]>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            for response in responses {
                let mut request = [0; 1024];
                if socket.read(&mut request).await.unwrap_or(0) == 0 {
                    return;
                }
                // In two writes, so that the client has to read twice.
                let (head, tail) = response.split_at(response.len() / 2);
                socket.write_all(head).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                socket.write_all(tail).await.unwrap();
            }
        });
        addr
    }

    const REQUEST: &[u8] = b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n";

    #[tokio::test]
    async fn reads_length_chunked_and_close_delimited_bodies_on_one_connection() {
        let addr = serve(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.1 503 Service Unavailable\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nx-trailer: 1\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nto the end",
        ])
        .await;
        let mut connection = Connection::open(addr).await.unwrap();
        let expected: [(u16, &[u8], bool); 4] =
            [(200, b"hello", true), (503, b"abcde", true), (204, b"", true), (200, b"to the end", false)];
        for (status, body, keep_alive) in expected {
            let reply = connection.exchange(REQUEST).await.unwrap();
            assert_eq!(reply, Reply { status, body, keep_alive });
        }
        let closed = connection.exchange(REQUEST).await.unwrap_err();
        assert!(matches!(
            closed.kind(),
            io::ErrorKind::UnexpectedEof | io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        ));
    }

    #[tokio::test]
    async fn refuses_what_is_not_http() {
        let addr = serve(vec![b"SSH-2.0-OpenSSH_9.2\r\n\r\n"]).await;
        let mut connection = Connection::open(addr).await.unwrap();
        assert_eq!(connection.exchange(REQUEST).await.unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
