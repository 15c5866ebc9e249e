//! # The Gatehouse plugin interface, version 1.1.0 (frozen copy)
//!
//! This crate is the whole contract between the `gatehouse` host and an auth plugin:
//! FFI-safe request and response types, the [`AuthService`] trait object a plugin
//! hands back, the [`StopSignal`] the host gives it, and the [`PluginMod`] root
//! module every plugin library exports.
//!
//! Everything here is checked by `abi_stable` when a plugin is loaded: the interface
//! version in the library header and the layout of every type reachable from the
//! root module. A plugin built with another rustc or other dependency versions
//! loads as long as those match; anything else is refused with a readable reason.
//!
//! ## Versioning
//! The crate version *is* the interface version. Published versions never change:
//! each one is kept as a frozen copy under `plugin-api/frozen/`, and the host loads
//! a plugin through the copy matching the version in its library header. So a host
//! supports every earlier minor of its major, and plugins need not be rebuilt when
//! the host is upgraded.
//!
//! Plugin authors normally use `gatehouse-plugin-sdk`, which wraps this crate.
#![allow(non_local_definitions)] // emitted by #[sabi_trait] on recent compilers

mod module;
mod service;
mod types;

pub use module::{PluginMod, PluginModRef, ROOT_MODULE_NAME};
pub use service::{
    AuthService, AuthServiceBox, AuthService_TO, StopHandle, StopSignal, StopSignal_TO,
};
pub use types::{
    AppendAction, AuthRequest, AuthResponse, Decision, ErrorKind, Header, HeaderMutation, KeyValue,
    Peer, PluginError,
};

/// Re-exported so that plugins and the host name the exact same crates.
pub use abi_stable;
/// Re-exported so that plugins and the host name the exact same crates.
pub use async_ffi;

/// This crate's interface version, as written into a plugin's library header.
pub const INTERFACE_VERSION: &str = env!("CARGO_PKG_VERSION");
