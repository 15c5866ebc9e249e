//! Serves an axum router (the HTTP frontend, admin, and tonic's routes for
//! gRPC) over hyper connections held to [`ConnLimits`], drained by [`Drain`].

use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{extract::ConnectInfo, response::Response};
use hyper::{body::Incoming, Request};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
};
use tokio::net::{TcpListener, TcpStream};

use super::{
    accept_loop,
    activity::{Activity, Busy, Expired, Tracked, Watchdog},
    ConnLimits, Drain,
};

/// The HTTP version a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1 only (forward-auth, admin).
    Http1,
    /// HTTP/2 only, prior knowledge (gRPC).
    Http2,
}

/// How long a connection asked to close gracefully may stay open while idle.
const GOODBYE_GRACE: Duration = Duration::from_secs(1);

/// What every connection of one listener shares.
struct Shared {
    builder: auto::Builder<TokioExecutor>,
    app: axum::Router,
    protocol: Protocol,
    limits: ConnLimits,
    drain: Drain,
}

/// Serves `app` on `listener` until `drain` stops it (then finishes or cuts
/// the open connections). Requests of an HTTP/1 listener carry the peer as
/// `ConnectInfo<SocketAddr>` (gRPC requests name their peers themselves).
pub async fn serve(
    listener: TcpListener,
    name: &'static str,
    protocol: Protocol,
    app: axum::Router,
    limits: ConnLimits,
    drain: Drain,
) {
    let shared = Arc::new(Shared {
        builder: builder(protocol, &limits),
        app,
        protocol,
        limits: limits.clone(),
        drain: drain.clone(),
    });
    accept_loop(listener, name, &limits, &drain, move |stream, peer| {
        connection(stream, peer, shared.clone())
    })
    .await;
}

fn builder(protocol: Protocol, limits: &ConnLimits) -> auto::Builder<TokioExecutor> {
    let builder = auto::Builder::new(TokioExecutor::new());
    match protocol {
        Protocol::Http1 => builder.http1_only(),
        Protocol::Http2 => {
            let mut builder = builder.http2_only();
            builder
                .http2()
                .timer(TokioTimer::new())
                .max_concurrent_streams(limits.max_concurrent_streams);
            builder
        }
    }
}

/// One connection: served until it ends, its handshake, a request head or its
/// idle time runs over, or the drain closes it (gracefully, then cut).
async fn connection(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let http2 = shared.protocol == Protocol::Http2;
    let activity = Activity::new();
    let io = TokioIo::new(Tracked::new(stream, activity.clone(), http2));
    let service = Counted {
        app: shared.app.clone(),
        // Only the HTTP frontend reads the peer; gRPC gets it from the request.
        peer: (!http2).then_some(peer),
        activity: activity.clone(),
    };
    let conn = shared.builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut watchdog = Watchdog::new(activity.clone(), &shared.limits, !http2);
    let drain = &shared.drain;
    let (mut graceful, mut cut_at) = (false, None::<Instant>);
    let far = || Instant::now() + Duration::from_secs(86400);
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended");
                }
                return;
            }
            expired = watchdog.expired(), if !graceful => match expired {
                Expired::Handshake => {
                    tracing::debug!(%peer, "closed: handshake or request head too slow");
                    return;
                }
                Expired::Idle => {
                    conn.as_mut().graceful_shutdown();
                    (graceful, cut_at) = (true, Some(Instant::now() + GOODBYE_GRACE));
                }
            },
            _ = drain.stopping(), if !graceful => {
                if !activity.is_ready() {
                    return;
                }
                conn.as_mut().graceful_shutdown();
                (graceful, cut_at) = (true, Some(Instant::now() + GOODBYE_GRACE));
            }
            // A client that does not close after GOAWAY (or answer its PING) is
            // cut once no request is in flight.
            _ = tokio::time::sleep_until(cut_at.unwrap_or_else(far).into()), if cut_at.is_some() => {
                if activity.idle_for().is_some() {
                    return;
                }
                cut_at = Some(Instant::now() + Duration::from_millis(100));
            }
            _ = drain.aborting() => return,
        }
    }
}

/// The router, with the peer address and the in-flight count of its connection.
#[derive(Clone)]
struct Counted {
    app: axum::Router,
    /// Given to each request as `ConnectInfo` (HTTP/1 listeners only: an
    /// extension costs an allocation per request).
    peer: Option<SocketAddr>,
    activity: Arc<Activity>,
}

impl hyper::service::Service<Request<Incoming>> for Counted {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        if let Some(peer) = self.peer {
            request.extensions_mut().insert(ConnectInfo(peer));
        }
        let busy: Busy = self.activity.begin();
        let mut app = self.app.clone();
        Box::pin(async move {
            let response = tower_service::Service::call(&mut app, request).await;
            drop(busy);
            response
        })
    }
}
