//! HTTP forward-auth: nginx `auth_request`, Traefik `ForwardAuth` and Envoy's
//! ext_authz HTTP mode ask with a plain HTTP request; the answer's status says
//! allow (200) or deny.
//!
//! **Which auth config.** The path `/auth/<config_id>[/<original path>]`, or the
//! header `x-gatehouse-config-id` on any other path.
//!
//! **The original request** comes from, in this order:
//! - `X-Forwarded-Uri` (Traefik) or `X-Original-URI` (nginx convention): path and
//!   query; `X-Forwarded-Method` or `X-Original-Method`: method (else this
//!   request's method); `X-Forwarded-Host`: host (else `Host`);
//!   `X-Forwarded-Proto`: scheme; the first address of `X-Forwarded-For` (else
//!   `X-Real-IP`, else the TCP peer): client address.
//! - Without either URI header (Envoy's HTTP mode, which replays the original
//!   method, headers and body to `path_prefix` + original path): the request
//!   itself, the original path being what follows `/auth/<config_id>`.
//!
//! **Allow**: `200` with every upstream header the chain set, at its final merged
//! value, as a response header (the proxy copies the ones it is configured to:
//! nginx `auth_request_set`, Envoy `allowed_upstream_headers`); the chain's client
//! response headers too (Envoy `allowed_client_headers_on_success`);
//! `x-gatehouse-remove: a, b` lists the upstream headers the chain removed (also
//! as `x-envoy-auth-headers-to-remove`, which Envoy applies itself) and
//! `x-gatehouse-user-id` the user, when any. **Deny**: the plugin's status, body
//! and headers.

use std::{future::Future, net::SocketAddr, sync::Arc};

use axum::{
    body::Body,
    extract::{ConnectInfo, State},
    http::{request::Parts, HeaderMap, HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use tokio::net::TcpListener;

use crate::{
    model::{Decision, Peer, Request},
    router::{Router, CONFIG_ID_KEY},
};

/// Path prefix that names the auth config: `/auth/<config_id>`.
pub const PATH_PREFIX: &str = "/auth/";
/// Header naming the auth config when the path does not.
pub const CONFIG_ID_HEADER: &str = "x-gatehouse-config-id";
/// Allow-response header listing removed upstream headers (comma-separated).
pub const REMOVE_HEADER: &str = "x-gatehouse-remove";
/// The same list under the name Envoy's ext_authz HTTP mode acts on.
pub const ENVOY_REMOVE_HEADER: &str = "x-envoy-auth-headers-to-remove";
/// Allow-response header carrying the established user id.
pub const USER_HEADER: &str = "x-gatehouse-user-id";

/// Largest body read from a check request; larger ones are cut (the router
/// refuses bodies over its own, usually smaller, limit).
const MAX_BODY: usize = 8 << 20;

/// Headers of the check request that describe it rather than the original one.
const CONTROL_HEADERS: &[&str] = &[
    CONFIG_ID_HEADER,
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "upgrade",
    "content-length",
];

/// Serves forward-auth checks on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    router: Arc<Router>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::Router::new().fallback(check).with_state(router);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

async fn check(
    State(router): State<Arc<Router>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the check request body");
            return StatusCode::PAYLOAD_TOO_LARGE.into_response();
        }
    };
    let request = to_request(&parts, peer, &body);
    to_response(router.decide(&request).await)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Splits `/auth/<id>[/<rest>]` into the id and `/<rest>` (with the query).
fn split_path(path_and_query: &str) -> Option<(String, String)> {
    let tail = path_and_query.strip_prefix(PATH_PREFIX)?;
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    let (id, rest) = match path.split_once('/') {
        Some((id, rest)) => (id, format!("/{rest}")),
        None => (path, "/".to_string()),
    };
    if id.is_empty() {
        return None;
    }
    let rest = match query {
        Some(q) => format!("{rest}?{q}"),
        None => rest,
    };
    Some((id.to_string(), rest))
}

/// The client address: first `X-Forwarded-For` entry, `X-Real-IP`, or the peer.
fn client(headers: &HeaderMap, peer: SocketAddr) -> Peer {
    let forwarded = header(headers, "x-forwarded-for")
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .or_else(|| header(headers, "x-real-ip"))
        .filter(|v| !v.is_empty());
    match forwarded {
        Some(address) => Peer {
            address: address.to_string(),
            ..Peer::default()
        },
        None => Peer {
            address: peer.ip().to_string(),
            port: u32::from(peer.port()),
            ..Peer::default()
        },
    }
}

/// Translates a forward-auth check request into the host's request model.
pub fn to_request(parts: &Parts, peer: SocketAddr, body: &[u8]) -> Request {
    let headers = &parts.headers;
    let uri = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let from_path = split_path(uri);
    let original_uri =
        header(headers, "x-forwarded-uri").or_else(|| header(headers, "x-original-uri"));
    let (method, path) = match original_uri {
        Some(original) => (
            header(headers, "x-forwarded-method")
                .or_else(|| header(headers, "x-original-method"))
                .unwrap_or(parts.method.as_str())
                .to_string(),
            original.to_string(),
        ),
        None => (
            parts.method.to_string(),
            from_path
                .as_ref()
                .map(|(_, rest)| rest.clone())
                .unwrap_or_else(|| uri.to_string()),
        ),
    };
    let config_id = from_path
        .map(|(id, _)| id)
        .or_else(|| header(headers, CONFIG_ID_HEADER).map(str::to_string));
    let host = header(headers, "x-forwarded-host")
        .or_else(|| header(headers, "host"))
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or_default()
        .to_string();
    let scheme = header(headers, "x-forwarded-proto")
        .unwrap_or("http")
        .to_string();
    let mut list: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| !CONTROL_HEADERS.contains(&name.as_str()))
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    list.sort_by(|a, b| a.0.cmp(&b.0));
    let id = header(headers, "x-request-id")
        .unwrap_or_default()
        .to_string();
    Request {
        id,
        method,
        scheme,
        host,
        path,
        headers: list,
        body: (!body.is_empty()).then(|| body.to_vec()),
        source: client(headers, peer),
        destination: Peer::default(),
        tls_sni: String::new(),
        context_extensions: config_id
            .map(|id| [(CONFIG_ID_KEY.to_string(), id)].into_iter().collect())
            .unwrap_or_default(),
    }
}

