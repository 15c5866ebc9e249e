//! The callout request built from the request being authorized.

use gatehouse_plugin_sdk::http::{
    hyper::{self, header::HeaderValue},
    Body, HeaderMap, OutboundRequest,
};
use gatehouse_plugin_sdk::Request;

use crate::config::Settings;

/// The callout for `request`: the configured method and URL, every value of
/// each forwarded header, and the original path and method when asked for.
/// Values that are not valid header values are left out.
pub fn outbound(settings: &Settings, request: &Request) -> Result<OutboundRequest, String> {
    let mut headers = HeaderMap::new();
    for name in &settings.forward_headers {
        for value in request.headers(name.as_str()) {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.append(name.clone(), value);
            }
        }
    }
    let originals = [
        (&settings.path_header, request.path()),
        (&settings.method_header, request.method()),
    ];
    for (name, value) in originals {
        if let (Some(name), Ok(value)) = (name, HeaderValue::from_str(value)) {
            headers.insert(name.clone(), value);
        }
    }
    let mut callout = hyper::Request::builder()
        .method(settings.method.clone())
        .uri(settings.url.clone())
        .body(Body::default())
        .map_err(|e| format!("building the callout: {e}"))?;
    *callout.headers_mut() = headers;
    Ok(callout)
}
