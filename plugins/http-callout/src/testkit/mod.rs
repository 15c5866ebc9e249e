//! Test support, shared by the unit tests and `tests/host.rs`: a local HTTP
//! server standing in for the authorization service.
#![allow(dead_code)]

pub(crate) mod server;
