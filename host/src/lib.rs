//! # Gatehouse host
//!
//! An Envoy ext_authz v3 server that runs multi-step chains of auth plugins
//! loaded from `abi_stable` libraries. Modules follow a request's path:
//!
//! [`frontend`] (protocol ⇄ model) → [`router`] (which auth config) →
//! [`chain`] (steps, state, header merge) → [`loader`] (plugins across the ABI).
//!
//! [`config`] reads AuthConfig documents; [`reload`] applies them in Gloo's
//! lifecycle order; [`server`] assembles the gRPC server.

pub mod chain;
pub mod config;
pub mod frontend;
pub mod loader;
pub mod model;
pub mod reload;
pub mod router;
pub mod server;
