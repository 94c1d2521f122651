//! Serving the router until a shutdown signal, finishing in-flight requests,
//! with limits a slow or greedy client cannot get around: at most
//! [`MAX_CONNECTIONS`] open connections (more wait in the kernel's backlog),
//! a request's headers complete within [`HEADER_READ_TIMEOUT`] of its first
//! byte, and a connection with no request closes after [`IDLE_TIMEOUT`]. The
//! body and the handler are bounded by the runtime's request timeout.
//! (`axum::serve` sets no timer for hyper, so hyper's own header timeout does
//! not run: an incomplete request was held open for minutes.)

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// Open connections served at once: the 8,000 citizens the portal is sized
/// for, each with a kept-alive connection, and room beside them. An idle
/// connection costs about 17 KB, mostly hyper's 8 KB read and write buffers
/// (`scripts/idle-connections.sh`); the process needs an open-files limit
/// above this (more wait in the kernel's backlog until one closes).
pub const MAX_CONNECTIONS: usize = 10_000;
/// From a request's first byte to the end of its headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A kept-alive connection without a request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(75);

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C: finishing in-flight work"),
        () = terminate => tracing::info!("SIGTERM: finishing in-flight work"),
    }
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, router, shutdown, Limits::default()).await
}

/// The connection limits of [`serve`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_connections: MAX_CONNECTIONS, header_read_timeout: HEADER_READ_TIMEOUT, idle_timeout: IDLE_TIMEOUT }
    }
}

/// [`serve`] with other limits (tests use small ones).
pub async fn serve_with(
    listener: TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: Limits,
) -> std::io::Result<()> {
    let listener =
        LimitedListener { inner: listener, permits: Arc::new(Semaphore::new(limits.max_connections)), limits };
    // `into_make_service` turns every route into a boxed service once; serving
    // the router itself does that again for every connection (axum's
    // `Service<IncomingStream>` for `Router` calls `with_state` per
    // connection), about 100 KB a connection kept while it is open for the
    // portal's hundred-odd routes (issue 18: a heap profile of 1,024 idle
    // connections). Each connection now holds a clone of one `Arc`.
    axum::serve(listener, router.into_make_service()).with_graceful_shutdown(shutdown).await
}

/// Accepts a connection only while fewer than the limit are open.
struct LimitedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    limits: Limits,
}

impl axum::serve::Listener for LimitedListener {
    type Io = GuardedStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // The semaphore is never closed, so acquiring only waits.
        let permit = loop {
            if let Ok(permit) = self.permits.clone().acquire_owned().await {
                break permit;
            }
        };
        let (stream, address) = axum::serve::Listener::accept(&mut self.inner).await;
        (GuardedStream::new(stream, permit, self.limits), address)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// Where a connection is in its current request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No request yet, or the last response was written.
    Idle,
    /// A request's first bytes arrived; its headers are not complete.
    Headers,
    /// Headers complete: the body and the handler run under the runtime's timeout.
    Handling,
}

/// A connection that holds one permit, and fails a pending read once its
/// phase's deadline passes (hyper then closes it).
struct GuardedStream {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    limits: Limits,
    phase: Phase,
    /// The last three bytes read, to find `\r\n\r\n` across reads.
    tail: [u8; 3],
    /// When the current phase times out (not while handling).
    due: Instant,
    /// The timer, set no later than `due` only when a read waits. Moving it
    /// on every phase change took the timer wheel's lock three times a
    /// request (issue 18); a timer that fires early is set again to `due`.
    deadline: Pin<Box<Sleep>>,
}

impl GuardedStream {
    fn new(stream: TcpStream, permit: OwnedSemaphorePermit, limits: Limits) -> Self {
        let due = Instant::now() + limits.idle_timeout;
        let deadline = Box::pin(tokio::time::sleep_until(due));
        Self { stream, _permit: permit, limits, phase: Phase::Idle, tail: [0; 3], due, deadline }
    }

    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        let after = match phase {
            Phase::Idle => self.limits.idle_timeout,
            Phase::Headers => self.limits.header_read_timeout,
            Phase::Handling => return,
        };
        self.due = Instant::now() + after;
    }

    /// Whether the phase's time is up; if not, the timer wakes the read
    /// no later than `due`.
    fn timed_out(&mut self, cx: &mut Context<'_>) -> bool {
        if self.deadline.deadline() > self.due {
            let due = self.due;
            self.deadline.as_mut().reset(due);
        }
        while self.deadline.as_mut().poll(cx).is_ready() {
            if self.deadline.deadline() >= self.due {
                return true;
            }
            let due = self.due;
            self.deadline.as_mut().reset(due);
        }
        false
    }

    /// Follows the bytes just read: a request starts, its headers end. A
    /// request whose headers come whole in one read (nearly every one) goes
    /// straight to handling, without a header deadline worked out for it.
    fn saw(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        match self.phase {
            Phase::Idle => {
                self.tail = [0; 3];
                let next = if ends_headers(&mut self.tail, bytes) { Phase::Handling } else { Phase::Headers };
                self.enter(next);
            }
            Phase::Headers if ends_headers(&mut self.tail, bytes) => self.enter(Phase::Handling),
            Phase::Headers | Phase::Handling => {}
        }
    }
}

