//! The outbound HTTP(S) client: hyper over rustls (ring, Mozilla's roots), with
//! pooled connections, a deadline over the whole exchange and a cap on the body.

use std::{sync::Arc, time::Duration};

use http_body_util::{BodyExt, Empty, Limited};
use hyper::{body::Bytes, HeaderMap, Request};
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client as Pool},
    rt::TokioExecutor,
};

/// The largest answer body read from the service.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The service's answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Answer headers.
    pub headers: HeaderMap,
    /// Answer body.
    pub body: Bytes,
}

/// A pooled HTTP/1.1 client for `http://` and `https://` URLs.
pub struct Client {
    pool: Pool<HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

impl Client {
    /// A client trusting Mozilla's root certificates.
    pub fn new() -> Result<Self, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)
            .map_err(|e| format!("TLS setup: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            pool: Pool::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// Sends `request`, giving up after `timeout`; the answer, or why there is none.
    pub async fn send(
        &self,
        request: Request<Empty<Bytes>>,
        timeout: Duration,
    ) -> Result<Reply, String> {
        match tokio::time::timeout(timeout, self.exchange(request)).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {timeout:?}")),
        }
    }

    async fn exchange(&self, request: Request<Empty<Bytes>>) -> Result<Reply, String> {
        let response = self
            .pool
            .request(request)
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let (head, body) = response.into_parts();
        let body = Limited::new(body, MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes();
        Ok(Reply {
            status: head.status.as_u16(),
            headers: head.headers,
            body,
        })
    }
}
