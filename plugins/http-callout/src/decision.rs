//! The service's answer → allow, deny or failure, and each → a response.

use gatehouse_plugin_sdk::http::{hyper::header::HeaderName, Reply};
use gatehouse_plugin_sdk::{allow, deny, Response, ResponseExt};

use crate::{
    cache::Headers,
    config::{FailureMode, Settings},
};

/// The denial body when the service cannot answer.
pub const UNAVAILABLE: &str = "authorization service unavailable";

/// What an answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// An allowed status; the answer headers to set upstream.
    Allow(Headers),
    /// Any other status below 500: the status (403 for an unlisted 1xx/2xx), the
    /// answer body and the answer headers to copy into the denial.
    Deny {
        /// HTTP status for the client.
        status: u16,
        /// The answer body.
        body: String,
        /// The copied answer headers.
        headers: Headers,
    },
    /// No usable answer: 5xx, timeout or connection error.
    Failure(String),
}

/// Classifies an answer.
pub fn classify(settings: &Settings, reply: &Reply) -> Outcome {
    if settings.allowed_status.contains(&reply.status) {
        return Outcome::Allow(copied(reply, &settings.copy_on_allow));
    }
    if reply.status >= 500 {
        return Outcome::Failure(format!("answered {}", reply.status));
    }
    Outcome::Deny {
        status: if reply.status < 300 {
            403
        } else {
            reply.status
        },
        body: String::from_utf8_lossy(&reply.body).into_owned(),
        headers: copied(reply, &settings.copy_on_deny),
    }
}

/// The listed answer headers that are present, every value.
fn copied(reply: &Reply, names: &[HeaderName]) -> Headers {
    let mut out = Headers::new();
    for name in names {
        for value in reply.headers.get_all(name) {
            if let Ok(value) = value.to_str() {
                out.push((name.as_str().to_string(), value.to_string()));
            }
        }
    }
    out
}

/// The allow for `headers`: each copied header set upstream (values of one
/// header appended), and every `copyHeadersOnAllow` header the answer lacked
/// removed so that a client cannot supply it.
pub fn allowed(settings: &Settings, headers: &Headers) -> Response {
    let mut response = allow();
    for name in &settings.copy_on_allow {
        let mut values = headers.iter().filter(|(n, _)| n == name.as_str());
        match values.next() {
            None => response = response.remove_header(name.as_str()),
            Some((_, first)) => {
                response = response.set_header(name.as_str(), first);
                for (_, more) in values {
                    response = response.append_header(name.as_str(), more);
                }
            }
        }
    }
    response
}

/// The denial passing on the service's answer.
pub fn denied(status: u16, body: &str, headers: &Headers) -> Response {
    headers
        .iter()
        .fold(deny(status, body), |r, (n, v)| r.response_header(n, v))
}

/// The response when the service gave no usable answer.
pub fn failed(settings: &Settings) -> Response {
    match settings.failure_mode {
        FailureMode::Deny => deny(403, UNAVAILABLE),
        FailureMode::Allow => allowed(settings, &Headers::new()),
    }
}
