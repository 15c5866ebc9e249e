//! # `SetHeaders`
//!
//! A configurable step for composing chains and for tests: it sets and removes
//! upstream headers, adds response headers, sets state, records a user, and can
//! require state left by earlier steps (deny 403 otherwise) or always deny.
//!
//! Order: `requireState` is checked first; then a configured `deny` denies (with
//! `responseHeaders` as the denial's headers); otherwise the request is allowed
//! with every configured effect.

pub mod config;

use gatehouse_plugin_sdk::{
    allow, deny, export_plugins, Error, Plugin, Request, Response, ResponseExt,
};

pub use config::{Config, DenySpec, HeaderSpec, NameValue};

/// One configured `SetHeaders` step.
#[derive(Debug)]
pub struct SetHeaders {
    config: Config,
}

impl SetHeaders {
    /// Decides a request synchronously (no I/O involved).
    pub fn decide(&self, request: &Request) -> Response {
        let c = &self.config;
        for (key, want) in &c.require_state {
            match request.state(key) {
                None => return deny(403, format!("required state `{key}` is missing")),
                Some(have) if have != want => {
                    return deny(
                        403,
                        format!("state `{key}` does not have the required value"),
                    )
                }
                Some(_) => {}
            }
        }
        let response = match &c.deny {
            Some(d) => deny(d.status, d.body.clone()),
            None => self.effects(allow()),
        };
        c.response_headers
            .iter()
            .fold(response, |r, h| r.response_header(&h.name, &h.value))
    }

    /// Adds the upstream effects of an allow.
    fn effects(&self, mut r: Response) -> Response {
        let c = &self.config;
        for h in &c.headers {
            r = r.request_header(&h.name, &h.value, h.action);
        }
        for name in &c.remove_headers {
            r = r.remove_header(name);
        }
        for (key, value) in &c.set_state {
            r = r.set_state(key, value);
        }
        match &c.user {
            Some(user) => r.user(user),
            None => r,
        }
    }
}

impl Plugin for SetHeaders {
    type Config = Config;

    fn new(config: Config) -> Result<Self, Error> {
        if let Some(d) = &config.deny {
            if !(100..=599).contains(&d.status) {
                return Err(format!("deny.status: {} is not an HTTP status", d.status).into());
            }
        }
        if let Some(i) = config.headers.iter().position(|h| h.name.is_empty()) {
            return Err(format!("headers[{i}].name: must not be empty").into());
        }
        Ok(Self { config })
    }

    async fn authorize(&self, request: &Request) -> Result<Response, Error> {
        Ok(self.decide(request))
    }
}

export_plugins!("SetHeaders" => SetHeaders);

#[cfg(test)]
mod tests;