/// Appends `name: value` to `map`, skipping (and logging) what HTTP cannot carry.
fn append(map: &mut HeaderMap, name: &str, value: &str) {
    match (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        (Ok(name), Ok(value)) => {
            map.append(name, value);
        }
        _ => tracing::warn!(header = name, "header not representable in HTTP; dropped"),
    }
}

/// Translates the chain's decision into the forward-auth response.
pub fn to_response(decision: Decision) -> Response {
    let mut headers = HeaderMap::new();
    match decision {
        Decision::Allow(allowed) => {
            for (name, value) in &allowed.set_headers {
                append(&mut headers, name, value);
            }
            for (name, value) in &allowed.response_headers {
                append(&mut headers, name, value);
            }
            if !allowed.remove_headers.is_empty() {
                let list = allowed.remove_headers.join(", ");
                append(&mut headers, REMOVE_HEADER, &list);
                append(&mut headers, ENVOY_REMOVE_HEADER, &list);
            }
            if let Some(user) = &allowed.user_id {
                append(&mut headers, USER_HEADER, user);
            }
            (StatusCode::OK, headers, Body::empty()).into_response()
        }
        Decision::Deny(denied) => {
            for (name, value) in &denied.headers {
                append(&mut headers, name, value);
            }
            let status = StatusCode::from_u16(denied.status)
                .ok()
                .filter(|s| !s.is_success() && !s.is_informational())
                .unwrap_or(StatusCode::FORBIDDEN);
            (status, headers, denied.body).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Allowed, Denied};

    fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut builder = axum::http::Request::builder().method(method).uri(uri);
        for (n, v) in headers {
            builder = builder.header(*n, *v);
        }
        builder.body(()).expect("request").into_parts().0
    }

    fn peer() -> SocketAddr {
        "10.0.0.9:5555".parse().expect("addr")
    }

    #[test]
    fn forwarded_headers_describe_the_original_request() {
        let p = parts(
            "GET",
            "/auth/gatehouse.demo",
            &[
                ("x-forwarded-method", "POST"),
                ("x-forwarded-uri", "/api/x?y=1"),
                ("x-forwarded-host", "app.test"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-for", "192.0.2.1, 10.0.0.1"),
                ("x-team", "platform"),
            ],
        );
        let r = to_request(&p, peer(), b"");
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/api/x?y=1");
        assert_eq!(r.host, "app.test");
        assert_eq!(r.scheme, "https");
        assert_eq!(r.source.address, "192.0.2.1");
        assert_eq!(r.context_extensions[CONFIG_ID_KEY], "gatehouse.demo");
        assert!(r.headers.contains(&("x-team".into(), "platform".into())));
    }

    #[test]
    fn nginx_original_uri_and_header_config_id() {
        let p = parts(
            "GET",
            "/check",
            &[
                ("x-original-uri", "/demo"),
                ("x-original-method", "DELETE"),
                ("host", "n.test"),
                (CONFIG_ID_HEADER, "merge-example"),
            ],
        );
        let r = to_request(&p, peer(), b"");
        assert_eq!((r.method.as_str(), r.path.as_str()), ("DELETE", "/demo"));
        assert_eq!(r.host, "n.test");
        assert_eq!(r.source.address, "10.0.0.9");
        assert_eq!(r.context_extensions[CONFIG_ID_KEY], "merge-example");
        assert!(r.headers.iter().all(|(n, _)| n != CONFIG_ID_HEADER));
    }

    #[test]
    fn envoy_http_mode_uses_the_request_itself() {
        let p = parts("PUT", "/auth/a.b/x/y?q=1", &[("host", "e.test")]);
        let r = to_request(&p, peer(), b"body");
        assert_eq!((r.method.as_str(), r.path.as_str()), ("PUT", "/x/y?q=1"));
        assert_eq!(r.context_extensions[CONFIG_ID_KEY], "a.b");
        assert_eq!(r.body.as_deref(), Some(&b"body"[..]));
        let r = to_request(&parts("GET", "/auth/", &[]), peer(), b"");
        assert!(r.context_extensions.is_empty());
    }

    #[test]
    fn allow_is_200_with_headers_and_deny_keeps_the_plugin_answer() {
        let response = to_response(Decision::Allow(Allowed {
            set_headers: vec![("one".into(), "bar, baz".into())],
            remove_headers: vec!["a".into(), "b".into()],
            user_id: Some("u".into()),
            ..Allowed::default()
        }));
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["one"], "bar, baz");
        assert_eq!(response.headers()[REMOVE_HEADER], "a, b");
        assert_eq!(response.headers()[USER_HEADER], "u");
        let response = to_response(Decision::Deny(Denied {
            status: 401,
            body: "no".into(),
            headers: vec![("www-authenticate".into(), "Basic".into())],
            reason: String::new(),
        }));
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["www-authenticate"], "Basic");
        let response = to_response(Decision::Deny(Denied {
            status: 200,
            body: String::new(),
            headers: vec![("bad\nname".into(), "x".into())],
            reason: String::new(),
        }));
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
}
