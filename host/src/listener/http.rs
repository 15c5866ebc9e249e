//! Serves an axum router (the HTTP frontend, admin, and tonic's routes for
//! gRPC), and optionally one path straight ([`Direct`]: gRPC's `Check`), over
//! hyper connections held to [`ConnLimits`], drained by [`Drain`].

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
    direct: Option<Arc<Direct>>,
    protocol: Protocol,
    limits: ConnLimits,
    drain: Drain,
}

/// What a request's future is, whoever serves it.
type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// One path served straight, without the router: the gRPC listener's
/// `Check`, which is nearly all of its requests. The router would first
/// match the path and store its parameters in the request (an allocation),
/// then call the route through a cloned boxed service (BENCHMARKS.md: about
/// 1.6 k instructions per request). Every other path still goes to the router.
pub struct Direct {
    path: &'static str,
    serve: Box<dyn Fn(Request<Incoming>, Busy) -> Answer + Send + Sync>,
}

impl Direct {
    /// Serves requests for exactly `path` with `serve`, which must drop the
    /// [`Busy`] it is given once the response is ready (it counts the request
    /// as in flight, for idle timeouts and draining).
    pub fn new(
        path: &'static str,
        serve: impl Fn(Request<Incoming>, Busy) -> Answer + Send + Sync + 'static,
    ) -> Self {
        Self {
            path,
            serve: Box::new(serve),
        }
    }
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
    serve_with(listener, name, protocol, (app, None), limits, drain).await;
}

/// [`serve`], with requests for `direct`'s path served by it and every
/// other one by the router.
pub async fn serve_with(
    listener: TcpListener,
    name: &'static str,
    protocol: Protocol,
    (app, direct): (axum::Router, Option<Direct>),
    limits: ConnLimits,
    drain: Drain,
) {
    let shared = Arc::new(Shared {
        builder: builder(protocol, &limits),
        app,
        direct: direct.map(Arc::new),
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
        direct: shared.direct.clone(),
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

/// The router (and the direct path, if any), with the peer address and the
/// in-flight count of its connection.
#[derive(Clone)]
struct Counted {
    app: axum::Router,
    direct: Option<Arc<Direct>>,
    /// Given to each request as `ConnectInfo` (HTTP/1 listeners only: an
    /// extension costs an allocation per request).
    peer: Option<SocketAddr>,
    activity: Arc<Activity>,
}

impl hyper::service::Service<Request<Incoming>> for Counted {
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        if let Some(peer) = self.peer {
            request.extensions_mut().insert(ConnectInfo(peer));
        }
        let busy: Busy = self.activity.begin();
        if let Some(direct) = self.direct.as_deref() {
            if request.uri().path() == direct.path {
                return (direct.serve)(request, busy);
            }
        }
        let mut app = self.app.clone();
        Box::pin(async move {
            let response = tower_service::Service::call(&mut app, request).await;
            drop(busy);
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// The body of a `GET path` over a fresh HTTP/1.1 connection to `addr`.
    async fn get(addr: SocketAddr, path: &str) -> String {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let head = format!("GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n");
        stream.write_all(head.as_bytes()).await.expect("write");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read");
        answer
    }

    #[tokio::test]
    async fn the_direct_path_is_served_by_it_and_every_other_one_by_the_router() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let app = axum::Router::new().fallback(|| async { "from the router" });
        let direct = Direct::new("/direct", |_request, busy| {
            Box::pin(async move {
                drop(busy);
                Ok(Response::new(axum::body::Body::from("served directly")))
            })
        });
        let drain = Drain::new();
        let served = (app, Some(direct));
        let server = tokio::spawn(serve_with(
            listener,
            "test",
            Protocol::Http1,
            served,
            ConnLimits::default(),
            drain.clone(),
        ));
        for (path, want) in [
            ("/direct", "served directly"),
            ("/direct?q=1", "served directly"),
            ("/direct/more", "from the router"),
            ("/directly", "from the router"),
            ("/", "from the router"),
        ] {
            let answer = get(addr, path).await;
            assert!(answer.starts_with("HTTP/1.1 200"), "{path}: {answer}");
            assert!(answer.ends_with(want), "{path}: {answer}");
        }
        drain.start(Duration::from_secs(1));
        server.await.expect("the listener stops on drain");
    }
}
