//! Envoy ext_authz v3 gRPC: `CheckRequest` → [`Request`], [`Decision`] →
//! `CheckResponse`. The only module that knows Envoy's types.

use std::{collections::BTreeMap, sync::Arc};

use envoy_types::pb::{
    envoy::{
        config::core::v3::{
            address, header_value_option::HeaderAppendAction, socket_address::PortSpecifier,
            HeaderValue, HeaderValueOption,
        },
        r#type::v3::HttpStatus,
        service::auth::v3::{
            attribute_context, authorization_server::Authorization, check_response::HttpResponse,
            CheckRequest, CheckResponse, DeniedHttpResponse, OkHttpResponse,
        },
    },
    google::{
        protobuf::{value::Kind, Struct, Value},
        rpc::Status,
    },
};
use tonic::{Request as GrpcRequest, Response as GrpcResponse};

use crate::{
    model::{join_repeated_headers, Decision, Peer, Request},
    router::Router,
};

mod metadata;

/// gRPC status codes used in `CheckResponse.status`.
const OK: i32 = 0;
const PERMISSION_DENIED: i32 = 7;

/// `CheckResponse.status.message` of every denial.
pub const DENIED_MESSAGE: &str = "denied by gatehouse";

/// The `envoy.service.auth.v3.Authorization` service.
pub struct EnvoyAuthorization {
    router: Arc<Router>,
}

impl EnvoyAuthorization {
    /// Serves checks with the chains `router` currently holds.
    pub fn new(router: Arc<Router>) -> Self {
        Self { router }
    }
}

#[tonic::async_trait]
impl Authorization for EnvoyAuthorization {
    async fn check(
        &self,
        request: GrpcRequest<CheckRequest>,
    ) -> Result<GrpcResponse<CheckResponse>, tonic::Status> {
        let request = to_request(request.into_inner());
        let decision = self.router.decide(&request).await;
        Ok(GrpcResponse::new(to_response(decision)))
    }
}

fn peer(p: Option<attribute_context::Peer>) -> Peer {
    let Some(p) = p else { return Peer::default() };
    let (address, port) = match p.address.and_then(|a| a.address) {
        Some(address::Address::SocketAddress(s)) => (
            s.address,
            match s.port_specifier {
                Some(PortSpecifier::PortValue(port)) => port,
                _ => 0,
            },
        ),
        Some(address::Address::Pipe(pipe)) => (pipe.path, 0),
        _ => (String::new(), 0),
    };
    Peer {
        address,
        port,
        principal: p.principal,
        certificate: p.certificate,
    }
}

/// `name` in lower case, in place (HTTP/2 names already are: no copy).
fn lowercase(mut name: String) -> String {
    name.make_ascii_lowercase();
    name
}

/// Translates Envoy's `CheckRequest` into the host's request model.
pub fn to_request(check: CheckRequest) -> Request {
    let attributes = check.attributes.unwrap_or_default();
    let http = attributes.request.and_then(|r| r.http).unwrap_or_default();
    let mut headers: Vec<(String, String)> = match http.header_map {
        Some(map) => map
            .headers
            .into_iter()
            .map(|h| {
                let value = if h.raw_value.is_empty() {
                    h.value
                } else {
                    String::from_utf8_lossy(&h.raw_value).into_owned()
                };
                (lowercase(h.key), value)
            })
            .collect(),
        None => http
            .headers
            .into_iter()
            .map(|(k, v)| (lowercase(k), v))
            .collect(),
    };
    // Pseudo-headers are carried as method/host/path. `header_map` keeps repeated
    // headers apart; joined, no decision depends on which copy comes first.
    headers.retain(|(name, _)| !name.starts_with(':'));
    let headers = join_repeated_headers(headers);
    let body = if !http.raw_body.is_empty() {
        Some(http.raw_body)
    } else if !http.body.is_empty() {
        Some(http.body.into_bytes())
    } else {
        None
    };
    let id = if http.id.is_empty() {
        headers
            .iter()
            .find(|(n, _)| n == "x-request-id")
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    } else {
        http.id
    };
    Request {
        id,
        method: http.method,
        scheme: http.scheme,
        host: http.host,
        path: http.path,
        headers,
        body,
        source: peer(attributes.source),
        destination: peer(attributes.destination),
        tls_sni: attributes.tls_session.map(|t| t.sni).unwrap_or_default(),
        context_extensions: attributes.context_extensions.into_iter().collect(),
        metadata_context: metadata::to_json(attributes.metadata_context.as_ref()),
        route_metadata: metadata::to_json(attributes.route_metadata_context.as_ref()),
    }
}

fn header(name: String, value: String, action: HeaderAppendAction) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(HeaderValue {
            key: name,
            value,
            ..Default::default()
        }),
        append_action: action as i32,
        ..Default::default()
    }
}

fn metadata(entries: BTreeMap<String, String>) -> Option<Struct> {
    (!entries.is_empty()).then(|| Struct {
        fields: entries
            .into_iter()
            .map(|(k, v)| {
                (
                    k,
                    Value {
                        kind: Some(Kind::StringValue(v)),
                    },
                )
            })
            .collect(),
    })
}

/// Translates the chain's decision into Envoy's `CheckResponse`. Upstream
/// headers carry their final merged value and overwrite; response headers append.
pub fn to_response(decision: Decision) -> CheckResponse {
    match decision {
        Decision::Allow(allowed) => {
            let mut entries = allowed.dynamic_metadata;
            if let Some(user) = allowed.user_id {
                entries.insert("user_id".into(), user);
            }
            CheckResponse {
                status: Some(Status {
                    code: OK,
                    ..Default::default()
                }),
                http_response: Some(HttpResponse::OkResponse(OkHttpResponse {
                    headers: allowed
                        .set_headers
                        .into_iter()
                        .map(|(n, v)| header(n, v, HeaderAppendAction::OverwriteIfExistsOrAdd))
                        .collect(),
                    headers_to_remove: allowed.remove_headers,
                    response_headers_to_add: allowed
                        .response_headers
                        .into_iter()
                        .map(|(n, v)| header(n, v, HeaderAppendAction::AppendIfExistsOrAdd))
                        .collect(),
                    ..Default::default()
                })),
                dynamic_metadata: metadata(entries),
            }
        }
        Decision::Deny(denied) => CheckResponse {
            status: Some(Status {
                code: PERMISSION_DENIED,
                // The reason (which step, which error, which configs exist) is
                // for gatehouse's log only: the proxy and its logs get this.
                message: DENIED_MESSAGE.into(),
                ..Default::default()
            }),
            http_response: Some(HttpResponse::DeniedResponse(DeniedHttpResponse {
                status: Some(HttpStatus {
                    code: i32::from(denied.status),
                }),
                headers: denied
                    .headers
                    .into_iter()
                    .map(|(n, v)| header(n, v, HeaderAppendAction::AppendIfExistsOrAdd))
                    .collect(),
                body: denied.body,
            })),
            dynamic_metadata: None,
        },
    }
}
