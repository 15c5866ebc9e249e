//! The `envoy.service.auth.v3.Authorization` gRPC service, written out instead
//! of envoy-types' generated `AuthorizationServer` so that `Check` decodes its
//! request as [`super::wire::CheckRequest`] (no hash maps), answers with a
//! [`Reply`] encoded straight from the decision, and the call boxes one
//! future less (no `async_trait`). Same path, codec settings (no
//! compression, tonic's default message sizes) and `Unimplemented` answer for
//! any other method as the generated server.

use std::{
    convert::Infallible,
    sync::Arc,
    task::{Context, Poll},
};

use tonic::{
    codegen::{http, Body, BoxFuture, Service, StdError},
    server::{Grpc, NamedService, UnaryService},
};

use super::{codec::CheckCodec, from_wire, reply::Reply, wire};
use crate::router::Router;

/// The path of the one method.
pub const CHECK: &str = "/envoy.service.auth.v3.Authorization/Check";

/// The `envoy.service.auth.v3.Authorization` service.
#[derive(Clone)]
pub struct EnvoyAuthorization {
    router: Arc<Router>,
}

impl EnvoyAuthorization {
    /// Serves checks with the chains `router` currently holds.
    pub fn new(router: Arc<Router>) -> Self {
        Self { router }
    }

    /// Answers one call of [`CHECK`] (the path is not checked again): what
    /// the listener's direct path calls, and the service's own `call`.
    pub async fn check<B>(self, request: http::Request<B>) -> http::Response<tonic::body::Body>
    where
        B: Body + Send + 'static,
        B::Error: Into<StdError> + Send + 'static,
    {
        Grpc::new(CheckCodec)
            .unary(Check(self.router), request)
            .await
    }
}

impl NamedService for EnvoyAuthorization {
    const NAME: &'static str = "envoy.service.auth.v3.Authorization";
}

/// One `Check` call.
struct Check(Arc<Router>);

impl UnaryService<wire::CheckRequest> for Check {
    type Response = Reply;
    type Future = BoxFuture<tonic::Response<Reply>, tonic::Status>;

    fn call(&mut self, request: tonic::Request<wire::CheckRequest>) -> Self::Future {
        let router = Arc::clone(&self.0);
        // Translated before the future is made: it then holds the host's
        // request only, not the wire message too (a moved-from capture keeps
        // its room in the future, which is copied into its box).
        let request = from_wire(request.into_inner());
        Box::pin(async move {
            let decision = router.decide(&request).await;
            Ok(tonic::Response::new(Reply::new(decision)))
        })
    }
}

impl<B> Service<http::Request<B>> for EnvoyAuthorization
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() != CHECK {
            return Box::pin(async { Ok(tonic::Status::unimplemented("").into_http()) });
        }
        let check = self.clone().check(request);
        Box::pin(async move { Ok(check.await) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn any_other_method_is_unimplemented() {
        let mut service = EnvoyAuthorization::new(Arc::new(Router::default()));
        let request = http::Request::builder()
            .uri("/envoy.service.auth.v3.Authorization/Other")
            .body(tonic::body::Body::empty())
            .expect("request");
        let response = service.call(request).await.expect("infallible");
        let status = response.headers().get("grpc-status").map(|v| v.as_bytes());
        assert_eq!(status, Some(&b"12"[..]), "{response:?}");
    }

    #[tokio::test]
    async fn a_malformed_check_request_is_internal_with_prosts_message() {
        let mut service = EnvoyAuthorization::new(Arc::new(Router::default()));
        // One uncompressed gRPC frame of 3 bytes: field 1, a length running past the end.
        let frame = vec![0, 0, 0, 0, 3, 0x0a, 0x7f, 0x00];
        let request = http::Request::builder()
            .method("POST")
            .uri(CHECK)
            .header("content-type", "application/grpc")
            .body(tonic::body::Body::new(
                String::from_utf8(frame).expect("ASCII bytes"),
            ))
            .expect("request");
        let response = service.call(request).await.expect("infallible");
        let status = tonic::Status::from_header_map(response.headers()).expect("a status");
        assert_eq!(status.code(), tonic::Code::Internal, "{status:?}");
        assert!(
            status
                .message()
                .contains("failed to decode Protobuf message"),
            "{status:?}"
        );
    }
}
