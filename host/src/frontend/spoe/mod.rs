//! HAProxy SPOE agent: speaks SPOP 2.0 (HAProxy 2.6+) so HAProxy's `spoe` filter
//! can ask the chain about each request.
//!
//! HAProxy sends HELLO (version, `max-frame-size`, capabilities); the agent
//! answers with the smaller frame size and the capabilities both support
//! (`pipelining`, `async`; fragmentation is refused with DISCONNECT status 10).
//! Each NOTIFY carries messages whose arguments describe the request
//! ([`translate`] lists them, `config_id` included); the ACK sets variables
//! (`allowed`, `status`, `hdr_<name>`, …). An agent cannot change the request
//! itself: the HAProxy config turns the variables into `http-request return`,
//! `set-header` and `del-header` (see `deploy/haproxy/`).

pub mod connection;
pub mod frame;
pub mod translate;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::router::Router;

/// The largest frame this agent accepts or sends unless told otherwise
/// (HAProxy's default: `tune.bufsize` 16384 minus the 4-byte length).
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16380;

/// Accepts SPOP connections on `listener` until `stop` is cancelled; then each
/// connection finishes its in-flight NOTIFYs, sends AGENT-DISCONNECT and closes.
pub async fn serve(
    listener: TcpListener,
    router: Arc<Router>,
    max_frame_size: u32,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.cancelled() => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let (router, stop) = (router.clone(), stop.clone());
                connections.spawn(async move {
                    if let Err(e) = connection::serve(stream, router, max_frame_size, stop).await {
                        tracing::debug!(%peer, error = %e, "SPOE connection ended");
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "SPOE accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
    Ok(())
}

#[cfg(test)]
mod tests;
