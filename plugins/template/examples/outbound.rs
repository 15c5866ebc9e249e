//! `ExternalCheck`: outbound async I/O from a plugin. Each request's
//! `authorization` header is sent to an HTTP service; a 2xx answer allows.

use std::time::Duration;

use gatehouse_plugin_sdk::{allow, deny, export_plugins, Error, Plugin, Request, Response};
use http_body_util::Empty;
use hyper::{body::Bytes, Uri};
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::TokioExecutor,
};
use serde::Deserialize;

/// The step's `config`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The service to ask, e.g. `http://authz.internal:8080/check`.
    pub url: String,
    /// How long to wait for its answer (default 100 ms). Keep it below the
    /// host's chain deadline (`--chain-deadline-ms`, 180 ms by default) so
    /// that this plugin decides, not the deadline.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_timeout_ms() -> u64 {
    100
}

/// One configured step; the client (and its connection pool) is shared by
/// every request of this step.
pub struct ExternalCheck {
    url: Uri,
    timeout: Duration,
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl Plugin for ExternalCheck {
    type Config = Config;

    fn new(config: Config) -> Result<Self, Error> {
        let url = config.url.parse().map_err(|e| format!("url: {e}"))?;
        // Building the client needs no runtime; its connections are spawned
        // on the plugin's runtime when `authorize` first uses it.
        let client = Client::builder(TokioExecutor::new()).build_http();
        let timeout = Duration::from_millis(config.timeout_ms);
        Ok(Self {
            url,
            timeout,
            client,
        })
    }

    async fn authorize(&self, request: &Request) -> Result<Response, Error> {
        let mut call = hyper::Request::get(self.url.clone());
        if let Some(credential) = request.header("authorization") {
            call = call.header("authorization", credential);
        }
        // Just `.await`: the SDK polls this inside the plugin's runtime. Bound
        // the wait; an error or a timeout returns Err, which denies (fail closed).
        let answer =
            tokio::time::timeout(self.timeout, self.client.request(call.body(Empty::new())?))
                .await
                .map_err(|_| "authorization service timed out")??;
        Ok(if answer.status().is_success() {
            allow()
        } else {
            deny(403, "refused by the authorization service")
        })
    }
}

export_plugins!("ExternalCheck" => ExternalCheck);
