//! Unit tests: config, token sources, JWKS parsing, verification, the remote
//! JWKS and what an allow publishes.

mod config;
mod jwks;
mod publish;
mod remote;
mod token;
mod verify;

use gatehouse_plugin_sdk::{
    testing::{self, request},
    Plugin, Request, Response,
};
use serde_json::Value;

use crate::{Config, Jwt};

/// A plugin from a JSON config (panics if refused).
fn plugin(config: Value) -> Jwt {
    let config: Config = serde_json::from_value(config).expect("config parses");
    Jwt::new(config).expect("config accepted")
}

/// Why a JSON config is refused (by serde or by the checks).
fn refused(config: Value) -> String {
    testing::config_error::<Jwt>(&config.to_string())
}

/// A request with `Authorization: Bearer <token>`.
fn bearer(token: &str) -> Request {
    request(&[("authorization", &format!("Bearer {token}"))])
}

/// Runs one request through `plugin`.
async fn run(plugin: &Jwt, request: Request) -> Response {
    plugin.authorize(&request).await.expect("a response")
}

/// The value of state entry `key` set by `response`.
fn state<'a>(response: &'a Response, key: &str) -> Option<&'a str> {
    response
        .state_set
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| kv.value.as_str())
}
