//! FFI-safe request and response types. Plain `#[repr(C)]` data: a field added,
//! removed or retyped is a new interface version.

use abi_stable::{
    std_types::{ROption, RString, RVec},
    StableAbi,
};

use crate::service::CancelHandle;

/// One name/value pair (context extensions, state entries, dynamic metadata).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyValue {
    /// The key.
    pub key: RString,
    /// The value.
    pub value: RString,
}

/// One request header line. A header sent several times appears several times.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// Lower-case header name (HTTP/2 style; `:authority` etc. are not included).
    pub name: RString,
    /// The value as received.
    pub value: RString,
}

/// One end of the downstream connection as Envoy saw it.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq, Default)]
pub struct Peer {
    /// IP address (or pipe path); empty when unknown.
    pub address: RString,
    /// TCP port; 0 when unknown.
    pub port: u32,
    /// TLS identity: the URI SAN or subject of the peer certificate; empty without mTLS.
    pub principal: RString,
    /// The peer certificate, URL-encoded PEM as Envoy sends it; empty when absent.
    pub certificate: RString,
}

/// Everything a plugin may look at to decide one request.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthRequest {
    /// The request id (`x-request-id`), for log correlation.
    pub id: RString,
    /// HTTP method, e.g. `GET`.
    pub method: RString,
    /// `http` or `https`.
    pub scheme: RString,
    /// The `:authority` / `Host`.
    pub host: RString,
    /// Path including the query string.
    pub path: RString,
    /// All request headers, multi-valued headers as repeated entries.
    pub headers: RVec<Header>,
    /// The body, when the proxy was configured to send it.
    pub body: ROption<RVec<u8>>,
    /// The downstream client.
    pub source: Peer,
    /// The local address that accepted the request.
    pub destination: Peer,
    /// TLS SNI, when the downstream connection used TLS.
    pub tls_sni: RString,
    /// The route's ext_authz `context_extensions`.
    pub context_extensions: RVec<KeyValue>,
    /// The chain's state as left by earlier steps.
    pub state: RVec<KeyValue>,
}

/// How a header mutation combines with what is already there: Envoy v3's
/// `HeaderValueOption.append_action`, same numbering. The v2 `append` flag maps
/// to `AppendIfExistsOrAdd` (true) and `OverwriteIfExistsOrAdd` (false).
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AppendAction {
    /// Append a value, or add the header if it is absent.
    AppendIfExistsOrAdd = 0,
    /// Add the header only if it is absent.
    AddIfAbsent = 1,
    /// Replace every value, or add the header if it is absent.
    #[default]
    OverwriteIfExistsOrAdd = 2,
    /// Replace every value, only if the header is present.
    OverwriteIfExists = 3,
}

/// One header to set, with its merge rule.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq, Default)]
pub struct HeaderMutation {
    /// Header name.
    pub name: RString,
    /// Header value.
    pub value: RString,
    /// How it combines with existing values.
    pub action: AppendAction,
}

/// Allow the request or deny it.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Decision {
    /// Let the request continue to the next step (and, after the last, upstream).
    Allow = 0,
    /// Stop the chain and answer the client with `status`, `body`, `response_headers`.
    #[default]
    Deny = 1,
}

/// A step's answer.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthResponse {
    /// Allow or deny.
    pub decision: Decision,
    /// HTTP status of a denial (0 means 403).
    pub status: u16,
    /// Body of a denial.
    pub body: RString,
    /// On allow: headers to set on the upstream request.
    pub request_headers: RVec<HeaderMutation>,
    /// On allow: header names to remove from the upstream request.
    pub remove_request_headers: RVec<RString>,
    /// On allow: headers added to the client's response; on deny: headers of the denial.
    pub response_headers: RVec<HeaderMutation>,
    /// The authenticated user, if this step established one.
    pub user_id: RString,
    /// Entries for Envoy's dynamic metadata (string values).
    pub dynamic_metadata: RVec<KeyValue>,
    /// State entries to set for later steps.
    pub state_set: RVec<KeyValue>,
    /// State keys to remove for later steps.
    pub state_remove: RVec<RString>,
}

/// What went wrong inside a plugin.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The step's `config` could not be used; the message names the field.
    Config = 0,
    /// No plugin of the requested name is exported by this library.
    UnknownPlugin = 1,
    /// The plugin panicked; the panic was caught at the boundary.
    Panic = 2,
    /// Any other failure.
    Internal = 3,
}

/// An error returned across the boundary.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct PluginError {
    /// The category, so the host can report and count it.
    pub kind: ErrorKind,
    /// A human-readable reason.
    pub message: RString,
}

impl PluginError {
    /// Builds an error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<RString>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

/// The level of a plugin's log event (since 1.3), as `tracing` names them.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Something failed.
    Error = 0,
    /// Something looks wrong.
    Warn = 1,
    /// Normal operation.
    Info = 2,
    /// Detail for debugging.
    Debug = 3,
    /// Very verbose detail.
    Trace = 4,
}

/// What the host tells a step about the call it is deciding (since 1.3), lent
/// to [`crate::AuthService::authorize_in`] with the request.
#[repr(C)]
#[derive(StableAbi)]
pub struct CallContext {
    /// The time this step may take, in milliseconds from the moment the host
    /// called it: the lesser of the step timeout and what is left of the
    /// chain's deadline. After it the host stops waiting and drops the future.
    pub budget_ms: u64,
    /// Fires when the host stops waiting for this answer: the budget ran out,
    /// the client went away, or the answer arrived. Work a plugin spawned for
    /// this call should end then.
    pub cancel: CancelHandle,
    /// Envoy's `metadata_context` of the check request (filter name → its
    /// fields) as JSON text; empty when the frontend does not provide it.
    pub metadata_context: RString,
    /// Envoy's `route_metadata_context` as JSON text; empty when absent.
    pub route_metadata: RString,
}
