//! # The Gatehouse plugin interface, version 1.2.0 (frozen copy)
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
//! What each version changed:
//! - **1.0**: the first published contract.
//! - **1.1**: [`PluginMod::build_info`] (who built the library).
//! - **1.2**: [`AuthService::authorize`] borrows the request
//!   (`fn authorize<'a>(&'a self, request: &'a AuthRequest) -> BorrowingFfiFuture<'a, …>`)
//!   instead of taking it by value (`FfiFuture<…>`). A request is about 45 heap
//!   strings; with the owned call the host converted all of them into ABI types
//!   once per *step*. Now it converts the request once per *chain run*, refreshes
//!   only `state` before each step, and lends the same value to every step. A
//!   plugin that needs request data after its future ends (a spawned task, a
//!   blocking thread) copies just those fields. Plugins built against 1.0 and 1.1
//!   still load: the host calls them through their frozen copies, by value.
//!   Additive, within 1.2: the exported `panic_strategy` marker symbol, which
//!   lets the host refuse libraries built with `panic = "abort"` before loading them.
//!
//! In this frozen copy the `panic_strategy` module is behind the feature
//! `marker-symbols` (the only difference from the published crate): it holds no
//! types, only the exported marker symbol plugins carry, and the host links this
//! copy beside the current crate, where two definitions of the symbol would
//! clash. Plugins built against this copy (the test fixtures) enable it.
//!
//! Plugin authors normally use `gatehouse-plugin-sdk`, which wraps this crate.
#![allow(non_local_definitions)] // emitted by #[sabi_trait] on recent compilers

mod module;
#[cfg(feature = "marker-symbols")]
pub mod panic_strategy;
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
