//! # Gatehouse host
//!
//! An auth server that runs multi-step chains of auth plugins loaded from
//! `abi_stable` libraries, for three gateways: Envoy ext_authz v3 gRPC, HTTP
//! forward-auth (nginx `auth_request`, Traefik, Envoy's ext_authz HTTP mode) and
//! HAProxy SPOE. Modules follow a request's path:
//!
//! [`frontend`] (protocol ⇄ model) → [`router`] (which auth config) →
//! [`chain`] (steps, state, header merge) → [`loader`] (plugins across the ABI).
//!
//! [`config`] reads AuthConfig documents; [`reload`] applies them in Gloo's
//! lifecycle order, [`watch`] triggers it on file changes; [`server`] assembles
//! the gRPC server, [`admin`] the HTTP admin port ([`metrics`], [`health`]);
//! [`cache`] holds the per-step decision caches (memory or Redis);
//! [`listener`] holds every listener's connection limits and shutdown drain;
//! [`logging`] sets up log output; [`runtime`] builds the tokio runtime;
//! [`build`] says what the binary was built as (version, PGO profile).

pub mod admin;
pub mod build;
pub mod cache;
pub mod chain;
pub mod config;
pub mod frontend;
pub mod health;
pub mod listener;
pub mod loader;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod reload;
pub mod router;
pub mod runtime;
pub mod server;
pub mod watch;
