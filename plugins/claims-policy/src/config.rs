//! The step's `config`: rules, required scopes, headers and the denial status.

use serde::Deserialize;

use crate::{
    rule::{Op, Rule},
    template::Template,
};

/// The whole config of a `ClaimsPolicy` step. Every key is optional; `{}`
/// allows every request.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Rules over state entries.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Whether every rule (`all`, the default) or at least one (`any`) must hold.
    #[serde(default, rename = "match")]
    pub match_: Match,
    /// Scopes that must all be present in `scopeClaim`.
    #[serde(default)]
    pub required_scopes: Vec<String>,
    /// The state key holding the granted scopes (default `jwt.claim.scope`): a
    /// space-separated string or a JSON array of strings.
    #[serde(default = "default_scope_claim")]
    pub scope_claim: String,
    /// Headers set on the upstream request when the request is allowed.
    #[serde(default)]
    pub headers: Vec<HeaderSpec>,
    /// The HTTP status of a denial (default 403).
    #[serde(default = "default_deny_status")]
    pub deny_status: u16,
}

fn default_scope_claim() -> String {
    "jwt.claim.scope".into()
}

fn default_deny_status() -> u16 {
    403
}

/// How the rules combine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Match {
    /// Every rule must hold.
    #[default]
    All,
    /// At least one rule must hold (no rules: allowed).
    Any,
}

/// One upstream header whose value may name state entries as `${key}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderSpec {
    /// Header name.
    pub name: String,
    /// Header value, e.g. `${jwt.claim.sub}` or `tenant-${tenant}`.
    pub value: Template,
}

/// `Rule` as written: a state key, an optional JSON path into it, and exactly
/// one of `equals`, `contains`, `oneOf`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RawRule {
    #[serde(alias = "state")]
    claim: String,
    path: Option<String>,
    equals: Option<Scalar>,
    contains: Option<Scalar>,
    one_of: Option<Vec<Scalar>>,
}

impl TryFrom<RawRule> for Rule {
    type Error = String;

    fn try_from(raw: RawRule) -> Result<Self, String> {
        if raw.claim.is_empty() {
            return Err("`claim` must not be empty".into());
        }
        let op = match (raw.equals, raw.contains, raw.one_of) {
            (Some(v), None, None) => Op::Equals(v.0),
            (None, Some(v), None) => Op::Contains(v.0),
            (None, None, Some(vs)) => Op::OneOf(vs.into_iter().map(|v| v.0).collect()),
            _ => {
                return Err(format!(
                    "rule on `{}`: give exactly one of `equals`, `contains`, `oneOf`",
                    raw.claim
                ))
            }
        };
        Rule::new(raw.claim, raw.path.as_deref(), op)
    }
}

/// A string, number or boolean from the config, as text (`true`, `42`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "serde_json::Value")]
pub(crate) struct Scalar(pub(crate) String);

impl TryFrom<serde_json::Value> for Scalar {
    type Error = String;

    fn try_from(value: serde_json::Value) -> Result<Self, String> {
        use serde_json::Value::*;
        match value {
            String(s) => Ok(Self(s)),
            Number(n) => Ok(Self(n.to_string())),
            Bool(b) => Ok(Self(b.to_string())),
            other => Err(format!("expected a string, number or boolean, got {other}")),
        }
    }
}
