//! Connection-level guards, below the router: the accept loop with a cap on open connections,
//! header-read and keep-alive idle timeouts, graceful shutdown, and the envelope on the few
//! answers hyper writes itself (400, 414, 431 for requests it cannot parse).
//!
//! Each connection records when it last read or wrote, whether a request is in the router,
//! and since when a request head has been arriving. A connection with no request in the
//! router is closed once its head has taken longer than the header-read timeout (slow-loris;
//! a new connection counts as a head started at accept) or it has been silent for the
//! keep-alive timeout (a slow head gets a 408 first). At the cap, the connections idle the
//! longest make room for the new one; when every connection is busy, the newcomer gets a
//! 503 and is closed. A request in progress (in the router or sending its response body) is
//! never cut: shutdown lets it finish, and idle-only rules never pick its connection.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::http::envelope::Envelope;
use crate::http::middleware::headers::SECURITY_HEADERS;

/// Limits of the connection layer (`OPENSCOUTER_MAX_CONNECTIONS`, `…_HEADER_READ_TIMEOUT_SECS`,
/// `…_KEEP_ALIVE_TIMEOUT_SECS`).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Time allowed for a request head, from its first byte (or from accept).
    pub header_read_timeout: Duration,
    /// Time an idle keep-alive connection is kept.
    pub keep_alive_timeout: Duration,
    /// Send HSTS on the answers written here too.
    pub hsts: bool,
}

/// After a close was asked, how long a connection with no request in the router may take
/// to go (a client that stopped reading a response) before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// At the cap, how long a newcomer waits for an evicted connection to free its slot.
const ROOM_WAIT: Duration = Duration::from_millis(250);
/// Saturation is logged at most this often.
const LOG_EVERY: Duration = Duration::from_secs(10);
/// File descriptors kept back from the connection cap for the store, logs and outbound calls.
const FD_RESERVE: u64 = 256;

/// What one connection's guards know about it.
struct ConnState {
    base: Instant,
    /// Requests in the router (0 or 1 on HTTP/1.1).
    in_flight: AtomicUsize,
    /// Milliseconds since `base` of the last byte read or written.
    last_io: AtomicU64,
    /// Milliseconds since `base` (plus one, so 0 means none) when the current head began.
    head_started: AtomicU64,
    /// Bytes of the current head have arrived (a new connection's head "begins" at accept,
    /// before any byte).
    head_bytes: AtomicBool,
    /// Asks the connection to close (eviction, shutdown).
    close: Notify,
    /// A request left the router: the deadlines move.
    changed: Notify,
}

impl ConnState {
    fn new(base: Instant) -> Self {
        let now = ms_since(base);
        Self {
            base,
            in_flight: AtomicUsize::new(0),
            last_io: AtomicU64::new(now),
            head_started: AtomicU64::new(now + 1),
            head_bytes: AtomicBool::new(false),
            close: Notify::new(),
            changed: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        ms_since(self.base)
    }

    fn on_read(&self) {
        let now = self.now();
        self.last_io.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Acquire) == 0 {
            let _ = self.head_started.compare_exchange(0, now + 1, Ordering::AcqRel, Ordering::Relaxed);
            self.head_bytes.store(true, Ordering::Release);
        }
    }

    fn on_write(&self) {
        self.last_io.store(self.now(), Ordering::Relaxed);
    }

    /// When the guards act, if nothing happens before (`None` while a request is in the router).
    fn deadline(&self, limits: &ConnectionLimits) -> Option<u64> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let started = self.head_started.load(Ordering::Acquire);
        Some(if started > 0 {
            started - 1 + duration_ms(limits.header_read_timeout)
        } else {
            self.last_io.load(Ordering::Relaxed) + duration_ms(limits.keep_alive_timeout)
        })
    }
}

