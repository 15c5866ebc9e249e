//! Unit tests: config, token sources, JWKS parsing, verification, the remote
//! JWKS and what an allow publishes.

mod config;
mod jwks;
mod publish;
mod remote;
mod token;
mod verify;

use gatehouse_plugin_sdk::{Header, Plugin, Request, Response};
use serde_json::Value;

use crate::{Config, Jwt};

/// A plugin from a JSON config (panics if refused).
fn plugin(config: Value) -> Jwt {
    let config: Config = serde_json::from_value(config).expect("config parses");
    Jwt::new(config).expect("config accepted")
}

/// Why a JSON config is refused (by serde or by the checks).
fn refused(config: Value) -> String {
    use gatehouse_plugin_sdk::{__private::build, api::abi_stable::std_types::RStr};
    match build::<Jwt>(RStr::from_str(&config.to_string())) {
        Ok(_) => panic!("config {config} was accepted"),
        Err(e) => e.message.into_string(),
    }
}

/// A request with `headers`.
fn request(headers: &[(&str, &str)]) -> Request {
    Request {
        headers: headers
            .iter()
            .map(|(n, v)| Header {
                name: (*n).into(),
                value: (*v).into(),
            })
            .collect(),
        ..Default::default()
    }
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
