//! Which parts of a forward-auth check describe the original request: decided
//! by the gateway a listener is configured for (`--http-gateway`), never by
//! what the check happens to carry. Each mode reads only headers its gateway
//! sets itself (replacing any copy a client sent); headers other gateways use
//! are ordinary headers here. A check without a header its mode needs is
//! refused, never judged on the check request's own path or method.

use std::net::{IpAddr, SocketAddr};

use axum::http::{request::Parts, HeaderMap};

use super::PATH_PREFIX;
use crate::{
    model::{join_repeated_headers, Peer, Request},
    router::CONFIG_ID_KEY,
};

/// The gateway that sends checks to an HTTP forward-auth listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Gateway {
    /// nginx `auth_request`: `X-Original-URI`, `X-Original-Method`,
    /// `X-Forwarded-Host`, `-Proto` (and `-For`), each set with
    /// `proxy_set_header` in the auth location (deploy/nginx/nginx.conf).
    Nginx,
    /// Traefik ForwardAuth (`trustForwardHeader: false`): `X-Forwarded-Method`,
    /// `-Uri`, `-Host`, `-Proto`, `-For`, which Traefik sets itself.
    Traefik,
    /// Caddy `forward_auth`: `X-Forwarded-Method`, `-Uri` (its `header_up`) and
    /// `-Host`, `-Proto`, `-For` (reverse_proxy; without `trusted_proxies` it
    /// replaces a client's copies).
    Caddy,
    /// Envoy ext_authz HTTP mode: the check is the original request replayed
    /// under `path_prefix: /auth/<id>`: its method, the path after the prefix,
    /// `Host` and `X-Forwarded-Proto`/`-For` (set by Envoy with
    /// `use_remote_address: true`).
    Envoy,
}

impl Gateway {
    /// The headers a gateway describes the original request with; `None` for
    /// Envoy, whose check is the original request.
    fn described(self) -> Option<&'static Described> {
        match self {
            Gateway::Nginx => Some(&NGINX),
            Gateway::Traefik | Gateway::Caddy => Some(&FORWARDED),
            Gateway::Envoy => None,
        }
    }
}

/// What a listener trusts: its gateway, and how many `X-Forwarded-For` entries
/// (from the right) were appended by proxies it trusts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trust {
    /// `--http-gateway`.
    pub gateway: Gateway,
    /// `--xff-trusted-hops`, as Envoy's `xff_num_trusted_hops` with
    /// `use_remote_address`: 0, the client is the TCP peer (the gateway
    /// itself); N, the Nth `X-Forwarded-For` address from the right (1: the
    /// address the gateway saw). Fewer than N addresses: refused.
    pub trusted_hops: usize,
}

/// Headers naming the original request's parts.
struct Described {
    uri: &'static str,
    method: &'static str,
    host: &'static str,
    proto: &'static str,
}

const NGINX: Described = Described {
    uri: "x-original-uri",
    method: "x-original-method",
    host: "x-forwarded-host",
    proto: "x-forwarded-proto",
};
const FORWARDED: Described = Described {
    uri: "x-forwarded-uri",
    method: "x-forwarded-method",
    host: "x-forwarded-host",
    proto: "x-forwarded-proto",
};
const XFF: &str = "x-forwarded-for";

/// Headers of the check request that describe the connection, not the request.
const CONTROL_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "upgrade",
    "content-length",
];

