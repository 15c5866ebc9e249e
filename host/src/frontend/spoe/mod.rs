//! HAProxy SPOE agent: speaks SPOP 2.0 (HAProxy 2.6+) so HAProxy's `spoe` filter
//! can ask the chain about each request.
//!
//! HAProxy sends HELLO (version, `max-frame-size`, capabilities); the agent
//! answers with the smaller frame size and the capabilities both support
//! (`pipelining`, `async`; fragmentation is refused with DISCONNECT status 10).
//! Each NOTIFY carries messages whose arguments describe the request
//! ([`translate`] lists them, `config_id` included); the ACK sets variables
//! (`allowed`, `status`, `hdr_<name>`, `rsp_hdr_<name>` and its numbered
//! copies, …; [`actions`] lists them). An agent cannot change the request
//! itself: the HAProxy config turns the variables into `http-request return`,
//! `set-header` and `del-header` (see `deploy/haproxy/`).

pub mod actions;
pub mod connection;
pub mod frame;
pub mod translate;

use std::sync::Arc;

use tokio::net::TcpListener;

use crate::{
    listener::{accept_loop, ConnLimits, Drain},
    router::Router,
};

/// The largest frame this agent accepts or sends unless told otherwise
/// (HAProxy's default: `tune.bufsize` 16384 minus the 4-byte length).
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16380;

/// Accepts SPOP connections on `listener`, each held to `limits`, until
/// `drain` stops it; then each connection finishes its in-flight NOTIFYs (until
/// the drain timeout), sends AGENT-DISCONNECT and closes.
pub async fn serve(
    listener: TcpListener,
    router: Arc<Router>,
    max_frame_size: u32,
    limits: ConnLimits,
    drain: Drain,
) {
    let (shared_limits, shared_drain) = (limits.clone(), drain.clone());
    accept_loop(listener, "SPOE", &limits, &drain, move |stream, peer| {
        let (router, limits, drain) = (router.clone(), shared_limits.clone(), shared_drain.clone());
        async move {
            if let Err(e) = connection::serve(stream, router, max_frame_size, &limits, &drain).await
            {
                tracing::debug!(%peer, error = %e, "SPOE connection ended");
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests;
