//! The gRPC server: ext_authz, `grpc.health.v1` and server reflection on one port.

use std::{future::Future, sync::Arc};

use envoy_types::pb::envoy::service::auth::v3::authorization_server::AuthorizationServer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

use crate::{frontend::envoy::EnvoyAuthorization, router::Router};

/// Descriptors of `envoy.service.auth.v3` and its imports, built by `build.rs`
/// from envoy-types' sources, so `grpcurl` can call `Check` without proto files.
pub const EXT_AUTHZ_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/ext_authz_descriptor.bin"));

/// The fully qualified name of the Authorization service (for health checks).
pub const AUTHORIZATION_SERVICE: &str = "envoy.service.auth.v3.Authorization";

/// Serves on `listener` until `shutdown` completes, then drains in-flight calls.
/// Health reports SERVING when a configuration is loaded, NOT_SERVING while
/// draining.
pub async fn serve(
    listener: TcpListener,
    router: Arc<Router>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let (health, health_service) = tonic_health::server::health_reporter();
    if router.current().is_some() {
        health
            .set_serving::<AuthorizationServer<EnvoyAuthorization>>()
            .await;
        health
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
    }
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

    let drain = async move {
        shutdown.await;
        tracing::info!("shutting down: draining in-flight requests");
        health
            .set_not_serving::<AuthorizationServer<EnvoyAuthorization>>()
            .await;
        health
            .set_service_status("", tonic_health::ServingStatus::NotServing)
            .await;
    };
    tonic::transport::Server::builder()
        .add_service(AuthorizationServer::new(EnvoyAuthorization::new(router)))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), drain)
        .await
}