fn ms_since(base: Instant) -> u64 {
    u64::try_from(base.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Marks a request as in progress (in the router, then its response body being sent) until
/// dropped.
struct InFlight(Arc<ConnState>);

impl InFlight {
    fn enter(state: &Arc<ConnState>) -> Self {
        state.in_flight.fetch_add(1, Ordering::AcqRel);
        state.head_started.store(0, Ordering::Release);
        state.head_bytes.store(false, Ordering::Release);
        Self(state.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.last_io.store(self.0.now(), Ordering::Relaxed);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.changed.notify_one();
    }
}

/// The open connections, for eviction and shutdown.
#[derive(Default)]
struct Registry {
    next_id: AtomicU64,
    conns: Mutex<HashMap<u64, Arc<ConnState>>>,
}

impl Registry {
    fn insert(&self, state: Arc<ConnState>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut conns) = self.conns.lock() {
            conns.insert(id, state);
        }
        id
    }

    fn remove(&self, id: u64) {
        if let Ok(mut conns) = self.conns.lock() {
            conns.remove(&id);
        }
    }

    /// Asks up to `n` connections with no request in the router, longest silent first, to
    /// close; returns how many were asked.
    fn evict_idle(&self, n: usize) -> usize {
        let Ok(conns) = self.conns.lock() else { return 0 };
        // Longest silent first; among equals (same millisecond), the older connection.
        let mut idle: Vec<((u64, u64), &Arc<ConnState>)> = conns
            .iter()
            .filter(|(_, c)| c.in_flight.load(Ordering::Acquire) == 0)
            .map(|(id, c)| ((c.last_io.load(Ordering::Relaxed), *id), c))
            .collect();
        let n = n.min(idle.len());
        if n == 0 {
            return 0;
        }
        idle.select_nth_unstable_by_key(n - 1, |(key, _)| *key);
        for (_, c) in &idle[..n] {
            c.close.notify_one();
        }
        n
    }

    fn close_all(&self) {
        if let Ok(conns) = self.conns.lock() {
            for c in conns.values() {
                c.close.notify_one();
            }
        }
    }
}

/// Counts what saturation did and logs it at most every `LOG_EVERY`.
struct Saturation {
    max: usize,
    last_log: Option<Instant>,
    evicted: usize,
    refused: usize,
    accept_errors: usize,
}

impl Saturation {
    fn maybe_log(&mut self) {
        if self.last_log.is_some_and(|t| t.elapsed() < LOG_EVERY) {
            return;
        }
        tracing::warn!(
            max_connections = self.max,
            closed_idle = self.evicted,
            refused = self.refused,
            accept_errors = self.accept_errors,
            "connection limit reached: closing the longest idle connections, refusing new ones when all are busy"
        );
        self.last_log = Some(Instant::now());
        (self.evicted, self.refused, self.accept_errors) = (0, 0, 0);
    }
}

/// The soft limit on open files (`ulimit -n`), where the platform tells.
fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The cap actually used: the configured one, lowered to leave `FD_RESERVE` descriptors
/// free when the process may not open that many files.
fn effective_cap(configured: usize) -> usize {
    match open_files_limit() {
        Some(fds) => {
            let room = usize::try_from(fds.saturating_sub(FD_RESERVE).max(16)).unwrap_or(usize::MAX);
            if room < configured {
                tracing::warn!(
                    configured,
                    used = room,
                    open_files_limit = fds,
                    "OPENSCOUTER_MAX_CONNECTIONS lowered to fit the open-files limit (ulimit -n)"
                );
            }
            configured.min(room)
        }
        None => configured,
    }
}

/// Serves `app` on `listener` until `shutdown` is cancelled; then stops accepting, closes
/// idle connections, lets requests in progress finish and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let cap = effective_cap(limits.max_connections.max(1));
    let base = Instant::now();
    let registry = Arc::new(Registry::default());
    let permits = Arc::new(Semaphore::new(cap));
    let builder = Arc::new({
        let mut b = http1::Builder::new();
        b.keep_alive(true);
        b
    });
    let mut saturation = Saturation { max: cap, last_log: None, evicted: 0, refused: 0, accept_errors: 0 };
    // Evicting one at a time would rescan the table for every newcomer of a flood.
    let batch = (cap / 64).max(1);

    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) if is_per_connection_error(&e) => continue,
            Err(e) => {
                // Out of descriptors or memory: make room and retry shortly rather than spin.
                tracing::debug!(error = %e, "accept failed");
                saturation.accept_errors += 1;
                saturation.evicted += registry.evict_idle(batch);
                saturation.maybe_log();
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                let evicted = registry.evict_idle(batch);
                saturation.evicted += evicted;
                let room = if evicted > 0 {
                    tokio::time::timeout(ROOM_WAIT, permits.clone().acquire_owned())
                        .await
                        .ok()
                        .and_then(Result::ok)
                } else {
                    None
                };
                match room {
                    Some(p) => {
                        saturation.maybe_log();
                        p
                    }
                    None => {
                        saturation.refused += 1;
                        saturation.maybe_log();
                        refuse(&stream, limits.hsts);
                        metrics::counter!("http_connections_refused_total").increment(1);
                        continue;
                    }
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::new(ConnState::new(base));
        let id = registry.insert(state.clone());
        let (registry, builder, app) = (registry.clone(), builder.clone(), app.clone());
        tokio::spawn(async move {
            metrics::gauge!("http_connections_open").increment(1.0);
            serve_connection(stream, peer, app, &builder, state, &limits).await;
            registry.remove(id);
            metrics::gauge!("http_connections_open").decrement(1.0);
            drop(permit);
        });
    }

    drop(listener);
    registry.close_all();
    // Every connection holds a permit until it is gone.
    let all = u32::try_from(cap).unwrap_or(u32::MAX);
    let _ = permits.acquire_many(all).await;
    tracing::info!("all connections closed");
    Ok(())
}

/// Errors that concern one connection only (the next accept will do).
fn is_per_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// Best effort, never blocking: a 503 in the envelope, then the connection is dropped.
fn refuse(stream: &TcpStream, hsts: bool) {
    let _ = stream.try_write(&error_response(
        503,
        "Service Unavailable",
        "Too many connections; retry shortly",
        Some(1),
        None,
        hsts,
    ));
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    builder: &http1::Builder,
    state: Arc<ConnState>,
    limits: &ConnectionLimits,
) {
    let io =
        TokioIo::new(GuardedIo { inner: stream, state: state.clone(), rewrite: None, hsts: limits.hsts });
    let service = ConnService { app, peer, state: state.clone() };
    let mut conn = builder.serve_connection(io, service);
    let mut closing: Option<Instant> = None;
    loop {
        let wake = match closing {
            Some(since) => since + CLOSE_GRACE,
            None => match state.deadline(limits) {
                Some(at) => state.base + Duration::from_millis(at),
                // A request is in progress; `changed` wakes us when it ends.
                None => Instant::now() + limits.keep_alive_timeout.max(limits.header_read_timeout),
            },
        };
        tokio::select! {
            res = &mut conn => {
                if let Err(e) = res {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = state.close.notified(), if closing.is_none() => {
                // Nothing in progress: drop it (hyper's graceful shutdown would wait for a
                // head that has started arriving). Otherwise the request finishes first.
                if state.in_flight.load(Ordering::Acquire) == 0 {
                    return;
                }
                Pin::new(&mut conn).graceful_shutdown();
                closing = Some(Instant::now());
            }
            () = state.changed.notified() => {}
            () = tokio::time::sleep_until(wake) => {
                let idle = state.in_flight.load(Ordering::Acquire) == 0;
                match closing {
                    Some(_) if idle => return,
                    Some(_) => closing = Some(Instant::now()),
                    None if idle && state.deadline(limits).is_some_and(|at| state.now() >= at) => {
                        if state.head_bytes.load(Ordering::Acquire) {
                            // A head was arriving too slowly: say why before closing.
                            let stream = conn.into_parts().io.into_inner().inner;
                            let _ = stream.try_write(&error_response(
                                408,
                                "Request Timeout",
                                "Request header timeout",
                                None,
                                None,
                                limits.hsts,
                            ));
                        }
                        return;
                    }
                    None => {}
                }
            }
        }
    }
}

/// The router as a hyper service for one connection: adds the peer address and tracks the
/// request while it is in the router.
#[derive(Clone)]
struct ConnService {
    app: Router,
    peer: SocketAddr,
    state: Arc<ConnState>,
}

impl hyper::service::Service<axum::http::Request<Incoming>> for ConnService {
    type Response = axum::http::Response<TrackedBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, mut req: axum::http::Request<Incoming>) -> Self::Future {
        req.extensions_mut().insert(ConnectInfo(self.peer));
        let guard = InFlight::enter(&self.state);
        let fut = self.app.clone().oneshot(req.map(Body::new));
        Box::pin(async move {
            let res = fut.await?;
            // The request stays in progress until hyper has sent (and dropped) the body.
            Ok(res.map(|inner| TrackedBody { inner, _guard: guard }))
        })
    }
}

/// A response body that holds its request's `InFlight` mark.
pub struct TrackedBody {
    inner: Body,
    _guard: InFlight,
}

impl http_body::Body for TrackedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The socket, recording activity, and rewriting hyper's own error answers into the envelope.
struct GuardedIo {
    inner: TcpStream,
    state: Arc<ConnState>,
    /// A replacement being written: (bytes, written so far, length of hyper's buffer).
    rewrite: Option<(Vec<u8>, usize, usize)>,
    hsts: bool,
}

impl AsyncRead for GuardedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.state.on_read();
        }
        res
    }
}

