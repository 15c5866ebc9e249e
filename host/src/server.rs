//! The gRPC server: ext_authz, `grpc.health.v1` and server reflection on one port.

use std::sync::Arc;

use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic_health::pb::health_server::{Health, HealthServer};

use crate::{
    frontend::envoy::{EnvoyAuthorization, CHECK},
    listener::{
        http::{self, Protocol},
        ConnLimits, Drain,
    },
    router::Router,
};

/// Descriptors of `envoy.service.auth.v3` and its imports, built by `build.rs`
/// from envoy-types' sources, so `grpcurl` can call `Check` without proto files.
pub const EXT_AUTHZ_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/ext_authz_descriptor.bin"));

/// The fully qualified name of the Authorization service (for health checks).
pub const AUTHORIZATION_SERVICE: &str = "envoy.service.auth.v3.Authorization";

/// Serves ext_authz, `health` and reflection over HTTP/2 on `listener`, each
/// connection held to `limits` (`SETTINGS_MAX_CONCURRENT_STREAMS` included),
/// until `drain` stops it: then GOAWAY, calls in flight finish or are cut at
/// the drain timeout (the client sees a reset stream, never an answer).
pub async fn serve(
    listener: TcpListener,
    router: Arc<Router>,
    health: HealthServer<impl Health>,
    limits: ConnLimits,
    drain: Drain,
) {
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
    let authorization = EnvoyAuthorization::new(router);
    let routes = Routes::new(authorization.clone())
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .prepare()
        .into_axum_router();
    // `Check`, nearly every request, is served without the router's matching.
    let check = http::Direct::new(CHECK, move |request, busy| {
        let check = authorization.clone().check(request);
        Box::pin(async move {
            let response = check.await;
            drop(busy);
            Ok(response.map(axum::body::Body::new))
        })
    });
    let app = (routes, Some(check));
    http::serve_with(listener, "gRPC", Protocol::Http2, app, limits, drain).await;
}
