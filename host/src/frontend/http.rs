//! HTTP forward-auth: nginx `auth_request`, Traefik `ForwardAuth`, Caddy
//! `forward_auth` and Envoy's ext_authz HTTP mode ask with a plain HTTP
//! request; the answer's status says allow (200) or deny.
//!
//! **Which gateway** is fixed per listener (`--http-gateway`, required with
//! `--http-listen`), never guessed from the check: a client's headers pass
//! through most gateways, so a guess lets it describe a different request than
//! the one the gateway forwards. See [`Gateway`] for what each mode reads; a
//! mode reads only headers its gateway sets and replaces, consumes them (the
//! chain sees the original request, not those headers), treats the headers of
//! other modes as ordinary headers, and refuses (403) a check that lacks one.
//!
//! **Which auth config**: only the path, `/auth/<config_id>[/<original path>]`,
//! which the gateway's configuration sets. No id: denied.
//!
//! **The client address** is the TCP peer, or with `--xff-trusted-hops N` the
//! Nth `X-Forwarded-For` address from the right (Envoy's
//! `xff_num_trusted_hops`); fewer than N: refused. `X-Real-IP` is an
//! ordinary header.
//!
//! **Allow**: `200` with every upstream header the chain set, at its final merged
//! value, as a response header (the proxy copies the ones it is configured to:
//! nginx `auth_request_set`, Envoy `allowed_upstream_headers`, Traefik
//! `authResponseHeaders`, Caddy `copy_headers`); the chain's client response
//! headers too (Envoy `allowed_client_headers_on_success`);
//! `x-gatehouse-remove: a, b` lists the upstream headers the chain removed (also
//! as `x-envoy-auth-headers-to-remove`, which Envoy applies itself) and
//! `x-gatehouse-user-id` the user, when any. **Deny**: the plugin's status, body
//! and headers.

mod gateway;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    body::Body,
    extract::{ConnectInfo, State},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use tokio::net::TcpListener;

use crate::{
    listener::{self, http::Protocol, ConnLimits, Drain},
    logging::{LogText, Throttle},
    model::{Decision, Denied},
    router::Router,
};

pub use gateway::{to_request, Gateway, Refusal, Trust};

/// Path prefix that names the auth config: `/auth/<config_id>`.
pub const PATH_PREFIX: &str = "/auth/";
/// Allow-response header listing removed upstream headers (comma-separated).
pub const REMOVE_HEADER: &str = "x-gatehouse-remove";
/// The same list under the name Envoy's ext_authz HTTP mode acts on.
pub const ENVOY_REMOVE_HEADER: &str = "x-envoy-auth-headers-to-remove";
/// Allow-response header carrying the established user id.
pub const USER_HEADER: &str = "x-gatehouse-user-id";

/// Log budget for refused checks (a client can send them at will).
static REFUSED: Throttle = Throttle::new(10);

/// What every check on a listener needs: the router and the listener's trust.
#[derive(Clone)]
struct Frontend {
    router: Arc<Router>,
    trust: Trust,
    /// How long a check's body may take to arrive once its head has
    /// (`--header-timeout-ms`): a slow body holds a call in flight, which the
    /// idle timeout does not end.
    body_timeout: Duration,
}

/// Serves forward-auth checks on `listener`, reading them as `trust` says,
/// each connection held to `limits`, until `drain` stops it.
pub async fn serve(
    listener: TcpListener,
    router: Arc<Router>,
    trust: Trust,
    limits: ConnLimits,
    drain: Drain,
) {
    let body_timeout = limits.header_timeout;
    let app = axum::Router::new().fallback(check).with_state(Frontend {
        router,
        trust,
        body_timeout,
    });
    let name = "HTTP forward-auth";
    listener::http::serve(listener, name, Protocol::Http1, app, limits, drain).await;
}

async fn check(
    State(frontend): State<Frontend>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    // Never buffer more than the router would hand to plugins (it answers 413).
    let most = frontend.router.limits().max_body_bytes;
    let read = tokio::time::timeout(frontend.body_timeout, axum::body::to_bytes(body, most));
    let body = match read.await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => return refuse_body(peer, StatusCode::PAYLOAD_TOO_LARGE, &e),
        Err(elapsed) => return refuse_body(peer, StatusCode::REQUEST_TIMEOUT, &elapsed),
    };
    let gateway = frontend.trust.gateway;
    match to_request(&parts, peer, &body, frontend.trust) {
        Ok(request) => {
            tracing::debug!(
                request_id = %LogText(&request.id), ?gateway, method = ?request.method, path = ?request.path,
                host = ?request.host, client = %request.source.address, "forward-auth check"
            );
            to_response(frontend.router.decide(&request).await)
        }
        Err(refusal) => {
            if let Some(suppressed) = REFUSED.admit() {
                tracing::warn!(?gateway, %peer, error = %refusal, suppressed,
                    "forward-auth check refused: the gateway did not send what --http-gateway expects");
            }
            to_response(Decision::Deny(Denied {
                status: 403,
                body: String::new(),
                headers: Vec::new(),
                reason: refusal.to_string(),
            }))
        }
    }
}

/// A check whose body is too large or too slow: refused (never judged without it).
fn refuse_body(peer: SocketAddr, status: StatusCode, error: &dyn std::fmt::Display) -> Response {
    if let Some(suppressed) = REFUSED.admit() {
        tracing::warn!(%peer, %error, %status, suppressed, "cannot read the check request body");
    }
    status.into_response()
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
    use crate::model::Allowed;

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
