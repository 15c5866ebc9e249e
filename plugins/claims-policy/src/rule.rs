//! One rule over a state entry, and how entry values are read as lists.

use serde::Deserialize;

use crate::config::RawRule;

/// A comparison on the value of a state entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// The value is exactly this.
    Equals(String),
    /// The value, read as a list (see [`members`]), has this member.
    Contains(String),
    /// The value is exactly one of these.
    OneOf(Vec<String>),
}

/// A rule: state entry `claim` (optionally a JSON path into it) satisfies `op`.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawRule")]
pub struct Rule {
    /// The state key, e.g. `jwt.claim.role` or `user`.
    pub claim: String,
    /// A JSON pointer into the entry's value (from a dotted `path`), if any.
    pub pointer: Option<String>,
    /// The comparison.
    pub op: Op,
}

/// Why a rule did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The state entry (or the path inside it) is absent.
    Missing,
    /// The value does not satisfy the comparison.
    Mismatch,
}

impl Rule {
    /// A rule on `claim`; `path` is dotted (`realm_access.roles`, `groups.0`).
    pub fn new(claim: String, path: Option<&str>, op: Op) -> Result<Self, String> {
        let pointer = match path {
            None => None,
            Some(p) if p.is_empty() || p.split('.').any(str::is_empty) => {
                return Err(format!("rule on `{claim}`: `path` has an empty segment"))
            }
            Some(p) => Some(
                p.split('.')
                    .map(|seg| format!("/{}", seg.replace('~', "~0").replace('/', "~1")))
                    .collect(),
            ),
        };
        Ok(Self { claim, pointer, op })
    }

    /// Evaluates the rule; `state` looks up an entry by key.
    pub fn check<'a>(&self, state: impl Fn(&str) -> Option<&'a str>) -> Result<(), Failure> {
        let raw = state(&self.claim).ok_or(Failure::Missing)?;
        let value = match &self.pointer {
            None => raw.to_string(),
            Some(pointer) => {
                let json: serde_json::Value =
                    serde_json::from_str(raw).map_err(|_| Failure::Missing)?;
                json.pointer(pointer).map(text).ok_or(Failure::Missing)?
            }
        };
        let holds = match &self.op {
            Op::Equals(want) => value == *want,
            Op::Contains(want) => members(&value).iter().any(|m| m == want),
            Op::OneOf(allowed) => allowed.contains(&value),
        };
        holds.then_some(()).ok_or(Failure::Mismatch)
    }
}

/// A JSON value as state text: strings as-is, anything else as JSON.
fn text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A value read as a list: the elements of a JSON array (strings as-is, others
/// as JSON text), otherwise its whitespace-separated words (`"read write"`).
pub fn members(value: &str) -> Vec<String> {
    if value.trim_start().starts_with('[') {
        if let Ok(serde_json::Value::Array(items)) = serde_json::from_str(value) {
            return items.iter().map(text).collect();
        }
    }
    value.split_whitespace().map(str::to_string).collect()
}
