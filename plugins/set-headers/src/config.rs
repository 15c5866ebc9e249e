//! The step's `config`: every key optional, unknown keys refused.

use std::collections::BTreeMap;

use gatehouse_plugin_sdk::AppendAction;
use serde::Deserialize;

/// The whole config of a `SetHeaders` step.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Config {
    /// Headers to set on the upstream request.
    pub headers: Vec<HeaderSpec>,
    /// Header names to remove from the upstream request.
    pub remove_headers: Vec<String>,
    /// Headers added to the client's response.
    pub response_headers: Vec<NameValue>,
    /// State entries to set for later steps.
    pub set_state: BTreeMap<String, String>,
    /// State entries that must be present with exactly these values (else 403).
    pub require_state: BTreeMap<String, String>,
    /// When given, every request is denied with this status and body.
    pub deny: Option<DenySpec>,
    /// The user id to record.
    pub user: Option<String>,
}

/// A plain header name and value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameValue {
    /// Header name.
    pub name: String,
    /// Header value.
    pub value: String,
}

/// One upstream header with its merge rule, from `append` (Envoy v2) or
/// `appendAction` (Envoy v3); at most one of the two may be given.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawHeaderSpec")]
pub struct HeaderSpec {
    /// Header name.
    pub name: String,
    /// Header value.
    pub value: String,
    /// How it combines with existing values (default: overwrite or add).
    pub action: AppendAction,
}

/// `HeaderSpec` as written, before `append`/`appendAction` are reconciled.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawHeaderSpec {
    name: String,
    value: String,
    append: Option<bool>,
    append_action: Option<ActionName>,
}

/// Envoy v3's `HeaderValueOption.AppendAction` names.
#[derive(Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum ActionName {
    AppendIfExistsOrAdd,
    AddIfAbsent,
    OverwriteIfExistsOrAdd,
    OverwriteIfExists,
}

impl TryFrom<RawHeaderSpec> for HeaderSpec {
    type Error = String;

    fn try_from(raw: RawHeaderSpec) -> Result<Self, String> {
        let action = match (raw.append, raw.append_action) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "header `{}`: give either `append` or `appendAction`, not both",
                    raw.name
                ))
            }
            (Some(true), None) => AppendAction::AppendIfExistsOrAdd,
            (Some(false), None) | (None, None) => AppendAction::OverwriteIfExistsOrAdd,
            (None, Some(name)) => match name {
                ActionName::AppendIfExistsOrAdd => AppendAction::AppendIfExistsOrAdd,
                ActionName::AddIfAbsent => AppendAction::AddIfAbsent,
                ActionName::OverwriteIfExistsOrAdd => AppendAction::OverwriteIfExistsOrAdd,
                ActionName::OverwriteIfExists => AppendAction::OverwriteIfExists,
            },
        };
        Ok(Self {
            name: raw.name,
            value: raw.value,
            action,
        })
    }
}

/// A fixed denial.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenySpec {
    /// HTTP status (default 403).
    #[serde(default = "default_status")]
    pub status: u16,
    /// Response body (default empty).
    #[serde(default)]
    pub body: String,
}

fn default_status() -> u16 {
    403
}
