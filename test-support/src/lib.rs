//! # Host tests for Gatehouse plugins
//!
//! Starts the real `gatehouse` binary with your plugin's `.so` and one auth
//! config, and sends it checks through its HTTP forward-auth listener (as Envoy
//! in HTTP mode would): no host source, no gRPC stack, no dependencies.
//!
//! - the binary: `$GATEHOUSE_BIN`, else `gatehouse` on `PATH`;
//! - the plugin: `lib<crate>.so` (the crate whose tests run) in `$CARGO_TARGET_DIR`
//!   or `<crate>/target/debug`; `cargo test` builds it before integration tests.
//!
//! Errors say what to do (which variable to set, what to build). The host is
//! stopped when the [`Host`] is dropped.

mod check;
mod find;
mod host;

pub use check::Verdict;
pub use find::{gatehouse_binary, plugin_library};
pub use host::{Host, Step};

/// Why a host test could not run, with what to do about it.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}
