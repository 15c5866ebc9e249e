//! `AllowList`: a Gatehouse plugin to copy. It allows a request whose `header`
//! has one of the `allowed` values, and denies any other after `denyDelayMs`.

use std::time::Duration;

use gatehouse_plugin_sdk::{
    allow, deny, export_plugins, Error, Plugin, Request, Response, ResponseExt,
};
use serde::Deserialize;

/// The step's `config` from the auth config: camelCase keys, unknown keys are
/// refused, and a bad value is reported with its path (`allowed[1]: ...`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The request header to check.
    pub header: String,
    /// The values it may have.
    pub allowed: Vec<String>,
    /// Wait this long before denying, to slow down guessing (default 0). Keep
    /// it well below the host's chain deadline (180 ms by default).
    #[serde(default)]
    pub deny_delay_ms: u64,
}

/// One configured step: built once per config load, shared by every request.
pub struct AllowList {
    config: Config,
}

impl Plugin for AllowList {
    type Config = Config;

    /// Checks the config; an `Err` refuses the whole auth config with its text.
    fn new(config: Config) -> Result<Self, Error> {
        if config.allowed.is_empty() {
            return Err("allowed: give at least one value".into());
        }
        Ok(Self { config })
    }

    /// Decides one request. It may `.await`: the SDK polls it inside this
    /// plugin's own tokio runtime, so tokio timers, sockets and clients work.
    async fn authorize(&self, request: &Request) -> Result<Response, Error> {
        let header = &self.config.header;
        match request.header(header) {
            Some(value) if self.config.allowed.iter().any(|a| a == value) => Ok(allow()
                .set_state("allowList.value", value) // for later steps in the chain
                .set_header("x-allow-list", "passed")), // for the upstream service
            _ => {
                let delay = Duration::from_millis(self.config.deny_delay_ms);
                tokio::time::sleep(delay).await;
                Ok(deny(403, format!("{header} is missing or not allowed")))
            }
        }
    }
}

// The export line: `exportedSymbolName: AllowList` in an auth config picks this.
export_plugins!("AllowList" => AllowList);
