//! The gRPC server: ext_authz, `grpc.health.v1` and server reflection on one port.

use std::{future::Future, sync::Arc};

use envoy_types::pb::envoy::service::auth::v3::authorization_server::AuthorizationServer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic_health::pb::health_server::{Health, HealthServer};

use crate::{frontend::envoy::EnvoyAuthorization, router::Router};

/// Descriptors of `envoy.service.auth.v3` and its imports, built by `build.rs`
/// from envoy-types' sources, so `grpcurl` can call `Check` without proto files.
pub const EXT_AUTHZ_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/ext_authz_descriptor.bin"));

/// The fully qualified name of the Authorization service (for health checks).
pub const AUTHORIZATION_SERVICE: &str = "envoy.service.auth.v3.Authorization";

/// Serves ext_authz, `health` and reflection on `listener` until `shutdown`
/// completes, then stops accepting and finishes the calls in flight.
pub async fn serve(
    listener: TcpListener,
    router: Arc<Router>,
    health: HealthServer<impl Health>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(EXT_AUTHZ_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .expect("bundled descriptor sets are valid");
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(EXT_AUTHZ_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .expect("bundled descriptor sets are valid");
    tonic::transport::Server::builder()
        .add_service(AuthorizationServer::new(EnvoyAuthorization::new(router)))
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await
}
