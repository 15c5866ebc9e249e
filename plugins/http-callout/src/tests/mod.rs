//! Unit tests: config, cache keys and lifetime, and callouts against a local
//! server.

mod cache;
mod callout;
mod config;

use gatehouse_plugin_sdk::{Header, Plugin, Request};
use serde_json::Value;

use crate::{Config, HttpCallout};

/// A plugin from a JSON config (panics if refused).
fn plugin(config: Value) -> HttpCallout {
    let config: Config = serde_json::from_value(config).expect("config parses");
    HttpCallout::new(config).expect("config accepted")
}

/// Why a JSON config is refused.
fn refused(config: Value) -> String {
    use gatehouse_plugin_sdk::{__private::build, api::abi_stable::std_types::RStr};
    match build::<HttpCallout>(RStr::from_str(&config.to_string())) {
        Ok(_) => panic!("config {config} was accepted"),
        Err(e) => e.message.into_string(),
    }
}

/// A `GET path` request with `headers`.
fn request(path: &str, headers: &[(&str, &str)]) -> Request {
    Request {
        method: "GET".into(),
        path: path.into(),
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
