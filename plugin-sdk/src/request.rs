//! The request a step decides: a read-only view of the host's request.
//!
//! [`Request`] wraps the ABI struct without copying it: the host lends one
//! `AuthRequest` per chain run, and the SDK hands `authorize` the same memory
//! as a `&Request` (a pointer cast, no allocation). Its fields are private;
//! read them through the accessors, build one in tests with
//! [`Request::builder`].

use gatehouse_plugin_api::{AuthRequest, Header, KeyValue, Peer as AbiPeer};

use crate::helpers::{find, kv};

/// The request a step decides, as the host lends it to `authorize`.
///
/// Header names are matched case-insensitively; a header sent several times
/// has one entry per value ([`headers`](Self::headers)). State and context
/// extensions are text; [`state_json`](Self::state_json) parses a JSON value.
/// `Request::default()` is empty (no method, no path); [`Request::builder`]
/// starts at `GET /`.
#[repr(transparent)]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request(AuthRequest);

impl Request {
    /// A builder for a request (for tests and tools): `GET /` with nothing
    /// else until set.
    pub fn builder() -> RequestBuilder {
        RequestBuilder::default()
    }

    /// A builder starting from this request's values, to vary it in a test.
    pub fn into_builder(self) -> RequestBuilder {
        RequestBuilder(self.0)
    }

    /// Views the host's ABI request as a `Request`, without copying it.
    ///
    /// **Unstable escape hatch**: the ABI type follows the plugin interface,
    /// not the SDK's semver. Plugins do not need this; the SDK calls it.
    pub fn from_abi(request: &AuthRequest) -> &Request {
        // SAFETY: `Request` is `#[repr(transparent)]` over `AuthRequest`, so
        // both have the same layout and the reference keeps its lifetime.
        unsafe { &*(request as *const AuthRequest as *const Request) }
    }

    /// The ABI value behind this view.
    ///
    /// **Unstable escape hatch**: the ABI type follows the plugin interface,
    /// not the SDK's semver; prefer the accessors.
    pub fn as_abi(&self) -> &AuthRequest {
        &self.0
    }

    /// The request id (`x-request-id`), for log correlation; may be empty.
    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// The HTTP method, e.g. `GET`.
    pub fn method(&self) -> &str {
        &self.0.method
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &str {
        &self.0.scheme
    }

    /// The `:authority` / `Host`.
    pub fn host(&self) -> &str {
        &self.0.host
    }

    /// The path with its query string, as received (not percent-decoded).
    pub fn path(&self) -> &str {
        &self.0.path
    }

    /// The query string (after the first `?`), if the path has one.
    pub fn query(&self) -> Option<&str> {
        self.0.path.split_once('?').map(|(_, query)| query)
    }

    /// The first value of query parameter `name` (not percent-decoded; a
    /// parameter without `=` has the empty value).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query()?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then_some(v)
        })
    }

    /// The first value of header `name` (case-insensitive). A header sent
    /// several times has several values: see [`headers`](Self::headers). A
    /// client chooses how often it sends a header; where one value must
    /// decide, refuse a request with more than one.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers(name).next()
    }

    /// Every value of header `name` (case-insensitive), in the order received.
    pub fn headers<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.0
            .headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// Every header line as `(name, value)`, in the order received (names as
    /// the host gives them: lower-case).
    pub fn header_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .headers
            .iter()
            .map(|h| (h.name.as_str(), h.value.as_str()))
    }

    /// The body, when the proxy sends it (`None` if it does not; `Some` of an
    /// empty slice for an empty body).
    pub fn body(&self) -> Option<&[u8]> {
        self.0.body.as_ref().into_option().map(|b| b.as_slice())
    }

    /// The state entry `key` left by an earlier step (the last one written).
    pub fn state(&self, key: &str) -> Option<&str> {
        find(&self.0.state, key)
    }

    /// The state entry `key` holding JSON (written with
    /// [`ResponseExt::set_state_json`](crate::ResponseExt::set_state_json)),
    /// parsed as `T`; `None` if absent, an error naming the key if it does not parse.
    pub fn state_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Option<Result<T, String>> {
        let text = self.state(key)?;
        Some(serde_json::from_str(text).map_err(|e| format!("state `{key}`: {e}")))
    }

    /// Every state entry as `(key, value)`, in the host's order.
    pub fn state_entries(&self) -> impl Iterator<Item = (&str, &str)> {
        pairs(&self.0.state)
    }

    /// The route's context extension `key` (Envoy's `context_extensions`).
    pub fn context_extension(&self, key: &str) -> Option<&str> {
        find(&self.0.context_extensions, key)
    }

    /// Every context extension as `(key, value)`.
    pub fn context_extensions(&self) -> impl Iterator<Item = (&str, &str)> {
        pairs(&self.0.context_extensions)
    }

    /// The downstream client.
    pub fn source(&self) -> &Peer {
        Peer::from_abi(&self.0.source)
    }

    /// The local address that accepted the request.
    pub fn destination(&self) -> &Peer {
        Peer::from_abi(&self.0.destination)
    }

    /// The TLS SNI, when the downstream connection used TLS and sent one.
    pub fn tls_sni(&self) -> Option<&str> {
        non_empty(&self.0.tls_sni)
    }
}