/// Why a check is refused before any chain runs: the gateway did not send what
/// its mode needs (a misconfigured gateway, or a client talking to the
/// listener directly).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A header the mode reads is absent or empty.
    #[error("no {0} header (the gateway must set it)")]
    Missing(&'static str),
    /// A header the gateway sets once came more than once.
    #[error("{0} came {1} times (the gateway sets it once)")]
    Repeated(&'static str, usize),
    /// A header the mode reads is not text.
    #[error("{0} is not valid text")]
    Unreadable(&'static str),
    /// `X-Forwarded-For` lists fewer addresses than the trusted hops.
    #[error("X-Forwarded-For has {0} addresses, fewer than --xff-trusted-hops {1}")]
    TooFewHops(usize, usize),
    /// The trusted `X-Forwarded-For` entry is not an IP address.
    #[error("X-Forwarded-For entry {0:?} is not an IP address")]
    NotAnAddress(String),
}

/// The one value of `name`, if present and not empty.
fn single<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<Option<&'a str>, Refusal> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    let more = values.count();
    if more > 0 {
        return Err(Refusal::Repeated(name, more + 1));
    }
    let value = first
        .to_str()
        .map_err(|_| Refusal::Unreadable(name))?
        .trim();
    Ok((!value.is_empty()).then_some(value))
}

fn required<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, Refusal> {
    single(headers, name)?.ok_or(Refusal::Missing(name))
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

/// The client: the TCP peer with no trusted hops, else the `hops`-th
/// `X-Forwarded-For` address from the right (all copies, in order).
fn client(headers: &HeaderMap, peer: SocketAddr, hops: usize) -> Result<Peer, Refusal> {
    if hops == 0 {
        return Ok(Peer {
            address: peer.ip().to_string(),
            port: u32::from(peer.port()),
            ..Peer::default()
        });
    }
    let mut entries = Vec::new();
    for value in headers.get_all(XFF) {
        let value = value.to_str().map_err(|_| Refusal::Unreadable(XFF))?;
        entries.extend(value.split(',').map(str::trim).filter(|e| !e.is_empty()));
    }
    let Some(index) = entries.len().checked_sub(hops) else {
        return Err(Refusal::TooFewHops(entries.len(), hops));
    };
    let entry = entries[index];
    let address: IpAddr = entry
        .parse()
        .map_err(|_| Refusal::NotAnAddress(entry.to_string()))?;
    Ok(Peer {
        address: address.to_string(),
        ..Peer::default()
    })
}

/// The original request's line, as the mode reads it.
struct Line {
    method: String,
    path: String,
    host: String,
    scheme: String,
}

/// Reads the original request's line from a forward gateway's headers.
fn described_line(headers: &HeaderMap, d: &Described) -> Result<Line, Refusal> {
    Ok(Line {
        method: required(headers, d.method)?.to_string(),
        path: required(headers, d.uri)?.to_string(),
        host: required(headers, d.host)?.to_string(),
        scheme: required(headers, d.proto)?.to_string(),
    })
}

/// Envoy HTTP mode: the check itself, its path after `/auth/<id>`.
fn replayed_line(parts: &Parts, rest: Option<&str>) -> Result<Line, Refusal> {
    let headers = &parts.headers;
    let host = single(headers, "host")?
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or_default();
    Ok(Line {
        method: parts.method.to_string(),
        path: rest.unwrap_or("/").to_string(),
        host: host.to_string(),
        scheme: single(headers, "x-forwarded-proto")?
            .unwrap_or("http")
            .to_string(),
    })
}

/// Translates a forward-auth check into the host's request model, reading
/// only what `trust` names. The auth config is the `<id>` of
/// `/auth/<id>`; without one the request carries no config id (and the router
/// denies it).
pub fn to_request(
    parts: &Parts,
    peer: SocketAddr,
    body: &[u8],
    trust: Trust,
) -> Result<Request, Refusal> {
    let headers = &parts.headers;
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let routed = split_path(target);
    let described = trust.gateway.described();
    let line = match described {
        Some(d) => described_line(headers, d)?,
        None => replayed_line(parts, routed.as_ref().map(|(_, rest)| rest.as_str()))?,
    };
    let source = client(headers, peer, trust.trusted_hops)?;
    // What the mode read is consumed; the check's own Host (the auth server
    // for Traefik and nginx) gives way to the original host.
    let consumed: Vec<&str> = match described {
        Some(d) => vec![d.uri, d.method, d.host, d.proto, XFF, "host"],
        None => Vec::new(),
    };
    let mut list: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value))
        .filter(|(name, _)| !CONTROL_HEADERS.contains(name) && !consumed.contains(name))
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.to_string(), value)
        })
        .collect();
    if described.is_some() {
        list.push(("host".to_string(), line.host.clone()));
    }
    let id = single(headers, "x-request-id")
        .ok()
        .flatten()
        .unwrap_or_default()
        .to_string();
    Ok(Request {
        id,
        method: line.method,
        scheme: line.scheme,
        host: line.host,
        path: line.path,
        headers: join_repeated_headers(list),
        body: (!body.is_empty()).then(|| body.to_vec()),
        source,
        destination: Peer::default(),
        tls_sni: String::new(),
        context_extensions: routed
            .map(|(id, _)| [(CONFIG_ID_KEY.to_string(), id)].into_iter().collect())
            .unwrap_or_default(),
        // Envoy metadata exists only on the ext_authz gRPC frontend.
        metadata_context: String::new(),
        route_metadata: String::new(),
    })
}

#[cfg(test)]
mod tests;
