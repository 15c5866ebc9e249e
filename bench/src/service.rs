//! The `Check` services of scenarios A and B, and a server for them.

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
use gatehouse::{
    chain::Chain,
    frontend::envoy::{to_request, to_response},
    metrics::Metrics,
    model::Decision,
};
use tonic::{Request as GrpcRequest, Response as GrpcResponse};
use tracing::Instrument;

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

/// Scenario B: what the host's `EnvoyAuthorization` + `Router::decide` do
/// (protocol conversion, `check` span, chain, metrics), with a chain of native
/// steps. `Router` cannot be given a chain from outside the host crate
/// (`Router::swap` is `pub(crate)`), so the router's lookup is replaced by one
/// fixed chain; everything else is the host's own code.
pub struct Native {
    /// The chain (native steps).
    pub chain: Arc<Chain>,
    /// The host's metrics (the chain's observer, and request counters).
    pub metrics: Arc<Metrics>,
    /// Decision counters.
    pub counters: Arc<Counters>,
}

#[tonic::async_trait]
impl Authorization for Native {
    async fn check(
        &self,
        request: GrpcRequest<CheckRequest>,
    ) -> Result<GrpcResponse<CheckResponse>, tonic::Status> {
        let request = to_request(request.into_inner());
        let config_id = request
            .context_extensions
            .get("config_id")
            .map(String::as_str)
            .unwrap_or("");
        let span = tracing::info_span!("check", request_id = %request.id, config_id);
        let decision = self
            .chain
            .run(&request, self.metrics.as_ref())
            .instrument(span)
            .await;
        let verdict = match decision {
            Decision::Allow(_) => {
                self.counters.allow.fetch_add(1, Ordering::Relaxed);
                "allow"
            }
            Decision::Deny(_) => {
                self.counters.deny.fetch_add(1, Ordering::Relaxed);
                "deny"
            }
        };
        self.metrics
            .requests
            .with_label_values(&[self.chain.id(), verdict])
            .inc();
        Ok(GrpcResponse::new(to_response(decision)))
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
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    eprintln!("serving on {}", listener.local_addr()?);
    tonic::transport::Server::builder()
        .add_service(AuthorizationServer::new(service))
        .add_service(health)
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
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
