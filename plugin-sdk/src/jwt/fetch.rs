//! One bounded HTTP(S) GET of a JWKS, over the SDK's [`crate::http::Client`].

use std::time::Duration;

use crate::http::{self, Client, Uri};

/// The largest JWKS body accepted.
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// Fetches one JWKS URL.
pub struct Fetcher {
    client: Client,
    url: Uri,
    timeout: Duration,
}

impl Fetcher {
    /// A fetcher for `url` whose every fetch ends within `timeout`.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, String> {
        Ok(Self {
            client: Client::new()?,
            url: http::parse_url(url)?,
            timeout,
        })
    }

    /// The URL fetched.
    pub fn url(&self) -> &Uri {
        &self.url
    }

    /// GETs the URL; the body of a 2xx answer as text, or why not.
    pub async fn get(&self) -> Result<String, String> {
        let reply = self
            .client
            .get(&self.url, "application/json", self.timeout, MAX_JWKS_BYTES)
            .await?;
        if !reply.is_success() {
            return Err(format!("answered {}", reply.status));
        }
        reply.text().map(str::to_string)
    }
}
