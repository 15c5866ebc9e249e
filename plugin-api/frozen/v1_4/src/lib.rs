//! # The Gatehouse plugin interface, version 1.4.0 (frozen copy)
//!
//! This crate is the whole contract between the `gatehouse` host and an auth plugin:
//! FFI-safe request and response types, the [`AuthService`] trait object a plugin
//! hands back, the [`StopSignal`] the host gives it (and its other services:
//! [`LogSink`], [`CancelSignal`], [`HostAlloc`]), and the [`PluginMod`] root
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
//! ## Compatibility rules
//! A **minor** version (1.x → 1.x+1) may only *add*, and only at the ends that
//! abi_stable checks as prefixes:
//! - a new last field of the root module [`PluginMod`] (move
//!   `#[sabi(last_prefix_field)]` to it);
//! - a new last method of a `#[sabi_trait]` ([`AuthService`], [`StopSignal`],
//!   …) that has a default body, so that the SDK and older code still compile;
//! - new types, reachable only through such new fields or methods;
//! - exported marker symbols outside the type layouts (e.g. [`panic_strategy`]).
//!
//! Everything else needs a **major** version (2.0): changing, reordering or
//! removing a field of any `#[repr(C)]` type ([`AuthRequest`], [`AuthResponse`],
//! … are plain structs: they can never grow), changing a method's or a
//! function pointer's signature, adding an enum variant to an exhaustive enum,
//! or changing what an existing field means. A major needs no frozen copy of
//! the old one in a new host unless that host keeps loading the old major.
//!
//! Every published version is frozen before the next one is started: copy
//! `current/src` to `frozen/v<major>_<minor>` (package name and version
//! unchanged), add it to the host's list of interfaces (`interfaces!` in
//! `host/src/loader/abi.rs`) and its dependency (`api_v<major>_<minor>`), and
//! write its layout dump (`plugin-api/layouts/`), which a host test compares
//! with the copy's real layout, so a frozen copy cannot change by accident.
//!
//! **The 1.2 exception.** 1.2 changed the signature of
//! [`AuthService::authorize`] (by value → borrowed) although it was a minor
//! version. It did not break loading, because the host never loads a plugin
//! through another version's types: 1.0 and 1.1 plugins go through their frozen
//! copies, which keep the by-value call. But it broke *source* compatibility
//! for plugins written against the raw interface (SDK plugins were unaffected),
//! which a minor should not do. It stays as published (changing 1.2 now would
//! break 1.2 plugins); from 1.3 on these rules hold, and a change like it
//! would be a new method with a default body (as 1.3's
//! [`AuthService::authorize_in`] is) or a major version.
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
//!   Additive, within 1.2: the exported [`panic_strategy`] marker symbol, which
//!   lets the host refuse libraries built with `panic = "abort"` before loading them.
//! - **1.3** (additive only): host services. [`PluginMod::new_service_logged`]
//!   hands each instance a [`LogSink`] (the SDK forwards the plugin's `tracing`
//!   events into it); [`AuthService::authorize_in`] lends a [`CallContext`] with
//!   the step's time budget, a [`CancelSignal`] and Envoy's metadata. Both are
//!   new last fields with defaults, so everything 1.2 had is unchanged.
//! - **1.4** (additive only): answers in the host's allocator. A new last
//!   field of the root module, [`PluginMod::attach_host`], hands the library a
//!   [`HostAlloc`] handle once, when the host loads it. Its
//!   [`answer`](HostAlloc::answer) and [`string`](HostAlloc::string) make an
//!   [`AuthResponse`] and strings whose buffers are the host's, which the
//!   host then takes over without copying them (before 1.4 each string of an
//!   answer was allocated by the plugin, copied by the host and freed through
//!   the plugin's vtable). A plugin that ignores the handle still works, as
//!   before. Nothing else changed.
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
    AuthService, AuthServiceBox, AuthService_TO, CancelHandle, CancelSignal, CancelSignal_TO,
    HostAlloc, HostAllocHandle, HostAlloc_TO, LogHandle, LogSink, LogSink_TO, StopHandle,
    StopSignal, StopSignal_TO,
};
pub use types::{
    AppendAction, AuthRequest, AuthResponse, CallContext, Decision, ErrorKind, Header,
    HeaderMutation, KeyValue, LogLevel, Peer, PluginError,
};

/// Re-exported so that plugins and the host name the exact same crates.
pub use abi_stable;
/// Re-exported so that plugins and the host name the exact same crates.
pub use async_ffi;

/// This crate's interface version, as written into a plugin's library header.
pub const INTERFACE_VERSION: &str = env!("CARGO_PKG_VERSION");