impl AsyncWrite for GuardedIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.rewrite.is_none()
            && let Some(replacement) = envelope_for_hyper_error(buf, self.hsts)
        {
            self.rewrite = Some((replacement, 0, buf.len()));
        }
        let this = &mut *self;
        if let Some((bytes, written, original)) = &mut this.rewrite {
            while *written < bytes.len() {
                match Pin::new(&mut this.inner).poll_write(cx, &bytes[*written..]) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => {
                        *written += n;
                        this.state.on_write();
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            }
            // hyper sees its own bytes written; the connection closes after such an answer.
            let n = *original;
            this.rewrite = None;
            return Poll::Ready(Ok(n));
        }
        let res = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            this.state.on_write();
        }
        res
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.rewrite.is_some()
            || bufs
                .iter()
                .find(|b| !b.is_empty())
                .is_some_and(|b| envelope_for_hyper_error(b, false).is_some())
        {
            let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| &b[..]);
            return self.poll_write(cx, first);
        }
        let res = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.state.on_write();
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// When `buf` is one of hyper's own answers to a request it could not parse (`HTTP/1.1 400`,
/// `414` or `431`, a bare head with `content-length: 0` and no `content-type`; the router's
/// answers always carry a type and are never written head-only with length 0), the same
/// answer with the envelope.
fn envelope_for_hyper_error(buf: &[u8], hsts: bool) -> Option<Vec<u8>> {
    let rest = buf.strip_prefix(b"HTTP/1.1 ")?;
    let (code, reason, message) = match rest.get(..4)? {
        b"400 " => (400, "Bad Request", "Malformed HTTP request"),
        b"414 " => (414, "URI Too Long", "Request URI too long (limit 65534 bytes)"),
        b"431 " => (431, "Request Header Fields Too Large", "Request header fields too large"),
        _ => return None,
    };
    let head_end = memchr::memmem::find(buf, b"\r\n\r\n")?;
    if head_end + 4 != buf.len() {
        return None;
    }
    let head = buf[..head_end].to_ascii_lowercase();
    let typed = memchr::memmem::find(&head, b"\r\ncontent-type:").is_some();
    let empty = memchr::memmem::find(&head, b"\r\ncontent-length: 0\r\n").is_some()
        || head.ends_with(b"\r\ncontent-length: 0");
    if typed || !empty {
        return None;
    }
    let date = buf[..head_end]
        .split(|b| *b == b'\n')
        .find(|l| l.to_ascii_lowercase().starts_with(b"date:"))
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    Some(error_response(code, reason, message, None, date, hsts))
}

