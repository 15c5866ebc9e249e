//! Frontends: each translates one proxy protocol into the host's [`Request`]
//! model and a [`Decision`] back. The chain never knows which proxy asked.
//!
//! - [`envoy`]: Envoy ext_authz v3 gRPC (`--listen`);
//! - [`http`]: HTTP forward-auth for nginx `auth_request`, Traefik `ForwardAuth`,
//!   Caddy `forward_auth`
//!   and Envoy's ext_authz HTTP mode (`--http-listen`, `--http-gateway`);
//! - [`spoe`]: HAProxy SPOE agent (`--spoe-listen`).
//!
//! [`Request`]: crate::model::Request
//! [`Decision`]: crate::model::Decision

pub mod envoy;
pub mod http;
pub mod spoe;
