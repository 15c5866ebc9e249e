//! What every listener shares: the accept loop with its connection limit, the
//! limits each connection is held to, and the drain on shutdown.
//!
//! - **Max connections** ([`ConnLimits::max_connections`]): a connection over
//!   the limit is accepted and closed at once (the client sees the close, not a
//!   SYN queue), logged rate-limited.
//! - **Drain** ([`Drain`]): [`Drain::start`] stops every accept loop and asks
//!   each connection to close once it is idle (HTTP/2 GOAWAY, HTTP/1 close,
//!   SPOE AGENT-DISCONNECT); when the drain timeout passes, what is left is cut.
//!
//! [`http`] serves hyper/axum connections with the handshake and idle
//! watchdog of [`activity`]; the SPOE agent has its own connection loop.

pub mod activity;
pub mod http;

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::Semaphore,
    task::JoinSet,
};
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use crate::logging::Throttle;

/// Default [`ConnLimits::header_timeout`].
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`ConnLimits::idle_timeout`]: above the idle timeouts of the
/// gateways' own connection pools (nginx upstream keepalive 60 s, Go/Traefik
/// 90 s, Caddy 120 s), so the gateway closes an idle pooled connection first
/// and never reuses one the host is closing.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Default [`ConnLimits::max_concurrent_streams`].
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 1000;
/// Default [`ConnLimits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// How long connections get to say goodbye after the drain timeout before
/// their tasks are cut.
const ABORT_GRACE: Duration = Duration::from_millis(200);

/// Limits every connection of a listener is held to.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    /// A connection that has not completed its HTTP/1 request head, HTTP/2
    /// preface and first SETTINGS, or SPOE HELLO within this is closed; so is
    /// an HTTP/1 keep-alive connection whose next request head takes longer.
    pub header_timeout: Duration,
    /// A connection with no request in flight for this long is closed.
    pub idle_timeout: Duration,
    /// HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS` (gRPC listener).
    pub max_concurrent_streams: u32,
    /// Open connections per listener; more are accepted and closed at once.
    pub max_connections: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        Self {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// The shutdown signal every listener and connection watches: `stop` (stop
/// accepting, close idle connections, let calls finish), then `abort` (cut
/// what is left).
#[derive(Debug, Clone, Default)]
pub struct Drain {
    stop: CancellationToken,
    abort: CancellationToken,
}

impl Drain {
    /// A drain not yet started.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops accepting now and cuts the connections still open after `timeout`.
    pub fn start(&self, timeout: Duration) {
        self.stop.cancel();
        let abort = self.abort.clone();
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            abort.cancel();
        });
    }

    /// Completes once the drain has started.
    pub fn stopping(&self) -> WaitForCancellationFuture<'_> {
        self.stop.cancelled()
    }

    /// Completes once the drain timeout has passed.
    pub fn aborting(&self) -> WaitForCancellationFuture<'_> {
        self.abort.cancelled()
    }
}

/// Accepts connections on `listener` until the drain starts, each handled by
/// the future `handle` returns (which must watch `drain` itself); then waits
/// for them, cutting them once the drain timeout has passed.
pub async fn accept_loop<F, Fut>(
    listener: TcpListener,
    name: &'static str,
    limits: &ConnLimits,
    drain: &Drain,
    mut handle: F,
) where
    F: FnMut(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    static REFUSED: Throttle = Throttle::new(1);
    static FAILED: Throttle = Throttle::new(1);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = drain.stopping() => break,
        };
        match accepted {
            Ok((stream, peer)) => match slots.clone().try_acquire_owned() {
                Ok(slot) => {
                    let _ = stream.set_nodelay(true);
                    let connection = handle(stream, peer);
                    connections.spawn(async move {
                        connection.await;
                        drop(slot);
                    });
                }
                Err(_) => {
                    drop(stream);
                    if let Some(suppressed) = REFUSED.admit() {
                        let max = limits.max_connections;
                        tracing::warn!(listener = name, %peer, max, suppressed, "connection limit reached; connection closed");
                    }
                }
            },
            Err(e) => {
                if let Some(suppressed) = FAILED.admit() {
                    tracing::warn!(listener = name, error = %e, suppressed, "accept failed");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    finish(connections, drain).await;
}

/// Waits for the connections of a stopped listener; once the drain timeout
/// passes, gives them [`ABORT_GRACE`] to close themselves, then cuts them.
async fn finish(mut connections: JoinSet<()>, drain: &Drain) {
    tokio::select! {
        _ = async { while connections.join_next().await.is_some() {} } => return,
        _ = drain.aborting() => {}
    }
    let _ = tokio::time::timeout(ABORT_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.shutdown().await;
}
