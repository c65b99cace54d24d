//! Serving connections under [`Limits`]: a cap on open connections (one more is answered 503
//! and closed at once, so the file descriptors stay below `RLIMIT_NOFILE` and the accept queue
//! keeps moving), hyper's header-read timeout, and an idle timeout (no byte either way) that
//! closes a connection once its request in flight, if any, is answered. Plain HTTP and TLS
//! (`tls`) share this loop.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{watch, Semaphore};

use crate::Api;

/// How long open connections get to finish their requests after shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What is answered to a connection over the cap, before it is closed (plain HTTP only: a TLS
/// client would need a handshake first).
const OVER_CAP: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 95\r\n\r\n{\"error\":{\"code\":\"too_many_connections\",\"message\":\"this keeper has too many open connections\"}}";

/// Refused connections whose request is read before they close, at once (within the 256
/// descriptors the connection cap leaves free).
const REFUSALS_DRAINED: usize = 64;

/// How long, and how much, a refused connection's request is read before it closes.
const REFUSAL_DRAIN: (Duration, usize) = (Duration::from_millis(500), 16 * 1024);

/// Ends the write side of a refused connection (its 503 is written), reads what the client sent
/// (bounded by [`REFUSAL_DRAIN`]) so that closing does not reset the connection, then closes it.
async fn drain_then_close(mut tcp: TcpStream, _slot: tokio::sync::OwnedSemaphorePermit) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = tcp.shutdown().await;
    let (time, bytes) = REFUSAL_DRAIN;
    let mut buf = [0u8; 4096];
    let mut read = 0;
    let _ = tokio::time::timeout(time, async {
        while read < bytes {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
    })
    .await;
}

/// The TLS handshake of a connection, when the API serves HTTPS.
pub(crate) type Handshake = Arc<
    dyn Fn(
            TcpStream,
        )
            -> Pin<Box<dyn Future<Output = Option<tokio_rustls::server::TlsStream<TcpStream>>> + Send>>
        + Send
        + Sync,
>;

/// Counts of the connection loop, exported in `/metrics`.
#[derive(Default)]
pub(crate) struct ConnStats {
    pub(crate) open: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) idle_closed: AtomicU64,
}

impl Api {
    /// Accepts connections until `shutdown` resolves, then gives open ones [`SHUTDOWN_GRACE`].
    pub(crate) async fn serve_connections(
        &self,
        listener: tokio::net::TcpListener,
        tls: Option<Handshake>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let limits = &self.inner.limits;
        let cap = limits
            .connection_cap(crate::limits::fd_limit())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        let permits = Arc::new(Semaphore::new(cap));
        let refusals = Arc::new(Semaphore::new(REFUSALS_DRAINED));
        let router = self.router();
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut connections = tokio::task::JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            let (tcp, peer) = tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        tracing::warn!(error = %e, "API: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            while connections.try_join_next().is_some() {}
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                let refused = self.inner.conns.refused.fetch_add(1, Ordering::Relaxed);
                if refused.is_multiple_of(1000) {
                    tracing::warn!(
                        cap,
                        refused = refused + 1,
                        "API: connection cap reached; refusing connections"
                    );
                }
                if tls.is_none() {
                    // Best effort and never waiting: the socket's buffer is empty.
                    let _ = tcp.try_write(OVER_CAP);
                    // Closing a socket with unread bytes resets it, and the client loses the
                    // answer: a few refused connections at a time have their request read (at most
                    // REFUSAL_DRAIN) before they close; the others close at once.
                    if let Ok(slot) = refusals.clone().try_acquire_owned() {
                        tokio::spawn(drain_then_close(tcp, slot));
                        continue;
                    }
                }
                drop(tcp);
                continue;
            };
            let api = self.clone();
            let service = hyper_util::service::TowerToHyperService::new(router.clone());
            let tls = tls.clone();
            let stop = stop_rx.clone();
            connections.spawn(async move {
                let _permit = permit;
                api.inner.conns.open.fetch_add(1, Ordering::Relaxed);
                match tls {
                    None => api.serve_one(tcp, service, stop, peer).await,
                    Some(handshake) => {
                        if let Some(stream) = handshake(tcp).await {
                            api.serve_one(stream, service, stop, peer).await;
                        }
                    }
                }
                api.inner.conns.open.fetch_sub(1, Ordering::Relaxed);
            });
        }
        drop(listener);
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        connections.shutdown().await;
        Ok(())
    }

    /// One connection: HTTP/1.1 with the header-read timeout; closed gracefully when idle or at
    /// shutdown, and dropped if its request in flight outlives the longest request bound.
    async fn serve_one<I>(
        &self,
        io: I,
        service: hyper_util::service::TowerToHyperService<axum::Router>,
        mut stop: watch::Receiver<bool>,
        peer: std::net::SocketAddr,
    ) where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let limits = &self.inner.limits;
        let io = Tracked::new(io);
        let clock = io.clock.clone();
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .serve_connection(hyper_util::rt::TokioIo::new(io), service);
        tokio::pin!(conn);
        // After a graceful close starts, the request in flight gets at most this long.
        let hard = limits.request_timeout.max(crate::relay::RELAY_TIMEOUT) + Duration::from_secs(5);
        let mut closing_since: Option<tokio::time::Instant> = None;
        loop {
            let idle_at = clock.last() + limits.idle_timeout;
            tokio::select! {
                served = conn.as_mut() => {
                    if let Err(e) = served {
                        tracing::debug!(%peer, error = %e, "API: connection ended with an error");
                    }
                    return;
                }
                _ = tokio::time::sleep_until(idle_at.into()), if closing_since.is_none() => {
                    if clock.last() + limits.idle_timeout <= Instant::now() {
                        self.inner.conns.idle_closed.fetch_add(1, Ordering::Relaxed);
                        conn.as_mut().graceful_shutdown();
                        closing_since = Some(tokio::time::Instant::now());
                    }
                }
                _ = stop.wait_for(|s| *s), if closing_since.is_none() => {
                    conn.as_mut().graceful_shutdown();
                    closing_since = Some(tokio::time::Instant::now());
                }
                _ = tokio::time::sleep_until(closing_since.unwrap_or_else(tokio::time::Instant::now) + hard), if closing_since.is_some() => {
                    tracing::debug!(%peer, "API: connection dropped (its request outlived every bound)");
                    return;
                }
            }
        }
    }
}

/// When bytes last moved on a connection, either way.
#[derive(Clone)]
struct Clock {
    base: Instant,
    /// Milliseconds since `base`.
    last_ms: Arc<AtomicU64>,
}

impl Clock {
    fn touch(&self) {
        let ms = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.base + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// An IO stream that records its activity on a [`Clock`].
struct Tracked<I> {
    io: I,
    clock: Clock,
}

impl<I> Tracked<I> {
    fn new(io: I) -> Self {
        Self {
            io,
            clock: Clock {
                base: Instant::now(),
                last_ms: Arc::new(AtomicU64::new(0)),
            },
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Tracked<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.clock.touch();
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Tracked<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.clock.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
