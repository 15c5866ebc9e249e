//! Helpers for a plugin's unit tests: build a request (shortcuts over
//! [`Request::builder`]), run `authorize` to completion, and read the message
//! the host would report for a refused config.
//!
//! ```
//! use gatehouse_plugin_sdk::{allow, deny, testing, Error, Plugin, Request, Response, ResponseView};
//!
//! #[derive(serde::Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Config { header: String }
//!
//! struct NeedsHeader(Config);
//!
//! impl Plugin for NeedsHeader {
//!     type Config = Config;
//!     fn new(config: Config) -> Result<Self, Error> { Ok(Self(config)) }
//!     async fn authorize(&self, request: &Request) -> Result<Response, Error> {
//!         Ok(match request.header(&self.0.header) {
//!             Some(_) => allow(),
//!             None => deny(401, "missing header"),
//!         })
//!     }
//! }
//!
//! let plugin = NeedsHeader(Config { header: "x-user".into() });
//! let r = testing::authorize(&plugin, &testing::request(&[("x-user", "alice")])).unwrap();
//! assert!(r.is_allowed());
//! let admin = Request::builder().method("POST").path("/admin").body("{}").build();
//! let r = testing::authorize(&plugin, &admin).unwrap();
//! assert_eq!(r.deny_status(), Some(401));
//!
//! let msg = testing::config_error::<NeedsHeader>(r#"{"header": "x", "extra": 1}"#);
//! assert!(msg.contains("unknown field `extra`"), "{msg}");
//! ```
//!
//! Tests that are `async` themselves (`#[tokio::test]`) await
//! `plugin.authorize(&request)` directly instead of calling [`authorize`].

use std::future::Future;

use gatehouse_plugin_api::abi_stable::std_types::RStr;

use crate::{Error, Plugin, Request, Response};

/// Runs `future` to completion on a new current-thread tokio runtime with
/// time and I/O enabled (`tokio::time`, sockets and `spawn_blocking` work).
/// Panics if called from inside a runtime, as tokio's `block_on` does.
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("cannot start the test runtime")
        .block_on(future)
}

/// A `GET /` request with `headers` (name, value), in order. For anything
/// more, use [`Request::builder`].
pub fn request(headers: &[(&str, &str)]) -> Request {
    request_to("/", headers)
}

/// A `GET` request for `path` (with its query string) with `headers`.
pub fn request_to(path: &str, headers: &[(&str, &str)]) -> Request {
    Request::builder().path(path).headers(headers).build()
}

/// A `GET /` request carrying chain `state` (key, value) left by earlier steps.
pub fn with_state(state: &[(&str, &str)]) -> Request {
    state
        .iter()
        .fold(Request::builder(), |b, (key, value)| b.state(key, value))
        .build()
}

/// Runs `plugin.authorize(request)` to completion with [`block_on`].
pub fn authorize<P: Plugin>(plugin: &P, request: &Request) -> Result<Response, Error> {
    block_on(plugin.authorize(request))
}

/// The message the host reports when it refuses `json` as plugin `P`'s config:
/// built through the same path as the host (deserialize, then `P::new`).
/// Panics, naming the config, if it was accepted.
pub fn config_error<P: Plugin>(json: &str) -> String {
    match crate::export::build::<P>(RStr::from_str(json), None) {
        Ok(_) => panic!("config {json} was accepted"),
        Err(e) => e.message.into_string(),
    }
}