/// A complete `connection: close` response with the error envelope and security headers.
fn error_response(
    code: u16,
    reason: &str,
    message: &str,
    retry_after: Option<u64>,
    date: Option<&[u8]>,
    hsts: bool,
) -> Vec<u8> {
    let body = serde_json::to_vec(&Envelope::error(message)).unwrap_or_default();
    let mut out = format!(
        "HTTP/1.1 {code} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    )
    .into_bytes();
    for (name, value) in SECURITY_HEADERS {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    if hsts {
        out.extend_from_slice(b"strict-transport-security: max-age=31536000; includeSubDomains\r\n");
    }
    if let Some(secs) = retry_after {
        out.extend_from_slice(format!("retry-after: {secs}\r\n").as_bytes());
    }
    if let Some(date) = date {
        out.extend_from_slice(date);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_hyper_bare_error_heads_are_rewritten() {
        let hyper414 = b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: Mon, 30 Nov 2026 06:55:41 GMT\r\n\r\n";
        let out = String::from_utf8(envelope_for_hyper_error(hyper414, false).unwrap()).unwrap();
        assert!(out.starts_with("HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\n"), "{out}");
        assert!(out.contains("\r\ndate: Mon, 30 Nov 2026 06:55:41 GMT\r\n"), "{out}");
        assert!(out.contains("x-content-type-options: nosniff\r\n"), "{out}");
        let body = out.split_once("\r\n\r\n").unwrap().1;
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["success"], false);
        assert_eq!(v["error"], "Request URI too long (limit 65534 bytes)");
        assert!(out.contains(&format!("content-length: {}\r\n", body.len())));

        // the router's own answers are left alone: typed, or with a body, or another status
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n";
        assert!(envelope_for_hyper_error(ours, false).is_none());
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n{}";
        assert!(envelope_for_hyper_error(with_body, false).is_none());
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(envelope_for_hyper_error(ok, false).is_none());
        let sized = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 10\r\n\r\n";
        assert!(envelope_for_hyper_error(sized, false).is_none());
    }
}
