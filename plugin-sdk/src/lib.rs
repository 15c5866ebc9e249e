//! # Writing a Gatehouse plugin
//!
//! A plugin is a `cdylib` crate with a serde config struct, a type implementing
//! [`Plugin`], and one [`export_plugins!`] line:
//!
//! ```
//! use gatehouse_plugin_sdk::{deny, allow, export_plugins, Error, Plugin, Request, Response, ResponseExt};
//!
//! #[derive(serde::Deserialize)]
//! #[serde(rename_all = "camelCase")]
//! struct Config { header: String }
//!
//! struct NeedsHeader(Config);
//!
//! impl Plugin for NeedsHeader {
//!     type Config = Config;
//!     fn new(config: Config) -> Result<Self, Error> { Ok(Self(config)) }
//!     async fn authorize(&self, request: &Request) -> Result<Response, Error> {
//!         Ok(match request.header(&self.0.header) {
//!             Some(v) => allow().set_state("seen", v),
//!             None => deny(401, "missing header"),
//!         })
//!     }
//! }
//!
//! export_plugins!("NeedsHeader" => NeedsHeader);
//! # fn main() {}
//! ```
//!
//! Build it with `crate-type = ["cdylib"]`, put the `.so` into the host's plugin
//! directory and name it in an auth config step (`pluginFileName`,
//! `exportedSymbolName: NeedsHeader`, `config: {header: x-user}`).
//!
//! `authorize` gets the request by reference: the host converts each request once
//! per chain and lends it to every step (plugin interface 1.2). The returned
//! future may borrow `self` and `request`; copy only what a spawned task or a
//! blocking thread needs.
//!
//! [`Request`] is a read-only view of the host's request, handed over without a
//! copy: [`header`](Request::header) / [`headers`](Request::headers) (every
//! value, case-insensitive), [`path`](Request::path), [`method`](Request::method),
//! [`body`](Request::body), [`state`](Request::state), the peers and the rest.
//! Its fields are private; tests build one with [`Request::builder`].
//!
//! ## What the SDK does for you
//! - Deserializes the step's `config` into your struct; an error names the field
//!   (`allowedValues[2]: invalid type: integer `3`, expected a string`).
//! - Catches panics at every entry point (factory, `start`, `authorize` and its
//!   future) and turns them into an error for that one call: the host lives on.
//!   That needs unwinding: the SDK does not compile with `panic = "abort"`, and
//!   the host refuses libraries built that way (they record their panic strategy,
//!   see `gatehouse_plugin_api::panic_strategy`).
//! - Runs `new`, `start` and every poll of `authorize` inside this plugin's own
//!   tokio runtime context (see
//!   [`runtime`]), so `tokio::time`, `tokio::net`, `tokio::spawn` and clients
//!   built on them (hyper, reqwest) work in your plugin although the host's tokio
//!   is a different copy of the library that your code cannot see.
//! - Has the host build every [`Response`] (plugin interface 1.5): each
//!   effect goes straight into the host's own answer, which the host takes as
//!   it is when the call ends. The SDK builds against interface 1.5, so its
//!   plugins load into hosts that load 1.5; in unit tests (no host) responses
//!   are the plugin's own `AuthResponse`, the same values.
//!
//! ## Unit tests
//! [`testing`] builds requests, runs `authorize` to completion and returns the
//! message the host would report for a refused config.
#![allow(non_local_definitions)]

// The host contains a plugin's panic only if it unwinds; with `panic = "abort"`
// the first panic would end the host (and the host refuses such libraries).
#[cfg(panic = "abort")]
compile_error!(
    "gatehouse-plugin-sdk: this build uses panic = \"abort\", and the Gatehouse host refuses \
     plugins built that way (their first panic would kill the host; it contains plugin panics \
     only when they unwind). Remove `panic = \"abort\"` from the [profile.*] sections of your \
     Cargo.toml and `-C panic=abort` from RUSTFLAGS."
);

mod config;
pub mod context;
mod export;
mod helpers;
mod host;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "jwt")]
pub mod jwt;
pub mod log;
mod request;
pub mod runtime;
mod scope;
mod service;
mod stop;
pub mod testing;

use std::future::Future;

pub use context::Context;
pub use gatehouse_plugin_api as api;
pub use gatehouse_plugin_api::{AppendAction, Decision, HeaderMutation, KeyValue};
pub use helpers::{allow, deny, Response, ResponseExt, ResponseView};
#[allow(deprecated)]
pub use request::RequestExt;
pub use request::{Peer, Request, RequestBuilder};

/// Everything a plugin usually needs: `use gatehouse_plugin_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::{
        allow, deny, export_plugins, Context, Error, Plugin, Request, Response, ResponseExt,
        ResponseView, Stop,
    };
    pub use tracing::{debug, error, info, trace, warn};
}
pub use stop::Stop;
/// Re-exported: log with `tracing`'s macros; the SDK forwards events to the host.
pub use tracing;

/// The error type plugin code returns: anything that implements `std::error::Error`,
/// or a string (`Err("no such user".into())`). It denies the request (fail closed).
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The SDK's version, reported in the plugin's build info.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// One auth plugin: a config type, a constructor and an `authorize` function.
pub trait Plugin: Send + Sync + Sized + 'static {
    /// The step's `config`, deserialized from the auth config.
    type Config: serde::de::DeserializeOwned;

    /// Builds an instance from a deserialized config. Called when a configuration
    /// is loaded, before any instance is started; return an error to refuse it.
    fn new(config: Self::Config) -> Result<Self, Error>;

    /// Called once before the first request. Start background work here (e.g.
    /// with [`runtime::spawn`]) and end it when `stop` fires.
    fn start(&self, stop: Stop) -> Result<(), Error> {
        let _ = stop;
        Ok(())
    }

    /// Decides one request. May await outbound I/O.
    ///
    /// The request is lent by the host (interface 1.2): the future may borrow
    /// `self` and `request` until it completes. Write it as
    /// `async fn authorize(&self, request: &Request) -> Result<Response, Error>`;
    /// work that must outlive the call (`tokio::spawn`, `spawn_blocking`) copies
    /// the fields it needs.
    fn authorize<'a>(
        &'a self,
        request: &'a Request,
    ) -> impl Future<Output = Result<Response, Error>> + Send + 'a;
}

#[doc(hidden)]
pub mod __private {
    pub use crate::export::{build, build_info, guard, names, root_module, unknown_plugin};
    pub use crate::host::attach as attach_host;
    pub use gatehouse_plugin_api::abi_stable::library::{
        __call_root_module_loader, CheckTypeLayout, LibHeader, RootModuleResult,
    };
    pub use gatehouse_plugin_api::abi_stable::std_types::{RResult, RStr, RString, RVec};
    pub use gatehouse_plugin_api::{
        AuthServiceBox, HostAllocHandle, LogHandle, PluginError, PluginModRef,
    };
}
