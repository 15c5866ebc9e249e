//! # `ClaimsPolicy`
//!
//! Allows or denies a request by rules over the state that earlier steps wrote:
//! the `jwt` plugin's `jwt.claim.<name>` entries, `api-key`'s or `basic-auth`'s
//! `user`, or anything a `SetHeaders` step set.
//!
//! - each rule names a state key (`claim`), optionally a dotted `path` into its
//!   JSON value, and one comparison: `equals`, `contains` (list membership: JSON
//!   array elements or space-separated words) or `oneOf`;
//! - `match: all` (default) needs every rule, `match: any` at least one;
//! - `requiredScopes` must all be among the words (or array elements) of
//!   `scopeClaim` (default `jwt.claim.scope`);
//! - on a failure: deny with `denyStatus` (default 403), the body naming the
//!   claim or the missing scopes;
//! - otherwise allow, setting `headers` whose values may name state entries as
//!   `${key}` (a header naming an absent entry is not set).

pub mod config;
pub mod rule;
pub mod template;

use gatehouse_plugin_sdk::{
    allow, deny, export_plugins, Error, Plugin, Request, Response, ResponseExt,
};

pub use config::{Config, HeaderSpec, Match};
pub use rule::{members, Failure, Op, Rule};
pub use template::Template;

/// One configured `ClaimsPolicy` step.
#[derive(Debug)]
pub struct ClaimsPolicy {
    config: Config,
}

impl ClaimsPolicy {
    /// Why the rules deny `request`, if they do.
    fn rules_denial(&self, request: &Request) -> Option<String> {
        let state = |key: &str| request.state(key);
        let rules = &self.config.rules;
        match self.config.match_ {
            Match::All => rules.iter().find_map(|rule| {
                rule.check(state).err().map(|failure| match failure {
                    Failure::Missing => format!("claim `{}` is missing", rule.claim),
                    Failure::Mismatch => {
                        format!("claim `{}` does not satisfy the policy", rule.claim)
                    }
                })
            }),
            Match::Any if rules.is_empty() || rules.iter().any(|r| r.check(state).is_ok()) => None,
            Match::Any => Some("no rule of the policy holds".into()),
        }
    }

    /// Why the scopes deny `request`, if they do.
    fn scopes_denial(&self, request: &Request) -> Option<String> {
        let c = &self.config;
        if c.required_scopes.is_empty() {
            return None;
        }
        let granted = request
            .state(&c.scope_claim)
            .map(members)
            .unwrap_or_default();
        let missing: Vec<&str> = c
            .required_scopes
            .iter()
            .filter(|s| !granted.contains(s))
            .map(String::as_str)
            .collect();
        (!missing.is_empty()).then(|| format!("missing required scopes: {}", missing.join(" ")))
    }

    /// Decides a request synchronously (it only reads state).
    pub fn decide(&self, request: &Request) -> Response {
        let c = &self.config;
        if let Some(why) = self
            .rules_denial(request)
            .or_else(|| self.scopes_denial(request))
        {
            return deny(c.deny_status, why);
        }
        c.headers.iter().fold(allow(), |response, header| {
            match header.value.render(|key| request.state(key)) {
                Some(value) => response.set_header(&header.name, &value),
                None => response,
            }
        })
    }
}

impl Plugin for ClaimsPolicy {
    type Config = Config;

    fn new(config: Config) -> Result<Self, Error> {
        if !(400..=599).contains(&config.deny_status) {
            return Err(format!(
                "denyStatus: {} is not an HTTP error status (400-599)",
                config.deny_status
            )
            .into());
        }
        if let Some(i) = config.headers.iter().position(|h| h.name.trim().is_empty()) {
            return Err(format!("headers[{i}].name: must not be empty").into());
        }
        if config.scope_claim.is_empty() {
            return Err("scopeClaim: must not be empty".into());
        }
        Ok(Self { config })
    }

    async fn authorize(&self, request: &Request) -> Result<Response, Error> {
        Ok(self.decide(request))
    }
}

export_plugins!("ClaimsPolicy" => ClaimsPolicy);

#[cfg(test)]
mod tests;
