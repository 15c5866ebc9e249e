//! Form-encoded POSTs to the token endpoint.
//!
//! The SDK's `http::Client` (0.3) sends requests without a body only, and a
//! token request (RFC 6749 4.1.3) is a form POST; until the SDK takes a body,
//! this module holds the one extra client: the same hyper + rustls (ring,
//! webpki roots) stack, with a `Full` body, a deadline and a body cap.

use std::{sync::OnceLock, time::Duration};

use base64::{engine::general_purpose::STANDARD, Engine};
use gatehouse_plugin_sdk::http::{hyper, Bytes, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::TokioExecutor,
};

type Pool = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

static POOL: OnceLock<Result<Pool, String>> = OnceLock::new();

fn pool() -> Result<&'static Pool, String> {
    POOL.get_or_init(|| {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)
            .map_err(|e| format!("TLS setup: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Client::builder(TokioExecutor::new()).build(connector))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// `application/x-www-form-urlencoded` escaping of one name or value.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `a=1&b=2`, escaped.
pub fn encode(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-decodes a query value (`+` as space); None if it is not UTF-8 or
/// malformed.
pub fn unescape(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The `Authorization: Basic` value of client_secret_basic.
pub fn basic(client_id: &str, secret: &str) -> String {
    let pair = format!("{}:{}", escape(client_id), escape(secret));
    format!("Basic {}", STANDARD.encode(pair))
}

/// POSTs `body` as a form to `url` within `timeout`; the status and the body
/// (at most `max_body` bytes).
pub async fn post(
    url: &Uri,
    body: String,
    authorization: Option<&str>,
    timeout: Duration,
    max_body: usize,
) -> Result<(u16, Bytes), String> {
    let mut request = hyper::Request::post(url.clone())
        .header(
            hyper::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(hyper::header::ACCEPT, "application/json");
    if let Some(value) = authorization {
        request = request.header(hyper::header::AUTHORIZATION, value);
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let exchange = async {
        let response = pool()?
            .request(request)
            .await
            .map_err(|e| format!("token request failed: {e}"))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), max_body)
            .collect()
            .await
            .map_err(|e| format!("reading the token answer: {e}"))?
            .to_bytes();
        Ok((status, body))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(format!("token endpoint: no answer within {timeout:?}")),
    }
}
