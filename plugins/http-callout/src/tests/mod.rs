//! Unit tests: config, cache keys and lifetime, and callouts against a local
//! server.

mod cache;
mod callout;
mod config;

use gatehouse_plugin_sdk::{testing, Plugin};
use serde_json::Value;

use crate::{Config, HttpCallout};

/// A plugin from a JSON config (panics if refused).
fn plugin(config: Value) -> HttpCallout {
    let config: Config = serde_json::from_value(config).expect("config parses");
    HttpCallout::new(config).expect("config accepted")
}

/// Why a JSON config is refused.
fn refused(config: Value) -> String {
    testing::config_error::<HttpCallout>(&config.to_string())
}
