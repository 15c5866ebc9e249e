//! # Gatehouse benchmarks
//!
//! How close the plugin chain comes to the limit of the gRPC stack. The pieces:
//!
//! - [`check_request`] / [`framed`]: the realistic `CheckRequest` every scenario
//!   answers, and its gRPC framing for `h2load -d`.
//! - [`native`]: native (no ABI) steps doing what `required-header` and
//!   `set-headers` do, for scenario B and the microbenchmarks.
//! - [`service`]: scenario A's `Check` service (always allow) and what the
//!   bench servers share (scenario B runs the host's own `server::serve`).
//! - [`driver`]: runs every scenario (A–E) and prints the table (`bench` binary).
//! - [`callgrind`]: instructions per request of each server under callgrind.
//! - [`scale`]: reload time and RSS for 1 / 100 / 10,000 auth configs; 1 / 3 / 10 steps.
//!
//! `scripts/bench.sh` builds everything and runs the driver; BENCHMARKS.md has results.

/// Every bench binary allocates like the `gatehouse` binary (its default
/// `jemalloc` feature), so that A and B differ from C and D by the chain only.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

pub mod callgrind;
pub mod driver;
pub mod native;
pub mod scale;
pub mod service;

use std::collections::HashMap;

use envoy_types::pb::envoy::{
    config::core::v3::{address, Address, SocketAddress},
    service::auth::v3::{
        attribute_context::{HttpRequest, Peer, Request as AttrRequest},
        AttributeContext, CheckRequest,
    },
};
use prost::Message;

/// The auth config id every benchmark request names (`context_extensions.config_id`).
pub const CONFIG_ID: &str = "bench";

/// The gRPC method path of `Check`.
pub const CHECK_PATH: &str = "/envoy.service.auth.v3.Authorization/Check";

/// The request headers of the benchmark request (about what a browser through
/// Envoy sends), including `x-team: platform`, which the chains require.
pub fn request_headers() -> Vec<(&'static str, &'static str)> {
    vec![
        (":authority", "api.example.com"),
        (":method", "GET"),
        (":path", "/api/v1/orders?limit=20&page=3"),
        (":scheme", "https"),
        ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) bench/1.0"),
        ("accept", "application/json"),
        ("accept-encoding", "gzip, deflate, br"),
        ("x-team", "platform"),
        ("x-request-id", "6f1c1c1e-2b1d-4a63-9d6e-3c2f0e9c9a11"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-for", "203.0.113.7"),
        ("cookie", "session=abcdef0123456789; theme=dark"),
    ]
}

fn socket(address: &str, port: u32) -> Option<Peer> {
    Some(Peer {
        address: Some(Address {
            address: Some(address::Address::SocketAddress(SocketAddress {
                address: address.into(),
                port_specifier: Some(
                    envoy_types::pb::envoy::config::core::v3::socket_address::PortSpecifier::PortValue(port),
                ),
                ..Default::default()
            })),
        }),
        ..Default::default()
    })
}

/// A realistic `CheckRequest`: a dozen headers, path, method, peers and the
/// `config_id` context extension, as Envoy sends it.
pub fn check_request() -> CheckRequest {
    let headers: HashMap<String, String> = request_headers()
        .into_iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    CheckRequest {
        attributes: Some(AttributeContext {
            source: socket("203.0.113.7", 51234),
            destination: socket("10.0.0.5", 10000),
            request: Some(AttrRequest {
                http: Some(HttpRequest {
                    id: "6f1c1c1e-2b1d-4a63-9d6e-3c2f0e9c9a11".into(),
                    method: "GET".into(),
                    headers,
                    path: "/api/v1/orders?limit=20&page=3".into(),
                    host: "api.example.com".into(),
                    scheme: "https".into(),
                    protocol: "HTTP/1.1".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            context_extensions: [("config_id".to_string(), CONFIG_ID.to_string())]
                .into_iter()
                .collect(),
            ..Default::default()
        }),
    }
}

/// [`check_request`] from a team the chains refuse (`x-team: marketing`): the
/// deny path, which the PGO training of `scripts/build-host.sh --pgo` runs
/// beside the allow path (scripts/pgo/).
pub fn refused_check_request() -> CheckRequest {
    let mut request = check_request();
    if let Some(http) = http_mut(&mut request) {
        http.headers.insert("x-team".into(), "marketing".into());
    }
    request
}

/// The HTTP request a `CheckRequest` describes, to change one of its parts.
pub fn http_mut(request: &mut CheckRequest) -> Option<&mut HttpRequest> {
    request
        .attributes
        .as_mut()
        .and_then(|a| a.request.as_mut())
        .and_then(|r| r.http.as_mut())
}

/// `message` as one gRPC frame: 0 (not compressed), big-endian u32 length, bytes.
pub fn framed(message: &impl Message) -> Vec<u8> {
    let body = message.encode_to_vec();
    let mut out = Vec::with_capacity(body.len() + 5);
    out.push(0);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}