/// Whether `bytes`, read after the three bytes in `tail`, hold the blank line
/// (`\r\n\r\n`) that ends a request's headers; `tail` then keeps the last
/// three bytes seen. No allocation on a connection's reads; the line ends are
/// found by `memchr`, not by comparing every window of four bytes.
fn ends_headers(tail: &mut [u8; 3], bytes: &[u8]) -> bool {
    const BLANK_LINE: &[u8; 4] = b"\r\n\r\n";
    // Straddling two reads: the kept bytes and the first three of these.
    let mut joint = [0; 6];
    let head = bytes.len().min(3);
    joint[..3].copy_from_slice(tail);
    joint[3..3 + head].copy_from_slice(&bytes[..head]);
    let ended = joint[..3 + head].windows(4).any(|window| window == BLANK_LINE)
        || memchr::memchr_iter(b'\n', bytes).any(|at| at >= 3 && &bytes[at - 3..=at] == BLANK_LINE);
    if bytes.len() >= 3 {
        tail.copy_from_slice(&bytes[bytes.len() - 3..]);
    } else {
        tail.rotate_left(bytes.len());
        tail[3 - bytes.len()..].copy_from_slice(bytes);
    }
    ended
}

impl AsyncRead for GuardedStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                self.saw(&buf.filled()[before..]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => {
                if self.phase != Phase::Handling && self.timed_out(cx) {
                    let what = if self.phase == Phase::Idle { "idle connection" } else { "request headers" };
                    tracing::debug!(what, "connection timed out");
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what)));
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bytes: &[u8]) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write(cx, bytes);
        // A response is going out: the connection waits for its next request.
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) && self.phase != Phase::Idle {
            self.enter(Phase::Idle);
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) && self.phase != Phase::Idle {
            self.enter(Phase::Idle);
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::{TcpListener, TcpStream};

    use super::{Limits, ends_headers, serve_with};

    async fn server(limits: Limits) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let router = axum::Router::new().route("/", axum::routing::get(|| async { "ready" }));
        tokio::spawn(serve_with(listener, router, std::future::pending(), limits));
        address
    }

    /// Reads until the server closes; the text read.
    async fn until_closed(stream: &mut TcpStream) -> String {
        let mut text = Vec::new();
        let _ = stream.read_to_end(&mut text).await;
        String::from_utf8_lossy(&text).into_owned()
    }

    #[tokio::test(start_paused = true)]
    async fn an_incomplete_request_is_cut_off_after_the_header_read_timeout() {
        let limits = Limits { header_read_timeout: Duration::from_secs(10), ..Limits::default() };
        let address = server(limits).await;
        let mut slow = TcpStream::connect(address).await.expect("connect");
        slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.expect("write");
        let started = tokio::time::Instant::now();
        let answer = tokio::time::timeout(Duration::from_secs(60), until_closed(&mut slow)).await;
        assert!(answer.is_ok(), "the server held an incomplete request open for a minute");
        assert!(started.elapsed() >= Duration::from_secs(10), "not before the timeout");

        // A complete request on a fresh connection is answered.
        let mut quick = TcpStream::connect(address).await.expect("connect");
        quick.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.expect("write");
        assert!(until_closed(&mut quick).await.ends_with("ready"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_kept_alive_connection_closes_the_idle_timeout_after_its_last_answer_not_before() {
        let limits = Limits { idle_timeout: Duration::from_secs(30), ..Limits::default() };
        let address = server(limits).await;
        let mut client = TcpStream::connect(address).await.expect("connect");
        // Answered 20 s into the first idle period: the connection's first
        // timer (due at 30 s) fires early and must wait for the new one.
        tokio::time::sleep(Duration::from_secs(20)).await;
        client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
        let mut answer = [0; 512];
        let read = client.read(&mut answer).await.expect("an answer");
        assert!(String::from_utf8_lossy(&answer[..read]).ends_with("ready"));
        let answered = tokio::time::Instant::now();
        let closed = tokio::time::timeout(Duration::from_secs(60), until_closed(&mut client)).await;
        assert!(closed.is_ok(), "an idle connection was held open for a minute");
        let idle = answered.elapsed();
        assert!(idle >= Duration::from_secs(30), "closed {idle:?} after its answer, before the idle timeout");
    }

    #[test]
    fn the_blank_line_is_found_across_reads_of_any_size() {
        let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        for size in 1..=request.len() {
            let mut tail = [0; 3];
            let ends: Vec<bool> = request.chunks(size).map(|chunk| ends_headers(&mut tail, chunk)).collect();
            assert_eq!(ends.iter().filter(|ended| **ended).count(), 1, "reads of {size} bytes");
            assert!(ends.last().copied().unwrap_or(false), "found before the last byte, reads of {size}");
        }
        let mut tail = [0; 3];
        assert!(!ends_headers(&mut tail, b"GET / HTTP/1.1\r\nHost: x\r\n"));
        assert!(!ends_headers(&mut tail, b"X-A: \r\n"), "two line ends apart are no blank line");
    }

    #[tokio::test(start_paused = true)]
    async fn connections_over_the_limit_wait_until_one_closes() {
        let limits = Limits { max_connections: 1, ..Limits::default() };
        let address = server(limits).await;
        let holder = TcpStream::connect(address).await.expect("connect");
        tokio::task::yield_now().await;
        let mut waiting = TcpStream::connect(address).await.expect("the kernel queues it");
        waiting.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.expect("write");
        let early = tokio::time::timeout(Duration::from_secs(5), until_closed(&mut waiting)).await;
        assert!(early.is_err(), "served beyond the connection limit");
        drop(holder);
        let answer = tokio::time::timeout(Duration::from_secs(60), until_closed(&mut waiting)).await;
        assert!(answer.is_ok_and(|text| text.ends_with("ready")));
    }
}
