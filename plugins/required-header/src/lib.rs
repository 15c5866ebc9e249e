//! # `RequiredHeader`
//!
//! Gloo's example plugin, for Gatehouse: the request must carry header
//! `requiredHeader` with one of `allowedValues`.
//!
//! - header missing → deny 401;
//! - value not allowed → deny 403;
//! - otherwise allow, and put the value into the chain's state under
//!   `requiredHeader` for later steps.

use gatehouse_plugin_sdk::{
    allow, deny, export_plugins, Error, Plugin, Request, Response, ResponseExt,
};
use serde::Deserialize;

/// The state key the accepted value is stored under.
pub const STATE_KEY: &str = "requiredHeader";

/// The step's `config`. Gloo's spellings (`RequiredHeader`, `AllowedValues`)
/// are accepted too.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The header that must be present.
    #[serde(alias = "RequiredHeader")]
    pub required_header: String,
    /// The values it may have.
    #[serde(alias = "AllowedValues")]
    pub allowed_values: Vec<String>,
}

/// The plugin instance: one configured header check.
#[derive(Debug)]
pub struct RequiredHeader {
    config: Config,
}

impl RequiredHeader {
    /// Decides a request synchronously (the check needs no I/O).
    pub fn check(&self, request: &Request) -> Response {
        let name = &self.config.required_header;
        match request.header(name) {
            None => deny(401, format!("missing header {name}")),
            Some(value) if self.config.allowed_values.iter().any(|v| v == value) => {
                allow().set_state(STATE_KEY, value)
            }
            Some(_) => deny(
                403,
                format!("header {name} has a value that is not allowed"),
            ),
        }
    }
}

impl Plugin for RequiredHeader {
    type Config = Config;

    fn new(config: Config) -> Result<Self, Error> {
        if config.required_header.trim().is_empty() {
            return Err("requiredHeader: must not be empty".into());
        }
        Ok(Self { config })
    }

    async fn authorize(&self, request: &Request) -> Result<Response, Error> {
        Ok(self.check(request))
    }
}

export_plugins!("RequiredHeader" => RequiredHeader);

#[cfg(test)]
mod tests;