fn pairs(entries: &[KeyValue]) -> impl Iterator<Item = (&str, &str)> {
    entries
        .iter()
        .map(|kv| (kv.key.as_str(), kv.value.as_str()))
}

fn non_empty(s: &str) -> Option<&str> {
    Some(s).filter(|s| !s.is_empty())
}

/// One end of the downstream connection, as the proxy saw it.
#[repr(transparent)]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Peer(AbiPeer);

impl Peer {
    /// A peer at `address` and `port` (for [`RequestBuilder::source`]).
    pub fn new(address: &str, port: u16) -> Self {
        Self(AbiPeer {
            address: address.into(),
            port: port.into(),
            ..AbiPeer::default()
        })
    }

    /// This peer with a TLS identity (URI SAN or subject).
    pub fn with_principal(mut self, principal: &str) -> Self {
        self.0.principal = principal.into();
        self
    }

    /// This peer with a certificate (URL-encoded PEM, as Envoy sends it).
    pub fn with_certificate(mut self, certificate: &str) -> Self {
        self.0.certificate = certificate.into();
        self
    }

    fn from_abi(peer: &AbiPeer) -> &Peer {
        // SAFETY: `Peer` is `#[repr(transparent)]` over the ABI peer.
        unsafe { &*(peer as *const AbiPeer as *const Peer) }
    }

    /// The IP address (or pipe path), if known.
    pub fn address(&self) -> Option<&str> {
        non_empty(&self.0.address)
    }

    /// The TCP port, if known.
    pub fn port(&self) -> Option<u16> {
        u16::try_from(self.0.port).ok().filter(|p| *p != 0)
    }

    /// The TLS identity (URI SAN or subject of the peer certificate), with mTLS.
    pub fn principal(&self) -> Option<&str> {
        non_empty(&self.0.principal)
    }

    /// The peer certificate, URL-encoded PEM as Envoy sends it, with mTLS.
    pub fn certificate(&self) -> Option<&str> {
        non_empty(&self.0.certificate)
    }
}

/// Builds a [`Request`] for tests and tools:
/// `Request::builder().method("POST").path("/x").header("a", "b").build()`.
///
/// Starts as `GET /`. Header names are lower-cased, as the host delivers them.
#[derive(Debug, Clone)]
pub struct RequestBuilder(AuthRequest);

impl Default for RequestBuilder {
    fn default() -> Self {
        Self(AuthRequest {
            method: "GET".into(),
            path: "/".into(),
            ..AuthRequest::default()
        })
    }
}

impl RequestBuilder {
    /// The request id.
    pub fn id(mut self, id: &str) -> Self {
        self.0.id = id.into();
        self
    }

    /// The HTTP method.
    pub fn method(mut self, method: &str) -> Self {
        self.0.method = method.into();
        self
    }

    /// The scheme (`http` or `https`).
    pub fn scheme(mut self, scheme: &str) -> Self {
        self.0.scheme = scheme.into();
        self
    }

    /// The `:authority` / `Host`.
    pub fn host(mut self, host: &str) -> Self {
        self.0.host = host.into();
        self
    }

    /// The path, with its query string.
    pub fn path(mut self, path: &str) -> Self {
        self.0.path = path.into();
        self
    }

    /// Adds one header line (call again with the same name for another value).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.0.headers.push(Header {
            name: name.to_ascii_lowercase().into(),
            value: value.into(),
        });
        self
    }

    /// Adds header lines, in order.
    pub fn headers(self, headers: &[(&str, &str)]) -> Self {
        headers
            .iter()
            .fold(self, |builder, (name, value)| builder.header(name, value))
    }

    /// The body (without one, [`Request::body`] is `None`).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.0.body = Some(body.into().into()).into();
        self
    }

    /// Adds a state entry, as an earlier step would have left it.
    pub fn state(mut self, key: &str, value: &str) -> Self {
        self.0.state.push(kv(key, value));
        self
    }

    /// Adds a context extension of the route.
    pub fn context_extension(mut self, key: &str, value: &str) -> Self {
        self.0.context_extensions.push(kv(key, value));
        self
    }

    /// The downstream client.
    pub fn source(mut self, peer: Peer) -> Self {
        self.0.source = peer.0;
        self
    }

    /// The local address that accepted the request.
    pub fn destination(mut self, peer: Peer) -> Self {
        self.0.destination = peer.0;
        self
    }

    /// The TLS SNI.
    pub fn tls_sni(mut self, sni: &str) -> Self {
        self.0.tls_sni = sni.into();
        self
    }

    /// The request.
    pub fn build(self) -> Request {
        Request(self.0)
    }
}

/// The 0.2 request accessors' trait, kept so that 0.2 code's
/// `use gatehouse_plugin_sdk::RequestExt;` still compiles: the accessors are
/// methods of [`Request`] now (`header`, `headers`, `state`, `path`, …).
#[deprecated(
    since = "0.3.0",
    note = "the accessors are methods of `Request` now: remove this import"
)]
pub trait RequestExt {
    /// Every value of header `name` (case-insensitive), in order.
    #[deprecated(since = "0.3.0", note = "use `Request::headers`")]
    fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str>;
}

#[allow(deprecated)]
impl RequestExt for Request {
    fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.headers(name)
    }
}

#[cfg(test)]
mod tests;
