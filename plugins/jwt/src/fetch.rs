//! One bounded HTTP(S) GET of the JWKS: hyper over rustls (ring, Mozilla's
//! roots), a deadline over the whole exchange and a cap on the body.

use std::{sync::Arc, time::Duration};

use http_body_util::{BodyExt, Empty, Limited};
use hyper::{body::Bytes, header, Request, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::TokioExecutor,
};

/// The largest JWKS body accepted.
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// Fetches one URL.
pub struct Fetcher {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    url: Uri,
    timeout: Duration,
}

impl Fetcher {
    /// A fetcher for `url` whose every fetch ends within `timeout`.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, String> {
        let url: Uri = url.parse().map_err(|e| format!("url `{url}`: {e}"))?;
        if url.host().is_none() {
            return Err(format!("url `{url}` has no host"));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)
            .map_err(|e| format!("TLS setup: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self {
            client,
            url,
            timeout,
        })
    }

    /// The URL fetched.
    pub fn url(&self) -> &Uri {
        &self.url
    }

    /// GETs the URL; the body of a 2xx answer as text, or why not.
    pub async fn get(&self) -> Result<String, String> {
        match tokio::time::timeout(self.timeout, self.exchange()).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {:?}", self.timeout)),
        }
    }

    async fn exchange(&self) -> Result<String, String> {
        let request = Request::get(self.url.clone())
            .header(header::ACCEPT, "application/json")
            .body(Empty::new())
            .map_err(|e| e.to_string())?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("answered {status}"));
        }
        let body = Limited::new(response.into_body(), MAX_JWKS_BYTES)
            .collect()
            .await
            .map_err(|e| format!("reading the body: {e}"))?
            .to_bytes();
        String::from_utf8(body.to_vec()).map_err(|_| "body is not UTF-8".to_string())
    }
}
