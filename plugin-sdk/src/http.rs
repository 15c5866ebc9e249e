//! An outbound HTTP(S) client for plugins (feature `http`): hyper over rustls
//! (ring, Mozilla's root certificates), pooled HTTP/1.1 connections, a deadline
//! over the whole exchange and a cap on the answer body.
//!
//! It runs on the plugin's own runtime (see [`crate::runtime`]), so it works
//! inside `authorize` and in background tasks alike:
//!
//! ```no_run
//! # async fn example() -> Result<(), String> {
//! use std::time::Duration;
//! use gatehouse_plugin_sdk::http::{self, Client};
//!
//! let client = Client::new()?;
//! let url = http::parse_url("https://idp.example/.well-known/jwks.json")?;
//! let reply = client.get(&url, "application/json", Duration::from_secs(2), 64 * 1024).await?;
//! assert!(reply.is_success());
//! # Ok(()) }
//! ```

use std::{sync::Arc, time::Duration};

use http_body_util::{BodyExt, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client as Pool},
    rt::TokioExecutor,
};

/// Re-exported so plugins name the same `hyper` as the client.
pub use hyper;
pub use hyper::{body::Bytes, HeaderMap, Method, StatusCode, Uri};

/// The body of outbound requests (`Body::default()` is empty,
/// `Body::from(bytes)` a whole body).
pub type Body = http_body_util::Full<Bytes>;

/// An outbound request as [`Client::send`] takes it.
pub type OutboundRequest = hyper::Request<Body>;

/// An answer: status, headers and the (capped) body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Answer headers.
    pub headers: HeaderMap,
    /// Answer body, at most the `max_body` given to the call.
    pub body: Bytes,
}

impl Reply {
    /// True for a 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as UTF-8 text, or why not.
    pub fn text(&self) -> Result<&str, String> {
        std::str::from_utf8(&self.body).map_err(|_| "body is not UTF-8".to_string())
    }
}

/// Parses an absolute `http://` or `https://` URL that names a host.
pub fn parse_url(url: &str) -> Result<Uri, String> {
    let parsed: Uri = url.parse().map_err(|e| format!("url `{url}`: {e}"))?;
    if parsed.host().is_none() {
        return Err(format!("url `{url}` has no host"));
    }
    Ok(parsed)
}

/// A pooled HTTP/1.1 client for `http://` and `https://` URLs. Cheap to share
/// (`Arc` it or keep one per plugin instance).
pub struct Client {
    pool: Pool<HttpsConnector<HttpConnector>, Body>,
}

impl Client {
    /// A client trusting Mozilla's root certificates (webpki-roots).
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

    /// Sends `request`, giving up after `timeout` (connect, send and read the
    /// body) and failing if the body exceeds `max_body` bytes.
    pub async fn send(
        &self,
        request: OutboundRequest,
        timeout: Duration,
        max_body: usize,
    ) -> Result<Reply, String> {
        match tokio::time::timeout(timeout, self.exchange(request, max_body)).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {timeout:?}")),
        }
    }

    /// GETs `url` with an `accept` header; like [`Client::send`], any status.
    pub async fn get(
        &self,
        url: &Uri,
        accept: &str,
        timeout: Duration,
        max_body: usize,
    ) -> Result<Reply, String> {
        let request = hyper::Request::get(url.clone())
            .header(hyper::header::ACCEPT, accept)
            .body(Body::default())
            .map_err(|e| e.to_string())?;
        self.send(request, timeout, max_body).await
    }

    /// POSTs `body` as `content_type` (e.g. a form to a token endpoint) with
    /// an `accept` header; like [`Client::send`], any status.
    pub async fn post(
        &self,
        url: &Uri,
        content_type: &str,
        accept: &str,
        body: impl Into<Bytes>,
        timeout: Duration,
        max_body: usize,
    ) -> Result<Reply, String> {
        let request = hyper::Request::post(url.clone())
            .header(hyper::header::CONTENT_TYPE, content_type)
            .header(hyper::header::ACCEPT, accept)
            .body(Body::from(body.into()))
            .map_err(|e| e.to_string())?;
        self.send(request, timeout, max_body).await
    }

    async fn exchange(&self, request: OutboundRequest, max_body: usize) -> Result<Reply, String> {
        let response = self
            .pool
            .request(request)
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let (head, body) = response.into_parts();
        let body = Limited::new(body, max_body)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_need_a_host() {
        assert!(parse_url("http://").is_err());
        assert!(parse_url("not a url").is_err());
        assert_eq!(
            parse_url("https://a.test/x").map(|u| u.to_string()),
            Ok("https://a.test/x".into())
        );
    }

    #[test]
    fn post_sends_the_body_and_its_content_type() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            let mut seen = Vec::new();
            let mut buf = [0u8; 1024];
            while !String::from_utf8_lossy(&seen).contains("a=1&b=2") {
                let n = stream.read(&mut buf).expect("read");
                assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&seen));
                seen.extend_from_slice(&buf[..n]);
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
            String::from_utf8_lossy(&seen).to_string()
        });
        let reply = crate::runtime::handle().block_on(async {
            let client = Client::new()?;
            let url = parse_url(&format!("http://{addr}/token"))?;
            let form = "application/x-www-form-urlencoded";
            client
                .post(
                    &url,
                    form,
                    "application/json",
                    "a=1&b=2",
                    Duration::from_secs(5),
                    16,
                )
                .await
        });
        let reply = reply.expect("answered");
        assert_eq!((reply.status, reply.text()), (200, Ok("ok")));
        let request = server.join().expect("server").to_ascii_lowercase();
        assert!(request.starts_with("post /token http/1.1"), "{request}");
        assert!(
            request.contains("content-type: application/x-www-form-urlencoded"),
            "{request}"
        );
        assert!(request.contains("content-length: 7"), "{request}");
    }

    #[test]
    fn refused_connection_is_an_error() {
        let reply = crate::runtime::handle().block_on(async {
            let client = Client::new()?;
            let url = parse_url("http://127.0.0.1:9/")?;
            client.get(&url, "*/*", Duration::from_secs(2), 16).await
        });
        let why = reply.expect_err("port 9 is closed");
        assert!(why.starts_with("request failed"), "{why}");
    }
}
