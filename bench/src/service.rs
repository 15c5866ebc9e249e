//! Scenario A's `Check` service and a server for it; shared bits of the bench servers.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use envoy_types::pb::{
    envoy::service::auth::v3::{
        authorization_server::{Authorization, AuthorizationServer},
        CheckRequest, CheckResponse,
    },
    google::rpc::Status,
};
use tonic::{transport::server::TcpIncoming, Request as GrpcRequest, Response as GrpcResponse};

/// Allow and deny counts, printed at exit so the driver can check decisions.
#[derive(Default)]
pub struct Counters {
    /// Allowed checks.
    pub allow: AtomicU64,
    /// Denied checks.
    pub deny: AtomicU64,
}

impl Counters {
    /// `allow=N deny=M`, the line the driver parses.
    pub fn line(&self) -> String {
        format!(
            "allow={} deny={}",
            self.allow.load(Ordering::Relaxed),
            self.deny.load(Ordering::Relaxed)
        )
    }
}

/// Scenario A: always allows, without looking at the request. The limit of the
/// gRPC stack (tonic, prost, tokio) with this request.
pub struct Noop {
    /// Decision counters.
    pub counters: Arc<Counters>,
}

#[tonic::async_trait]
impl Authorization for Noop {
    async fn check(
        &self,
        _request: GrpcRequest<CheckRequest>,
    ) -> Result<GrpcResponse<CheckResponse>, tonic::Status> {
        self.counters.allow.fetch_add(1, Ordering::Relaxed);
        Ok(GrpcResponse::new(CheckResponse {
            status: Some(Status::default()),
            ..Default::default()
        }))
    }
}

/// Serves `service` (plus `grpc.health.v1`, like the host) on `listen` until
/// SIGTERM or Ctrl-C, then prints the decision counters on stdout.
pub async fn serve_until_terminated<S: Authorization>(
    listen: SocketAddr,
    service: S,
    counters: Arc<Counters>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let shutdown = terminated();
    eprintln!("serving on {}", listener.local_addr()?);
    tonic::transport::Server::builder()
        .add_service(AuthorizationServer::new(service))
        .add_service(health)
        .serve_with_incoming_shutdown(
            // As `Server::serve` would: tonic's default is `tcp_nodelay(true)`,
            // which `serve_with_incoming` leaves to the incoming stream.
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await?;
    println!("{}", counters.line());
    Ok(())
}

/// The listen address from `--listen ADDR` (default 127.0.0.1:0).
pub fn listen_arg() -> anyhow::Result<SocketAddr> {
    let args: Vec<String> = std::env::args().collect();
    let value = args
        .iter()
        .position(|a| a == "--listen")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
        .unwrap_or("127.0.0.1:0");
    Ok(value.parse()?)
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn terminated() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
