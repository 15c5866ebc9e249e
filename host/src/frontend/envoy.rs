//! Envoy ext_authz v3 gRPC: `CheckRequest` → [`Request`], [`Decision`] →
//! `CheckResponse`. The only module that knows Envoy's types.

use std::collections::BTreeMap;

use envoy_types::pb::{
    envoy::{
        config::core::v3::{
            address, header_value_option::HeaderAppendAction, socket_address::PortSpecifier,
            HeaderValue, HeaderValueOption,
        },
        r#type::v3::HttpStatus,
        service::auth::v3::{
            attribute_context, check_response::HttpResponse, CheckRequest, CheckResponse,
            DeniedHttpResponse, OkHttpResponse,
        },
    },
    google::{
        protobuf::{value::Kind, Struct, Value},
        rpc::Status,
    },
};
use prost::Message;

use crate::model::{join_repeated_headers, Decision, Peer, Request};

mod codec;
mod metadata;
mod reply;
mod service;
pub mod wire;

pub use service::{EnvoyAuthorization, CHECK};

/// gRPC status codes used in `CheckResponse.status`.
const OK: i32 = 0;
const PERMISSION_DENIED: i32 = 7;

/// `CheckResponse.status.message` of every denial.
pub const DENIED_MESSAGE: &str = "denied by gatehouse";

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

/// `name` in lower case, in place (HTTP/2 names already are: no copy, no
/// write). The flag says whether it changed.
fn lowercase(mut name: String) -> (String, bool) {
    let upper = name.bytes().any(|b| b.is_ascii_uppercase());
    if upper {
        name.make_ascii_lowercase();
    }
    (name, upper)
}

/// Pseudo-headers are carried as method/host/path, not as headers.
fn pseudo(name: &str) -> bool {
    name.starts_with(':')
}

/// `header_map` keeps repeated headers apart; joined, no decision depends on
/// which copy comes first.
fn from_header_map(
    map: envoy_types::pb::envoy::config::core::v3::HeaderMap,
) -> Vec<(String, String)> {
    let mut headers = Vec::with_capacity(map.headers.len());
    headers.extend(
        map.headers
            .into_iter()
            .filter(|h| !pseudo(&h.key))
            .map(|h| {
                let value = if h.raw_value.is_empty() {
                    h.value
                } else {
                    String::from_utf8_lossy(&h.raw_value).into_owned()
                };
                (lowercase(h.key).0, value)
            }),
    );
    join_repeated_headers(headers)
}

/// The `headers` map: each key once (the last value sent wins, as for any
/// protobuf map), sorted. Envoy's keys are lower-case and so already in the
/// canonical form; only keys that lower-casing merged need joining.
fn from_header_entries(mut entries: Vec<wire::Entry>) -> Vec<(String, String)> {
    entries.retain(|e| !pseudo(&e.key));
    let mut merged = false;
    // Same layout: collected in place, no allocation.
    let headers: Vec<(String, String)> = wire::map_entries(entries)
        .into_iter()
        .map(|e| {
            let (name, changed) = lowercase(e.key);
            merged |= changed;
            (name, e.value)
        })
        .collect();
    if merged {
        join_repeated_headers(headers)
    } else {
        headers
    }
}

/// Translates Envoy's `CheckRequest` into the host's request model (through
/// its wire form, as the server decodes it; for tests and benchmarks).
pub fn to_request(check: CheckRequest) -> Request {
    // A message just encoded always decodes.
    from_wire(wire::CheckRequest::decode(check.encode_to_vec().as_slice()).unwrap_or_default())
}

/// Translates a decoded `CheckRequest` into the host's request model.
pub fn from_wire(check: wire::CheckRequest) -> Request {
    let attributes = check.attributes.unwrap_or_default();
    let http = attributes.request.and_then(|r| r.http).unwrap_or_default();
    let headers = match http.header_map {
        Some(map) => from_header_map(map),
        None => from_header_entries(http.headers),
    };
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
    let mut context_extensions = BTreeMap::new();
    for e in attributes.context_extensions {
        context_extensions.insert(e.key, e.value); // the last value wins
    }
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
        context_extensions,
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
/// The server sends the same bytes without building it ([`reply::Reply`]).
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

#[cfg(test)]
mod tests {
    use crate::model::tests::owned;
    use envoy_types::pb::envoy::service::auth::v3::{attribute_context, AttributeContext};

    use super::*;

    fn with_headers(headers: &[(&str, &str)]) -> CheckRequest {
        CheckRequest {
            attributes: Some(AttributeContext {
                request: Some(attribute_context::Request {
                    http: Some(attribute_context::HttpRequest {
                        headers: headers
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn the_headers_map_is_lower_cased_sorted_and_without_pseudo_headers() {
        let request = to_request(with_headers(&[
            ("x-team", "a"),
            (":path", "/"),
            ("Accept", "*/*"),
            ("x-request-id", "r1"),
        ]));
        assert_eq!(
            request.headers,
            owned(&[("accept", "*/*"), ("x-request-id", "r1"), ("x-team", "a")])
        );
        assert_eq!(request.id, "r1", "the id falls back to x-request-id");
    }

    #[test]
    fn keys_that_lower_casing_merges_are_joined() {
        let request = to_request(with_headers(&[("X-Team", "a"), ("x-team", "b")]));
        assert_eq!(request.headers, owned(&[("x-team", "a, b")]));
    }
}
